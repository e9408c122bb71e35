"""One record type's push as ``push`` and ``sync`` run it: ledger hooks, the client, the
summary's exit code."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreport.errors import ArtreportError
from artreport.schema import RecordType, load_schema
from artreport.sync import LedgerReferences
from artreport.upload.pipeline import (
    PushOptions,
    PushStopped,
    PushSummary,
    platform_sender,
    push_file,
)

if TYPE_CHECKING:
    from artreport.runs import Run


@dataclass
class PushOutcome:
    summary: PushSummary
    #: The error that ended the push early (credentials refused, platform unreachable).
    error: ArtreportError | None = None

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def push_one(
    record_type: RecordType,
    path: str | Path,
    *,
    client: Any | None,
    report: Any,
    orgid: str | None,
    options: PushOptions,
    run: Run | None = None,
    changed_only: bool = False,
    superseded: frozenset[str] = frozenset(),
    on_progress: Callable[[PushSummary], None] | None = None,
    check_references: bool = False,
    record_accepted: bool = True,
) -> PushOutcome:
    """Push ``path``; with ``client`` None nothing is sent (a dry run). With a ``run``, accepted
    rows go to its ledger, ``--changed-only`` skips what the ledger says the platform holds,
    and its signals stop the push; ``check_references`` warns of rows that refer to records
    the ledger does not know were accepted. The rows of the ``superseded`` keys are not sent.
    Without ``record_accepted`` the run is in the ledger but not its rows: for a platform
    gone when the command ends (the embedded sandbox)."""
    skip = run.skip_unchanged(record_type.name) if run is not None and changed_only else None
    references = None
    if run is not None and check_references:
        ledger, platform, scope = run.ledger, run.platform, run.config.orgid
        references = LedgerReferences(
            record_type, load_schema(), lambda target: ledger.accepted_keys(target, platform, scope)
        )
    try:
        summary = push_file(
            record_type,
            path,
            send=None if client is None else platform_sender(client, record_type.resource),
            report=report,
            orgid=orgid,
            options=options,
            on_progress=on_progress,
            on_accepted=run.record_accepted(record_type.name)
            if run is not None and record_accepted
            else None,
            skip=skip,
            superseded=superseded,
            stop=run.stop if run is not None else None,
            references=references,
        )
        outcome = PushOutcome(summary)
    except PushStopped as stopped:
        outcome = PushOutcome(stopped.summary, stopped.error)
    # Before the log line and the ledger's record of the run, so that both name the report.
    outcome.summary.report = getattr(report, "written_path", None)
    if run is not None:
        if run.stopped_by is not None:
            # The pipeline sees only that it was stopped; the run knows by which signal.
            outcome.summary.stopped_by = run.stopped_by
            outcome.summary.stopped_exit_code = run.interrupted_exit_code
        summary = json.dumps(outcome.summary.to_dict(), ensure_ascii=False)
        run.log.info("%s %s: %s", record_type.name, path, summary)
        if outcome.error is not None:
            run.log.error("%s stopped: %s", record_type.name, outcome.error.message("en"))
    return outcome
