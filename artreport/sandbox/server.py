"""The sandbox over HTTP: a threading stdlib server in front of :class:`Platform`.

Two settings keep the transport from dominating (a naive stdlib server ran at 11k rows/s): HTTP/1.1,
so that a client keeps its connection instead of opening one per batch, and TCP_NODELAY, so that
a small answer is not held back by Nagle's algorithm waiting for an ACK. What remains per row is
the platform's work: JSON parsing, the checks and SQLite (``bench/bench_sandbox.py``).

With ``tls`` the same server speaks HTTPS, so that ``artreport doctor``'s certificate checks can be
tested on loopback with certificates the tests make.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from artreport.errors import UsageError
from artreport.sandbox import DEFAULT_HOST, DEFAULT_TTL, DEMO_ORG
from artreport.sandbox.faults import Faults
from artreport.sandbox.inspection import ROWS_PREFIX, STATS_PATH
from artreport.sandbox.platform import Platform, Request
from artreport.sandbox.store import Store
from artreport.schema import load_schema

# What the gateway in front of the platform sends when the platform is down: not JSON, which
# is the point of the fault.
_GATEWAY_PAGE = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_TOO_LARGE_PAGE = (
    b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
    b"<center><h1>413 Request Entity Too Large</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_JSON = "application/json;charset=UTF-8"
# How often the accept loop looks for a stop request: the longest stop() waits.
_POLL_SECONDS = 0.05


class _Server(ThreadingHTTPServer):
    # Not daemon threads: socketserver joins only non-daemon handler threads in server_close,
    # and stop() must not return while one still runs. close_connections() lets them end.
    daemon_threads = False

    def __init__(
        self, address: tuple[str, int], platform: Platform, tls: ssl.SSLContext | None
    ) -> None:
        self.platform = platform
        self._tls = tls
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self._tls is None:
            return connection, address
        # No handshake here: it waits on the client, and this is the accept loop. The handler
        # thread does it (_Handler.setup).
        return self._tls.wrap_socket(
            connection, server_side=True, do_handshake_on_connect=False
        ), address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every kept-alive connection, so that the handler threads blocked reading the
        next request return and ``server_close`` can join them."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may have closed it first
                # The plain socket's shutdown even for a TLS connection: SSLSocket.shutdown
                # drops the TLS state that the handler thread may be reading with right now.
                socket.socket.shutdown(connection, socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer is routine for a server; anything else is a bug
        # in the sandbox and keeps the default traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Headers(dict[str, str]):
    """Request headers by lower-case name."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


_MAX_LINE = 65536
_MAX_HEADERS = 100


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffered: the status line, headers and body leave in one send, not two; the base class
    # flushes after each request.
    wbufsize = -1
    server: _Server

    def parse_request(self) -> bool:
        """The request line and headers, read without ``email.parser``: the standard library's
        header parsing costs more per request than checking a 200-row batch."""
        self.command = None  # type: ignore[assignment]
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            self.send_error(400, "Bad request line")
            return False
        self.command, self.path, self.request_version = words
        headers = _Headers()
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE or len(headers) > _MAX_HEADERS:
                self.send_error(431)
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = line.decode("iso-8859-1").partition(":")
            if not colon:
                self.send_error(400, "Bad header line")
                return False
            headers[name.strip().lower()] = value.strip()
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if (
            headers.get("expect", "").lower() == "100-continue"
            and self.request_version != "HTTP/1.0"
        ):
            return self.handle_expect_100()
        return True

    def handle_expect_100(self) -> bool:
        # The client sends the body only once it has this answer: it cannot wait in the buffer.
        answered = super().handle_expect_100()
        self.wfile.flush()
        return answered

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            # A failed handshake raises an SSLError, an OSError, which handle_error drops like
            # any hang-up before the connection is closed.
            self.request.do_handshake()
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        # One line per request on stderr would cost more than the request itself.
        pass

    def _serve(self) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        body = self._read_body()
        if body is None:
            return
        if path.startswith("/_sandbox/"):
            self._inspect(path)
            return
        platform = self.server.platform
        fault = platform.register(self.command, path, len(body))
        if platform.faults.latency:
            time.sleep(platform.faults.latency)
        if fault == "too_large":
            self._send(413, _TOO_LARGE_PAGE, "text/html")
            return
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "fail":
            self._send(503, _GATEWAY_PAGE, "text/html")
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = platform.handle(Request(self.command, path, url.query, headers, body))
        if fault == "lose":
            self.close_connection = True
            return
        if answer is None:
            self._send_not_found(path)
        else:
            status, body = answer
            self._send(status, body, _JSON)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 400 to one that cannot be read."""
        try:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            self.send_error(400)
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():
            pass  # trailer fields, unused
        return b"".join(parts)

    def _inspect(self, path: str) -> None:
        # Only from this machine: a sandbox bound to 0.0.0.0 for a rehearsal shows its stored
        # rows to nobody else.
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            self._send_not_found(path)
        elif path == STATS_PATH:
            self._send_json(200, self.server.platform.stats())
        elif path.startswith(ROWS_PREFIX):
            try:
                record_type = load_schema().get(path.removeprefix(ROWS_PREFIX))
            except UsageError as error:
                self._send_not_found(path, error.message("en"))
                return
            self._send_json(200, self.server.platform.rows(record_type))
        else:
            self._send_not_found(path)

    def _send_not_found(self, path: str, error: str = "Not Found") -> None:
        self._send_json(404, {"status": 404, "error": error, "path": path})

    def _send_json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode(), _JSON)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class _Running:
    server: _Server
    thread: threading.Thread
    store: Store
    platform: Platform


class Sandbox:
    """The emulated platform, served over HTTP from a background thread.

    ``with Sandbox() as sandbox:`` starts it on a free loopback port and stops it cleanly;
    ``sandbox.base_url`` is what a client puts before ``/art/``. ``orgs`` maps orgid to key;
    without it the sandbox serves :data:`DEMO_ORG`. ``tls=(cert, key)`` (PEM files; the
    certificate file may hold the whole chain) serves HTTPS instead.
    """

    def __init__(
        self,
        orgs: dict[str, str] | None = None,
        *,
        db: str | Path | None = None,
        ttl: float = DEFAULT_TTL,
        faults: Faults | None = None,
        host: str = DEFAULT_HOST,
        port: int = 0,
        name_bad_row: bool = False,
        tls: tuple[str | Path, str | Path] | None = None,
    ) -> None:
        self._orgs = dict(orgs) if orgs is not None else dict([DEMO_ORG])
        self._db = db
        self._ttl = ttl
        self._faults = faults or Faults()
        self._address = (host, port)
        self._name_bad_row = name_bad_row
        self._tls = tls
        self._running: _Running | None = None
        # Kept after stop() so that a test can read the counters of a finished run.
        self._platform: Platform | None = None
        self._base_url: str | None = None

    def start(self) -> Sandbox:
        """Listen and serve in a background thread; listening when this returns."""
        if self._running is not None:
            return self
        tls = _server_context(self._tls)
        store = Store(self._db)
        platform = Platform(
            load_schema(),
            self._orgs,
            store,
            ttl=self._ttl,
            faults=self._faults,
            name_bad_row=self._name_bad_row,
        )
        try:
            server = _Server(self._address, platform, tls)
        except OSError as error:
            store.close()
            host, port = self._address
            raise UsageError(
                "sandbox-cannot-listen", host=host, port=port, reason=error.strerror or error
            ) from None
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name="artreport-sandbox",
            daemon=True,
        )
        thread.start()
        host, port = server.server_address[:2]
        self._base_url = f"{'http' if tls is None else 'https'}://{host}:{port}"
        self._platform = platform
        self._running = _Running(server, thread, store, platform)
        return self

    def stop(self) -> None:
        """Stop serving, end open connections and their threads, close the database."""
        running, self._running = self._running, None
        if running is None:
            return
        running.server.shutdown()
        running.server.close_connections()
        running.server.server_close()
        running.thread.join()
        running.store.close()

    def serve_forever(self, ready: Callable[[], object] = lambda: None) -> None:
        """Serve until Ctrl-C or SIGTERM (what ``kill``, systemd and ``docker stop`` send),
        then stop cleanly: answers in progress finish and a ``db`` file keeps what it stored.
        ``ready`` runs once it serves (to say where) and is stopped the same way: someone who
        presses Ctrl-C as soon as the address shows gets the same clean stop."""
        thread = self.start()._serving().thread
        on_main_thread = threading.current_thread() is threading.main_thread()
        # Only the main thread may set a handler; a server run from another thread is stopped
        # by whoever started it.
        previous = signal.signal(signal.SIGTERM, _as_ctrl_c) if on_main_thread else None
        try:
            ready()
            # Never a join without a timeout: the kernel may hand the signal to the serving
            # thread, and Python runs its handler only on the main thread, so a main thread
            # asleep in join() would sleep through Ctrl-C and SIGTERM for good.
            while thread.is_alive():
                thread.join(_POLL_SECONDS)
        except KeyboardInterrupt:
            pass
        finally:
            if on_main_thread:
                signal.signal(signal.SIGTERM, previous)
            self.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` (``https://`` with ``tls``), what a client puts before
        ``/art/``."""
        if self._base_url is None:
            raise RuntimeError("the sandbox has not been started")
        return self._base_url

    def rows(self, record_type: str) -> list[dict[str, Any]]:
        """Stored rows of a record type (any name ``Schema.get`` knows), in insertion order."""
        return self._serving().platform.rows(load_schema().get(record_type))

    def stats(self) -> dict[str, Any]:
        """Requests in all and per endpoint path, successful logins, rejected batches, unknown
        fields per record type, faults injected, and the request log ``[(method, path), ...]``.
        Still available after :meth:`stop`."""
        if self._platform is None:
            raise RuntimeError("the sandbox has not been started")
        return self._platform.stats()

    def disable_org(self, orgid: str) -> None:
        """Mark an organisation disabled: its calls are answered 40004 from now on."""
        self._serving().platform.disable_org(orgid)

    def _serving(self) -> _Running:
        if self._running is None:
            raise RuntimeError("the sandbox is not running")
        return self._running


def _as_ctrl_c(signal_number: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _server_context(tls: tuple[str | Path, str | Path] | None) -> ssl.SSLContext | None:
    if tls is None:
        return None
    cert, key = tls
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except OSError as error:  # ssl.SSLError too: not PEM, or a key of another certificate
        reason = getattr(error, "reason", None) or error.strerror or str(error)
        raise UsageError(
            "sandbox-tls-unusable", cert=str(cert), key=str(key), reason=reason
        ) from None
    return context
