"""A run: one ``push`` or ``sync`` as an unattended job needs it.

- **one at a time**: a lock file in the state directory (``filelock``, so it also works on
  Windows); a second run exits 5 naming the holder, or waits ``--wait`` seconds;
- **recorded**: the ledger gets the run and every accepted chunk, and answers ``--changed-only``;
- **logged**: a log file per run in ``<state>/logs`` (the last :data:`KEEP_LOGS` kept), with
  resident ID numbers masked, and no key, token or patient name ever written to it;
- **stoppable**: SIGINT, SIGTERM and SIGHUP stop the run after the requests in flight; the
  report and the ledger are written, and the exit code is 130, 143 or 129. A second signal
  changes nothing: the client already starts no new request (pass it ``Run.stop``), so the
  wait is at most one request, and breaking out of it would lose the summary, the report
  and the ledger.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import filelock

from artreport.config import Config, shown_base_url
from artreport.errors import (
    ArtreportError,
    ConfigError,
    LedgerError,
    LockedError,
)
from artreport.ledger import Ledger, default_path
from artreport.messages import Phrase, local_minutes, translate
from artreport.privacy import mask_numbers_in_text
from artreport.state import folder_failure, owner_only_opener, state_dir
from artreport.stopping import exit_code_for, stopping_on_signals
from artreport.upload import Chunk

LOCK_FILE = "artreport.lock"
HOLDER_FILE = "artreport.lock.json"
KEEP_LOGS = 50


class _MaskingFilter(logging.Filter):
    """A last line of defence: no resident ID number or mobile number reaches the log file,
    not even in the name of a file named after its patient."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers_in_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


@dataclass
class Run:
    config: Config
    ledger: Ledger
    run_id: int
    log: logging.Logger
    log_path: Path
    stop: threading.Event = field(default_factory=threading.Event)
    #: The signal that stopped the run, if one did.
    signal_number: int | None = None
    finished: bool = False
    #: Why the log file could not be written, if it could not (its disk full); known once
    #: the run's block has been left.
    log_failure: OSError | None = None

    def log_failure_message(self, lang: str) -> str | None:
        """The warning to print after the summary when the log could not be written."""
        if self.log_failure is None:
            return None
        reason = self.log_failure.strerror or str(self.log_failure)
        return translate("run-log-unwritable", lang, path=str(self.log_path), reason=reason)

    @property
    def platform(self) -> str:
        return self.config.base_url

    def skip_unchanged(self, record_type: str) -> Callable[[str | None, bytes], bool]:
        """For ``--changed-only``: true for a row the platform already holds as it is."""
        unchanged = self.ledger.unchanged(record_type, self.platform, self.config.orgid)
        return lambda key, body: key is not None and unchanged(key, body)

    def record_accepted(self, record_type: str) -> Callable[[Chunk], None]:
        def record(chunk: Chunk) -> None:
            rows = [(k, b) for k, b in zip(chunk.keys, chunk.bodies, strict=True) if k is not None]
            self.ledger.record_accepted(self.run_id, record_type, rows)

        return record

    @property
    def stopped_by(self) -> str | None:
        """The name of the signal that stopped the run ("SIGTERM"), if one did."""
        return None if self.signal_number is None else signal.Signals(self.signal_number).name

    @property
    def interrupted_exit_code(self) -> int | None:
        return exit_code_for(self.signal_number)


@contextlib.contextmanager
def exclusive(directory: Path, command: str, wait: float | None) -> Iterator[None]:
    """Hold the run lock; :class:`LockedError` (exit 5) when another run holds it."""
    lock = filelock.FileLock(str(directory / LOCK_FILE))
    holder_file = directory / HOLDER_FILE
    try:
        lock.acquire(timeout=wait if wait is not None else 0)
    except filelock.Timeout:
        if wait:
            raise LockedError(
                "run-locked-after-wait", holder=_holder(holder_file), seconds=f"{wait:g}"
            ) from None
        raise LockedError("run-locked", holder=_holder(holder_file)) from None
    except OSError as error:  # after Timeout, which is an OSError too
        # A state folder another user made (cron as another account than the clerk's).
        raise _unusable(directory, error) from None
    try:
        holder = {
            "pid": os.getpid(),
            "command": command,
            "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        try:
            # Owner-only like the log: the command names the export, which may be named after
            # its patient.
            with open(holder_file, "w", encoding="utf-8", opener=owner_only_opener) as handle:
                handle.write(json.dumps(holder, ensure_ascii=False))
        except OSError as error:
            raise _unusable(directory, error) from None
        yield
    finally:
        with contextlib.suppress(OSError):
            holder_file.unlink()
        lock.release()


def _unusable(directory: Path, error: OSError) -> ConfigError:
    return ConfigError("state-dir-unusable", path=str(directory), reason=folder_failure(error))


def _holder(holder_file: Path) -> str:
    try:
        holder = json.loads(holder_file.read_text(encoding="utf-8"))
        # As history shows the run's start, for the operator who looks for it there.
        started = local_minutes(holder["started"])
        return Phrase("run-holder", pid=holder["pid"], command=holder["command"], started=started)
    except (OSError, ValueError, KeyError, TypeError):
        return "?"


@contextlib.contextmanager
def _stopping_on_signals(run: Run) -> Iterator[None]:
    """SIGINT/SIGTERM/SIGHUP set ``run.stop`` (the push finishes the requests in flight); the
    first one names the exit code."""

    def stop(number: int) -> None:
        if run.stop.is_set():
            run.log.warning("signal %s again: still stopping after the requests in flight", number)
            return
        run.signal_number = number
        run.log.warning("signal %s: stopping after the requests in flight", number)
        run.stop.set()

    with stopping_on_signals(stop):
        yield


def _logs_dir(directory: Path) -> Path:
    logs = directory / "logs"
    try:
        logs.mkdir(mode=0o700, exist_ok=True)
    except OSError as error:
        raise _unusable(logs, error) from None
    if not os.access(logs, os.W_OK | os.X_OK):
        raise ConfigError("state-dir-unusable", path=str(logs), reason=os.strerror(13))
    return logs


class _LogFile(logging.FileHandler):
    """The run's log file, which a full disk must not turn into the run's failure: logging's
    own handling prints a traceback to stderr for every line that cannot be written, and
    closing the file raises. The first failure is kept (:attr:`failure`), for the command to
    tell once after its summary; the run goes on without its log."""

    failure: OSError | None = None

    def _open(self) -> TextIO:
        # The log names the exports (a file may be named after its patient) and quotes the
        # errors met: owner-only like the reports, whatever the umask or the folder's mode.
        return open(
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=owner_only_opener,
        )

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if self.failure is None and isinstance(error, OSError):
            self.failure = error
        elif not isinstance(error, OSError):
            super().handleError(record)

    def close(self) -> None:
        try:
            super().close()
        except OSError as error:  # the last lines, flushed on closing
            if self.failure is None:
                self.failure = error


def _open_log(logs: Path, run_id: int) -> tuple[logging.Logger, Path, _LogFile]:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = logs / f"run-{stamp}-{run_id}.log"
    handler = _LogFile(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(_MaskingFilter())
    log = logging.getLogger(f"artreport.run.{run_id}")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(handler)
    for old in sorted(logs.glob("run-*.log"))[:-KEEP_LOGS]:
        with contextlib.suppress(OSError):
            old.unlink()
    return log, path, handler


@contextlib.contextmanager
def unattended_run(
    config: Config,
    command: str,
    *,
    record_types: list[str],
    files: list[str],
    wait: float | None = None,
) -> Iterator[Run]:
    """Lock, ledger run, log file and signal handling around one push or sync.

    The caller finishes the run with :func:`finish` before leaving the block. An
    :class:`ArtreportError` leaving it (a missing or empty file) finishes the run with that
    error's exit code; a run left unfinished otherwise (an unexpected error) is recorded as
    interrupted.
    """
    directory = state_dir(config)
    platform = shown_base_url(config.base_url)
    with exclusive(directory, command, wait), Ledger.open(default_path(config)) as ledger:
        logs = _logs_dir(directory)
        run_id = ledger.start_run(
            command, platform, config.orgid, record_types=record_types, files=files
        )
        try:
            log, log_path, handler = _open_log(logs, run_id)
        except OSError as error:
            unusable = _unusable(logs, error)
            ledger.finish_run(run_id, exit_code=unusable.exit_code, counts={}, status="finished")
            raise unusable from None
        run = Run(config, ledger, run_id, log, log_path)
        log.info("run %s: %s", run_id, command)
        log.info("platform %s, orgid %s, files %s", platform, config.orgid, files)
        try:
            with _stopping_on_signals(run):
                yield run
        except ArtreportError as error:
            if not run.finished:
                # The command ends as this error says (exit 2 for a usage or input error), and
                # so does its run: it is no interruption.
                log.error("%s", error.message("en"))
                finish(run, exit_code=error.exit_code, counts={})
            raise
        finally:
            if not run.finished:
                ledger.finish_run(run_id, exit_code=-1, counts={}, status="interrupted")
                log.error("run %s ended without finishing", run_id)
            handler.close()
            log.removeHandler(handler)
            run.log_failure = handler.failure


def finish(run: Run, *, exit_code: int, counts: dict[str, Any]) -> LedgerError | None:
    """Record the run's end; the ledger's error if it could not be recorded (its disk full),
    for the caller to tell after the summary, which it still prints."""
    status = "interrupted" if run.signal_number is not None else "finished"
    failed: LedgerError | None = None
    try:
        run.ledger.finish_run(run.run_id, exit_code=exit_code, counts=counts, status=status)
    except LedgerError as error:
        # Left "running", the run shows as interrupted once the next one starts.
        failed = error
        run.log.error("%s", error.message("en"))
    run.log.info(
        "run %s %s, exit code %s, counts %s",
        run.run_id,
        status,
        exit_code,
        json.dumps(counts, ensure_ascii=False),
    )
    run.finished = True
    return failed
