"""The rows a push sends: the export validated and encoded, a batch at a time, either in this
process or in a child process.

A push sends from threads while it validates. Both need the interpreter lock, and sending
through httpx costs a millisecond or two of Python per request; on a push that validates flat
out, the senders wait for the lock and the validator waits for the senders. In a child
process, validation has a core of its own and the pushing process mostly waits: on the child's
next batch or on the platform. A pipe of a few batches keeps memory flat.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import msgspec

from artreport.errors import ArtreportError, InputError
from artreport.privacy import mask_in_text
from artreport.readers import Notice
from artreport.schema import RecordType, load_schema
from artreport.validation import Problem, ValidateOptions, open_validation
from artreport.validation.validator import CleanBatch, RowResult, Validation
from artreport.validation.values import BLANK

#: A row as the platform receives it: compact UTF-8 JSON, its fields in order of name
#: whatever the order of the export's columns. So the same row is the same bytes when a clerk
#: moves a column, and the ledger's ``--changed-only`` does not take it for a changed row.
#: msgspec encodes several times faster than json, which would otherwise cost push more than
#: all of validation.
encode_row: Callable[[dict[str, Any]], bytes] = msgspec.json.Encoder(order="deterministic").encode

#: Exports at least this large are validated in a child process when the push sends: below
#: it, starting the process costs more than sharing the interpreter lock does.
CHILD_MIN_BYTES = 2_000_000


@dataclass(slots=True)
class Encoded:
    """One batch of the export: its valid rows ready to send, and its rows' problems."""

    first_row: int
    last_row: int
    read: int
    invalid: int
    rows: list[int]
    keys: list[str | None]
    bodies: list[bytes]
    problems: list[Problem] = field(default_factory=list)
    #: For each field asked for (those referring to other records), its values in the valid
    #: rows, in the order of ``rows``; anything but a string is no reference.
    references: dict[str, list[Any]] = field(default_factory=dict)


class _BatchEncoder:
    """Encodes the rows of a :class:`CleanBatch` straight from its columns.

    Each shape of batch (its field names and filled fields) gets a msgspec struct whose fields
    default to BLANK and which leaves out of the JSON a field holding its default: one C-level
    call a row builds the struct that encodes to exactly what ``encode_row`` makes of the
    row's dict, without the dict, and without a pass over each column to take its blanks out.
    """

    def __init__(self) -> None:
        self._encode = msgspec.json.Encoder().encode
        self._structs: dict[tuple[str, ...], type] = {}

    def bodies(self, batch: CleanBatch) -> list[bytes]:
        fill = batch.fill
        columns: dict[str, Iterable[Any]] = {}
        for name, column in zip(batch.names, batch.columns, strict=True):
            if name in fill and BLANK in column:
                blank_as = {BLANK: fill[name]}
                column = list(map(blank_as.get, column, column))
            columns[name] = column
        for name, value in fill.items():
            columns.setdefault(name, repeat(value, len(batch)))
        # In order of name, as encode_row orders a dict's keys.
        names = tuple(sorted(columns))
        struct = self._struct(names)
        return list(map(self._encode, map(struct, *map(columns.__getitem__, names))))

    def _struct(self, names: tuple[str, ...]) -> type:
        struct = self._structs.get(names)
        if struct is None:
            fields = [
                (f"f{index}", Any, msgspec.field(name=name, default=BLANK))
                for index, name in enumerate(names)
            ]
            struct = self._structs[names] = msgspec.defstruct("Row", fields, omit_defaults=True)
        return struct


def encoded_batches(validation: Validation, referring: Sequence[str] = ()) -> Iterator[Encoded]:
    """The export's batches; each holds the values of the ``referring`` fields as well."""
    encoder = _BatchEncoder()
    for batch in validation.result_batches():
        if isinstance(batch, CleanBatch):
            rows, keys = batch.rows, list[str | None](batch.keys)
            encoded = Encoded(rows[0], rows[-1], len(rows), 0, rows, keys, encoder.bodies(batch))
            columns = dict(zip(batch.names, batch.columns, strict=True))
            for name in referring:
                if name in columns:
                    encoded.references[name] = columns[name]
                elif name in batch.fill:
                    encoded.references[name] = [batch.fill[name]] * len(rows)
            yield encoded
        else:
            yield _encoded_results(batch, referring)
        del batch  # before the next is read: see Validation._checked_batches


def _encoded_results(batch: list[RowResult], referring: Sequence[str]) -> Encoded:
    encoded = Encoded(batch[0].row, batch[-1].row, len(batch), 0, [], [], [])
    datas = []
    for result in batch:
        encoded.problems.extend(result.problems)
        if result.valid:
            encoded.rows.append(result.row)
            encoded.keys.append(result.primary_key)
            datas.append(result.data)
        else:
            encoded.invalid += 1
    encoded.bodies = list(map(encode_row, datas))
    for name in referring:
        encoded.references[name] = [data.get(name) for data in datas]
    return encoded


class Source(Protocol):
    """An export being validated and encoded: the problems of the file as a whole, then
    :meth:`batches`; :attr:`notices` once they are all read."""

    file_problems: list[Problem]
    notices: list[Notice]
    #: The batches ended before the file did, because the run was stopped (a signal).
    stopped_early: bool

    def batches(self) -> Iterator[Encoded]: ...


class _HereSource:
    def __init__(self, validation: Validation, referring: Sequence[str]) -> None:
        self._validation = validation
        self._referring = referring
        self.file_problems = list(validation.file_problems)
        self.notices: list[Notice] = []
        self.stopped_early = False

    def batches(self) -> Iterator[Encoded]:
        try:
            yield from encoded_batches(self._validation, self._referring)
        except (ArtreportError, GeneratorExit):
            raise
        except Exception as error:
            # Rows before it may be sent already: the push must still end with its summary
            # and list the rest, as for a file that breaks off.
            raise _failed_reading(self._validation.summary.path, traceback.format_exc()) from error
        self.notices = list(self._validation.summary.notices)


class _StoppedWaiting(Exception):
    pass


#: The longest the pushing process waits for the validating one before it looks for a stop.
STOP_LOOK_SECONDS = 0.2


class ChildSource:
    def __init__(
        self,
        connection: Connection,
        process: Any,
        path: str,
        stop: threading.Event | None = None,
    ) -> None:
        self._connection = connection
        self._process = process
        self._path = path
        self._stop = stop
        self.file_problems: list[Problem] = []
        self.notices: list[Notice] = []
        self.stopped_early = False

    def open(self) -> None:
        try:
            self.file_problems = self._receive("open")
        except _StoppedWaiting:
            self.stopped_early = True

    def batches(self) -> Iterator[Encoded]:
        if self.stopped_early:
            return
        while True:
            try:
                kind, payload = self._next()
            except _StoppedWaiting:
                self.stopped_early = True
                return
            if kind == "end":
                self.notices = payload
                return
            yield payload

    def _receive(self, expected: str) -> Any:
        kind, payload = self._next()
        if kind != expected:
            raise RuntimeError(f"validating process sent {kind!r} before {expected!r}")
        return payload

    def _next(self) -> tuple[str, Any]:
        # The child may take long to its next batch (calamine reads a whole sheet before the
        # first: a quarter of a minute for a large workbook). A stop (Ctrl-C, SIGTERM) set
        # meanwhile is not waited out: a signal's handler does not end a wait in recv(), and
        # one the kernel hands to another thread does not even interrupt it.
        while self._stop is not None and not self._connection.poll(STOP_LOOK_SECONDS):
            if self._stop.is_set():
                raise _StoppedWaiting
        try:
            kind, *payload = self._connection.recv()
        except (EOFError, OSError):
            # The process died without a word: killed, or a reader library crashed on a
            # damaged file. Either way the file could not be read through.
            self._process.join()
            if self._process.exitcode == -signal.SIGKILL:
                # Killed outright: by the kernel's out-of-memory killer or a person, not by
                # anything in the file, which the clerk would otherwise export again in vain.
                raise InputError("input-reader-killed", path=self._path) from None
            raise InputError(
                "input-reader-crashed", path=self._path, exit_code=self._process.exitcode
            ) from None
        if kind == "error":
            error_class, code, params = payload
            raise error_class(code, **params)
        if kind == "crash":
            raise _failed_reading(self._path, payload[0]) from RuntimeError(payload[0])
        return kind, payload[0]

    def fileno(self) -> int:
        """The pipe the batches arrive on, for ``select`` or a look at what waits in it."""
        return self._connection.fileno()

    def close(self) -> None:
        self._connection.close()
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()


def _failed_reading(path: str | Path, trace: str) -> InputError:
    """An unforeseen failure while reading or checking the file, as an input error naming its
    last words: the push ends on it like on a file that breaks off, its summary and report
    written. The whole traceback is the cause the caller chains to it, for --debug."""
    last = trace.strip().splitlines()[-1] if trace.strip() else "?"
    # Shown and logged: an exception's words may quote the cell it failed on ("invalid
    # literal for int(): '王丽华'").
    return InputError("input-reading-failed", path=str(path), reason=mask_in_text(last))


def _produce(
    connection: Connection,
    parents_end: Connection | None,
    record_type_name: str,
    path: str,
    orgid: str | None,
    options: ValidateOptions,
    referring: Sequence[str],
) -> None:
    """The child process: validate and encode ``path``, sending each batch down
    ``connection``. Ctrl-C reaches the whole process group, and a closed terminal's SIGHUP
    the whole session; the parent decides what to do (killed by either, this process would
    take the parent's orderly stop for a reader that crashed)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if parents_end is not None:
        # A forked child holds a copy of the pipe's reading end. Closed, the pipe has no
        # reader once the pushing process dies, even killed outright (SIGKILL, the OOM
        # killer): the next send fails and this process ends, instead of waiting for ever
        # on a full pipe.
        parents_end.close()
    try:
        record_type = load_schema().get(record_type_name)
        with open_validation(record_type, path, orgid=orgid, options=options) as validation:
            connection.send(("open", list(validation.file_problems)))
            for encoded in encoded_batches(validation, referring):
                connection.send(("batch", encoded))
            connection.send(("end", list(validation.summary.notices)))
    except ArtreportError as error:
        connection.send(("error", type(error), error.code, error.params))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent stopped reading: it has stopped the push
    except BaseException:
        connection.send(("crash", traceback.format_exc()))
    finally:
        connection.close()


def _start_method() -> str:
    # fork starts at once; it is safe only in a process with no other thread, which a push
    # is until it starts sending (the embedded sandbox, for one, is a thread: then spawn).
    if sys.platform == "linux" and threading.active_count() == 1:
        return "fork"
    return "spawn"


@contextlib.contextmanager
def open_source(
    record_type: RecordType,
    path: str | Path,
    *,
    orgid: str | None,
    options: ValidateOptions,
    in_child: bool,
    referring: Sequence[str] = (),
    stop: threading.Event | None = None,
) -> Iterator[Source]:
    """The export's batches, validated here or ``in_child``; with the values of the
    ``referring`` fields too (see :class:`Encoded`). Once ``stop`` is set, the wait for the
    child's next batch ends (:attr:`Source.stopped_early`)."""
    if not in_child:
        with open_validation(record_type, path, orgid=orgid, options=options) as validation:
            yield _HereSource(validation, referring)
        return
    method = _start_method()
    context = multiprocessing.get_context(method)
    receiving, sending = context.Pipe(duplex=False)
    _widen(receiving)
    # Only a forked child has the reading end to close; spawn would send it a copy instead.
    parents_end = receiving if method == "fork" else None
    process = context.Process(
        target=_produce,
        args=(sending, parents_end, record_type.name, str(path), orgid, options, tuple(referring)),
        name="artreport-validate",
        daemon=True,
    )
    process.start()
    sending.close()
    source = ChildSource(receiving, process, str(path), stop)
    try:
        source.open()
        yield source
    finally:
        source.close()


#: What the pipe from the validating process may hold: about a dozen batches of full rows.
PIPE_BYTES = 1 << 20


def _widen(connection: Connection) -> None:
    """Let the validating process run that many batches ahead. With the default 64 kB pipe,
    less than one batch, it waits for every read, and so for whatever the sending side is
    doing between reads (recording a chunk in the ledger, waiting for a request slot)."""
    if sys.platform != "linux":
        return  # the size of a pipe is Linux's to set
    import fcntl

    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def in_child_by_default(path: str | Path) -> bool:
    with contextlib.suppress(OSError):
        return Path(path).stat().st_size >= CHILD_MIN_BYTES
    return False
