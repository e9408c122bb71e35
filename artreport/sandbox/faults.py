"""The failures the sandbox can inject, so that a client's retry, re-login and bisection paths
can be exercised on purpose rather than waited for."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Faults:
    #: Every Nth request to ``/art/`` is answered HTTP 503 with an HTML page, as a gateway does.
    fail_every: int = 0
    #: Every Nth request to ``/art/`` is read and then its connection closed without an answer.
    drop_every: int = 0
    #: Every Nth request to ``/art/`` is carried out (a batch stored, a record deleted) and its
    #: connection then closed without an answer: the answer lost on its way back, as when a
    #: gateway times out after the platform has acted.
    lose_every: int = 0
    #: A login serves N authenticated requests; the next one is answered 40003.
    expire_after: int = 0
    #: Seconds added before answering each request to ``/art/``.
    latency: float = 0.0
    #: The code of a successful answer; the spec's error table says 200 where its example says 0.
    success_code: int = 0
    #: Rows whose primary key starts with this are refused with 500, rejecting their batch: a
    #: platform rule the client cannot know in advance.
    reject_prefix: str | None = None
    #: Rows whose primary key starts with this make the web framework in front of the
    #: platform fail on their batch: HTTP 500 with the framework's own JSON error (Spring's
    #: ``{"status", "error", "message"}``), not the envelope, as a value its database column
    #: cannot take does.
    crash_prefix: str | None = None
    #: A request body of more bytes than this is read and answered HTTP 413 with an HTML page,
    #: as a gateway's size limit does (nginx's ``client_max_body_size`` is 1 MB by default).
    max_body: int = 0

    def __post_init__(self) -> None:
        for name in (
            "fail_every",
            "drop_every",
            "lose_every",
            "expire_after",
            "latency",
            "max_body",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def active(self) -> dict[str, object]:
        """The faults that differ from a well-behaved platform."""
        defaults = asdict(Faults())
        return {name: value for name, value in asdict(self).items() if value != defaults[name]}
