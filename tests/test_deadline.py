"""``timeout`` bounds each request as a whole, against a real server on 127.0.0.1 that sends its
answer a byte at a time: httpx alone would wait for every byte, however long it takes."""

from __future__ import annotations

import json
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from artreport import doctor
from artreport.cli import app
from artreport.client import PlatformClient
from artreport.config import Config, load_config
from artreport.errors import StoppedError, UnreachableError
from tests.test_doctor import make_certificate, needs_certificates, write_config
from tests.test_push import cycle_file

ORGID = "ZJ3301001"
KEY = "SeCrEtKeY-abc123"
ROWS = [{"cycleid": "C1", "orgid": ORGID}]

#: Seconds between two bytes of a dripped answer: a whole answer takes about 4 s, far beyond
#: the timeouts below, yet a run without the deadline still ends.
DRIP_SECONDS = 0.05
TIMEOUT = 0.5
#: Leeway for a loaded machine on top of the time a test should take.
SLACK = 0.7


@pytest.fixture(autouse=True)
def no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


class DrippingPlatform(socketserver.ThreadingTCPServer):
    """HTTP/1.1 with keep-alive on 127.0.0.1 (TLS with ``tls``). ``modes`` says how logins
    and data requests are answered: ``ok`` at once, ``body`` with the headers at once and the
    body a byte at a time, ``headers`` with the headers a byte at a time. Every answer is the
    platform's success envelope, so a client that waits long enough succeeds."""

    daemon_threads = True

    def __init__(
        self, *, login: str = "ok", data: str = "ok", tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Answering)
        self.modes = {"login": login, "data": data}
        self.tls = tls
        self.closing = threading.Event()
        self.paths: list[str] = []
        self.connections = 0
        self.lock = threading.Lock()
        self._serving = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> DrippingPlatform:
        self._serving.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Drips stop at the next byte, so no answer outlives the test by more than DRIP_SECONDS.
        self.closing.set()
        self.shutdown()
        self.server_close()


class _Answering(socketserver.BaseRequestHandler):
    server: DrippingPlatform

    def handle(self) -> None:
        connection: socket.socket = self.request
        try:
            if self.server.tls is not None:
                connection.settimeout(2)
                connection = self.server.tls.wrap_socket(connection, server_side=True)
            # Short, so that the thread sees the test end (DrippingPlatform.__exit__ waits).
            connection.settimeout(0.1)
        except OSError:
            return
        with self.server.lock:
            self.server.connections += 1
        received = b""
        while not self.server.closing.is_set():
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            received += chunk
            while b"\r\n\r\n" in received:
                head, _, rest = received.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(rest) < length:
                    break
                body, received = rest[:length], rest[length:]
                # A proxy is sent the absolute URL.
                path = urlsplit(head.split(b" ")[1].decode()).path
                self.server.paths.append(path)
                mode = self.server.modes["login" if path.endswith("/login") else "data"]
                if not self._answer(connection, mode, body):
                    return

    def _answer(self, connection: socket.socket, mode: str, body: bytes) -> bool:
        rows = json.loads(body) if body.startswith(b"[") else []
        msg = "success" + " " * 40
        payload = json.dumps({"code": 0, "msg": msg, "data": len(rows)}).encode()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        dripped = {"ok": b"", "body": payload, "headers": head}[mode]
        try:
            if mode != "headers":
                connection.sendall(head)
            for byte in dripped:
                if self.server.closing.wait(DRIP_SECONDS):
                    return False
                connection.sendall(bytes([byte]))
            if mode != "body":
                connection.sendall(payload)
        except OSError:
            # The client gave up and closed the connection.
            return False
        return True


def platform_client(url: str, **settings: Any) -> PlatformClient:
    settings = {"timeout": TIMEOUT, "retries": 0, "retry_max_seconds": 60.0, **settings}
    stop = settings.pop("stop", None)
    config = Config(base_url=url, orgid=ORGID, key=KEY, **settings)
    # No pause between attempts, so that only the attempts themselves take time.
    sleep: Callable[[float], object] | None = None if stop else (lambda seconds: None)
    return PlatformClient(config, sleep=sleep, stop=stop)


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def test_a_login_answer_dripping_its_headers_is_unreachable_after_each_attempts_timeout() -> None:
    with (
        DrippingPlatform(login="headers") as server,
        platform_client(server.url, retries=1) as client,
    ):
        with pytest.raises(UnreachableError) as caught:
            started = time.monotonic()
            client.login()
        elapsed = time.monotonic() - started
    assert caught.value.code == "client-unreachable"
    assert caught.value.params["attempts"] == 2
    assert caught.value.params["reason"] == "no answer in time"  # net-timeout, in English
    assert server.paths == ["/art/login", "/art/login"]
    assert 2 * TIMEOUT <= elapsed < 2 * TIMEOUT + SLACK


def test_a_batch_answer_dripping_its_body_is_retried_only_within_retry_max_seconds() -> None:
    budget = 1.2
    with (
        DrippingPlatform(data="body") as server,
        platform_client(server.url, retries=50, retry_max_seconds=budget) as client,
    ):
        client.login()
        with pytest.raises(UnreachableError) as caught:
            started = time.monotonic()
            client.batch_insert("aCyclerecord", ROWS)
        elapsed = time.monotonic() - started
    assert caught.value.code == "client-unreachable"
    assert caught.value.params["reason"] == "no answer in time"  # net-timeout, in English
    assert caught.value.params["attempts"] >= 2
    # The budget is checked between attempts: the last one may start just before it ends.
    assert budget <= elapsed < budget + TIMEOUT + SLACK


def test_a_stop_while_an_answer_drips_ends_the_call_within_one_timeout() -> None:
    stop = threading.Event()
    with (
        DrippingPlatform(data="body") as server,
        platform_client(server.url, retries=5, stop=stop) as client,
    ):
        client.login()
        timer = threading.Timer(0.1, stop.set)
        timer.start()
        try:
            with pytest.raises(StoppedError):
                started = time.monotonic()
                client.batch_insert("aCyclerecord", ROWS)
            elapsed = time.monotonic() - started
        finally:
            timer.cancel()
    assert server.paths == ["/art/login", "/art/aCyclerecord/batchInsert"]
    assert elapsed < TIMEOUT + SLACK


def test_after_a_timed_out_answer_the_client_works_and_keeps_connections_alive() -> None:
    with (
        DrippingPlatform(data="body") as server,
        platform_client(server.url) as client,
    ):
        client.login()
        with pytest.raises(UnreachableError):
            client.batch_insert("aCyclerecord", ROWS)
        server.modes["data"] = "ok"
        assert timed(lambda: client.batch_insert("aCyclerecord", ROWS)) < SLACK
        # Longer than the timeout: no deadline lingers from an earlier request.
        time.sleep(TIMEOUT + 0.1)
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert answer.data == 1
    # The login's connection, dropped on the timeout, and one more kept alive for the rest.
    assert server.connections == 2


@needs_certificates
def test_over_tls_a_dripping_answer_ends_within_the_timeout(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path, "platform")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    with (
        DrippingPlatform(data="headers", tls=tls) as server,
        platform_client(server.url, ca_bundle=str(cert)) as client,
    ):
        client.login()
        with pytest.raises(UnreachableError) as caught:
            started = time.monotonic()
            client.batch_insert("aCyclerecord", ROWS)
        elapsed = time.monotonic() - started
    # Whatever ssl's own wording of the timeout, it is said as one.
    assert caught.value.params["reason"] == "no answer in time"
    assert elapsed < TIMEOUT + SLACK


def test_through_a_proxy_from_the_environment_the_timeout_holds_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with DrippingPlatform(login="body") as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        # Never resolved: the proxy is asked for it.
        with platform_client("http://platform.invalid") as client:
            with pytest.raises(UnreachableError) as caught:
                started = time.monotonic()
                client.login()
            elapsed = time.monotonic() - started
    assert proxy.paths == ["/art/login"]
    assert caught.value.params["reason"] == "no answer in time"  # net-timeout, in English
    assert elapsed < TIMEOUT + SLACK


def test_doctor_against_a_dripping_platform_takes_about_its_timeouts(tmp_path: Path) -> None:
    with DrippingPlatform(login="body") as server:
        config = write_config(tmp_path, base_url=server.url, timeout=TIMEOUT)
        started = time.monotonic()
        checks = {check.name: check for check in doctor.diagnose(lambda: load_config(config))}
        elapsed = time.monotonic() - started
    # The probe of the login address drips too: it is cut at the timeout, and fails the login
    # line (a plain-http platform that does not answer), so the login is not tried.
    assert checks["tls"].code == "doctor-tls-plain-http"
    assert (checks["login"].status, checks["login"].code) == (
        doctor.Status.FAILED,
        "doctor-http-timeout",
    )
    assert elapsed < TIMEOUT + SLACK


def test_cli_push_to_a_dripping_platform_exits_4_within_its_budget(tmp_path: Path) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text(f"retries: 1\nretry_max_seconds: 5\ntimeout: {TIMEOUT}\n", encoding="utf-8")
    path = cycle_file(tmp_path, 10)
    with DrippingPlatform(data="headers") as server:
        started = time.monotonic()
        result = CliRunner().invoke(
            app,
            ["--lang", "en", "--config", str(config), "push", "cycle", str(path)],
            env={"ARTREPORT_BASE_URL": server.url, "ARTREPORT_ORGID": ORGID, "ARTREPORT_KEY": KEY},
        )
        elapsed = time.monotonic() - started
    assert result.exit_code == 4, result.output
    assert "no answer in time" in result.output
    # Two attempts of the one batch and the pause between them (at most 0.5 s).
    assert elapsed < 2 * TIMEOUT + 0.5 + SLACK
