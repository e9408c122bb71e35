"""How long to keep trying one request: bounded attempts and total time, exponential backoff
with full jitter, the server's own ``Retry-After``, and the run's stop (a signal): once it is
set no attempt starts, and a stop-aware sleep (``Event.wait``) ends the pause at once.

Written by hand rather than with tenacity or stamina. The wait must sometimes come from the
response (Retry-After, which may exceed the backoff and may exceed what is left of the budget),
and tests must inject both the sleep and the clock so that nothing really waits; both libraries
measure their time budget with ``time.monotonic`` of their own, and either would still need
custom wait and stop hooks for Retry-After and our events. The loop below is shorter than that
glue. (httpx's own ``retries=`` covers only failed connects.)
"""

from __future__ import annotations

import email.utils
import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, TypeVar

from artreport.client.events import ClientEvent, EventHandler, EventKind
from artreport.errors import StoppedError, UnreachableError
from artreport.messages import Phrase

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class TryAgain:
    """An attempt's verdict: the same request may succeed if sent again later."""

    reason: str
    retry_after: float | None = None
    #: Whether the request may have been carried out all the same: its answer was lost after
    #: it was sent (a dropped connection, a gateway's timeout), not refused before it was read.
    may_have_arrived: bool = True
    #: What to hand back, once the attempts run out, instead of giving the platform up as
    #: unreachable: for an answer that shows the server is there and failing on this request.
    if_exhausted: Any = None
    #: The message of the error raised once the attempts run out, when what kept failing was
    #: not the network (an answer that was not the platform's, the platform limiting requests).
    gives_up: str = "client-unreachable"
    #: The failure in the words of the library that met it, for the log, where the reason
    #: gives it in the user's.
    detail: str = ""
    #: More parameters of that error, for the caller to act on.
    gives_up_with: Mapping[str, Any] = field(default_factory=dict)
    #: No other attempt, whatever the bounds allow: the caller asked for one only.
    final: bool = False
    #: How the answer was lost once the request had reached the server, when that may be the
    #: request's own doing rather than the network's: ``LOST_TIMEOUT`` (not a byte of the
    #: answer in time, a gateway's 504: too big for a slow platform) or ``LOST_RESET`` (a
    #: firewall resetting the connection for its content); empty otherwise.
    lost_after_sending: str = ""


LOST_TIMEOUT = "timeout"
LOST_RESET = "reset"


class RetryPolicy:
    """``retries`` more attempts after the first, none started once ``max_seconds`` have passed
    since the first or once ``stop`` is set; each attempt itself is bounded by the HTTP
    timeout."""

    def __init__(
        self,
        *,
        retries: int,
        max_seconds: float,
        sleep: Callable[[float], object],
        clock: Callable[[], float],
        on_event: EventHandler,
        stop: threading.Event,
        rng: random.Random | None = None,
    ) -> None:
        self._attempts = max(retries, 0) + 1
        self._max_seconds = max_seconds
        self._sleep = sleep
        self._stop = stop
        self._clock = clock
        self._on_event = on_event
        self._rng = rng or random.Random()

    def run(self, url: str, attempt: Callable[[], T | TryAgain]) -> tuple[T, int, int]:
        """The first result of ``attempt`` that is not :class:`TryAgain`, the number of
        attempts it took, and how many of the failed ones may have been carried out all the
        same; :class:`UnreachableError` naming ``url`` when the bounds run out;
        :class:`StoppedError` when ``stop`` is set before an attempt or while a failing one is
        on the wire."""
        started = self._clock()
        number = 0
        lost = 0
        lost_how: set[str] = set()
        while True:
            if self._stop.is_set():
                raise StoppedError("client-stopped", url=url)
            number += 1
            result = attempt()
            if not isinstance(result, TryAgain):
                return result, number, lost
            lost += result.may_have_arrived
            lost_how.add(result.lost_after_sending)
            if self._stop.is_set():
                # Stopped while this attempt was on the wire: announce no retry.
                raise StoppedError("client-stopped", url=url)
            remaining = self._max_seconds - (self._clock() - started)
            if number >= self._attempts or remaining <= 0 or result.final:
                if result.if_exhausted is not None:
                    return result.if_exhausted, number, lost
                break
            delay = min(self._backoff(number), remaining)
            kind = EventKind.RETRYING
            if result.retry_after is not None:
                # Coming back before the server asked is pointless, and waiting past our budget
                # only to give up afterwards would waste the user's time.
                if result.retry_after > remaining:
                    if result.if_exhausted is not None:
                        return result.if_exhausted, number, lost
                    # Not the network: the platform said when to come back.
                    raise UnreachableError(
                        "client-asked-to-wait",
                        url=url,
                        wait=waiting_time(result.retry_after),
                        reason=result.reason,
                    )
                delay = max(delay, result.retry_after)
                kind = EventKind.RETRY_AFTER
            self._on_event(
                ClientEvent(
                    kind,
                    url,
                    attempt=number + 1,
                    delay=delay,
                    reason=result.reason,
                    detail=result.detail,
                )
            )
            self._sleep(delay)
        # Only when every attempt failed the same way after sending: a mix (a refused connect
        # among timeouts) is the network's.
        how = lost_how.pop() if len(lost_how) == 1 else ""
        raise UnreachableError(
            result.gives_up,
            url=url,
            attempts=number,
            seconds=round(self._clock() - started),
            reason=result.reason,
            # The caller tells rows sent without a readable answer from rows never sent.
            may_have_arrived=lost > 0,
            **result.gives_up_with,
            **({"lost_after_sending": how} if how else {}),
        )

    def _backoff(self, failures: int) -> float:
        # Full jitter: workers that failed together do not come back together.
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (failures - 1))
        return self._rng.uniform(0, ceiling)


def waiting_time(seconds: float) -> Phrase:
    """A wait the platform asked for, in words a person takes in: seconds up to two hours
    (what a maintenance window asks), hours up to a day, and beyond that only that it is
    more than a day (a header such as 99999999999999999999 means no time at all)."""
    if seconds < 2 * 3600:
        return Phrase("wait-seconds", seconds=round(seconds))
    if seconds <= 24 * 3600:
        return Phrase("wait-hours", hours=round(seconds / 3600))
    return Phrase("wait-over-a-day")


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A ``Retry-After`` header as seconds from ``now``: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        if not math.isfinite(seconds):
            return None
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now
    return max(seconds, 0.0)
