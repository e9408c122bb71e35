"""Where artreport keeps its own files, and how it writes files that only the owner may read.

The state directory holds the login cache, the ledger and default failure reports: derived
credentials and patient data. It is ``$ARTREPORT_HOME``, else the config's ``state_dir``, else
the platform's per-user state directory, and is created owner-only (0700).

Files holding such data are written with :func:`open_private` / :func:`write_private`: into a
0600 temporary file beside the target, renamed over it only once complete, so a reader never sees
half a file and the data is never readable by others, not even for a moment.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import platformdirs

from artreport.config import Config
from artreport.errors import ConfigError

STATE_DIR_ENV = "ARTREPORT_HOME"


def state_dir(config: Config) -> Path:
    chosen = (
        os.environ.get(STATE_DIR_ENV)
        or config.state_dir
        or platformdirs.user_state_dir("artreport", appauthor=False)
    )
    return private_dir(Path(chosen).expanduser())


def private_dir(path: Path, unusable: str = "state-dir-unusable") -> Path:
    """``path`` as a directory, created owner-only if it does not exist yet; ``unusable`` is
    the message code when it cannot be, for a folder the user named rather than ours.

    An existing directory keeps its permissions: the user may have pointed us at a folder they
    manage themselves.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(unusable, path=str(path), reason=folder_failure(exc)) from None
    return path


def folder_failure(error: OSError) -> str:
    """Why a folder could not be made or used. mkdir says "File exists" where a file stands
    in the folder's place, which reads as if all were well."""
    if isinstance(error, FileExistsError):
        return os.strerror(errno.ENOTDIR)
    return error.strerror or str(error)


def owner_only_opener(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open`: the file owner-only, for a file written in place (a
    report streamed as problems arrive, a run's log)."""
    descriptor = os.open(path, flags, 0o600)
    # An existing file keeps its old mode through O_TRUNC; tighten it as well.
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, 0o600)
    return descriptor


@contextlib.contextmanager
def open_private(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    encoding: str | None = None,
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing, owner-only and atomically: the file appears, complete, when
    the ``with`` block ends without an exception; after an exception the old file (if any) is
    untouched."""
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"open_private writes whole files; mode {mode!r} is not supported")
    target = Path(path)
    # mkstemp creates the file 0600 on POSIX, so the data is private from the first byte.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    with _replacing(fd, Path(temporary), target, mode, encoding, newline) as handle:
        yield handle


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    with open_private(path, "wb") as handle:
        handle.write(data)


def replace_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``path`` whole and atomically, as :func:`open_private` does, for a file that
    others may have to read (the summary a monitor reads): a new file gets the permissions any
    new file gets (the umask's), an existing one keeps its own. A link is followed, so the
    file it names is replaced, not the link."""
    target = Path(os.path.realpath(path))
    try:
        kept: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        kept = None
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except PermissionError:
        if kept is None:
            raise
        # A file this account may write in a folder it may not (made so by IT): written in
        # place, as before, rather than not at all.
        target.write_bytes(data)
        return
    with _replacing(fd, temporary, target, "wb") as handle:
        if kept is not None and hasattr(os, "fchmod"):
            os.fchmod(handle.fileno(), kept)
        handle.write(data)


@contextlib.contextmanager
def _replacing(
    fd: int,
    temporary: Path,
    target: Path,
    mode: str,
    encoding: str | None = None,
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """The temporary file ``fd`` for writing; synced to disk, then renamed over ``target``
    when the block ends without an exception, else removed. A power cut or a kill leaves
    either the old file or the new one whole, never a part of one."""
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
