"""The :class:`Ledger`: runs, accepted rows and row counts in one SQLite file."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from artreport import __version__
from artreport.config import Config
from artreport.errors import LedgerError
from artreport.ledger.migrations import NewerLedger, is_current, migrate, refuse_newer
from artreport.state import state_dir

LEDGER_FILE = "ledger.sqlite3"
#: A truncated SHA-256. With 96 bits, the odds that a changed row passes for an accepted one
#: (and is wrongly skipped) are about 1 in 10^22 at a million rows; a million such hashes
#: take about 80 MB of memory in --changed-only's set.
HASH_BYTES = 12
BUSY_TIMEOUT_MS = 10_000

RunStatus = Literal["running", "finished", "interrupted"]

# SQLite's primary result codes (sqlite3.h) for the failures told apart in _failure.
_SQLITE_PERM = 3
_SQLITE_READONLY = 8
_SQLITE_CORRUPT = 11
_SQLITE_CANTOPEN = 14
_SQLITE_AUTH = 23
_SQLITE_NOTADB = 26
#: Their texts, for Python 3.10, whose sqlite3.Error carries no code.
_SQLITE_TEXTS = {
    "attempt to write a readonly database": _SQLITE_READONLY,
    "database disk image is malformed": _SQLITE_CORRUPT,
    "unable to open database file": _SQLITE_CANTOPEN,
    "file is not a database": _SQLITE_NOTADB,
}


def default_path(config: Config) -> Path:
    return state_dir(config) / LEDGER_FILE


def row_hash(key: str, body: bytes) -> bytes:
    """The hash the ledger keeps of an accepted row: its primary key and its exact JSON body.

    The key is hashed along with the body so that the in-memory check of ``--changed-only``
    is a single set lookup, with no key → hash map to hold.
    """
    return hashlib.sha256(key.encode() + b"\0" + body).digest()[:HASH_BYTES]


#: A chunk's rows in one statement: the keys as a JSON array, the hashes as one BLOB of
#: HASH_BYTES each in the same order. SQLite loops over the rows in C, which takes half the time
#: of binding five parameters a row from Python (about 3 µs a row instead of 7, measured here).
#: ``WHERE true`` is SQLite's own cure for the ambiguity of an upsert after a SELECT.
_RECORD_ACCEPTED = f"""
    INSERT INTO accepted (scope_id, primary_key, hash, run_id, accepted_at)
    SELECT :scope, value, substr(:hashes, key * {HASH_BYTES} + 1, {HASH_BYTES}), :run, :at
    FROM json_each(:keys) WHERE true
    ON CONFLICT (scope_id, primary_key) DO UPDATE SET
        hash = excluded.hash, run_id = excluded.run_id, accepted_at = excluded.accepted_at
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunRecord:
    id: int
    command: str
    platform: str
    orgid: str
    started_at: str
    ended_at: str | None
    record_types: list[str]
    files: list[str]
    counts: dict[str, Any] | None
    exit_code: int | None
    status: RunStatus

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "platform": self.platform,
            "orgid": self.orgid,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "record_types": self.record_types,
            "files": self.files,
            "counts": self.counts,
            "exit_code": self.exit_code,
            "status": self.status,
        }


@dataclass(frozen=True)
class TypeStatus:
    record_type: str
    rows_accepted: int
    last_accepted_at: str


class Ledger:
    """One connection to the ledger file.

    Not thread-safe by design: the connection refuses use from any thread but the one that
    opened it (sqlite3's ``check_same_thread``). The push pipeline calls ``on_accepted`` from
    its main thread, so that is where the ledger belongs; another thread needs its own
    ``Ledger``. Several processes may open the file at once (WAL: readers never wait for the
    writer), but only the run holding artreport's lock may write.
    """

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False) -> Ledger:
        """The ledger at ``path``, created if need be; ``read_only`` for the commands that only
        look (history, status): SQLite then refuses any write, creates no ledger, and reads
        one in a folder that cannot be written (a read-only disk, another account's folder).
        """
        path = Path(path)
        if read_only:
            db = _open_read_only(path)
            if db is not None:
                return cls(db, path)
            # A ledger older than this version's schema: brought up to date first, as every
            # command always did, since the queries need the new schema.
        _create_private(path)
        with _translated(path):
            # isolation_level=None: no implicit transactions; each write below says where
            # its transaction begins and ends, which is the whole point of the ledger.
            db = sqlite3.connect(path, isolation_level=None)
            try:
                db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                # Before the first write (setting the journal mode is one): a ledger of a
                # newer artreport is left exactly as it is.
                refuse_newer(db)
                db.execute("PRAGMA journal_mode = WAL")
                # In WAL mode, NORMAL survives a killed process; a power cut may lose the last
                # commits, which only means those rows are sent again (batchInsert upserts).
                # FULL would cost an fsync per 200-row chunk.
                db.execute("PRAGMA synchronous = NORMAL")
                db.execute("PRAGMA foreign_keys = ON")
                migrate(db)
            except BaseException:
                db.close()
                raise
        return cls(db, path)

    @staticmethod
    def exists(path: str | os.PathLike[str]) -> bool:
        """Whether there is a ledger at ``path``: false when there is none yet, the
        :class:`LedgerError` of a folder this account may not look into (a state folder cron
        made as another account), which is no "nothing sent yet"."""
        try:
            os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise _failure(Path(path), exc) from None
        return True

    @staticmethod
    def check(path: str | os.PathLike[str]) -> None:
        """Raise the :class:`LedgerError` that would stop a run at the ledger at ``path`` (damaged,
        upgraded by a newer artreport), reading only: for ``doctor``, which must not bring an
        old ledger up to date without the run lock. No ledger yet is fine."""
        if Ledger.exists(path):
            db = _open_read_only(Path(path))
            if db is not None:
                db.close()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with _translated(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk).
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    # Runs

    def start_run(
        self,
        command: str,
        platform: str,
        orgid: str,
        *,
        record_types: Sequence[str] = (),
        files: Sequence[str] = (),
    ) -> int:
        """Record a run that starts now; returns its id.

        The caller holds artreport's lock, so no other run is live: one still marked
        ``running`` was killed, and is marked ``interrupted`` here.
        """
        with self._transaction() as db:
            self._mark_interrupted(db)
            cursor = db.execute(
                "INSERT INTO runs (command, platform, orgid, started_at, record_types, files,"
                " status) VALUES (?, ?, ?, ?, ?, ?, 'running')",
                (command, platform, orgid, _now(), _json(list(record_types)), _json(list(files))),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish_run(
        self,
        run_id: int,
        *,
        exit_code: int,
        counts: Mapping[str, Any],
        status: RunStatus = "finished",
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET ended_at = ?, exit_code = ?, counts = ?, status = ? WHERE id = ?",
                (_now(), exit_code, _json(dict(counts)), status, run_id),
            )

    def mark_interrupted_runs(self) -> int:
        """Mark every run still ``running`` as ``interrupted``; returns how many.

        Only for a caller holding artreport's lock, through a ledger not opened read-only
        (``history`` opens it read-only, and leaves the marking to the next run): without the
        lock, a live run would be marked too.
        """
        with self._transaction() as db:
            return self._mark_interrupted(db)

    @staticmethod
    def _mark_interrupted(db: sqlite3.Connection) -> int:
        return db.execute(
            "UPDATE runs SET status = 'interrupted' WHERE status = 'running'"
        ).rowcount

    def history(self, last: int = 20) -> list[RunRecord]:
        """The ``last`` runs, newest first."""
        cursor = self._db.execute(
            "SELECT id, command, platform, orgid, started_at, ended_at, record_types, files,"
            " counts, exit_code, status FROM runs ORDER BY id DESC LIMIT ?",
            (last,),
        )
        cursor.row_factory = sqlite3.Row
        return [
            RunRecord(
                id=row["id"],
                command=row["command"],
                platform=row["platform"],
                orgid=row["orgid"],
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                record_types=json.loads(row["record_types"]),
                files=json.loads(row["files"]),
                counts=json.loads(row["counts"]) if row["counts"] is not None else None,
                exit_code=row["exit_code"],
                status=row["status"],
            )
            for row in cursor
        ]

    # Accepted rows

    def record_accepted(
        self, run_id: int, record_type: str, rows: Iterable[tuple[str, bytes]]
    ) -> None:
        """Record ``rows`` (primary key, JSON body as sent) as accepted by the platform of run
        ``run_id``, replacing any earlier version of the same keys.

        Call it once per chunk, after the platform's success answer: the chunk is committed
        whole or not at all, so the ledger never claims a row the platform did not accept.
        """
        # Taken whole before the transaction starts: a chunk that fails to arrive records
        # nothing, and the statement below gets the chunk in two parameters.
        pairs = list(rows)
        if not pairs:
            return
        keys, bodies = zip(*pairs, strict=True)
        accepted_at = _now()
        with self._transaction() as db:
            scope = self._scope(db, run_id, record_type)
            db.execute(
                _RECORD_ACCEPTED,
                {
                    "scope": scope,
                    "keys": json.dumps(keys, ensure_ascii=False),
                    "hashes": b"".join(map(row_hash, keys, bodies)),
                    "run": run_id,
                    "at": accepted_at,
                },
            )

    @staticmethod
    def _scope(db: sqlite3.Connection, run_id: int, record_type: str) -> int:
        # The run decides the platform and orgid: rows accepted by the sandbox can never be
        # recorded against production.
        run = db.execute("SELECT platform, orgid FROM runs WHERE id = ?", (run_id,)).fetchone()
        if run is None:
            raise ValueError(f"no run {run_id} in the ledger")
        names = (*run, record_type)
        db.execute(
            "INSERT OR IGNORE INTO scopes (platform, orgid, record_type) VALUES (?, ?, ?)", names
        )
        (scope,) = db.execute(
            "SELECT id FROM scopes WHERE platform = ? AND orgid = ? AND record_type = ?", names
        ).fetchone()
        return int(scope)

    def unchanged(
        self, record_type: str, platform: str, orgid: str
    ) -> Callable[[str, bytes], bool]:
        """A check ``(primary key, body) -> bool``: true when that exact row is the last
        version the platform accepted. The accepted hashes are read once, now; rows accepted
        after this call are not seen by the check."""
        known = {
            digest
            for (digest,) in self._db.execute(
                "SELECT a.hash FROM accepted a JOIN scopes s ON s.id = a.scope_id"
                " WHERE s.platform = ? AND s.orgid = ? AND s.record_type = ?",
                (platform, orgid, record_type),
            )
        }

        def is_unchanged(key: str, body: bytes) -> bool:
            return row_hash(key, body) in known

        return is_unchanged

    def forget(self, record_type: str, platform: str, orgid: str, keys: Iterable[str]) -> int:
        """Forget that the platform holds the records ``keys`` (deleted from it): a later
        ``--changed-only`` run sends them again if the export still has them. Returns how many
        the ledger knew."""
        with self._transaction() as db:
            return db.execute(
                "DELETE FROM accepted WHERE scope_id = (SELECT id FROM scopes"
                " WHERE platform = ? AND orgid = ? AND record_type = ?)"
                " AND primary_key IN (SELECT value FROM json_each(?))",
                (platform, orgid, record_type, json.dumps(list(keys), ensure_ascii=False)),
            ).rowcount

    def accepted_keys(self, record_type: str, platform: str, orgid: str) -> set[str]:
        return {
            key
            for (key,) in self._db.execute(
                "SELECT a.primary_key FROM accepted a JOIN scopes s ON s.id = a.scope_id"
                " WHERE s.platform = ? AND s.orgid = ? AND s.record_type = ?",
                (platform, orgid, record_type),
            )
        }

    def status(self, platform: str, orgid: str) -> list[TypeStatus]:
        """Per record type, in name order: rows accepted and when the last one was."""
        rows = self._db.execute(
            "SELECT s.record_type, count(*), max(a.accepted_at) FROM accepted a"
            " JOIN scopes s ON s.id = a.scope_id WHERE s.platform = ? AND s.orgid = ?"
            " GROUP BY s.record_type ORDER BY s.record_type",
            (platform, orgid),
        )
        return [TypeStatus(record_type, count, last) for record_type, count, last in rows]

    # Row counts of the exported files

    def record_row_count(self, run_id: int, record_type: str, rows: int) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO run_row_counts (run_id, record_type, rows)"
                " VALUES (?, ?, ?)",
                (run_id, record_type, rows),
            )

    def last_row_count(
        self, record_type: str, platform: str, orgid: str, *, before_run: int | None = None
    ) -> int | None:
        """The row count the latest run (before run ``before_run``, if given) recorded for
        ``record_type`` on this platform and orgid; None if no run did."""
        found = self._db.execute(
            "SELECT c.rows FROM run_row_counts c JOIN runs r ON r.id = c.run_id"
            " WHERE c.record_type = :type AND r.platform = :platform AND r.orgid = :orgid"
            " AND (:before IS NULL OR r.id < :before) ORDER BY r.id DESC LIMIT 1",
            {"type": record_type, "platform": platform, "orgid": orgid, "before": before_run},
        ).fetchone()
        return None if found is None else int(found[0])


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _open_read_only(path: Path) -> sqlite3.Connection | None:
    """A connection through which SQLite refuses every write; None if the ledger's schema is
    older than this version's."""
    uri = path.absolute().as_uri()
    with _translated(path):
        try:
            return _connect_read_only(f"{uri}?mode=ro")
        except sqlite3.OperationalError as exc:
            # SQLite reads a WAL ledger through its -shm file, which it must create when no
            # connection has the ledger open, and cannot in a folder it may not write in.
            # Without a -shm no writer is live, and the last one, closing, put every commit
            # into the file, so the file alone is the ledger: immutable=1 reads just that.
            # (A run killed outright leaves its -shm, and mode=ro reads its -wal through it.)
            if _sqlite_code(exc) != _SQLITE_CANTOPEN or os.path.exists(f"{path}-shm"):
                raise
            return _connect_read_only(f"{uri}?mode=ro&immutable=1")


def _connect_read_only(uri: str) -> sqlite3.Connection | None:
    db = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # The first read: where a file that cannot be read, or is no ledger, says so.
        current = is_current(db)
    except BaseException:
        db.close()
        raise
    if not current:
        db.close()
        return None
    return db


def _create_private(path: Path) -> None:
    """Create the ledger file owner-only before SQLite opens it; SQLite gives its -wal and
    -shm files the same permissions. An existing file keeps its own."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError as exc:
        raise _failure(path, exc) from None


@contextlib.contextmanager
def _translated(path: Path) -> Iterator[None]:
    """SQLite errors (not a database, disk full, locked past the busy timeout) → a
    LedgerError naming the ledger file, for the CLI to print; so is a ledger of a newer
    artreport."""
    try:
        yield
    except sqlite3.Error as exc:
        raise _failure(path, exc) from exc
    except NewerLedger as newer:
        if newer.versions:
            raise LedgerError(
                "ledger-newer",
                path=str(path),
                ours=__version__,
                needed=newer.versions[-1],
                changes=", ".join(newer.names),
            ) from None
        raise LedgerError(
            "ledger-newer-unknown", path=str(path), ours=__version__, changes=", ".join(newer.names)
        ) from None


def _failure(path: Path, exc: OSError | sqlite3.Error) -> LedgerError:
    """What stops us using the ledger, said so that the user does the right thing: moving the
    file aside forgets every row sent (the next upload sends them all again), which is only
    worth it for a file that is damaged, never for a folder that refuses writes."""
    folder = str(path.parent)
    if isinstance(exc, sqlite3.Error):
        code = _sqlite_code(exc)
        if code in (_SQLITE_NOTADB, _SQLITE_CORRUPT):
            return LedgerError("ledger-damaged", path=str(path), reason=str(exc))
        refused = code in (_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_AUTH)
        reason = str(exc)
    else:
        refused = exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        reason = exc.strerror or str(exc)
    if refused and _gone(path):
        # SQLite says "unable to open" for a ledger gone too (moved away after the look for it).
        return LedgerError("ledger-unusable", path=str(path), reason=os.strerror(errno.ENOENT))
    if refused and _on_read_only_file_system(path):
        return LedgerError("ledger-read-only", path=str(path), folder=folder)
    if refused:
        return LedgerError("ledger-no-access", path=str(path), folder=folder, reason=reason)
    return LedgerError("ledger-unusable", path=str(path), reason=reason)


def _gone(path: Path) -> bool:
    try:
        path.stat()
    except FileNotFoundError:
        return True
    except OSError:
        return False  # there, as far as we can tell: it is what keeps us out that matters
    return False


def _sqlite_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11 and later
    if code is not None:
        return int(code) & 0xFF  # the primary code, without the extended one's detail
    return next((found for text, found in _SQLITE_TEXTS.items() if text in str(exc)), None)


def _on_read_only_file_system(path: Path) -> bool:
    """Whether the ledger (a link's target, when it is one), else its folder, is on a
    read-only mount. Not os.access: root may write where permissions say no, never there."""
    if not hasattr(os, "statvfs"):  # Windows
        return False
    for candidate in (path, path.parent):
        try:
            return bool(os.statvfs(candidate).f_flag & os.ST_RDONLY)
        except OSError:
            continue
    return False
