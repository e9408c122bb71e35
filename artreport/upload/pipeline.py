"""The push pipeline: validated rows → chunks → the platform, with bisection of rejected chunks.

Every input row ends in exactly one place: accepted by the platform, or in the failure report
(invalid, rejected with the platform's own message, or not sent because the run had to stop).
The CLI sees progress through ``on_progress``; the ledger sees accepted rows through
``on_accepted``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from artreport.client.answers import Answer, Outcome, affected_rows, firewall_block
from artreport.client.retry import LOST_RESET, LOST_TIMEOUT
from artreport.errors import (
    EXIT_OK,
    EXIT_PROBLEMS,
    ArtreportError,
    AuthError,
    ConfigError,
    InputError,
    LedgerError,
    StoppedError,
    UnreachableError,
)
from artreport.privacy import mask_in_text
from artreport.schema import RecordType
from artreport.upload.produce import in_child_by_default, open_source
from artreport.validation import Problem, ValidateOptions
from artreport.validation.problems import (
    NOT_READ_AFTER_STOP,
    NOT_READ_INPUT_ERROR,
    NOT_SENT_AUTH,
    NOT_SENT_INTERRUPTED,
    NOT_SENT_UNREACHABLE,
    ORGID_MISMATCH,
    PLATFORM_REJECTED,
    PLATFORM_STORED_FEWER,
    WORDING,
    Wording,
)
from artreport.validation.runner import SHOWN_PROBLEMS, all_of_another_organisation

if TYPE_CHECKING:
    from artreport.sync import LedgerReferences


@dataclass(frozen=True, slots=True)
class PendingRow:
    row: int
    key: str | None
    body: bytes  # the row as the platform will receive it (JSON)


@dataclass(slots=True)
class Chunk:
    """Rows on their way to the platform, kept as parallel lists: a push makes no object per
    row, and halving a refused chunk is three slices."""

    rows: list[int] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def halves(self) -> tuple[Chunk, Chunk]:
        middle = len(self.rows) // 2
        return (
            Chunk(self.rows[:middle], self.keys[:middle], self.bodies[:middle]),
            Chunk(self.rows[middle:], self.keys[middle:], self.bodies[middle:]),
        )

    def body(self) -> bytes:
        return b"[" + b",".join(self.bodies) + b"]"

    def body_size(self) -> int:
        """The length of :meth:`body`, without making it."""
        return sum(map(len, self.bodies)) + max(len(self.bodies) - 1, 0) + 2

    def pending_rows(self) -> list[PendingRow]:
        return list(map(PendingRow, self.rows, self.keys, self.bodies))


class Sender(Protocol):
    def __call__(self, chunk: Chunk, *, retry_server_failures: bool = True) -> Answer: ...


@dataclass(frozen=True)
class PushOptions:
    chunk_size: int = 200
    chunk_bytes: int = 2_000_000
    concurrency: int = 1
    dry_run: bool = False
    validate: ValidateOptions = field(default_factory=ValidateOptions)
    #: Validate in a child process (see ``produce``); None: when sending a large export.
    validate_in_child: bool | None = None


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
    #: Rows a newer export of the same run holds too (sync), left to that file.
    superseded: int = 0
    requests: int = 0
    extra_requests: int = 0
    #: Requests sent again after a lost answer, a gateway error or an expired login; not in
    #: ``requests``, which counts each chunk or part of one once.
    resent: int = 0
    #: Rows of parts the platform answered with success but said it stored fewer rows of than
    #: were sent: not in ``accepted``, listed in the report, kept out of the ledger, so
    #: ``--changed-only`` sends them again.
    stored_fewer: int = 0
    #: Rows in ``accepted`` that the platform called duplicates (40005) when they were resent
    #: after a lost answer: the lost copy stored them.
    duplicates_after_loss: int = 0
    problems_by_code: Counter[str] = field(default_factory=Counter)
    rejected_by_code: Counter[int] = field(default_factory=Counter)
    #: What ended the push early: the code of an error that ends the run, or the name of a
    #: signal ("SIGTERM"); ``stopped_exit_code`` is then that error's or that signal's.
    stopped_by: str | None = None
    stopped_exit_code: int | None = None
    #: Where reading stopped when a signal ended the run early.
    stopped_at_row: int | None = None
    elapsed: float = 0.0
    report: str | None = None
    notices: list[Any] = field(default_factory=list)
    #: The file's own problems (unknown columns, a required column missing): one per column
    #: at most.
    file_problems: list[Problem] = field(default_factory=list)
    #: The first SHOWN_PROBLEMS problems of the rows' checks, for the screen as validate shows
    #: them; the report has them all, which a million-row file's summary could not hold.
    first_problems: list[Problem] = field(default_factory=list)
    #: The same for the rows the platform refused, with its words.
    first_rejected: list[Problem] = field(default_factory=list)
    #: Warnings of what the rows refer to that the ledger does not know was sent (push).
    reference_problems: list[Problem] = field(default_factory=list)
    #: The referring fields the push could not check: the ledger knows no record of their type.
    references_unchecked: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.stopped_exit_code is not None:
            return self.stopped_exit_code
        if (
            self.invalid
            or self.rejected
            or self.not_sent
            or self.stored_fewer
            or self.stopped_at_row
        ):
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
            "superseded": self.superseded,
            "requests": self.requests,
            "extra_requests": self.extra_requests,
            "resent": self.resent,
            "stored_fewer": self.stored_fewer,
            "duplicates_after_loss": self.duplicates_after_loss,
            "references_unchecked": self.references_unchecked,
            "problems_by_code": dict(self.problems_by_code),
            "rejected_by_code": {str(k): v for k, v in self.rejected_by_code.items()},
            "stopped_by": self.stopped_by,
            "stopped_at_row": self.stopped_at_row,
            "elapsed_seconds": round(self.elapsed, 3),
            "report": self.report,
            "exit_code": self.exit_code,
        }


@dataclass
class ChunkOutcome:
    accepted: list[Chunk] = field(default_factory=list)
    #: Accepted parts of which the platform says it stored fewer rows than were sent, with
    #: the count it gave: which rows it left is unknown.
    short: list[tuple[Chunk, int]] = field(default_factory=list)
    #: Parts taken as stored though the platform answered 40005 (duplicate data): they were
    #: resent after a lost answer, so the platform holds them from the copy whose answer was
    #: lost.
    duplicates_after_loss: list[Chunk] = field(default_factory=list)
    affected: int = 0
    rejected: list[tuple[PendingRow, Answer]] = field(default_factory=list)
    not_sent: list[Chunk] = field(default_factory=list)
    #: Of the parts not sent, those sent all the same whose answers were lost: the platform
    #: may hold them.
    unconfirmed: list[Chunk] = field(default_factory=list)
    requests: int = 0
    resent: int = 0
    #: The smallest body refused for its size (HTTP 413), if any was.
    refused_size: int | None = None
    #: Of the parts sent whose every answer was lost after sending, rows each lost so alone
    #: while others of the chunk were taken, with how (``LOST_TIMEOUT``, ``LOST_RESET``): the
    #: run goes on, and the platform may hold them.
    lost_alone: list[tuple[Chunk, str]] = field(default_factory=list)
    #: The fewest rows of a part that timed out (or a gateway's 504) after its retries, if any
    #: did: too many for the platform to take within ``timeout``.
    slow_rows: int | None = None


def not_sent_code(stopped_by: ArtreportError | None) -> str:
    """The problem code for rows left unsent by the error that stopped the run (None: a
    signal)."""
    if isinstance(stopped_by, AuthError):
        return NOT_SENT_AUTH
    if isinstance(stopped_by, UnreachableError):
        return NOT_SENT_UNREACHABLE
    return NOT_SENT_INTERRUPTED


def not_sent_params(stopped_by: ArtreportError | None) -> dict[str, Any]:
    """The params of the problem for rows left unsent by ``stopped_by``: the wording that
    says why, where the code alone does not."""
    if isinstance(stopped_by, LedgerError):
        return {WORDING: Wording.NOT_SENT_LEDGER}
    return {}


class Halt:
    """Set, from whichever thread meets it, by the first error that ends the run (credentials
    refused, platform unreachable). It keeps that error, so every row left unsent is listed
    for it, even rows halted before the chunk that met the error has been settled."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.error: ArtreportError | None = None
        #: Set once any part of any chunk has been accepted: the platform takes data.
        self.progress = threading.Event()

    def set(self, error: ArtreportError) -> None:
        with self._lock:
            if self.error is None:
                self.error = error
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


class _HaltingReport:
    """The failure report, halting the run at the first problem it cannot take (a full disk):
    what is sent from then on could not be accounted for. Rows in flight are still settled and
    recorded in the ledger; the rest are counted as not sent."""

    def __init__(self, report: Any, halt: Halt) -> None:
        self._report = report
        self._halt = halt
        self._failed = False

    def add(self, problem: Problem) -> None:
        if self._failed:
            return
        try:
            self._report.add(problem)
        except ArtreportError as error:
            self._failed = True
            self._halt.set(error)


def send_chunk(send: Sender, chunk: Chunk, stop: threading.Event, halt: Halt) -> ChunkOutcome:
    """Send ``chunk``; when the platform refuses it as data, a gateway as too large, or the
    server's framework fails on it, split and resend the halves until each refused row stands
    alone, so that every good row lands and every bad row carries the platform's own message.
    So too when every answer to it was lost after it was sent in a way its size or text may
    cause (timed out, a gateway's 504, the connection reset): a row lost so alone is reported
    as not confirmed, the platform may hold it.

    Nothing is sent once ``stop`` (a signal) or ``halt`` is set; an error that ends the run
    sets ``halt``, not ``stop``: the rest of the file is still read, to be listed as not sent.

    The platform applies a batch all-or-nothing, so resending halves of a refused batch can
    never store a row twice; and batchInsert is an upsert by primary key, so resending after a
    lost answer is harmless too.
    """
    outcome = ChunkOutcome()
    # Halves are sent level by level (a queue, not a stack): all of one level before any of
    # the next, so that every row of a chunk is tried alone only when every larger part of it
    # has failed.
    # Each part with whether a copy of its rows went out before and its answer was lost: the
    # platform may hold those rows, so they are never said to be "not sent".
    pending: deque[tuple[Chunk, bool]] = deque([(chunk, False)])
    # Rows the server's framework failed on alone (HTTP 400/500 without the envelope), held
    # back until the chunk is done: when every row of the chunk fails so and nothing of the run
    # has been taken, it is the server failing, not the rows, and the file is not sent through
    # it a row at a time.
    held: list[tuple[PendingRow, Answer]] = []
    any_accepted = False
    server_failed = False
    # Parts a firewall blocked, and its error: kept to stop the run as before the splitting if
    # it blocks every part alike (no row's fault then: a path it closes, an address it bans).
    blocked = 0
    blocked_by: ArtreportError | None = None
    # Parts whose every answer was lost after they were sent, in a way the part itself may
    # cause (too slow for its size, a firewall resetting the connection for its text), and the
    # first such error: split like a blocked chunk, and stopping the run the same way when the
    # chunk and both its halves are lost so (then it is the platform or the network).
    lost = 0
    lost_by: ArtreportError | None = None
    #: Rows lost so even alone, and how: kept apart until some of the chunk is taken.
    lost_alone: list[tuple[Chunk, str]] = []

    def leave(part: Chunk, after_loss: bool) -> None:
        (outcome.unconfirmed if after_loss else outcome.not_sent).append(part)

    while pending:
        part, after_loss = pending.popleft()
        if stop.is_set() or halt.is_set():
            leave(part, after_loss)
            continue
        try:
            # Once the server's framework has failed on this chunk after retries, its parts are
            # sent once each: retrying every half would cost minutes of backoff per bad row.
            answer = send(part, retry_server_failures=False) if server_failed else send(part)
        except StoppedError:
            # A signal stopped the client before it sent this part, or before it sent it again:
            # the part stays unsent, as do those after it. ``stop`` is set already, so this is
            # no error to halt the run for.
            leave(part, after_loss)
            for rest in pending:
                leave(*rest)
            break
        except ArtreportError as error:
            answer = firewall_block(error)
            how = _lost_after_sending(error) if answer is None else ""
            if answer is not None:
                blocked += 1
                # The first, which says how long the chunk was retried for.
                blocked_by = blocked_by or error
            elif how:
                lost += 1
                lost_by = lost_by or error
            stuck = blocked + lost >= FIREWALL_BLOCKS_TO_STOP and not any_accepted
            if (answer is None and not how) or stuck:
                # Auth refused or platform unreachable: nothing more will get through.
                if after_loss or error.params.get("may_have_arrived"):
                    outcome.unconfirmed.append(part)
                else:
                    outcome.not_sent.append(part)
                for rest in pending:
                    leave(*rest)
                if stuck:
                    # Rows blocked or lost alone before it was clear that everything is: not
                    # theirs.
                    if held:
                        outcome.not_sent.append(Chunk(*_sent(held)))
                        held.clear()
                    outcome.unconfirmed.extend(alone for alone, _ in lost_alone)
                    lost_alone.clear()
                    error = blocked_by or lost_by or error
                halt.set(error)
                break
            if how:
                outcome.requests += 1
                outcome.resent += int(error.params.get("attempts", 1)) - 1
                if len(part) == 1:
                    lost_alone.append((part, how))
                    continue
                if how == LOST_TIMEOUT and (
                    outcome.slow_rows is None or len(part) < outcome.slow_rows
                ):
                    outcome.slow_rows = len(part)
                pending.extend((half, True) for half in part.halves())
                continue
        outcome.requests += 1
        outcome.resent += answer.attempts - 1
        if answer.outcome is Outcome.SUCCESS:
            any_accepted = True
            halt.progress.set()
            outcome.accepted.append(part)
            affected = affected_rows(answer.data)
            outcome.affected += len(part) if affected is None else affected
            # By the spec the count is of rows inserted or updated: a resent part, every row of
            # it stored by the lost copy, still counts each row once.
            if affected is not None and affected < len(part):
                outcome.short.append((part, affected))
            continue
        if answer.code == DUPLICATE_DATA and (answer.lost_answers or after_loss):
            any_accepted = True
            halt.progress.set()
            outcome.accepted.append(part)
            outcome.duplicates_after_loss.append(part)
            continue
        server_failed = server_failed or answer.outcome in _SEND_PARTS_ONCE
        if answer.outcome is Outcome.TOO_LARGE:
            size = part.body_size()
            if outcome.refused_size is None or size < outcome.refused_size:
                outcome.refused_size = size
        if len(part) > 1:
            pending.extend((half, after_loss) for half in part.halves())
            continue
        held.append((part.pending_rows()[0], answer))
        if len(held) == len(chunk) and not any_accepted and not halt.progress.is_set():
            failure = (
                blocked_by
                if {refused.outcome for _, refused in held} == {Outcome.BLOCKED}
                else _platform_failure(held)
            )
            if failure is not None:
                outcome.not_sent.append(Chunk(*_sent(held)))
                halt.set(failure)
                held.clear()
                break
    outcome.rejected.extend(held)
    if lost_alone and lost_by is not None and not any_accepted and not halt.is_set():
        # Nothing of the chunk got through: no row is at fault, and the run stops as it did
        # before chunks were split for such losses.
        outcome.unconfirmed.extend(alone for alone, _ in lost_alone)
        halt.set(lost_by)
    else:
        outcome.lost_alone.extend(lost_alone)
    return outcome


#: How rows each lost alone after sending are told in the report.
_LOST_ALONE_WORDING = {
    LOST_TIMEOUT: Wording.NOT_CONFIRMED_SLOW,
    LOST_RESET: Wording.NOT_CONFIRMED_RESET,
}

#: Failures of a chunk after which its parts are sent once each.
_SEND_PARTS_ONCE = frozenset({Outcome.SERVER_FAILED, Outcome.BLOCKED})

#: Blocked answers, or answers lost for the part's own sake (see ``_lost_after_sending``), to
#: parts of one chunk, none of it taken, that stop the run: the chunk and both its halves. A
#: row the firewall blocks is in one half only, and the other half passes; a chunk too big for
#: a slow platform has halves that pass.
FIREWALL_BLOCKS_TO_STOP = 3


def _lost_after_sending(error: ArtreportError) -> str:
    """How every answer to a part was lost after it was sent, when the part itself may be
    the cause (see ``TryAgain.lost_after_sending``); empty for any other error."""
    how = error.params.get("lost_after_sending")
    return how if isinstance(error, UnreachableError) and isinstance(how, str) else ""


#: The fewest rows a chunk must have, every one failed alone by the server's framework, or
#: refused alone by the platform with one same failure of its own, for the run to stop on it:
#: a few rows in a row that the server cannot take are rows, and a small chunk
#: (--chunk-size) of them says nothing of the server.
SERVER_FAILED_CHUNK_ROWS = 50

#: The same for rows each refused alone for its size: an ordinary row is a few hundred bytes,
#: so a few of them refused so already mean a gateway's limit below a row, not long texts.
TOO_LARGE_CHUNK_ROWS = 5

#: The platform's answer to a batch holding a primary key it already has.
DUPLICATE_DATA = 40005

#: Codes with which the platform judges a row (a parameter missing, names both empty…): one of
#: them for every row of a file is the file's, not the platform's failing. Its 500, "business
#: error", and codes the spec does not list are also what it answers when it fails itself.
_ROW_VERDICTS = frozenset({40000, 40005, 40006, 40007, 40008})


def _platform_failure(held: list[tuple[PendingRow, Answer]]) -> UnreachableError | None:
    """The error that stops a run whose every row of a chunk failed alone, when the failures
    are the platform's, not the rows'; None when they may be the rows'."""
    outcomes = {answer.outcome for _, answer in held}
    if outcomes == {Outcome.TOO_LARGE}:
        if len(held) < TOO_LARGE_CHUNK_ROWS:
            return None
        # A gateway whose limit is below one row: no chunking gets a row through it.
        smallest = min(len(row.body) + 2 for row, _ in held)
        return UnreachableError("client-gateway-too-small", size=smallest)
    if len(held) < SERVER_FAILED_CHUNK_ROWS:
        return None
    if outcomes <= {Outcome.SERVER_FAILED, Outcome.TOO_LARGE}:
        # Said on screen, in the summary and in the log: a value it quotes is a patient's.
        return UnreachableError("client-server-failing", reason=mask_in_text(held[-1][1].msg))
    answers = {(answer.code, answer.msg) for _, answer in held}
    if outcomes == {Outcome.DATA} and len(answers) == 1:
        [(code, message)] = answers
        if code not in _ROW_VERDICTS:
            # One same "business error" for every row alone: a database gone, a service
            # down. Sending the rest of the file a row at a time would only hammer it.
            reason = mask_in_text(message)
            return UnreachableError("client-platform-failing", answer_code=code, reason=reason)
    return None


def _sent(rows: list[tuple[PendingRow, Answer]]) -> tuple[list[int], list[str | None], list[bytes]]:
    return (
        [row.row for row, _ in rows],
        [row.key for row, _ in rows],
        [row.body for row, _ in rows],
    )


def platform_sender(client: Any, resource: str) -> Sender:
    """Send chunks to ``resource`` through a :class:`~artreport.client.PlatformClient`."""

    def send(chunk: Chunk, *, retry_server_failures: bool = True) -> Answer:
        return client.batch_insert_body(
            resource, chunk.body(), retry_server_failures=retry_server_failures
        )

    return send


#: The longest the main thread sleeps waiting for answers before it looks for a signal.
_SIGNAL_CHECK_SECONDS = 0.2


def _first_settled(futures: Collection[Future[ChunkOutcome]]) -> set[Future[ChunkOutcome]]:
    """The futures done, once at least one is, in a wait that stays open to Ctrl-C and SIGTERM.

    The kernel may deliver a signal to a sending thread; Python runs the handler (which sets
    ``stop``, ending the senders' back-off) only on the main thread, and a main thread asleep in
    a wait without a timeout would learn of it only when a chunk settled: after every retry.
    """
    while True:
        done, _ = wait(futures, timeout=_SIGNAL_CHECK_SECONDS, return_when=FIRST_COMPLETED)
        if done:
            return done


@contextlib.contextmanager
def _responsive_threads() -> Iterator[None]:
    """Let the sending threads have the interpreter soon after their answer arrives.

    The main thread validates without pause (when it validates here, not in a child process:
    see ``produce``); with the default 5 ms switch interval a sending
    thread waits that long each time it needs the interpreter to handle its answer, which
    costs more per request than the request itself takes on loopback.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


class _Chunker:
    """Cuts rows into chunks of at most ``size`` rows and ``max_bytes`` bytes of body."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.chunk = Chunk()
        self.bytes = 2  # the brackets

    def add(self, rows: list[int], keys: list[str | None], bodies: list[bytes]) -> list[Chunk]:
        """Add rows; returns the chunks they filled."""
        ready = []
        start = 0
        while start < len(rows):
            chunk = self.chunk
            end = min(len(rows), start + self.size - len(chunk.rows))
            # Each row costs its body and a comma.
            size = sum(map(len, bodies[start:end])) + end - start
            if self.bytes + size <= self.max_bytes:
                # The common case: the rows fit whole, taken with three slices.
                chunk.rows += rows[start:end]
                chunk.keys += keys[start:end]
                chunk.bodies += bodies[start:end]
                self.bytes += size
                start = end
            else:
                start = self._add_up_to_bytes(rows, keys, bodies, start, end)
            if len(chunk.rows) >= self.size or start < end:
                ready.append(self.take())
        return ready

    def _add_up_to_bytes(
        self, rows: list[int], keys: list[str | None], bodies: list[bytes], start: int, end: int
    ) -> int:
        """Add rows from ``start`` while the chunk stays under ``max_bytes`` (always at least
        one row to an empty chunk); returns where it stopped."""
        chunk = self.chunk
        for position in range(start, end):
            size = len(bodies[position]) + 1
            if chunk.rows and self.bytes + size > self.max_bytes:
                return position
            chunk.rows.append(rows[position])
            chunk.keys.append(keys[position])
            chunk.bodies.append(bodies[position])
            self.bytes += size
        return end

    def take(self) -> Chunk:
        chunk, self.chunk, self.bytes = self.chunk, Chunk(), 2
        return chunk


def push_file(
    record_type: RecordType,
    path: str | Path,
    *,
    send: Sender | None,
    report: Any,
    orgid: str | None = None,
    options: PushOptions | None = None,
    on_progress: Callable[[PushSummary], None] | None = None,
    on_accepted: Callable[[Chunk], None] | None = None,
    skip: Callable[[str | None, bytes], bool] | None = None,
    superseded: Collection[str] = frozenset(),
    stop: threading.Event | None = None,
    references: LedgerReferences | None = None,
) -> PushSummary:
    """Validate ``path`` and send its valid rows through ``send`` (None: dry run, send nothing).

    ``report`` receives a :class:`Problem` for every invalid, rejected or unsent row. ``stop``
    ends the run early (after the requests in flight): the rest is reported as not sent. Give
    the client behind ``send`` the same event, so that a request being retried ends too.
    ``skip`` leaves out rows the platform already holds (the ledger's ``--changed-only``),
    ``superseded`` the rows of these keys (a newer export in the same sync holds them).
    ``references`` is given what the valid rows refer to; its warnings end the report.
    """
    options = options or PushOptions()
    stop = stop or threading.Event()
    halt = Halt()
    report = _HaltingReport(report, halt)
    unreadable: InputError | None = None
    other_orgids: set[str] = set()
    next_row = 1  # the first row not yet read, as far as the reading has gone
    started = time.monotonic()
    dry_run = send is None or options.dry_run
    in_child = options.validate_in_child
    if in_child is None:
        in_child = not dry_run and in_child_by_default(path)
    with open_source(
        record_type,
        path,
        orgid=orgid,
        options=options.validate,
        in_child=in_child,
        referring=references.fields if references is not None else (),
        stop=stop,
    ) as source:
        summary = PushSummary(record_type.name, str(path), dry_run=dry_run)
        summary.file_problems = list(source.file_problems)
        for problem in summary.file_problems:
            report.add(problem)
            summary.problems_by_code[problem.code] += 1
        shown = summary.first_problems

        def not_sent(chunk: Chunk, wording: str | None = None, code: str | None = None) -> None:
            summary.not_sent += len(chunk)
            code = code or not_sent_code(halt.error)
            params = not_sent_params(halt.error)
            if wording is not None:
                params = {WORDING: wording}
            for row, key in zip(chunk.rows, chunk.keys, strict=True):
                report.add(Problem(code, row=row, primary_key=key, params=params))

        chunker = _Chunker(options.chunk_size, options.chunk_bytes)
        #: The ledger's failure to record an accepted chunk, once met: no later chunk is tried.
        ledger_failed: list[LedgerError] = []

        def settle(outcome: ChunkOutcome) -> None:
            summary.requests += outcome.requests
            summary.extra_requests += max(outcome.requests - 1, 0)
            summary.resent += outcome.resent
            shorts = [part for part, _ in outcome.short]
            summary.accepted += sum(map(len, outcome.accepted)) - sum(map(len, shorts))
            summary.platform_affected += outcome.affected
            summary.stored_fewer += sum(map(len, shorts))
            summary.duplicates_after_loss += sum(map(len, outcome.duplicates_after_loss))
            if on_accepted is not None and not ledger_failed:
                # The ledger records only what the platform owned up to: the rows of a part it
                # counted short may not be stored, and --changed-only must send them again.
                for chunk in outcome.accepted:
                    if any(chunk is short for short in shorts):
                        continue
                    try:
                        on_accepted(chunk)
                    except LedgerError as error:
                        # Its disk full, say: as for a report that cannot be written, nothing
                        # more is sent, and the rest is listed. The platform has what it took;
                        # the ledger is short of it, never ahead, so a --changed-only run
                        # only sends those rows again.
                        ledger_failed.append(error)
                        halt.set(error)
                        break
            for part, stored in outcome.short:
                # Neither accepted nor refused: listed, so that no row is in neither place.
                params = {"sent": len(part), "stored": stored}
                for row, key in zip(part.rows, part.keys, strict=True):
                    report.add(
                        Problem(PLATFORM_STORED_FEWER, row=row, primary_key=key, params=params)
                    )
            for row, answer in outcome.rejected:
                summary.rejected += 1
                summary.rejected_by_code[answer.code] += 1
                params: dict[str, Any] = {
                    "platform_code": answer.code,
                    "platform_message": answer.msg,
                }
                if answer.outcome is Outcome.TOO_LARGE:
                    params |= {
                        WORDING: Wording.PLATFORM_REJECTED_TOO_LARGE,
                        "size": len(row.body) + 2,
                    }
                elif answer.outcome is Outcome.BLOCKED:
                    params[WORDING] = Wording.PLATFORM_REJECTED_BLOCKED
                problem = Problem(
                    PLATFORM_REJECTED, row=row.row, primary_key=row.key, params=params
                )
                report.add(problem)
                if len(summary.first_rejected) < SHOWN_PROBLEMS:
                    summary.first_rejected.append(problem)
            for chunk in outcome.not_sent:
                summary.sent -= len(chunk)  # counted when the chunk was handed to a sender
                not_sent(chunk)
            for chunk in outcome.unconfirmed:
                # Sent, so counted as sent, but not taken as far as anyone can tell.
                not_sent(chunk, Wording.NOT_SENT_UNCONFIRMED)
            for chunk, how in outcome.lost_alone:
                # The run went on: its error, if any, is not what lost them.
                not_sent(chunk, _LOST_ALONE_WORDING[how], NOT_SENT_UNREACHABLE)
            if outcome.refused_size is not None:
                # Too large for a gateway: the rest of the file goes in chunks of half that
                # size, not each refused and split in turn.
                chunker.max_bytes = min(chunker.max_bytes, outcome.refused_size // 2)
            if outcome.slow_rows is not None:
                # Too many rows for the platform to answer in time: likewise, in rows.
                chunker.size = min(chunker.size, max(1, outcome.slow_rows // 2))

        in_flight: deque[Future[ChunkOutcome]] = deque()
        max_in_flight = max(1, options.concurrency) * 4

        def submit(executor: ThreadPoolExecutor, chunk: Chunk) -> None:
            if stop.is_set() or halt.is_set():
                not_sent(chunk)
                return
            summary.sent += len(chunk)
            in_flight.append(executor.submit(send_chunk, send, chunk, stop, halt))  # type: ignore[arg-type]
            while len(in_flight) >= max_in_flight:
                for future in _first_settled(in_flight):
                    in_flight.remove(future)
                    settle(future.result())

        with (
            _responsive_threads(),
            ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as executor,
        ):
            batches = source.batches()
            while True:
                try:
                    batch = next(batches, None)
                except InputError as error:
                    # The file breaks off part-way (bytes of another encoding, a cut): the
                    # rows before are sent and recorded like any others, then the run ends
                    # on the error, its summary and report written.
                    unreadable = error
                    params = {"error": error.code, "at": error.params.get("row", "?")}
                    report.add(Problem(NOT_READ_INPUT_ERROR, row=next_row, params=params))
                    break
                if batch is None:
                    if source.stopped_early:
                        # Stopped while the next batch was being read: from its first row on,
                        # or the whole file when no batch had come yet.
                        first_unread = next_row if next_row > 1 else None
                        summary.stopped_at_row = first_unread
                        report.add(Problem(NOT_READ_AFTER_STOP, row=first_unread))
                    break
                next_row = batch.last_row + 1
                if stop.is_set():
                    # Stopped by a signal: leave now; a --changed-only run sends the rest.
                    summary.stopped_at_row = batch.first_row
                    report.add(Problem(NOT_READ_AFTER_STOP, row=batch.first_row))
                    break
                problems = batch.problems
                invalid = batch.invalid
                if superseded and invalid:
                    problems, invalid = _without_superseded(problems, invalid, superseded)
                    summary.superseded += batch.invalid - invalid
                for problem in problems:
                    report.add(problem)
                    summary.problems_by_code[problem.code] += 1
                    if problem.code == ORGID_MISMATCH and len(other_orgids) < 2:
                        other_orgids.add(str(problem.value))
                    if not problem.is_error:
                        summary.warnings += 1
                if len(shown) < SHOWN_PROBLEMS:
                    shown.extend(problems[: SHOWN_PROBLEMS - len(shown)])
                summary.invalid += invalid
                summary.rows_read += batch.read
                rows, keys, bodies = batch.rows, batch.keys, batch.bodies
                if references is not None:
                    references.add(rows, keys, batch.references)
                if superseded:
                    keep = [key not in superseded for key in keys]
                    summary.superseded += keep.count(False)
                    rows = list(compress(rows, keep))
                    keys = list(compress(keys, keep))
                    bodies = list(compress(bodies, keep))
                if skip is not None:
                    keep = [not skip(key, body) for key, body in zip(keys, bodies, strict=True)]
                    summary.skipped += keep.count(False)
                    rows = list(compress(rows, keep))
                    keys = list(compress(keys, keep))
                    bodies = list(compress(bodies, keep))
                if not dry_run:
                    for chunk in chunker.add(rows, keys, bodies):
                        submit(executor, chunk)
                if on_progress is not None:
                    summary.elapsed = time.monotonic() - started
                    on_progress(summary)
            if chunker.chunk.rows:
                submit(executor, chunker.take())
            while in_flight:
                _first_settled([in_flight[0]])
                settle(in_flight.popleft().result())
        summary.notices = list(source.notices)
    if references is not None:
        summary.notices += references.notices()
        summary.references_unchecked = references.unchecked()
        summary.reference_problems = references.problems()
        for problem in summary.reference_problems:
            report.add(problem)
            summary.problems_by_code[problem.code] += 1
            summary.warnings += 1
    summary.elapsed = time.monotonic() - started
    stopping: ArtreportError | None = halt.error or unreadable
    if (
        stopping is None
        and orgid
        and all_of_another_organisation(
            summary.rows_read, summary.invalid, summary.problems_by_code, other_orgids
        )
    ):
        # Not a row to fix but the config, or the wrong hospital's file: exit 2 tells the
        # operator so, where 1 would send the clerk to correct every row.
        stopping = ConfigError("push-orgid-differs", rows=summary.rows_read, orgid=orgid)
    if stopping is not None:
        summary.stopped_by = stopping.code
        summary.stopped_exit_code = stopping.exit_code
    if on_progress is not None:
        on_progress(summary)
    if stopping is not None:
        raise PushStopped(summary, stopping)
    return summary


def _without_superseded(
    problems: list[Problem], invalid: int, superseded: Collection[str]
) -> tuple[list[Problem], int]:
    """The problems of a batch, and its count of invalid rows, without the invalid rows whose
    record a newer export of the same run holds (see ``sync.superseded_keys``)."""
    gone = {
        problem.row
        for problem in problems
        if problem.is_error and problem.primary_key in superseded
    }
    if not gone:
        return problems, invalid
    return [problem for problem in problems if problem.row not in gone], invalid - len(gone)


class PushStopped(Exception):
    """The run stopped on an error that ends it (credentials refused, platform unreachable);
    ``summary`` holds what was done before, the report lists what was not."""

    def __init__(self, summary: PushSummary, error: ArtreportError) -> None:
        super().__init__(error.code)
        self.summary = summary
        self.error = error
