"""The ledger's schema, as ordered migrations whose names are recorded once applied.

A ledger file outlives the artreport version that created it, so the schema only ever moves
forward: a change is a new ``mNNN_…`` function appended to :data:`MIGRATIONS`, never an edit
of one already released. :func:`migrate` applies, in order, those not yet named in the
``_migrations`` table.

Going back is refused instead: a ledger naming a migration this version does not know was
written by a newer artreport (IT upgraded, then rolled back), whose schema this version could
damage or misread (answering ``--changed-only`` wrongly). Each migration row records the
artreport version that applied it, so that the refusal can name the version needed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

from artreport import __version__

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


class NewerLedger(Exception):
    """The ledger holds migrations this version does not know: a newer artreport wrote it."""

    def __init__(self, names: list[str], versions: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names
        #: The artreport versions that applied them, where they recorded it.
        self.versions = versions


def refuse_newer(db: sqlite3.Connection) -> None:
    """Raise :class:`NewerLedger` if a newer artreport has migrated this ledger. Reads only:
    called before anything may write to the file."""
    if not _has_table(db):
        return
    with_version = "artreport_version" in {
        column for (_, column, *_) in db.execute("PRAGMA table_info(_migrations)")
    }
    selected = "name, artreport_version" if with_version else "name, NULL"
    known = {fn.__name__ for fn in MIGRATIONS}
    unknown = [
        (name, version)
        for name, version in db.execute(f"SELECT {selected} FROM _migrations ORDER BY name")
        if name not in known
    ]
    if unknown:
        versions = sorted({v for _, v in unknown if v}, key=_version_key)
        raise NewerLedger([name for name, _ in unknown], versions)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def _has_table(db: sqlite3.Connection) -> bool:
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    return found is not None


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations not applied yet, all in one transaction; :class:`NewerLedger`,
    with nothing written, for a ledger a newer artreport has migrated.

    ``BEGIN IMMEDIATE`` takes the write lock before reading what is applied: two processes
    opening a new ledger at once (a nightly sync and someone's ``history``) would otherwise
    both try to create the tables.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        # Checked again under the write lock: a newer version may have migrated the ledger
        # since the caller looked.
        refuse_newer(db)
        db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations"
            " (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        applied = {name for (name,) in db.execute("SELECT name FROM _migrations")}
        newly = [fn for fn in MIGRATIONS if fn.__name__ not in applied]
        for fn in newly:
            fn(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (fn.__name__, datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )
        # Every migration of this version has now run, m002 too, which adds the column.
        db.executemany(
            "UPDATE _migrations SET artreport_version = ? WHERE name = ?",
            [(__version__, fn.__name__) for fn in newly],
        )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def is_current(db: sqlite3.Connection) -> bool:
    """Whether every migration has been applied (reads only, for a read-only connection);
    :class:`NewerLedger` if a newer artreport has applied more."""
    if not _has_table(db):
        return False
    refuse_newer(db)
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


@migration
def m002_migration_versions(db: sqlite3.Connection) -> None:
    # Which artreport applied each migration: what an older version refusing this ledger
    # tells the user to upgrade to again.
    db.execute("ALTER TABLE _migrations ADD COLUMN artreport_version TEXT")
