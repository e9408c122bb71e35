"""Shared test fixtures: an isolated state directory and config for every test, and a proxy
that asks for a login."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
# In CI the repository is cloned beside a read-only copy of shared/.
SHARED = REPO.parent / "shared"
REAL_SAMPLES = SHARED / "samples-real"

SETPRIV = "/usr/bin/setpriv"
#: The prefix that runs a command the way an ordinary account meets file modes. Root reads
#: whatever the mode is, so it gives up the capabilities that let it, for that one run; it stays
#: root otherwise, so the Python and packages it installed stay readable to it (CI installs them
#: where only root may look, and then running as nobody fails on "No module named typer").
AS_AN_ORDINARY_USER = (
    [SETPRIV, "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-all"]
    if hasattr(os, "geteuid") and os.geteuid() == 0
    else []
)
#: Why a test that needs AS_AN_ORDINARY_USER cannot run here, or None when it can.
CANNOT_BE_AN_ORDINARY_USER = (
    "POSIX modes"
    if not hasattr(os, "geteuid")
    else "as root, setpriv is needed"
    if AS_AN_ORDINARY_USER and not os.path.exists(SETPRIV)
    else None
)


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No test reads the developer's config or writes to their state directory."""
    home = tmp_path_factory.mktemp("artreport-home")
    monkeypatch.setenv("ARTREPORT_HOME", str(home))
    for variable in (
        "ARTREPORT_CONFIG",
        "ARTREPORT_BASE_URL",
        "ARTREPORT_ORGID",
        "ARTREPORT_KEY",
        "ARTREPORT_LANG",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    return home


def real_sample(name: str) -> Path:
    path = REAL_SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not here (shared/ is not beside the repository)")
    return path


#: Exit codes of the script below that are about the mount, not the command run under it.
_CANNOT_MOUNT, _STILL_WRITABLE = 97, 98
_READ_ONLY_MOUNT = f"""
folder=$1; shift
mount --bind "$folder" "$folder" && mount -o remount,bind,ro "$folder" || exit {_CANNOT_MOUNT}
if touch "$folder/.writable" 2>/dev/null; then exit {_STILL_WRITABLE}; fi
exec "$@"
"""

ReadOnlyRun = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def on_read_only_home(isolated_environment: Path) -> ReadOnlyRun:
    """Runs a command with the state folder on a read-only file system, as a user had it.

    Permissions cannot show it, as root writes through them: the folder is bind-mounted over
    itself read-only in a mount namespace of the command's own (``unshare``), which no other
    process sees and which ends with the command. ``--map-root-user`` lets a user without root
    do it too, where the kernel allows user namespaces; where nothing allows it, the test is
    skipped.
    """
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    if unshare is None or mount is None:
        pytest.skip("a read-only mount needs unshare and mount (util-linux)")
    allowed = subprocess.run(
        [unshare, "--mount", "--map-root-user", "true"], capture_output=True, text=True
    )
    if allowed.returncode != 0:
        pytest.skip(f"no mount namespace allowed here: {allowed.stderr.strip()}")

    def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [unshare, "--mount", "--map-root-user", "sh", "-c", _READ_ONLY_MOUNT, "sh",
             str(isolated_environment), *command],
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        if result.returncode == _CANNOT_MOUNT:
            pytest.skip(f"no read-only mount allowed here: {result.stderr.strip()}")
        assert result.returncode != _STILL_WRITABLE, "the read-only mount could be written"
        return result

    return run


@pytest.fixture
def proxy_asking_for_login() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback proxy answering every CONNECT with 407; yields its port and the requests it
    was sent, one per tunnel asked of it."""
    server = socket.create_server(("127.0.0.1", 0))
    asked: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                asked.append(connection.recv(4096))
                connection.sendall(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="hospital"\r\n'
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], asked
    # Wakes the accept() that close() alone would leave waiting.
    server.shutdown(socket.SHUT_RDWR)
    server.close()
    thread.join(5)
