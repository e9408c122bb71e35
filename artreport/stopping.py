"""Stopping on a signal: what push, sync and delete do on Ctrl-C, SIGTERM and SIGHUP.

A run killed outright loses what it was doing: the request in flight may have been carried
out, but the ledger never hears of it, and neither the report nor the summary is written. So
these signals only ask the run to stop after the requests in flight (a handler that sets an
event); the run then ends as it would on an error, everything written, with the exit code of
the signal (128 + its number, as a shell reports a process it killed).

SIGHUP is what a closed SSH session or terminal sends: the operator has gone, which is a
stop like SIGTERM, not a reason to lose the run. One that was ignored when the command
started (``nohup artreport sync …``) stays ignored: that run was meant to outlive the session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

#: The signals that stop a run after its requests in flight (Windows has no SIGHUP).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    number
    for number in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
    if number is not None
)
#: Of these, the ones a command started with them ignored leaves ignored.
_KEPT_IGNORED: frozenset[int] = frozenset({getattr(signal, "SIGHUP", -1)})


def exit_code_for(number: int | None) -> int | None:
    """The exit code of a run a signal stopped: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP."""
    return None if number is None else 128 + int(number)


def _terminal_outputs() -> list[int]:
    """stdout and stderr, those of them that are a terminal: asked before any hang-up, since a
    terminal hung up is no longer seen as one."""
    outputs = []
    for fd in (1, 2):
        with contextlib.suppress(OSError, ValueError):
            if os.isatty(fd):
                outputs.append(fd)
    return outputs


def _leave_the_terminal(outputs: list[int]) -> None:
    """After SIGHUP the terminal is gone, and every write to it fails (EIO): the summary's
    would end the run on a traceback and exit 1 instead of its own exit code. What was meant
    for the terminal now goes nowhere; output sent to a file or a pipe still goes there."""
    with contextlib.suppress(OSError):
        nowhere = os.open(os.devnull, os.O_WRONLY)
        try:
            for fd in outputs:
                os.dup2(nowhere, fd)
        finally:
            os.close(nowhere)


@contextlib.contextmanager
def stopping_on_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Call ``on_signal`` with the signal's number, instead of raising or dying, for each of
    :data:`STOP_SIGNALS` received in the block. Only the main thread can set handlers: in any
    other (a test's), the block runs without them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    terminal = _terminal_outputs()

    def handler(number: int, frame: FrameType | None) -> None:
        if number == getattr(signal, "SIGHUP", None):
            _leave_the_terminal(terminal)
        on_signal(number)

    previous = {}
    for number in STOP_SIGNALS:
        if number in _KEPT_IGNORED and signal.getsignal(number) is signal.SIG_IGN:
            continue
        previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
