"""A faithful local emulation of the provincial platform, for tests, benchmarks and rehearsal.

::

    with Sandbox({"ZJ3301001": "key"}, faults=Faults(fail_every=5)) as sandbox:
        ...  # a client talks to sandbox.base_url; sandbox.rows("cycle"), sandbox.stats()

Layout: :mod:`protocol` (codes, token, envelope), :mod:`rules` (the platform's strict batch
checks), :mod:`store` (SQLite), :mod:`platform` (endpoints, logins, counters), :mod:`faults`,
:mod:`server` (HTTP and :class:`Sandbox`), :mod:`inspection` (the ``/_sandbox/`` endpoints).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from artreport.sandbox.faults import Faults
    from artreport.sandbox.inspection import fetch_rows
    from artreport.sandbox.protocol import token_for
    from artreport.sandbox.server import Sandbox
    from artreport.sandbox.store import read_rows

#: The organisation a sandbox serves when it is given none; sample files use this orgid.
DEMO_ORG: tuple[str, str] = ("ZJ3301001", "sandbox-demo-key")
DEFAULT_HOST = "127.0.0.1"
#: The port ``artreport sandbox`` listens on; an in-process sandbox takes a free one.
DEFAULT_PORT = 8765
#: A login lasts two hours (spec, 对接流程 1).
DEFAULT_TTL = 7200.0

# The module each public class or function lives in. They are imported on first use so that a
# CLI command which merely mentions the sandbox does not pay for http.server, sqlite3 and httpx
# at every start-up.
_HOMES = {
    "Faults": "faults",
    "Sandbox": "server",
    "fetch_rows": "inspection",
    "read_rows": "store",
    "token_for": "protocol",
}

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_TTL",
    "DEMO_ORG",
    "Faults",
    "Sandbox",
    "fetch_rows",
    "read_rows",
    "token_for",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
