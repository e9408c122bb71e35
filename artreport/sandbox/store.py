"""The sandbox's stored records: one SQLite table of JSON rows keyed by (orgid, record type,
primary key).

An accepted batch is first appended, as sent, to a log of pending batches and merged into the
records (SQLite's ``json_patch``, about 20 µs a row on a small machine) only when someone reads
or deletes, or when the log grows long; a file keeps its log when the sandbox stops. Merging
costs the same whenever it happens; doing it later keeps it out of the answer to the batch, so
the sandbox keeps up with a push.

A :class:`Store` has one connection that any thread may use; the caller serialises access.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from artreport.errors import InputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    orgid TEXT NOT NULL,
    type TEXT NOT NULL,
    pk TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (orgid, type, pk)
)
"""
# One statement per batch: SQLite splits the JSON array itself, about twice as fast as encoding
# and binding each row from Python. Nulls never reach json_patch (the caller drops them), so
# the patch only adds or overwrites: exactly the platform's rule that a missing field keeps its
# old value. ``WHERE true`` is SQLite's required disambiguation of a SELECT before ON CONFLICT.
_UPSERT = """
INSERT INTO records (orgid, type, pk, data)
SELECT :orgid, :type, json_extract(value, :key_path), value
FROM json_each(CAST(:rows AS TEXT)) WHERE true
ON CONFLICT (orgid, type, pk) DO UPDATE SET data = json_patch(data, excluded.data)
"""
_ROWS = "SELECT data FROM records WHERE type = ? ORDER BY rowid"
_PENDING_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY,
    orgid TEXT NOT NULL,
    type TEXT NOT NULL,
    primary_key TEXT NOT NULL,
    rows TEXT NOT NULL
)
"""
_PENDING = "SELECT seq, orgid, type, primary_key, rows FROM pending ORDER BY seq"
#: Batches the log may hold before they are merged without waiting for a read.
MAX_PENDING = 10_000


class Store:
    def __init__(self, db: str | Path | None = None) -> None:
        if db is not None:
            # A rehearsal with a real export stores patient data: owner-only, as reports are
            # (SQLite gives its -wal and -shm files the same mode). An existing file keeps its
            # own; a path that cannot be created is left for SQLite to report.
            with contextlib.suppress(OSError):
                os.close(os.open(db, os.O_RDWR | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(
            str(db) if db is not None else ":memory:", check_same_thread=False
        )
        # A rehearsal server needs no durability against power loss, and full sync per batch
        # would make the disk, not the sandbox, the bottleneck of a push benchmark.
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(_SCHEMA)
        self._db.execute(_PENDING_SCHEMA)
        self._pending = self._db.execute("SELECT count(*) FROM pending").fetchone()[0]
        # An in-memory store ends with the process whichever way it logs: the log can be a
        # list, which costs nothing to append to, where a table costs a copy of every batch.
        self._in_memory: list[tuple[str, str, str, bytes]] | None = [] if db is None else None

    def upsert(self, orgid: str, record_type: str, primary_key: str, rows_json: bytes) -> None:
        """Insert or update each object of the JSON array ``rows_json`` (UTF-8) under its
        ``primary_key`` field (merged into the records before anything reads them).

        The bytes are logged as they are, a BLOB that the merge reads as text: decoding them
        here would cost more than the insert, only for SQLite to encode them back."""
        if self._in_memory is not None:
            self._in_memory.append((orgid, record_type, primary_key, rows_json))
        else:
            with self._db:
                self._db.execute(
                    "INSERT INTO pending (orgid, type, primary_key, rows) VALUES (?, ?, ?, ?)",
                    (orgid, record_type, primary_key, rows_json),
                )
        self._pending += 1
        if self._pending >= MAX_PENDING:
            self.merge()

    def merge(self) -> None:
        """Apply the pending batches, oldest first, in one transaction."""
        if not self._pending:
            return
        with self._db:
            if self._in_memory is not None:
                batches = self._in_memory
            else:
                batches = [batch[1:] for batch in self._db.execute(_PENDING).fetchall()]
                self._db.execute("DELETE FROM pending")
            for orgid, record_type, primary_key, rows_json in batches:
                self._db.execute(
                    _UPSERT,
                    {
                        "orgid": orgid,
                        "type": record_type,
                        "key_path": f'$."{primary_key}"',
                        "rows": rows_json,
                    },
                )
        if self._in_memory is not None:
            self._in_memory.clear()
        self._pending = 0

    def delete(self, orgid: str, record_type: str, key: str, match: Mapping[str, str]) -> bool:
        """Delete one record if it exists and its fields equal ``match`` (the delete's other
        query parameters, such as ``cycleid``)."""
        self.merge()
        found = self._db.execute(
            "SELECT rowid, data FROM records WHERE orgid = ? AND type = ? AND pk = ?",
            (orgid, record_type, key),
        ).fetchone()
        if found is None:
            return False
        data = json.loads(found[1])
        if any(data.get(name) is None or str(data[name]) != value for name, value in match.items()):
            return False
        with self._db:
            self._db.execute("DELETE FROM records WHERE rowid = ?", (found[0],))
        return True

    def rows(self, record_type: str) -> list[dict[str, Any]]:
        self.merge()
        return [json.loads(data) for (data,) in self._db.execute(_ROWS, (record_type,))]

    def close(self) -> None:
        """Close without merging: a file keeps its log of pending batches, which the next
        reader merges, and an in-memory store has nobody left to read it. Merging here made a
        stop wait about 20 µs for every row received (half a minute after a million rows)."""
        self._db.close()


def read_rows(db: str | Path, record_type: str) -> list[dict[str, Any]]:
    """The rows of one record type from a sandbox database file, opened read-only so that a
    running sandbox that owns the file is not disturbed."""
    path = Path(db)
    if not path.is_file():
        raise InputError("sandbox-db-not-found", path=str(path))
    try:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
            rows = [json.loads(data) for (data,) in connection.execute(_ROWS, (record_type,))]
            pending = connection.execute(_PENDING).fetchall() if _has_pending(connection) else []
    except sqlite3.DatabaseError as error:
        raise InputError("sandbox-db-unreadable", path=str(path), reason=str(error)) from None
    batches = [batch for batch in pending if batch[2] == record_type]
    if not batches:
        return rows
    # Read-only, so the batches a running sandbox has not merged yet are merged here, in memory,
    # by the same rule: a field present in a later row replaces the stored one.
    primary_key = batches[0][3]
    merged = {(row.get("orgid"), row.get(primary_key)): row for row in rows}
    for _seq, orgid, _type, _key, rows_json in batches:
        for row in json.loads(rows_json):
            merged.setdefault((orgid, row[primary_key]), {}).update(row)
    return list(merged.values())


def _has_pending(connection: sqlite3.Connection) -> bool:
    found = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending'"
    return connection.execute(found).fetchone() is not None
