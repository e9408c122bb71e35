"""The loopback-only endpoints through which tests and ``artreport sandbox dump`` look inside a
running sandbox, and the client side of them."""

from __future__ import annotations

from typing import Any

import httpx

from artreport.errors import UnreachableError

STATS_PATH = "/_sandbox/stats"
ROWS_PREFIX = "/_sandbox/rows/"
LOOPBACK = "127.0.0.1"


def fetch_rows(port: int, record_type: str) -> list[dict[str, Any]]:
    """The stored rows of ``record_type`` (a record type name) from a sandbox on this machine."""
    try:
        answer = httpx.get(f"http://{LOOPBACK}:{port}{ROWS_PREFIX}{record_type}", timeout=10)
        answer.raise_for_status()
        rows: list[dict[str, Any]] = answer.json()
    except (httpx.HTTPError, ValueError):
        raise UnreachableError("sandbox-not-running", port=port) from None
    return rows
