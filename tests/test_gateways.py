"""Gateways in front of the platform (nginx, a web application firewall, a portal) failing the way
real ones do, over real HTTP on 127.0.0.1: a hand-made server relays to the sandbox, or answers
in its place."""

from __future__ import annotations

import codecs
import csv
import email.utils
import gzip
import http.client
import json
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from artreport.cli import app
from artreport.client.session import make_token
from artreport.fakedata import fake_rows, write_rows
from artreport.sandbox import Sandbox
from artreport.schema import load_schema

ORGID = "ZJ3301001"
KEY = "sandbox-test-key-9f3a"
CYCLE = load_schema().get("cycle")
BATCH_INSERT = f"/art/{CYCLE.resource}/batchInsert"
runner = CliRunner()

#: What answers in the platform's place: (status, headers, body), or None to relay the request;
#: status 0 closes the connection without an answer, RESET resets it (TCP RST).
Fault = Callable[[str, bytes], "tuple[int, dict[str, str], bytes] | None"]

RESET = -1

WAF_PAGE = (
    "<html><head><title>访问被拦截</title></head>"
    "<body>您的请求包含非法字符，已被网站防火墙拦截。事件ID：8f2c</body></html>"
).encode()


class Gateway:
    """A reverse proxy to a sandbox that lets ``fault`` answer any request instead."""

    def __init__(self, fault: Fault) -> None:
        self.sandbox = Sandbox({ORGID: KEY}).start()
        self.requests: list[str] = []
        upstream = self.sandbox.base_url.split("//", 1)[1]
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                gateway.requests.append(self.path.split("?")[0])
                answer = fault(self.path, body)
                if answer is None:
                    connection = http.client.HTTPConnection(upstream, timeout=10)
                    headers = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() in ("orgid", "token", "content-type")
                    }
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    answer = (
                        response.status,
                        {"content-type": response.getheader("content-type", "")},
                        response.read(),
                    )
                    connection.close()
                status, headers, content = answer
                if status == RESET:
                    # An IPS cutting the connection: an RST, not a FIN, once the request is in.
                    linger = struct.pack("ii", 1, 0)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    # Closed here, before the server's own shutdown would send a FIN first.
                    os.close(self.connection.detach())
                    self.close_connection = True
                    return
                if status == 0:
                    self.close_connection = True
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.sandbox.stop()

    def stored(self) -> list[str]:
        return sorted(row["cycleid"] for row in self.sandbox.rows("cycle"))

    def data_requests(self) -> int:
        return self.requests.count(BATCH_INSERT)


@pytest.fixture
def gateway() -> Iterator[Callable[[Fault], Gateway]]:
    started: list[Gateway] = []

    def start(fault: Fault) -> Gateway:
        started.append(Gateway(fault))
        return started[-1]

    yield start
    for each in started:
        each.stop()


def push(
    gateway: Gateway,
    path: Path,
    *args: str,
    lang: str = "en",
    settings: str = "retries: 2\nretry_max_seconds: 1\ntimeout: 5\n",
) -> Any:
    # Retries kept short: a page in the platform's place is retried, with pauses, before
    # anything else is made of it.
    config = path.parent / "artreport.yaml"
    config.write_text(settings, encoding="utf-8")
    env = {
        "ARTREPORT_CONFIG": str(config),
        "ARTREPORT_BASE_URL": gateway.base_url,
        "ARTREPORT_ORGID": ORGID,
        "ARTREPORT_KEY": KEY,
    }
    return runner.invoke(app, ["--lang", lang, "push", "cycle", str(path), *args], env=env)


def cycle_file(tmp_path: Path, count: int, marked: dict[int, str] | None = None) -> Path:
    rows = list(fake_rows(CYCLE, count, orgid=ORGID))
    for position, text in (marked or {}).items():
        rows[position]["acyesisnameMx"] = text
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    return path


def report_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def firewall(status: int, blocks: Callable[[bytes], bool]) -> Fault:
    def fault(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if path == BATCH_INSERT and blocks(body):
            return status, {"content-type": "text/html; charset=utf-8"}, WAF_PAGE
        return None

    return fault


@pytest.mark.parametrize("status", [403, 405, 200])
@pytest.mark.parametrize("position", [3, 57], ids=["first-chunk", "later-chunk"])
def test_a_firewall_blocking_one_row_gets_that_row_reported_and_the_rest_sent(
    tmp_path: Path, gateway: Callable[[Fault], Gateway], status: int, position: int
) -> None:
    """A WAF's block page for the chunk holding a row with "<script>", every other chunk let
    through. It stopped the run, as "not the platform, check base_url" (403, 405) or after
    retries as something answering in its place (200), exit 4: every row after that chunk
    went unsent, every night, until someone found the row."""
    platform = gateway(firewall(status, lambda body: b"<script>" in body))
    path = cycle_file(tmp_path, 150, {position: "见附件<script>alert(1)</script>"})
    report = tmp_path / "report.csv"
    result = push(platform, path, "--chunk-size", "50", "--report", str(report))
    assert result.exit_code == 1, result.output
    assert "149 accepted" in result.output
    assert "base_url" not in result.output
    assert len(platform.stored()) == 149
    [entry] = report_rows(report)
    assert (entry["row"], entry["code"]) == (str(position + 2), "platform-rejected")
    assert f"HTTP {status}" in entry["message"] and "访问被拦截" in entry["message"]
    assert "firewall" in entry["message"]
    # Three chunks (the blocked one retried if it came as HTTP 200), and the halves down to
    # the one row, each sent once.
    assert platform.data_requests() <= 3 + 2 + 2 * 6


def test_a_firewall_blocking_every_upload_stops_the_run_after_a_chunk_and_its_halves(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    """A gateway closing the upload's path to this computer (or a firewall banning it) blocks
    every part alike: no row is at fault, and the file is not sent through it row by row."""
    platform = gateway(firewall(403, lambda body: True))
    path = cycle_file(tmp_path, 150)
    report = tmp_path / "report.csv"
    result = push(platform, path, "--chunk-size", "50", "--report", str(report))
    assert result.exit_code == 4, result.output
    assert "HTTP 403 Forbidden" in result.output and "base_url" in result.output
    assert platform.data_requests() == 3
    entries = report_rows(report)
    assert len(entries) == 150
    assert {e["code"] for e in entries} == {"not-sent-unreachable"}
    assert platform.stored() == []


def test_a_firewall_blocking_rows_of_both_halves_of_the_first_chunk_stops_as_before(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    """Rows in both halves of a chunk blocked, nothing taken yet: that cannot be told from a
    gateway blocking everything, so the run stops, no row blamed."""
    platform = gateway(firewall(403, lambda body: b"<script>" in body))
    path = cycle_file(tmp_path, 50, {3: "<script>", 40: "<script>"})
    report = tmp_path / "report.csv"
    result = push(platform, path, "--chunk-size", "50", "--report", str(report))
    assert result.exit_code == 4, result.output
    assert platform.data_requests() == 3
    assert {e["code"] for e in report_rows(report)} == {"not-sent-unreachable"}


MAINTENANCE_PAGE = (
    "<html><head><title>系统维护中</title></head><body>系统维护中，请稍后再试。</body></html>"
).encode()


def test_a_maintenance_page_from_mid_run_on_stops_the_run_and_blames_no_row(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    """A gateway's maintenance page, HTTP 200, for every upload once two chunks have landed:
    the chunk is retried, its halves tried once each, and the run stops (exit 4) with the
    page named; no row is reported as refused."""
    uploads = 0

    def maintenance(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        nonlocal uploads
        if path != BATCH_INSERT:
            return None
        uploads += 1
        if uploads <= 2:
            return None
        return 200, {"content-type": "text/html; charset=utf-8"}, MAINTENANCE_PAGE

    platform = gateway(maintenance)
    path = cycle_file(tmp_path, 200)
    report = tmp_path / "report.csv"
    result = push(platform, path, "--chunk-size", "50", "--report", str(report), lang="zh")
    assert result.exit_code == 4, result.output
    assert "系统维护中" in result.output and "不是上报平台的应答" in result.output
    assert len(platform.stored()) == 100
    # Two chunks, the third with its 2 retries, and its two halves.
    assert platform.data_requests() == 2 + 3 + 2
    entries = report_rows(report)
    assert len(entries) == 100
    assert {e["code"] for e in entries} == {"not-sent-unreachable"}


def run_cli(gateway: Gateway, *args: str, lang: str) -> Any:
    env = {"ARTREPORT_BASE_URL": gateway.base_url, "ARTREPORT_ORGID": ORGID, "ARTREPORT_KEY": KEY}
    return runner.invoke(app, ["--lang", lang, *args], env=env)


@pytest.mark.parametrize(
    ("lang", "said", "not_said"),
    [
        ("en", "HTTP 403 Forbidden (the page says: 访问被拦截)", "redirected to"),
        ("zh", "HTTP 403 Forbidden（页面内容：访问被拦截）", "跳转到"),
    ],
)
def test_an_address_answering_with_a_page_says_what_the_page_says_not_a_redirect(
    gateway: Callable[[Fault], Gateway], lang: str, said: str, not_said: str
) -> None:
    """A firewall's 403 page to a delete was said to have "redirected to: -"."""

    def firewall_on_delete(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if "/delete" in path:
            return 403, {"content-type": "text/html; charset=utf-8"}, WAF_PAGE
        return None

    platform = gateway(firewall_on_delete)
    result = run_cli(platform, "delete", "cycle", "--id", "CYC00000001", "--yes", lang=lang)
    assert result.exit_code == 4, result.output
    assert said in result.output
    assert not_said not in result.output and KEY not in result.output


def test_a_login_redirected_to_a_portal_says_where_at_once(
    gateway: Callable[[Fault], Gateway],
) -> None:
    def portal(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        return 302, {"location": "/cas/login?service=http%3A%2F%2Fart"}, b""

    platform = gateway(portal)
    result = run_cli(platform, "login", lang="zh")
    assert result.exit_code == 4, result.output
    assert "HTTP 302 Found（跳转到：/cas/login）" in result.output
    assert "service=" not in result.output
    assert platform.requests == ["/art/login"]


@pytest.mark.parametrize("rows", [1, 2, 3])
def test_a_firewall_blocking_every_upload_of_a_small_file_blames_none_of_its_rows(
    tmp_path: Path, gateway: Callable[[Fault], Gateway], rows: int
) -> None:
    platform = gateway(firewall(403, lambda body: True))
    report = tmp_path / "report.csv"
    result = push(platform, cycle_file(tmp_path, rows), "--report", str(report))
    assert result.exit_code == 4, result.output
    assert platform.data_requests() <= 3
    assert [e["code"] for e in report_rows(report)] == ["not-sent-unreachable"] * rows


def test_a_java_gateways_rewrapped_answer_is_the_platforms_answer(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    """The platform's answer as a gateway passes it on: gzip-encoded, labelled text/html,
    behind a UTF-8 byte order mark, its code written as the text "200"."""

    def rewrapped(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if path != BATCH_INSERT:
            return None
        upstream = http.client.HTTPConnection(platform.sandbox.base_url.split("//", 1)[1])
        headers = {"orgid": ORGID, "token": make_token(ORGID, KEY)}
        upstream.request("POST", path, body=body, headers=headers)
        answer = json.loads(upstream.getresponse().read())
        upstream.close()
        if answer["code"] == 0:
            answer["code"] = "200"
        content = gzip.compress(codecs.BOM_UTF8 + json.dumps(answer).encode())
        return 200, {"content-type": "text/html;charset=UTF-8", "content-encoding": "gzip"}, content

    platform = gateway(rewrapped)
    result = push(platform, cycle_file(tmp_path, 120), "--chunk-size", "50", "--json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["accepted"], counts["platform_affected"], counts["resent"]) == (120, 120, 0)
    assert len(platform.stored()) == 120


@pytest.mark.parametrize("when", ["3600", "http-date"])
def test_a_gateway_asking_to_come_back_in_an_hour_ends_the_run_at_once(
    tmp_path: Path, gateway: Callable[[Fault], Gateway], when: str
) -> None:
    later = email.utils.formatdate(time.time() + 3600, usegmt=True)
    retry_after = later if when == "http-date" else when

    def maintenance(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if path != BATCH_INSERT:
            return None
        return 503, {"retry-after": retry_after, "content-type": "text/html"}, MAINTENANCE_PAGE

    platform = gateway(maintenance)
    report = tmp_path / "report.csv"
    started = time.monotonic()
    result = push(platform, cycle_file(tmp_path, 60), "--report", str(report), lang="zh")
    assert time.monotonic() - started < 5
    assert result.exit_code == 4, result.output
    assert "后再试" in result.output and "retry_max_seconds" in result.output
    assert platform.data_requests() == 1
    assert [e["code"] for e in report_rows(report)] == ["not-sent-unreachable"] * 60


@pytest.mark.parametrize("answer", ["page", "502", "broken"])
def test_rows_of_a_run_whose_login_never_got_an_answer_are_not_sent_not_unconfirmed(
    tmp_path: Path, gateway: Callable[[Fault], Gateway], answer: str
) -> None:
    """Only the login went out, and its answers were lost or were some page. The first chunk's
    rows were counted as sent and reported "not confirmed: sent, every answer lost", telling
    the clerk the platform may hold rows it was never sent."""

    def login_fails(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if answer == "page":
            return 200, {"content-type": "text/html; charset=utf-8"}, MAINTENANCE_PAGE
        if answer == "502":
            return 502, {"content-type": "text/html"}, b"<h1>502 Bad Gateway</h1>"
        return 200, {"content-length": "500"}, b'{"code":0'  # a length it contradicts

    platform = gateway(login_fails)
    report = tmp_path / "report.csv"
    result = push(platform, cycle_file(tmp_path, 80), "--chunk-size", "50", "--json")
    assert result.exit_code == 4, result.output
    counts = json.loads(result.stdout)
    assert (counts["sent"], counts["not_sent"]) == (0, 80)
    assert set(platform.requests) == {"/art/login"}
    result = push(platform, cycle_file(tmp_path, 80), "--report", str(report))
    assert {e["message"].split(":")[0] for e in report_rows(report)} == {"Not sent"}


def test_rows_whose_answer_was_lost_before_a_login_failed_are_unconfirmed(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    """The chunk's answer lost (the platform may have stored it), its resend answered 40003,
    and the new login failing: the rows may be on the platform, and are said so."""
    seen: list[str] = []

    def script(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        seen.append(path)
        if path == BATCH_INSERT:
            if seen.count(BATCH_INSERT) == 1:
                return 0, {}, b""
            expired = {"code": 40003, "msg": "登录已过期", "data": None}
            return 200, {"content-type": "application/json"}, json.dumps(expired).encode()
        if seen.count(path) > 1:
            return 502, {"content-type": "text/html"}, b"<h1>502 Bad Gateway</h1>"
        return None

    platform = gateway(script)
    report = tmp_path / "report.csv"
    result = push(platform, cycle_file(tmp_path, 20), "--report", str(report))
    assert result.exit_code == 4, result.output
    assert seen[:3] == ["/art/login", BATCH_INSERT, BATCH_INSERT]
    assert {e["message"].split(":")[0] for e in report_rows(report)} == {"Not confirmed"}


#: A platform's answer that does not come within ``timeout``: one attempt of 0.3 s a part.
SLOW = "retries: 1\nretry_max_seconds: 0.2\ntimeout: 0.3\n"
GATEWAY_TIMEOUT = (504, {"content-type": "text/html"}, b"<h1>504 Gateway Time-out</h1>")


def rows_in(body: bytes) -> int:
    return body.count(b'"cycleid"')


def too_slow_above(rows: int, how: str, sizes: list[int] | None = None) -> Fault:
    """A platform that takes longer than the timeout for more than ``rows`` rows: it stores
    them all the same, too late (``timeout``), or a gateway gives up on it first (504).
    ``sizes`` gets the rows of each upload."""

    def fault(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if path != BATCH_INSERT:
            return None
        if sizes is not None:
            sizes.append(rows_in(body))
        if rows_in(body) <= rows:
            return None
        if how == "504":
            return GATEWAY_TIMEOUT
        time.sleep(0.5)
        return None

    return fault


@pytest.mark.parametrize("how", ["timeout", "504"])
def test_chunks_too_big_for_a_slow_platform_are_split_and_the_rest_sent_smaller(
    tmp_path: Path, gateway: Callable[[Fault], Gateway], how: str
) -> None:
    """A platform needing longer than ``timeout`` for 40 rows, not for 20: each chunk was
    retried and the run stopped at the first (exit 4), every night, every later row unsent."""
    sizes: list[int] = []
    platform = gateway(too_slow_above(30, how, sizes))
    result = push(
        platform, cycle_file(tmp_path, 400), "--chunk-size", "40", "--json", settings=SLOW
    )
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["accepted"], counts["not_sent"], counts["rejected"]) == (400, 0, 0)
    assert len(platform.stored()) == 400
    # Only the chunks cut before the first one's answer was settled (four in flight, and one
    # cut with them) are too big, each split once; the rest of the file goes in chunks of
    # half the size that timed out, not each timing out in turn. (A 504 comes at once, so
    # its retry is sent too.)
    assert sum(size > 30 for size in sizes) <= 5 * (2 if how == "504" else 1)
    assert max(sizes[-10:]) <= 20


@pytest.mark.parametrize("how", ["timeout", "504"])
def test_a_platform_answering_no_chunk_in_time_stops_after_a_chunk_and_its_halves(
    tmp_path: Path, gateway: Callable[[Fault], Gateway], how: str
) -> None:
    """Too slow for any size (or down behind a gateway that answers 504): the run stops as
    before, after the first chunk and its two halves, not a storm of ever smaller requests."""
    platform = gateway(too_slow_above(0, how))
    report = tmp_path / "report.csv"
    result = push(
        platform,
        cycle_file(tmp_path, 120),
        "--chunk-size",
        "40",
        "--report",
        str(report),
        settings=SLOW,
    )
    assert result.exit_code == 4, result.output
    attempts = 2 if how == "504" else 1
    assert platform.data_requests() == 3 * attempts
    entries = report_rows(report)
    assert {e["code"] for e in entries} == {"not-sent-unreachable"}
    # The first chunk sent, every answer lost: the platform may hold it.
    said = sorted((int(e["row"]), e["message"].split(":")[0]) for e in entries)
    assert said == [(row, "Not confirmed" if row < 42 else "Not sent") for row in range(2, 122)]


def test_one_row_too_slow_even_alone_is_reported_not_confirmed_and_the_rest_sent(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    def slow_with_row(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if path == BATCH_INSERT and "慢".encode() in body:
            return GATEWAY_TIMEOUT
        return None

    platform = gateway(slow_with_row)
    report = tmp_path / "report.csv"
    path = cycle_file(tmp_path, 60, {33: "慢"})
    result = push(platform, path, "--chunk-size", "20", "--report", str(report), settings=SLOW)
    assert result.exit_code == 1, result.output
    assert len(platform.stored()) == 59
    [entry] = report_rows(report)
    assert (entry["row"], entry["code"]) == ("35", "not-sent-unreachable")
    assert entry["message"].startswith("Not confirmed") and "timeout" in entry["message"]


def test_rows_a_timed_out_copy_stored_count_as_accepted_when_the_resent_halves_are_duplicates(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    """A platform that stores a big chunk too late for its answer, and answers 40005 to
    rows it holds: the halves' 40005 is the late copy's doing, not the rows' refusal."""

    def late_then_duplicate(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if path != BATCH_INSERT:
            return None
        sent = {row["cycleid"] for row in json.loads(body)}
        if sent & set(platform.stored()):
            duplicate = {"code": 40005, "msg": "已存在重复数据，请检查", "data": None}
            return 200, {"content-type": "application/json"}, json.dumps(duplicate).encode()
        if len(sent) <= 20:
            return None
        upstream = http.client.HTTPConnection(platform.sandbox.base_url.split("//", 1)[1])
        headers = {"orgid": ORGID, "token": make_token(ORGID, KEY)}
        upstream.request("POST", path, body=body, headers=headers)
        upstream.getresponse().read()
        upstream.close()
        time.sleep(0.5)
        return GATEWAY_TIMEOUT

    platform = gateway(late_then_duplicate)
    path = cycle_file(tmp_path, 80)
    result = push(platform, path, "--chunk-size", "40", "--json", settings=SLOW)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["accepted"], counts["rejected"], counts["duplicates_after_loss"]) == (80, 0, 80)
    assert len(platform.stored()) == 80


def resetting(blocks: Callable[[bytes], bool]) -> Fault:
    def fault(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if path == BATCH_INSERT and blocks(body):
            return RESET, {}, b""
        return None

    return fault


def test_an_ips_resetting_the_connection_for_one_row_gets_that_row_reported_and_the_rest_sent(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    """An IPS resets the connection (TCP RST) of the chunk holding "<script>", letting every
    other through: the run stopped at that chunk, every night, with the rest unsent."""
    platform = gateway(resetting(lambda body: b"<script>" in body))
    path = cycle_file(tmp_path, 150, {57: "见附件<script>alert(1)</script>"})
    report = tmp_path / "report.csv"
    result = push(platform, path, "--chunk-size", "50", "--report", str(report), settings=SLOW)
    assert result.exit_code == 1, result.output
    assert len(platform.stored()) == 149
    [entry] = report_rows(report)
    assert (entry["row"], entry["code"]) == ("59", "not-sent-unreachable")
    assert entry["message"].startswith("Not confirmed") and "reset" in entry["message"]
    # Three chunks, the one reset with its retry, and its halves down to the row, each
    # retried once.
    assert platform.data_requests() <= 3 + 1 + 2 * 6 * 2


def test_a_network_resetting_every_upload_stops_after_a_chunk_and_its_halves(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    platform = gateway(resetting(lambda body: True))
    report = tmp_path / "report.csv"
    path = cycle_file(tmp_path, 50)
    result = push(platform, path, "--chunk-size", "50", "--report", str(report), settings=SLOW)
    assert result.exit_code == 4, result.output
    assert platform.data_requests() == 3 * 2
    assert platform.stored() == []
    assert {e["code"] for e in report_rows(report)} == {"not-sent-unreachable"}


def delete_listed(gateway: Gateway, keys: list[str], tmp_path: Path, *args: str) -> Any:
    listing = tmp_path / "to-delete.csv"
    listing.write_text("cycleid\n" + "".join(f"{key}\n" for key in keys), encoding="utf-8")
    env = {
        "ARTREPORT_CONFIG": str(tmp_path / "artreport.yaml"),  # as push wrote it: short retries
        "ARTREPORT_BASE_URL": gateway.base_url,
        "ARTREPORT_ORGID": ORGID,
        "ARTREPORT_KEY": KEY,
    }
    arguments = ["--lang", "en", "delete", "cycle", "--from-file", str(listing), "--yes", *args]
    return runner.invoke(app, arguments, env=env)


def firewall_on_delete_of(blocks: Callable[[str], bool], status: int = 403) -> Fault:
    def fault(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if "/delete" in path and blocks(path):
            return status, {"content-type": "text/html; charset=utf-8"}, WAF_PAGE
        return None

    return fault


def deletes(gateway: Gateway) -> int:
    return sum("/delete" in path for path in gateway.requests)


@pytest.mark.parametrize("status", [403, 405, 200])
def test_a_firewall_blocking_one_records_delete_fails_that_record_alone(
    tmp_path: Path, gateway: Callable[[Fault], Gateway], status: int
) -> None:
    """A firewall's block page for the delete of one record in a listing stopped the deletes
    of every record after it (exit 4), as if the platform could not be reached."""
    blocked: list[str] = []
    platform = gateway(firewall_on_delete_of(lambda path: blocked[0] in path, status))
    assert push(platform, cycle_file(tmp_path, 6)).exit_code == 0
    keys = platform.stored()
    blocked.append(f"cycleid={keys[2]}&")
    result = delete_listed(platform, keys, tmp_path, "--json")
    assert result.exit_code == 1, result.output
    said = json.loads(result.stdout)
    assert (said["deleted"], said["failed"], said["not_attempted"]) == (5, 1, 0)
    [failed] = [entry for entry in said["results"] if not entry["deleted"]]
    assert (failed["row"], failed["code"]) == (4, status)
    assert "访问被拦截" in failed["message"]
    assert platform.stored() == [keys[2]]
    # On screen: the record before it is gone now (not found), an answer all the same.
    result = delete_listed(platform, keys[1:3], tmp_path)
    assert result.exit_code == 1, result.output
    assert "firewall" in result.output and "访问被拦截" in result.output


def test_a_firewall_blocking_every_delete_stops_after_three(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    platform = gateway(firewall_on_delete_of(lambda path: True))
    assert push(platform, cycle_file(tmp_path, 6)).exit_code == 0
    result = delete_listed(platform, platform.stored(), tmp_path)
    assert result.exit_code == 4, result.output
    assert "HTTP 403 Forbidden" in result.output and "base_url" in result.output
    assert deletes(platform) == 3
    assert len(platform.stored()) == 6


@pytest.mark.parametrize("as_json", [True, False])
def test_a_firewall_blocking_every_delete_from_mid_listing_on_stops_after_three(
    tmp_path: Path, gateway: Callable[[Fault], Gateway], as_json: bool
) -> None:
    """Two deleted, then every delete blocked (an address banned): the run stops, the blocked
    ones blamed on no record, the rest not attempted."""

    def ban_after_two(path: str) -> bool:
        return deletes(platform) > 2

    platform = gateway(firewall_on_delete_of(ban_after_two))
    assert push(platform, cycle_file(tmp_path, 8)).exit_code == 0
    result = delete_listed(platform, platform.stored(), tmp_path, *(["--json"] if as_json else []))
    assert result.exit_code == 4, result.output
    assert deletes(platform) == 5
    assert len(platform.stored()) == 6
    if as_json:
        said = json.loads(result.stdout)
        assert (said["deleted"], said["failed"], said["not_attempted"]) == (2, 0, 6)
        assert said["error"] == "client-not-the-platform"
    else:
        # Three of the six were sent and blocked: it must not say that no request went out.
        assert "The other 6 were not deleted" in result.output
        assert "no request sent" not in result.output


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX threads only")
def test_a_ctrl_c_the_kernel_hands_to_the_sending_thread_stops_the_retries_at_once(
    tmp_path: Path, gateway: Callable[[Fault], Gateway]
) -> None:
    """The kernel may deliver Ctrl-C to any thread; Python runs the handler only on the main
    thread, which slept in a wait for the chunk's answer: the sending thread went on retrying
    a gateway's 503 through its whole retry budget (minutes) before the push stopped."""

    def unavailable(path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if path == BATCH_INSERT:
            return 503, {"content-type": "text/html"}, b"<html>503 Service Unavailable</html>"
        return None

    platform = gateway(unavailable)
    requests_at_signal: list[int] = []

    def ctrl_c_to_the_sending_thread() -> None:
        while platform.data_requests() < 2:  # retrying the chunk
            time.sleep(0.01)
        [sender] = [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")]
        requests_at_signal.append(platform.data_requests())
        signal.pthread_kill(sender.ident or 0, signal.SIGINT)

    threading.Thread(target=ctrl_c_to_the_sending_thread, daemon=True).start()
    path = cycle_file(tmp_path, 30)
    result = push(platform, path, settings="retries: 6\nretry_max_seconds: 600\ntimeout: 5\n")
    assert result.exit_code == 130, result.output
    assert "30 not sent" in result.output
    assert platform.data_requests() <= requests_at_signal[0] + 1  # one may have been on the wire
