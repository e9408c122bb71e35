"""What the client tells its caller while it works, so a terminal can show why it is waiting.

Events carry no secrets: URLs without their query, reasons built from status codes and
exception names, never headers or bodies.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from artreport.messages import translate


class EventKind(enum.Enum):
    LOGIN = "login"  # logging in: no usable session yet, or --force
    RELOGIN = "relogin"  # logging in again: the platform said 40003, or expiry is near
    RETRYING = "retrying"  # an attempt failed in a way worth repeating; waiting first
    RETRY_AFTER = "retry-after"  # as RETRYING, but the wait is the platform's Retry-After


@dataclass(frozen=True)
class ClientEvent:
    kind: EventKind
    url: str
    #: For retries, the number of the attempt about to be made (the first retry is 2).
    attempt: int = 0
    delay: float = 0.0
    reason: str = ""

    def message(self, lang: str | None = None) -> str:
        return translate(
            f"client-event-{self.kind.value}",
            lang,
            url=self.url,
            attempt=self.attempt,
            delay=f"{self.delay:.1f}",
            reason=self.reason,
        )


EventHandler = Callable[[ClientEvent], None]
