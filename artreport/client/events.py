"""What the client tells its caller while it works, so a terminal can show why it is waiting.

Events carry no secrets: URLs without their query, reasons built from status codes and the
library's exceptions (scrubbed of the key and token) and a page's title, never headers or
other bodies.
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
    CACHE_UNSAVED = "cache-unsaved"  # logged in, but the login could not be kept for later


@dataclass(frozen=True)
class ClientEvent:
    kind: EventKind
    url: str
    #: For retries, the number of the attempt about to be made (the first retry is 2).
    attempt: int = 0
    delay: float = 0.0
    reason: str = ""
    #: What the failure was in the words of the library that met it, when ``reason`` words it
    #: for people: kept for the log, where someone may look it up.
    detail: str = ""
    #: For CACHE_UNSAVED, the folder the login could not be saved in.
    path: str = ""

    def message(self, lang: str | None = None) -> str:
        return translate(
            f"client-event-{self.kind.value}",
            lang,
            url=self.url,
            attempt=self.attempt,
            delay=f"{self.delay:.1f}",
            reason=self.reason,
            path=self.path,
        )

    def log_line(self) -> str:
        """The message in English, with the library's words for the failure if there are any
        the message does not already show."""
        line = self.message("en")
        return f"{line} [{self.detail}]" if self.detail and self.detail != self.reason else line


EventHandler = Callable[[ClientEvent], None]
