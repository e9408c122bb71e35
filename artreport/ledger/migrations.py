"""The ledger's schema, as ordered migrations whose names are recorded once applied.

A ledger file outlives the artreport version that created it, so the schema only ever moves
forward: a change is a new ``mNNN_…`` function appended to :data:`MIGRATIONS`, never an edit
of one already released. :func:`migrate` applies, in order, those not yet named in the
``_migrations`` table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations not applied yet, all in one transaction.

    ``BEGIN IMMEDIATE`` takes the write lock before reading what is applied: two processes
    opening a new ledger at once (a nightly sync and someone's ``history``) would otherwise
    both try to create the tables.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations"
            " (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        applied = {name for (name,) in db.execute("SELECT name FROM _migrations")}
        for fn in MIGRATIONS:
            if fn.__name__ not in applied:
                fn(db)
                db.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    (fn.__name__, datetime.now(timezone.utc).isoformat(timespec="seconds")),
                )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def is_current(db: sqlite3.Connection) -> bool:
    """Whether every migration has been applied (reads only, for a read-only connection)."""
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if found is None:
        return False
    applied = {name for (name,) in db.execute("SELECT name FROM _migrations")}
    return all(fn.__name__ in applied for fn in MIGRATIONS)


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            command TEXT NOT NULL,
            platform TEXT NOT NULL,
            orgid TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            record_types TEXT NOT NULL,  -- JSON list
            files TEXT NOT NULL,         -- JSON list
            counts TEXT,                 -- JSON object, written when the run ends
            exit_code INTEGER,
            status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted'))
        )
        """
    )
    # One row per (platform, orgid, record type), so that the million-row table below
    # repeats a small integer instead of a URL, an orgid and a type name.
    db.execute(
        """
        CREATE TABLE scopes (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            orgid TEXT NOT NULL,
            record_type TEXT NOT NULL,
            UNIQUE (platform, orgid, record_type)
        )
        """
    )
    # Only the last accepted version of each row: what --changed-only compares against.
    db.execute(
        """
        CREATE TABLE accepted (
            scope_id INTEGER NOT NULL REFERENCES scopes (id),
            primary_key TEXT NOT NULL,
            hash BLOB NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            accepted_at TEXT NOT NULL,
            PRIMARY KEY (scope_id, primary_key)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE run_row_counts (
            run_id INTEGER NOT NULL REFERENCES runs (id),
            record_type TEXT NOT NULL,
            rows INTEGER NOT NULL,
            PRIMARY KEY (run_id, record_type)
        )
        """
    )
