"""The sandbox's stored records: one SQLite table of JSON rows keyed by (orgid, record type,
primary key).

A :class:`Store` has one connection that any thread may use; the caller serialises access.
"""

from __future__ import annotations

import contextlib
import json
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
SELECT :orgid, :type, json_extract(value, :key_path), value FROM json_each(:rows) WHERE true
ON CONFLICT (orgid, type, pk) DO UPDATE SET data = json_patch(data, excluded.data)
"""
_ROWS = "SELECT data FROM records WHERE type = ? ORDER BY rowid"


class Store:
    def __init__(self, db: str | Path | None = None) -> None:
        self._db = sqlite3.connect(
            str(db) if db is not None else ":memory:", check_same_thread=False
        )
        # A rehearsal server needs no durability against power loss, and full sync per batch
        # would make the disk, not the sandbox, the bottleneck of a push benchmark.
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(_SCHEMA)

    def upsert(self, orgid: str, record_type: str, primary_key: str, rows_json: str) -> None:
        """Insert or update each object of the JSON array ``rows_json`` under its
        ``primary_key`` field."""
        with self._db:
            self._db.execute(
                _UPSERT,
                {
                    "orgid": orgid,
                    "type": record_type,
                    "key_path": f'$."{primary_key}"',
                    "rows": rows_json,
                },
            )

    def delete(self, orgid: str, record_type: str, key: str, match: Mapping[str, str]) -> bool:
        """Delete one record if it exists and its fields equal ``match`` (the delete's other
        query parameters, such as ``cycleid``)."""
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
        return [json.loads(data) for (data,) in self._db.execute(_ROWS, (record_type,))]

    def close(self) -> None:
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
            return [json.loads(data) for (data,) in connection.execute(_ROWS, (record_type,))]
    except sqlite3.DatabaseError as error:
        raise InputError("sandbox-db-unreadable", path=str(path), reason=str(error)) from None
