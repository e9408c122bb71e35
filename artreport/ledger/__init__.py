"""The ledger: what the platform has accepted, and every run that sent it.

One SQLite file in the state directory (:func:`default_path`), written by every ``push`` and
``sync``:

- **runs** — command line, platform, orgid, start and end (UTC), record types, files, counts,
  exit code, and status ``running`` / ``finished`` / ``interrupted``;
- **accepted rows** — per platform, orgid and record type, the last accepted version of each
  primary key: a hash of the row as sent, the run and the time. ``--changed-only`` skips a row
  whose hash matches (:meth:`Ledger.unchanged`); cross-file checks ask which keys exist
  (:meth:`Ledger.accepted_keys`);
- **row counts** — how many records each ``sync`` found per record type in its exports, so
  that a truncated export can be noticed (:meth:`Ledger.last_row_count`).

Rows are recorded per accepted chunk, each chunk in one transaction, after the platform said
yes: a killed run leaves the ledger short of what the platform holds (those rows are sent
again, and batchInsert upserts), never ahead of it. Platform and orgid come from the run, so a
rehearsal against the sandbox never counts as sent to production.
"""

from artreport.ledger.store import (
    LEDGER_FILE,
    Ledger,
    RunRecord,
    RunStatus,
    TypeStatus,
    default_path,
    row_hash,
)

__all__ = [
    "LEDGER_FILE",
    "Ledger",
    "RunRecord",
    "RunStatus",
    "TypeStatus",
    "default_path",
    "row_hash",
]
