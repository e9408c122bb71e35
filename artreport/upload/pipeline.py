"""The push pipeline: validated rows → chunks → the platform, with bisection of rejected chunks.

Every input row ends in exactly one place: accepted by the platform, or in the failure report
(invalid, rejected with the platform's own message, or not sent because the run had to stop).
The CLI sees progress through ``on_progress``; the ledger sees accepted rows through
``on_accepted``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from artreport.client.answers import Answer, Outcome
from artreport.errors import EXIT_OK, EXIT_PROBLEMS, ArtreportError, AuthError, UnreachableError
from artreport.schema import RecordType
from artreport.validation import Problem, ValidateOptions, open_validation
from artreport.validation.problems import (
    NOT_SENT_AUTH,
    NOT_SENT_INTERRUPTED,
    NOT_SENT_UNREACHABLE,
    PLATFORM_REJECTED,
)


@dataclass(frozen=True, slots=True)
class PendingRow:
    row: int
    key: str | None
    body: bytes  # the row as the platform will receive it (JSON)


class Sender(Protocol):
    def __call__(self, rows: list[PendingRow]) -> Answer: ...


@dataclass(frozen=True)
class PushOptions:
    chunk_size: int = 200
    chunk_bytes: int = 2_000_000
    concurrency: int = 1
    dry_run: bool = False
    validate: ValidateOptions = field(default_factory=ValidateOptions)


@dataclass
class PushSummary:
    record_type: str
    path: str
    dry_run: bool = False
    rows_read: int = 0
    invalid: int = 0
    warnings: int = 0
    sent: int = 0
    #: Rows in batches the platform accepted.
    accepted: int = 0
    #: What the platform said it stored (its ``data``), summed. A batch resent after its answer
    #: was lost is counted again by the platform, so this may exceed ``accepted``.
    platform_affected: int = 0
    rejected: int = 0
    not_sent: int = 0
    skipped: int = 0
    requests: int = 0
    extra_requests: int = 0
    problems_by_code: Counter[str] = field(default_factory=Counter)
    rejected_by_code: Counter[int] = field(default_factory=Counter)
    stopped_by: str | None = None
    elapsed: float = 0.0
    report: str | None = None
    notices: list[Any] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.invalid or self.rejected or self.not_sent:
            return EXIT_PROBLEMS
        return EXIT_OK

    @property
    def valid(self) -> int:
        return self.rows_read - self.invalid

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_type": self.record_type,
            "file": self.path,
            "dry_run": self.dry_run,
            "rows_read": self.rows_read,
            "valid": self.valid,
            "invalid": self.invalid,
            "warnings": self.warnings,
            "sent": self.sent,
            "accepted": self.accepted,
            "platform_affected": self.platform_affected,
            "rejected": self.rejected,
            "not_sent": self.not_sent,
            "skipped_unchanged": self.skipped,
            "requests": self.requests,
            "extra_requests": self.extra_requests,
            "problems_by_code": dict(self.problems_by_code),
            "rejected_by_code": {str(k): v for k, v in self.rejected_by_code.items()},
            "stopped_by": self.stopped_by,
            "elapsed_seconds": round(self.elapsed, 3),
            "report": self.report,
            "exit_code": self.exit_code,
        }


@dataclass
class ChunkOutcome:
    accepted: list[PendingRow] = field(default_factory=list)
    affected: int = 0
    rejected: list[tuple[PendingRow, Answer]] = field(default_factory=list)
    not_sent: list[PendingRow] = field(default_factory=list)
    requests: int = 0
    error: ArtreportError | None = None


def send_chunk(send: Sender, rows: list[PendingRow], stop: threading.Event) -> ChunkOutcome:
    """Send ``rows``; when the platform refuses them as data, split and resend the halves until
    each refused row stands alone, so that every good row lands and every bad row carries the
    platform's own message.

    The platform applies a batch all-or-nothing, so resending halves of a refused batch can
    never store a row twice; and batchInsert is an upsert by primary key, so resending after a
    lost answer is harmless too.
    """
    outcome = ChunkOutcome()
    pending = [rows]
    while pending:
        part = pending.pop()
        if stop.is_set():
            outcome.not_sent.extend(part)
            continue
        try:
            answer = send(part)
        except ArtreportError as error:
            # Auth refused or platform unreachable: nothing more will get through.
            outcome.error = error
            outcome.not_sent.extend(part)
            for rest in pending:
                outcome.not_sent.extend(rest)
            stop.set()
            break
        outcome.requests += 1
        if answer.outcome is Outcome.SUCCESS:
            outcome.accepted.extend(part)
            affected = answer.data
            valid_count = isinstance(affected, int) and not isinstance(affected, bool)
            outcome.affected += affected if valid_count else len(part)
        elif len(part) == 1:
            outcome.rejected.append((part[0], answer))
        else:
            middle = len(part) // 2
            # Pushed second so it is sent first: rows go out in file order.
            pending.append(part[middle:])
            pending.append(part[:middle])
    return outcome


def platform_sender(client: Any, resource: str) -> Sender:
    """Send chunks to ``resource`` through a :class:`~artreport.client.PlatformClient`."""

    def send(rows: list[PendingRow]) -> Answer:
        return client.batch_insert_body(resource, batch_body(rows))

    return send


def encode_row(data: dict[str, Any]) -> bytes:
    # orjson: compact UTF-8 JSON as the platform expects, several times faster than json's,
    # which would otherwise cost push more than all of validation.
    return orjson.dumps(data)


def batch_body(rows: Iterable[PendingRow]) -> bytes:
    return b"[" + b",".join(r.body for r in rows) + b"]"


class _Chunker:
    def __init__(self, size: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.rows: list[PendingRow] = []
        self.bytes = 2

    def add(self, row: PendingRow) -> list[PendingRow] | None:
        """Add ``row``; returns a full chunk when one is ready."""
        ready = None
        if self.rows and self.bytes + len(row.body) + 1 > self.max_bytes:
            ready = self.take()
        self.rows.append(row)
        self.bytes += len(row.body) + 1
        if ready is None and len(self.rows) >= self.size:
            ready = self.take()
        return ready

    def take(self) -> list[PendingRow]:
        rows, self.rows, self.bytes = self.rows, [], 2
        return rows


def push_file(
    record_type: RecordType,
    path: str | Path,
    *,
    send: Sender | None,
    report: Any,
    orgid: str | None = None,
    options: PushOptions | None = None,
    on_progress: Callable[[PushSummary], None] | None = None,
    on_accepted: Callable[[list[PendingRow]], None] | None = None,
    skip: Callable[[PendingRow], bool] | None = None,
    stop: threading.Event | None = None,
) -> PushSummary:
    """Validate ``path`` and send its valid rows through ``send`` (None: dry run, send nothing).

    ``report`` receives a :class:`Problem` for every invalid, rejected or unsent row. ``stop``
    ends the run early (after the requests in flight): the rest is reported as not sent.
    ``skip`` leaves out rows the platform already holds (the ledger's ``--changed-only``).
    """
    options = options or PushOptions()
    stop = stop or threading.Event()
    started = time.monotonic()
    dry_run = send is None or options.dry_run
    stop_error: list[ArtreportError] = []
    with open_validation(record_type, path, orgid=orgid, options=options.validate) as validation:
        summary = PushSummary(record_type.name, str(path), dry_run=dry_run)
        for problem in validation.file_problems:
            report.add(problem)
            summary.problems_by_code[problem.code] += 1

        def not_sent(row: PendingRow) -> None:
            summary.not_sent += 1
            code = NOT_SENT_INTERRUPTED
            if stop_error and isinstance(stop_error[0], AuthError):
                code = NOT_SENT_AUTH
            elif stop_error and isinstance(stop_error[0], UnreachableError):
                code = NOT_SENT_UNREACHABLE
            report.add(Problem(code, row=row.row, primary_key=row.key))

        def settle(outcome: ChunkOutcome) -> None:
            summary.requests += outcome.requests
            summary.extra_requests += max(outcome.requests - 1, 0)
            summary.accepted += len(outcome.accepted)
            summary.platform_affected += outcome.affected
            if outcome.accepted and on_accepted is not None:
                on_accepted(outcome.accepted)
            for row, answer in outcome.rejected:
                summary.rejected += 1
                summary.rejected_by_code[answer.code] += 1
                report.add(
                    Problem(
                        PLATFORM_REJECTED,
                        row=row.row,
                        primary_key=row.key,
                        params={"platform_code": answer.code, "platform_message": answer.msg},
                    )
                )
            if outcome.error is not None and not stop_error:
                summary.stopped_by = outcome.error.code
                stop_error.append(outcome.error)
            for row in outcome.not_sent:
                not_sent(row)

        chunker = _Chunker(options.chunk_size, options.chunk_bytes)
        in_flight: deque[Future[ChunkOutcome]] = deque()
        max_in_flight = max(1, options.concurrency) * 2

        def submit(executor: ThreadPoolExecutor, rows: list[PendingRow]) -> None:
            if stop.is_set():
                for row in rows:
                    not_sent(row)
                return
            summary.sent += len(rows)
            in_flight.append(executor.submit(send_chunk, send, rows, stop))  # type: ignore[arg-type]
            while len(in_flight) >= max_in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    in_flight.remove(future)
                    settle(future.result())

        with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as executor:
            for results in validation.result_batches():
                for result in results:
                    if result.problems:
                        for problem in result.problems:
                            report.add(problem)
                            summary.problems_by_code[problem.code] += 1
                            if not problem.is_error:
                                summary.warnings += 1
                    if not result.valid:
                        summary.invalid += 1
                        continue
                    pending = PendingRow(result.row, result.primary_key, encode_row(result.data))
                    if skip is not None and skip(pending):
                        summary.skipped += 1
                        continue
                    if dry_run:
                        continue
                    chunk = chunker.add(pending)
                    if chunk:
                        submit(executor, chunk)
                summary.rows_read += len(results)
                if on_progress is not None:
                    summary.elapsed = time.monotonic() - started
                    on_progress(summary)
            if chunker.rows:
                submit(executor, chunker.take())
            while in_flight:
                settle(in_flight.popleft().result())
        summary.notices = list(validation.summary.notices)
    summary.elapsed = time.monotonic() - started
    if on_progress is not None:
        on_progress(summary)
    if stop_error:
        raise PushStopped(summary, stop_error[0])
    return summary


class PushStopped(Exception):
    """The run stopped on an error that ends it (credentials refused, platform unreachable);
    ``summary`` holds what was done before, the report lists what was not."""

    def __init__(self, summary: PushSummary, error: ArtreportError) -> None:
        super().__init__(error.code)
        self.summary = summary
        self.error = error
