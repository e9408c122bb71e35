"""Talking to the provincial platform: login, batchInsert and delete over HTTPS JSON.

- :mod:`.answers`  the answer envelope and the table that classifies every code
- :mod:`.session`  the token, session lifetime, and the owner-only login cache
- :mod:`.retry`    backoff, Retry-After and the attempt/time bounds
- :mod:`.events`   what the client reports while it works (for progress displays)
- :mod:`.platform` ``PlatformClient``, which puts them together and is safe to share between
  worker threads
"""

from artreport.client.answers import Answer, Outcome, classify
from artreport.client.events import ClientEvent, EventKind
from artreport.client.platform import MAX_RELOGINS, PlatformClient, encode_body
from artreport.client.session import (
    RENEW_MARGIN_SECONDS,
    SESSION_LIFETIME_SECONDS,
    Session,
    SessionCache,
    make_token,
)

__all__ = [
    "MAX_RELOGINS",
    "RENEW_MARGIN_SECONDS",
    "SESSION_LIFETIME_SECONDS",
    "Answer",
    "ClientEvent",
    "EventKind",
    "Outcome",
    "PlatformClient",
    "Session",
    "SessionCache",
    "classify",
    "encode_body",
    "make_token",
]
