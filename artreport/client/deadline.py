"""An httpx client whose ``timeout`` bounds each request as a whole.

httpx's own ``timeout`` bounds each socket operation: a platform that answers one byte every
few seconds never lets a single read time out, and one request could take hours. That would
hold up a cron run, a Ctrl-C and the retry policy's ``retry_max_seconds`` (it is checked only
between attempts). Here every request gets a deadline: connecting, the TLS handshake, sending,
the headers and the body must all be done within ``timeout`` of its start, and what is still
waiting then fails with httpx's usual ``ConnectTimeout`` / ``WriteTimeout`` / ``ReadTimeout``,
so callers handle it like any other timeout.

The deadline is enforced by httpcore's network backend, which caps the timeout of every socket
operation at the time left: no watchdog thread, kept-alive connections and TLS covered alike,
and proxies from ``HTTPS_PROXY`` still set up by httpx itself. httpx offers no public way to give
its transports a backend, so :class:`DeadlineClient` puts one into each transport httpx builds
(``_install``); should a later httpx or httpcore rename what that relies on, the client refuses
to start rather than silently losing the bound.
"""

from __future__ import annotations

import contextvars
import ssl
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

# The deadline (time.monotonic) of the request the current thread is sending; None outside one.
# Worker threads share connections in the pool, so the deadline belongs to the thread, not to
# the connection.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "artreport_request_deadline", default=None
)

# Whether a byte of the current request's answer has come in, for the thread sending it.
_answer_begun: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "artreport_answer_begun", default=None
)

# httpcore sends a body in as many socket sends as the send buffer takes, each allowed the whole
# timeout; so a large body for a server that reads slowly goes in pieces, each allowed only what
# is left.
_WRITE_PIECE = 64 * 1024


class AnswerNotBegun(httpx.ReadTimeout):
    """A read timeout before a single byte of the answer came in: the server had the whole
    request and was still working on it (more than it does within the time), unlike an answer
    that began and came too slowly, which is the line's doing, whatever the request."""


class DeadlineClient(httpx.Client):
    """An :class:`httpx.Client` taking the same arguments; ``timeout`` (a number, or the
    longest of an :class:`httpx.Timeout`'s connect, read and write) also bounds each request
    from the moment it is sent until its body has been read. Waiting for a free connection of
    the pool comes first and counts too. With ``stream=True`` the body read after ``send``
    returns is bounded per socket operation only, as in httpx."""

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        seconds = _whole_request_seconds(request.extensions.get("timeout") or self.timeout)
        if seconds is None:
            return super().send(request, **kwargs)
        deadline = time.monotonic() + seconds
        outer = _deadline.get()
        token = _deadline.set(deadline if outer is None else min(outer, deadline))
        begun = [False]
        begun_token = _answer_begun.set(begun)
        try:
            return super().send(request, **kwargs)
        except httpx.ReadTimeout as exc:
            if begun[0]:
                raise
            raise AnswerNotBegun(str(exc), request=exc.request) from exc
        finally:
            _answer_begun.reset(begun_token)
            _deadline.reset(token)

    # httpx builds its transports through these two, the second once for each proxy it takes
    # from the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``); taking the arguments
    # as they come keeps both httpx 0.27's and 0.28's signatures working.

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.BaseTransport:
        return _install(super()._init_transport(*args, **kwargs))

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.BaseTransport:
        return _install(super()._init_proxy_transport(*args, **kwargs))


def _whole_request_seconds(timeout: httpx.Timeout | Mapping[str, float | None]) -> float | None:
    if isinstance(timeout, httpx.Timeout):
        limits = (timeout.connect, timeout.read, timeout.write)
    else:
        limits = (timeout.get("connect"), timeout.get("read"), timeout.get("write"))
    # A phase without a limit was asked to wait as long as it takes.
    if None in limits:
        return None
    return max(limit for limit in limits if limit is not None)


def _install(transport: httpx.BaseTransport) -> httpx.BaseTransport:
    """Give an httpx transport the deadline backend; a transport the caller supplied that does
    not go through httpcore (tests' MockTransport) is returned as it is."""
    if not isinstance(transport, httpx.HTTPTransport):
        return transport
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.NetworkBackend):
        raise RuntimeError(
            f"httpx {httpx.__version__} / httpcore {httpcore.__version__} no longer let "
            "artreport bound the duration of a request; install httpx 0.28"
        )
    if not isinstance(backend, DeadlineBackend):
        # The pool makes its connections through this attribute when it needs them, so
        # replacing it before the first request covers every connection, proxied ones too.
        pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
    return transport


def _left(timeout: float | None, timed_out: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` for one socket operation, cut to the time the current request has left;
    ``timed_out`` raised when there is none."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        # Worded as the socket's own timeout is, so that users see the same reason either way.
        raise timed_out("timed out")
    return left if timeout is None or timeout > left else timeout


class DeadlineBackend(httpcore.NetworkBackend):
    """Wraps httpcore's backend so that no socket operation outlives the request's deadline."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        # The name lookup inside cannot be cut short without a thread, and each address the name
        # has is tried for the time left: both are rarely slow, and once connected the request
        # is given no more than what is left.
        stream = self._backend.connect_tcp(
            host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _left(timeout, httpcore.ConnectTimeout), socket_options
        )
        return DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))
        begun = _answer_begun.get()
        if data and begun is not None:
            begun[0] = True
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if len(buffer) <= _WRITE_PIECE:
            self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))
            return
        for start in range(0, len(buffer), _WRITE_PIECE):
            piece = buffer[start : start + _WRITE_PIECE]
            self._stream.write(piece, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        try:
            timeout = _left(timeout, httpcore.ConnectTimeout)
        except httpcore.ConnectTimeout:
            # httpcore's own streams close themselves when the handshake fails; the caller
            # relies on that.
            self._stream.close()
            raise
        # Python's ssl bounds the handshake as a whole by the socket's timeout. The TLS stream it
        # gives must be wrapped too, or the request itself would run unbounded over it.
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)
