"""The platform client against fake platforms written as httpx handler functions.

Nothing here really waits: the client gets a fake clock whose ``sleep`` only moves time on,
except in the one test that knocks on a real closed port.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from artreport.client import (
    MAX_RELOGINS,
    RENEW_MARGIN_SECONDS,
    SESSION_LIFETIME_SECONDS,
    ClientEvent,
    EventKind,
    Outcome,
    PlatformClient,
    SessionCache,
    classify,
    encode_body,
    make_token,
)
from artreport.client.answers import affected_rows, read_answer
from artreport.config import Config
from artreport.errors import (
    EXIT_AUTH,
    EXIT_UNREACHABLE,
    AuthError,
    ConfigError,
    StoppedError,
    UnreachableError,
)
from artreport.state import open_private, state_dir, write_private

BASE_URL = "https://platform.test/zj"
ORGID = "330100123"
KEY = "Zk9-secret-KEY-7731"
# Computed outside Python: printf '%s' '330100123Zk9-secret-KEY-7731' | md5sum
TOKEN = "B62DA896F472BA2816AD58C61178BAC3"
ROWS = [{"cycleid": "C1", "orgid": ORGID, "wName": "王芳"}, {"cycleid": "C2", "orgid": ORGID}]

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def private_state(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTREPORT_HOME", str(tmp_path / "home"))
    for name in ("ARTREPORT_CONFIG", "ARTREPORT_BASE_URL", "ARTREPORT_ORGID", "ARTREPORT_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


class FakeClock:
    """``time.time`` and ``time.sleep`` for the client: sleeping only moves the time on."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def envelope(code: int, msg: str = "", data: Any = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"msg": msg, "code": code, "data": data})


class FakePlatform:
    """Checks credentials like the real platform and remembers whether the token is logged in.
    Data calls first consume ``script`` (responses, exceptions to raise, or handlers)."""

    def __init__(
        self, *, key: str = KEY, script: list[Any] | None = None, expire_after: int = 0
    ) -> None:
        self.token = make_token(ORGID, key)
        self.logged_in = False
        #: With N > 0, a login serves N authenticated requests and then expires.
        self.expire_after = expire_after
        self.served = 0
        self.logins = 0
        self.requests: list[httpx.Request] = []
        self.script = list(script or [])
        self._lock = threading.Lock()

    @property
    def data_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != "/zj/art/login"]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            step = self.script.pop(0) if self.script and "login" not in request.url.path else None
        if request.url.path == "/zj/art/login":
            if json.loads(request.content)["token"] != self.token:
                return envelope(40002, "校验失败，请检查校验码")
            with self._lock:
                self.logins += 1
                self.logged_in = True
                self.served = 0
            return envelope(0, "请求成功")
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, httpx.Response):
            # A copy, so that one scripted answer can be given many times.
            return httpx.Response(step.status_code, headers=step.headers, content=step.content)
        if step is not None:
            return step(request)
        if request.headers.get("token") != self.token:
            return envelope(40002, "校验失败，请检查校验码")
        with self._lock:
            if self.logged_in and self.expire_after:
                self.served += 1
                self.logged_in = self.served < self.expire_after
            elif not self.logged_in:
                return envelope(40003, "验签已过期或未登录")
        rows = json.loads(request.content) if request.method == "POST" else []
        return envelope(0, "请求成功", len(rows))


def make_config(**overrides: Any) -> Config:
    settings: dict[str, Any] = {
        "base_url": BASE_URL,
        "orgid": ORGID,
        "key": KEY,
        "retries": 4,
        "retry_max_seconds": 60.0,
    }
    settings.update(overrides)
    return Config(**settings)


def make_client(
    handler: Handler,
    clock: FakeClock,
    events: list[ClientEvent] | None = None,
    cache: SessionCache | None = None,
    **overrides: Any,
) -> PlatformClient:
    return PlatformClient(
        make_config(**overrides),
        transport=httpx.MockTransport(handler),
        session_cache=cache,
        sleep=clock.sleep,
        clock=clock,
        on_event=events.append if events is not None else None,
    )


# -- the classification table -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (0, Outcome.SUCCESS),
        (200, Outcome.SUCCESS),
        (40001, Outcome.AUTH),
        (40002, Outcome.AUTH),
        (40004, Outcome.AUTH),
        (40009, Outcome.AUTH),
        (40003, Outcome.EXPIRED),
        (40000, Outcome.DATA),
        (40005, Outcome.DATA),
        (40006, Outcome.DATA),
        (40007, Outcome.DATA),
        (40008, Outcome.DATA),
        (500, Outcome.DATA),
        (40010, Outcome.DATA),  # not in the spec
        (401, Outcome.AUTH),  # a Java platform's security layer, in the envelope
        (403, Outcome.AUTH),
        (1, Outcome.DATA),
        (-1, Outcome.DATA),
    ],
)
def test_classify(code, outcome):
    assert classify(code) is outcome


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"msg":"ok","code":0,"data":2}', 0),
        (b'{"code":"200","msg":null}', 200),
        ('{"code":40006,"msg":"数据不存在"}'.encode(), 40006),
        (b"<html><body>502 Bad Gateway</body></html>", None),
        (b"", None),
        (b'{"status":503,"error":"Service Unavailable"}', None),
        (b"[1, 2]", None),
        (b'{"code":true}', None),
        (b'{"code":"OK"}', None),
        (b"\xff\xfe", None),
    ],
)
def test_read_answer_accepts_only_the_envelope(body, code):
    answer = read_answer(body)
    assert (answer.code if answer else None) == code


@pytest.mark.parametrize(
    ("data", "count"),
    [
        (200, 200),
        (0, 0),
        ("200", 200),
        (" 200 ", 200),
        ("200.0", 200),
        (200.0, 200),
        (-2, None),  # JDBC's SUCCESS_NO_INFO
        (-2147482646, None),  # MyBatis's batch executor
        ("-2", None),
        (2.5, None),
        (float("nan"), None),
        ("二百", None),
        ("9" * 5000, None),  # no count, and no OverflowError either
        (1e300, None),
        ("１２", None),  # not a count a Java platform writes
        (True, None),
        (False, None),
        (None, None),
        ([200], None),
        ({"count": 200}, None),
    ],
)
def test_affected_rows_reads_a_count_in_any_json_type_and_nothing_else(data, count):
    assert affected_rows(data) == count


@pytest.mark.parametrize(
    ("msg", "said"),
    [
        ({"cycleid": "不能为空"}, '{"cycleid": "不能为空"}'),
        (["周期ID不能为空", "日期格式错误"], '["周期ID不能为空", "日期格式错误"]'),
        (None, ""),
        (12, "12"),
    ],
)
def test_a_message_that_is_no_text_is_said_as_json(msg, said):
    body = json.dumps({"code": 500, "msg": msg, "data": None}, ensure_ascii=False).encode()
    answer = read_answer(body)
    assert answer is not None and answer.msg == said


def gbk_envelope(
    code: int, msg: str, data: Any = None, charset: str | None = "GBK"
) -> httpx.Response:
    body = json.dumps({"msg": msg, "code": code, "data": data}, ensure_ascii=False).encode("gbk")
    content_type = "application/json" + (f";charset={charset}" if charset else "")
    return httpx.Response(200, headers={"content-type": content_type}, content=body)


def test_an_answer_in_the_charset_it_declares_is_read():
    """Chinese Java back-ends often answer in GBK and say so; the spec's UTF-8 is only the
    default."""
    answers = [
        gbk_envelope(0, "请求成功"),
        gbk_envelope(40007, "必填参数缺失"),
        gbk_envelope(0, "请求成功", 2),
    ]
    with make_client(lambda request: answers.pop(0), FakeClock()) as client:
        refused = client.batch_insert("aCyclerecord", ROWS)
        accepted = client.batch_insert("aCyclerecord", ROWS)
    assert (refused.code, refused.msg, refused.outcome) == (40007, "必填参数缺失", Outcome.DATA)
    assert (accepted.code, accepted.data, accepted.attempts) == (0, 2, 1)


@pytest.mark.parametrize(
    ("charset", "body", "msg"),
    [
        # Jackson, told to produce GBK, says so and writes UTF-8.
        ("GBK", "周期ID已存在于其他机构".encode(), "周期ID已存在于其他机构"),
        ("gb2312", "验签已过期或未登录".encode(), "验签已过期或未登录"),
        # Spring's StringHttpMessageConverter labels everything ISO-8859-1.
        ("ISO-8859-1", "周期ID已存在于其他机构".encode(), "周期ID已存在于其他机构"),
        # Really GBK, and valid UTF-8 too ('ȱʧ', 'δ֪'): read as declared.
        ("GBK", "缺失".encode("gbk"), "缺失"),
        ("GBK", "未知".encode("gbk"), "未知"),
        ("GBK", "必填参数缺失".encode("gbk"), "必填参数缺失"),
        ("ISO-8859-1", "Donn\u00e9es".encode("latin-1"), "Donn\u00e9es"),
    ],
)
def test_utf8_under_a_legacy_label_is_read_as_utf8_and_the_label_otherwise(charset, body, msg):
    envelope_bytes = b'{"msg":"' + body + b'","code":500,"data":null}'
    answer = read_answer(envelope_bytes, charset)
    assert answer is not None and answer.msg == msg


@pytest.mark.parametrize("charset", [None, "UTF-8"])
def test_an_envelope_in_bytes_of_another_charset_is_said_unreadable_at_once(charset):
    """Retried until the budget ran out and then called a network failure, it sent IT after
    the network."""
    logins = []

    def handler(request: httpx.Request) -> httpx.Response:
        logins.append(request)
        return gbk_envelope(0, "请求成功", charset=charset)

    with make_client(handler, FakeClock()) as client, pytest.raises(UnreachableError) as caught:
        client.login()
    assert len(logins) == 1
    assert (caught.value.code, caught.value.exit_code) == ("client-answer-unreadable", 4)
    assert "could not be read (charset UTF-8)" in caught.value.message("en")
    assert "Cannot reach" not in caught.value.message("en")


# -- login and requests -----------------------------------------------------------------------


def test_login_sends_upper_case_md5_and_calls_carry_headers():
    platform = FakePlatform()
    with make_client(platform, FakeClock()) as client:
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert make_token(ORGID, KEY) == TOKEN
    login, insert = platform.requests
    assert login.method == "POST" and login.url == f"{BASE_URL}/art/login"
    assert json.loads(login.content) == {"key": KEY, "orgid": ORGID, "token": TOKEN}
    assert "token" not in login.headers
    assert insert.method == "POST" and insert.url == f"{BASE_URL}/art/aCyclerecord/batchInsert"
    assert (insert.headers["orgid"], insert.headers["token"]) == (ORGID, TOKEN)
    assert insert.headers["content-type"] == "application/json"
    assert json.loads(insert.content) == ROWS
    # What the pipeline measures to cap chunks in bytes is exactly what is sent.
    assert insert.content == encode_body(ROWS)
    assert "王芳".encode() in insert.content
    assert (answer.code, answer.data, answer.outcome, answer.attempts) == (0, 2, Outcome.SUCCESS, 1)


def test_a_pre_encoded_batch_is_sent_as_given():
    body = b'[{"cycleid":"C1","orgid":"330100123"}]'
    platform = FakePlatform()
    with make_client(platform, FakeClock()) as client:
        answer = client.batch_insert_body("aCyclerecord", body)
    (request,) = platform.data_requests
    assert request.content == body
    assert request.headers["content-type"] == "application/json"
    assert (answer.outcome, answer.data) == (Outcome.SUCCESS, 1)


def test_delete_is_a_get_with_the_parameters_in_the_query():
    platform = FakePlatform(script=[envelope(40006, "数据不存在")])
    with make_client(platform, FakeClock()) as client:
        answer = client.delete("aCyclerecord", {"cycleid": "C1", "orgid": ORGID})
    (request,) = platform.data_requests
    assert request.method == "GET"
    assert request.url.path == "/zj/art/aCyclerecord/delete"
    assert dict(request.url.params) == {"cycleid": "C1", "orgid": ORGID}
    assert request.headers["token"] == TOKEN
    assert (answer.code, answer.msg, answer.outcome) == (40006, "数据不存在", Outcome.DATA)


def test_data_answers_are_returned_not_raised():
    platform = FakePlatform(script=[envelope(40008, "男女双方姓名不可同时为空")])
    with make_client(platform, FakeClock()) as client:
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert (answer.code, answer.outcome) == (40008, Outcome.DATA)


def test_http_500_carrying_the_envelope_is_the_platform_answering_not_a_gateway():
    clock = FakeClock()
    platform = FakePlatform(script=[envelope(500, "业务错误", status=500)])
    with make_client(platform, clock) as client:
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert (answer.code, answer.outcome) == (500, Outcome.DATA)
    assert clock.sleeps == []


def test_a_gateway_size_limit_is_a_data_answer_sent_once():
    clock = FakeClock()
    too_large = httpx.Response(413, html="<html><title>413 Request Entity Too Large</title></html>")
    platform = FakePlatform(script=[too_large])
    with make_client(platform, clock) as client:
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert (answer.code, answer.outcome, answer.attempts) == (413, Outcome.TOO_LARGE, 1)
    assert answer.msg == "HTTP 413 Request Entity Too Large"
    assert clock.sleeps == []


# -- sessions ---------------------------------------------------------------------------------


def test_40003_logs_in_once_more_and_replays_the_request():
    platform = FakePlatform()
    events: list[ClientEvent] = []
    with make_client(platform, FakeClock(), events) as client:
        client.batch_insert("aCyclerecord", ROWS)
        platform.logged_in = False  # the platform forgets the login, as after 2 hours
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert platform.logins == 2
    assert len(platform.data_requests) == 3
    assert platform.data_requests[-1].content == platform.data_requests[-2].content
    assert (answer.outcome, answer.attempts) == (Outcome.SUCCESS, 2)
    assert [(e.kind, e.reason) for e in events] == [
        (EventKind.LOGIN, ""),
        (EventKind.RELOGIN, "40003"),
    ]


@pytest.mark.parametrize(
    ("elapsed", "logins"),
    [
        (SESSION_LIFETIME_SECONDS - RENEW_MARGIN_SECONDS - 1, 1),
        (SESSION_LIFETIME_SECONDS - RENEW_MARGIN_SECONDS + 1, 2),
        (SESSION_LIFETIME_SECONDS + 1, 2),
    ],
)
def test_logs_in_again_before_the_session_expires(elapsed, logins):
    clock = FakeClock()
    platform = FakePlatform()
    with make_client(platform, clock) as client:
        client.batch_insert("aCyclerecord", ROWS)
        clock.now += elapsed
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert platform.logins == logins
    assert answer.attempts == 1  # renewed before sending, never answered 40003


def test_concurrent_40003_answers_lead_to_one_login():
    workers = 6
    platform = FakePlatform()
    everyone_refused = threading.Barrier(workers, timeout=10)

    def handler(request: httpx.Request) -> httpx.Response:
        if "login" not in request.url.path and not platform.logged_in:
            # Every worker's request is refused before any of them can log in again.
            everyone_refused.wait()
            return envelope(40003, "验签已过期或未登录")
        return platform(request)

    events: list[ClientEvent] = []
    with make_client(handler, FakeClock(), events, concurrency=workers) as client:
        client.login()
        platform.logged_in = False
        answers: list[Any] = []

        def work() -> None:
            answers.append(client.batch_insert("aCyclerecord", ROWS))

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert [a.outcome for a in answers] == [Outcome.SUCCESS] * workers
    assert platform.logins == 2
    assert [e.kind for e in events].count(EventKind.RELOGIN) == 1


def test_sessions_that_expire_every_request_starve_no_worker():
    # Four workers share logins that each serve one request: a worker may meet 40003 many times
    # in a row while the others succeed. That is progress, not a platform stuck on 40003.
    workers, per_worker = 4, 25
    platform = FakePlatform(expire_after=1)
    answers: list[Any] = []
    with make_client(platform, FakeClock(), concurrency=workers) as client:

        def work() -> None:
            for _ in range(per_worker):
                answers.append(client.batch_insert("aCyclerecord", ROWS))

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert [a.outcome for a in answers] == [Outcome.SUCCESS] * workers * per_worker


def test_a_platform_that_always_answers_40003_ends_in_an_error():
    platform = FakePlatform()
    always_expired = [envelope(40003, "验签已过期或未登录")] * (MAX_RELOGINS + 5)
    platform.script = list(always_expired)
    with make_client(platform, FakeClock()) as client, pytest.raises(UnreachableError) as caught:
        client.batch_insert("aCyclerecord", ROWS)
    assert caught.value.code == "client-session-keeps-expiring"
    assert platform.logins == 1 + MAX_RELOGINS
    # Every login was accepted: the platform's fault, not the key's (exit 3 sent IT to it).
    assert caught.value.exit_code == EXIT_UNREACHABLE
    assert "not in the orgid or key" in caught.value.message("en")


@pytest.mark.parametrize(
    ("code", "message_code"),
    [
        (40001, "client-auth-missing-fields"),
        (40002, "client-auth-bad-key"),
        (40004, "client-auth-unknown-org"),
        (40009, "client-auth-org-mismatch"),
    ],
)
def test_refused_login_is_an_auth_error_and_final(code, message_code):
    logins = []

    def handler(request: httpx.Request) -> httpx.Response:
        logins.append(request)
        return envelope(code, "平台的说明")

    with make_client(handler, FakeClock()) as client:
        with pytest.raises(AuthError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
        # Workers that come later must not knock again with credentials that were refused.
        with pytest.raises(AuthError):
            client.batch_insert("aCyclerecord", ROWS)
    assert (caught.value.code, caught.value.exit_code) == (message_code, EXIT_AUTH)
    assert "平台的说明" in caught.value.message("zh")
    assert len(logins) == 1


@pytest.mark.parametrize("code", [40000, 40010])
def test_a_login_failing_on_the_platforms_side_is_no_credentials_problem(code):
    """A business or system error at login: exit 4 (the next run gets over it), not exit 3
    with advice to check a key that may be right."""
    logins = []

    def handler(request: httpx.Request) -> httpx.Response:
        logins.append(request)
        return envelope(code, "系统维护中")

    with make_client(handler, FakeClock()) as client:
        with pytest.raises(UnreachableError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
        with pytest.raises(UnreachableError):
            client.batch_insert("aCyclerecord", ROWS)
    assert (caught.value.code, caught.value.exit_code) == ("client-login-failed", EXIT_UNREACHABLE)
    assert "系统维护中" in caught.value.message("zh")
    assert "not a problem with the orgid or key" in caught.value.message("en")
    assert len(logins) == 1


def test_a_login_failing_with_a_business_error_is_retried_then_no_credentials_problem():
    """Code 500 ("业务错误") at login: one blip used to cost the night's upload."""
    logins = []

    def handler(request: httpx.Request) -> httpx.Response:
        logins.append(request)
        return envelope(500, "业务错误：数据库连接失败")

    clock = FakeClock()
    with make_client(handler, clock, retries=3) as client:
        with pytest.raises(UnreachableError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
        with pytest.raises(UnreachableError):
            client.batch_insert("aCyclerecord", ROWS)
    assert len(logins) == 4  # the first and 3 retries, then final for the run
    assert len(clock.sleeps) == 3
    assert (caught.value.code, caught.value.exit_code) == ("client-login-failed", EXIT_UNREACHABLE)
    assert "数据库连接失败" in caught.value.message("zh")


def test_a_login_failing_once_with_a_business_error_gets_over_it():
    logins = []
    events: list[ClientEvent] = []

    def handler(request: httpx.Request) -> httpx.Response:
        logins.append(request)
        return envelope(500, "业务错误") if len(logins) == 1 else envelope(0, "请求成功")

    with make_client(handler, FakeClock(), events) as client:
        client.login()
    assert len(logins) == 2
    (retrying,) = [e for e in events if e.kind is EventKind.RETRYING]
    assert retrying.message("en").startswith("the platform answered code 500 (业务错误).")


@pytest.mark.parametrize("code", [40001, 40002, 40004, 40009])
def test_auth_codes_on_a_data_call_stop_the_run(code):
    platform = FakePlatform(script=[envelope(code, "拒绝")])
    with make_client(platform, FakeClock()) as client, pytest.raises(AuthError) as caught:
        client.batch_insert("aCyclerecord", ROWS)
    assert caught.value.exit_code == EXIT_AUTH
    assert len(platform.data_requests) == 1


def test_wrong_key_is_refused_at_login():
    platform = FakePlatform(key="the-real-key")
    with make_client(platform, FakeClock()) as client, pytest.raises(AuthError) as caught:
        client.login()
    assert caught.value.code == "client-auth-bad-key"


# -- the session cache ------------------------------------------------------------------------


def test_cached_login_is_owner_only_holds_no_secret_and_is_reused(tmp_path):
    clock = FakeClock()
    cache = SessionCache(tmp_path / "home" / "sessions")
    first = FakePlatform()
    with make_client(first, clock, cache=cache) as client:
        session = client.login()
    path = cache.path_for(BASE_URL, ORGID)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    for secret in (KEY, TOKEN, TOKEN.lower()):
        assert secret not in text
    assert session.reused is False

    # A later command: the platform still remembers the login, so nobody logs in again.
    later = FakePlatform()
    later.logged_in = True
    clock.now += 60 * 60
    with make_client(later, clock, cache=cache) as client:
        assert client.login().reused is True
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert later.logins == 0
    assert answer.outcome is Outcome.SUCCESS


@pytest.mark.parametrize(
    ("key", "elapsed", "reused"),
    [
        (KEY, 10, True),
        ("another-key", 10, False),  # a login made with another key proves nothing
        (KEY, SESSION_LIFETIME_SECONDS - RENEW_MARGIN_SECONDS + 1, False),
        (KEY, -3600, False),  # logged in "in the future": the clock was changed
    ],
)
def test_cached_login_is_reused_only_with_the_same_key_and_before_expiry(
    tmp_path, key, elapsed, reused
):
    clock = FakeClock()
    cache = SessionCache(tmp_path / "sessions")
    with make_client(FakePlatform(), clock, cache=cache) as client:
        client.login()
    clock.now += elapsed
    platform = FakePlatform(key=key)
    with make_client(platform, clock, cache=cache, key=key) as client:
        session = client.login()
    assert session.reused is reused
    assert platform.logins == (0 if reused else 1)


def test_forced_login_ignores_the_cache(tmp_path):
    clock = FakeClock()
    cache = SessionCache(tmp_path / "sessions")
    with make_client(FakePlatform(), clock, cache=cache) as client:
        client.login()
    platform = FakePlatform()
    with make_client(platform, clock, cache=cache) as client:
        assert client.login(force=True).reused is False
    assert platform.logins == 1


def test_unreadable_cache_file_means_no_cache(tmp_path):
    cache = SessionCache(tmp_path / "sessions")
    cache.directory.mkdir()
    cache.path_for(BASE_URL, ORGID).write_text("{not json")
    platform = FakePlatform()
    with make_client(platform, FakeClock(), cache=cache) as client:
        assert client.login().reused is False
    assert platform.logins == 1


def test_a_cache_that_cannot_be_saved_is_said_once_and_the_calls_go_on(tmp_path):
    """Only ``artreport login`` fails on it (``required``): for an upload the cache is an
    optimisation, and each login again after a 40003 must not say it again."""
    (tmp_path / "sessions").write_text("a file where the folder belongs")
    platform = FakePlatform(expire_after=1)
    events: list[ClientEvent] = []
    with make_client(platform, FakeClock(), events, SessionCache(tmp_path / "sessions")) as client:
        for _ in range(3):
            assert client.batch_insert("aCyclerecord", ROWS).outcome is Outcome.SUCCESS
    assert platform.logins == 3
    [unsaved] = [e for e in events if e.kind is EventKind.CACHE_UNSAVED]
    assert unsaved.path == str(tmp_path / "sessions") and unsaved.reason
    required = SessionCache(tmp_path / "sessions", required=True)
    with (
        make_client(FakePlatform(), FakeClock(), cache=required) as client,
        pytest.raises(ConfigError) as caught,
    ):
        client.login()
    assert caught.value.code == "state-dir-unusable"


# -- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, html="<html><body>503 Service Temporarily Unavailable</body></html>"),
        httpx.Response(502, text=""),
        httpx.Response(504, json={"code": 504, "msg": "gateway timeout"}),
        httpx.Response(429, text="slow down"),
        httpx.Response(500, html="<h1>Internal Server Error</h1>"),
        httpx.Response(200, html="<html>请先登录上网认证</html>"),  # a captive portal
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.WriteError("[Errno 32] Broken pipe"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
    ],
    ids=lambda f: type(f).__name__ if isinstance(f, Exception) else f"HTTP-{f.status_code}",
)
def test_transient_failure_then_success(failure):
    clock = FakeClock()
    events: list[ClientEvent] = []
    platform = FakePlatform(script=[failure])
    with make_client(platform, clock, events) as client:
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert (answer.outcome, answer.data, answer.attempts) == (Outcome.SUCCESS, 2, 2)
    # The replayed request is the same batch: safe, because batchInsert is an upsert.
    first, second = platform.data_requests
    assert first.content == second.content
    assert len(clock.sleeps) == 1
    (retrying,) = [e for e in events if e.kind is EventKind.RETRYING]
    assert (retrying.attempt, retrying.url) == (2, f"{BASE_URL}/art/aCyclerecord/batchInsert")


def test_a_connection_closed_mid_answer_is_worded_for_people_and_kept_as_is_for_the_log():
    """'RemoteProtocolError: peer closed connection …' stood in the Chinese messages."""
    cut = "peer closed connection without sending complete message body (incomplete chunked read)"
    events: list[ClientEvent] = []
    platform = FakePlatform(script=[httpx.RemoteProtocolError(cut)] * 10)
    with make_client(platform, FakeClock(), events, retries=1) as client:
        client.login()
        with pytest.raises(UnreachableError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
    assert "应答传到一半时连接断开" in caught.value.message("zh")
    assert "RemoteProtocolError" not in caught.value.message("zh")
    (retrying,) = [e for e in events if e.kind is EventKind.RETRYING]
    assert "RemoteProtocolError" not in retrying.message("zh")
    assert retrying.message("en").startswith("the connection closed in the middle of the answer.")
    assert retrying.log_line().endswith(f"[RemoteProtocolError: {cut}]")


@pytest.mark.parametrize(
    ("failures", "may_have_arrived"),
    [
        ([httpx.ReadError("[Errno 104] Connection reset by peer")] * 3, True),
        ([httpx.ConnectError("[Errno 111] Connection refused")] * 3, False),
    ],
)
def test_giving_up_says_whether_a_copy_may_have_arrived(
    failures: list[Exception], may_have_arrived: bool
) -> None:
    """Rows whose every answer was lost were reported "not sent", though the platform may
    hold them; rows never delivered are not sent."""
    platform = FakePlatform(script=failures)
    with make_client(platform, FakeClock(), retries=2) as client:
        client.login()
        with pytest.raises(UnreachableError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
    assert caught.value.params["may_have_arrived"] is may_have_arrived


def test_an_answer_that_cannot_be_decoded_is_tried_again():
    """A gateway marking gzip a body that is not: httpx raises DecodingError on reading it,
    which used to end the run as an internal error, with no summary and no report."""

    def mislabelled(request: httpx.Request) -> httpx.Response:
        body = httpx.ByteStream(b'{"code": 0, "msg": "", "data": 2}')
        return httpx.Response(200, headers={"content-encoding": "gzip"}, stream=body)

    clock = FakeClock()
    platform = FakePlatform(script=[mislabelled])
    with make_client(platform, clock) as client:
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert (answer.outcome, answer.attempts) == (Outcome.SUCCESS, 2)


def test_backoff_grows_and_stays_within_its_ceiling():
    clock = FakeClock()
    platform = FakePlatform(script=[httpx.ConnectError("refused")] * 4)
    with make_client(platform, clock, retries=4, retry_max_seconds=1000) as client:
        client.batch_insert("aCyclerecord", ROWS)
    assert len(clock.sleeps) == 4
    for number, slept in enumerate(clock.sleeps, start=1):
        assert 0 <= slept <= 0.5 * 2 ** (number - 1)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        ("7", 7.0),
        (lambda now: email.utils.formatdate(now + 30, usegmt=True), 30.0),
    ],
    ids=["seconds", "http-date"],
)
def test_retry_after_is_honoured(retry_after, expected):
    clock = FakeClock()
    value = retry_after(clock.now) if callable(retry_after) else retry_after
    events: list[ClientEvent] = []
    platform = FakePlatform(script=[httpx.Response(429, headers={"Retry-After": value})])
    with make_client(platform, clock, events) as client:
        answer = client.batch_insert("aCyclerecord", ROWS)
    assert answer.outcome is Outcome.SUCCESS
    assert clock.sleeps == [pytest.approx(expected, abs=1)]
    assert [e.kind for e in events if e.kind is not EventKind.LOGIN] == [EventKind.RETRY_AFTER]


def test_retry_after_beyond_the_budget_gives_up_at_once():
    clock = FakeClock()
    platform = FakePlatform(script=[httpx.Response(503, headers={"Retry-After": "3600"})])
    with make_client(platform, clock, retry_max_seconds=60) as client:
        client.login()
        with pytest.raises(UnreachableError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
    assert clock.sleeps == []
    assert len(platform.data_requests) == 1
    # The platform said when to come back: no advice to check the network.
    assert caught.value.code == "client-asked-to-wait"
    assert "come back in 3600 s" in caught.value.message("en")
    assert "3600 秒后再试" in caught.value.message("zh")


@pytest.mark.parametrize(
    ("retry_after", "en", "zh"),
    [
        ("99999999999999999999", "come back in more than a day (", "要求 一天以上后再试"),
        ("18000", "come back in about 5 hours (", "要求 约 5 小时后再试"),
    ],
)
def test_a_long_retry_after_is_said_readably(retry_after, en, zh):
    """The header's absurd value was echoed: 'come back in 100000000000000000000 s'."""
    platform = FakePlatform(script=[httpx.Response(429, headers={"Retry-After": retry_after})])
    with make_client(platform, FakeClock()) as client:
        client.login()
        with pytest.raises(UnreachableError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
    assert en in caught.value.message("en")
    assert zh in caught.value.message("zh")


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (httpx.Response(404, html="<h1>Not Found</h1>"), "HTTP 404 Not Found"),
        (httpx.Response(403, text="denied"), "HTTP 403 Forbidden"),
        (
            httpx.Response(302, headers={"location": "https://portal.test/login?next=x"}),
            "redirected to: https://portal.test/login)",
        ),
    ],
    ids=["404", "403", "302"],
)
def test_an_address_that_is_not_the_platform_is_said_at_once(answer, said):
    """A wrong path, a proxy refusing, a portal's login page: the same on every attempt. They
    were retried, then reported as a network failure."""
    platform = FakePlatform(script=[answer])
    with make_client(platform, FakeClock()) as client:
        client.login()
        with pytest.raises(UnreachableError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
    assert len(platform.data_requests) == 1
    assert caught.value.code == "client-not-the-platform"
    assert said in caught.value.message("en")
    assert "base_url" in caught.value.message("zh")


LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>统一身份认证平台</title></head><body>"
    '<form action="/cas/login" method="post"><input name="username">'
    '<input name="password" type="password"></form></body></html>'
)


def test_a_login_page_answering_in_place_of_the_platform_is_said_at_once_with_its_title():
    """A gateway's or single sign-on's login page, served with HTTP 200: retried for the
    whole budget, it was reported as a network failure that the next run would get over."""
    requests = []

    def portal(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, html=LOGIN_PAGE)

    with make_client(portal, FakeClock()) as client, pytest.raises(UnreachableError) as caught:
        client.login()
    assert len(requests) == 1
    assert (caught.value.code, caught.value.exit_code) == ("client-login-page", EXIT_UNREACHABLE)
    assert "page title: 统一身份认证平台" in caught.value.message("en")
    assert "页面标题：统一身份认证平台" in caught.value.message("zh")
    # Also when only the data calls meet it.
    platform = FakePlatform(script=[httpx.Response(200, html=LOGIN_PAGE)] * 5)
    with make_client(platform, FakeClock()) as client, pytest.raises(UnreachableError) as caught:
        client.batch_insert("aCyclerecord", ROWS)
    assert len(platform.data_requests) == 1
    assert caught.value.code == "client-login-page"


def test_a_page_that_keeps_coming_instead_of_the_answer_is_not_called_a_network_failure():
    clock = FakeClock()
    events: list[ClientEvent] = []
    busy = httpx.Response(
        200, html="<html><head><title>系统繁忙</title></head><h1>请稍后</h1></html>"
    )
    platform = FakePlatform(script=[busy] * 10)
    with make_client(platform, clock, events, retries=3) as client:
        client.login()
        with pytest.raises(UnreachableError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
    assert len(platform.data_requests) == 4
    message = caught.value.message("en")
    assert caught.value.code == "client-no-answer"
    assert "never as the platform answers" in message and "“系统繁忙”" in message
    assert "Check the network" not in message
    retrying = [e.message("en") for e in events if e.kind is EventKind.RETRYING]
    assert retrying[0].startswith(
        "a web page titled “系统繁忙” (HTTP 200 (text/html)) instead of the platform's answer. "
        "Trying again in"
    )


def test_a_platform_limiting_requests_is_said_so_not_blamed_on_the_network():
    platform = FakePlatform(script=[httpx.Response(429, headers={"Retry-After": "1"})] * 10)
    with make_client(platform, FakeClock(), retries=3) as client:
        client.login()
        with pytest.raises(UnreachableError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
    assert len(platform.data_requests) == 4
    assert (caught.value.code, caught.value.exit_code) == ("client-rate-limited", EXIT_UNREACHABLE)
    assert "is limiting requests (HTTP 429" in caught.value.message("en")
    assert "Check the network" not in caught.value.message("en")


@pytest.mark.parametrize(
    ("base_url", "location", "suggested"),
    [
        (
            "http://platform.test/zj",
            "https://platform.test/zj/art/login",
            "https://platform.test/zj",
        ),
        ("http://platform.test:8080", "https://platform.test:8443/", "https://platform.test:8443"),
    ],
)
def test_a_redirect_from_http_to_https_says_which_base_url_to_use(base_url, location, suggested):
    def moved(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"location": location})

    with (
        make_client(moved, FakeClock(), base_url=base_url) as client,
        pytest.raises(UnreachableError) as caught,
    ):
        client.login()
    assert caught.value.code == "client-redirected-to-https"
    assert f"Change base_url in the config to {suggested};" in caught.value.message("en")
    assert f"base_url 改为 {suggested}。" in caught.value.message("zh")


def test_a_redirect_to_a_portal_over_https_is_no_move_to_https():
    def portal(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "https://sso.test/login?service=x"})

    with (
        make_client(portal, FakeClock(), base_url="http://platform.test") as client,
        pytest.raises(UnreachableError) as caught,
    ):
        client.login()
    assert caught.value.code == "client-not-the-platform"


def test_the_reason_for_a_retry_is_in_no_language():
    events: list[ClientEvent] = []
    platform = FakePlatform(script=[httpx.Response(503, html="<p>busy</p>")])
    with make_client(platform, FakeClock(), events) as client:
        client.batch_insert("aCyclerecord", ROWS)
    (retrying,) = [e for e in events if e.kind is EventKind.RETRYING]
    assert retrying.reason == "HTTP 503 (text/html)"


def test_retries_exhausted_is_unreachable_naming_the_url_without_query():
    clock = FakeClock()
    always_down = [httpx.Response(503, html="<html>down</html>")] * 10
    platform = FakePlatform(script=always_down)
    with make_client(platform, clock, retries=3) as client:
        client.login()
        with pytest.raises(UnreachableError) as caught:
            client.delete("aCyclerecord", {"cycleid": "C-4711", "orgid": ORGID})
    error = caught.value
    assert error.exit_code == EXIT_UNREACHABLE
    assert len(platform.data_requests) == 4  # the first attempt and 3 retries
    assert f"{BASE_URL}/art/aCyclerecord/delete" in error.message("en")
    assert "HTTP 503" in error.message("en")
    assert "C-4711" not in str(error) and "C-4711" not in error.message("zh")


def test_retries_stop_when_the_time_budget_is_spent():
    clock = FakeClock()
    start = clock.now
    platform = FakePlatform(script=[httpx.ConnectError("refused")] * 1000)
    with make_client(platform, clock, retries=1000, retry_max_seconds=10) as client:
        client.login()
        with pytest.raises(UnreachableError):
            client.batch_insert("aCyclerecord", ROWS)
    assert clock.now - start <= 10
    assert len(platform.data_requests) < 1000


# -- stopping: the run's stop event, set by SIGINT/SIGTERM ------------------------------------


def test_a_stop_ends_the_pause_between_attempts_at_once_and_starts_no_other():
    stop = threading.Event()
    asked_to_wait = threading.Event()

    def busy(request: httpx.Request) -> httpx.Response:
        asked_to_wait.set()
        return httpx.Response(503, headers={"Retry-After": "30"}, html="<html>busy</html>")

    def signal_during_the_pause() -> None:
        asked_to_wait.wait(10)
        time.sleep(0.2)
        stop.set()

    platform = FakePlatform(script=[busy] * 10)
    events: list[ClientEvent] = []
    config = make_config(retries=1, retry_max_seconds=600)
    transport = httpx.MockTransport(platform)
    with PlatformClient(config, transport=transport, on_event=events.append, stop=stop) as client:
        threading.Thread(target=signal_during_the_pause, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(StoppedError):
            client.batch_insert("aCyclerecord", ROWS)
    assert time.monotonic() - started < 5  # not the 30 s the platform asked for
    assert EventKind.RETRY_AFTER in [e.kind for e in events]  # it was pausing
    assert len(platform.data_requests) == 1


def test_a_request_on_the_wire_when_stopped_is_answered_but_none_starts_after_it():
    clock = FakeClock()
    stop = threading.Event()

    def answer_then_stop(request: httpx.Request) -> httpx.Response:
        stop.set()
        return envelope(0, "请求成功", 2)

    def fail_then_stop(request: httpx.Request) -> httpx.Response:
        stop.set()
        return httpx.Response(503, html="<html>down</html>")

    events: list[ClientEvent] = []
    platform = FakePlatform(script=[answer_then_stop])
    with PlatformClient(
        make_config(), transport=httpx.MockTransport(platform), sleep=clock.sleep, stop=stop
    ) as client:
        assert client.batch_insert("aCyclerecord", ROWS).outcome is Outcome.SUCCESS
        with pytest.raises(StoppedError):
            client.batch_insert("aCyclerecord", ROWS)
    assert len(platform.data_requests) == 1
    # A failed attempt on the wire when the stop came is not retried, nor said to be.
    stop.clear()
    platform = FakePlatform(script=[fail_then_stop])
    with PlatformClient(
        make_config(),
        transport=httpx.MockTransport(platform),
        sleep=clock.sleep,
        on_event=events.append,
        stop=stop,
    ) as client:
        client.login()
        with pytest.raises(StoppedError):
            client.batch_insert("aCyclerecord", ROWS)
    assert len(platform.data_requests) == 1
    assert [e.kind for e in events] == [EventKind.LOGIN]
    assert clock.sleeps == []


def test_a_stopped_client_does_not_even_log_in():
    stop = threading.Event()
    stop.set()
    platform = FakePlatform()
    with (
        PlatformClient(make_config(), transport=httpx.MockTransport(platform), stop=stop) as client,
        pytest.raises(StoppedError) as caught,
    ):
        client.batch_insert("aCyclerecord", ROWS)
    assert platform.requests == []
    assert f"{BASE_URL}/art/login" in caught.value.message("en")


def test_untrusted_certificate_is_not_retried():
    clock = FakeClock()
    cause = ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")
    failure = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]")
    failure.__cause__ = cause
    platform = FakePlatform(script=[failure])
    with make_client(platform, clock) as client:
        client.login()
        with pytest.raises(UnreachableError) as caught:
            client.batch_insert("aCyclerecord", ROWS)
    assert caught.value.code == "client-certificate-rejected"
    assert "ca_bundle" in caught.value.message("en")
    assert clock.sleeps == []


def test_closed_loopback_port_is_unreachable_quickly():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = make_config(
        base_url=f"http://127.0.0.1:{port}", retries=2, retry_max_seconds=2, timeout=2
    )
    started = time.monotonic()
    with PlatformClient(config) as client, pytest.raises(UnreachableError) as caught:
        client.login()
    assert time.monotonic() - started < 10
    assert f"127.0.0.1:{port}" in caught.value.message("en")


# -- a proxy in between -----------------------------------------------------------------------


@pytest.fixture
def proxy_env(monkeypatch):
    """Point HTTPS_PROXY at a loopback port; the platform's own name need not resolve."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)

    def point(port: int, credentials: str = "") -> None:
        monkeypatch.setenv("HTTPS_PROXY", f"http://{credentials}127.0.0.1:{port}")

    return point


def test_a_proxy_refusing_the_connection_is_named_as_the_fault(proxy_env):
    """It was 'cannot reach the platform', with the platform's address refusing."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proxy_env(port, "proxyuser:Proxy-Pa55@")
    config = make_config(base_url="https://platform.invalid", retries=1, timeout=2)
    with (
        PlatformClient(config, sleep=lambda seconds: None) as client,
        pytest.raises(UnreachableError) as caught,
    ):
        client.login()
    message = caught.value.message("en")
    assert f"the proxy 127.0.0.1:{port} (from HTTPS_PROXY) refused the connection" in message
    assert "The fault is the proxy's" in message
    assert f"代理 127.0.0.1:{port}（来自 HTTPS_PROXY）拒绝了连接" in caught.value.message("zh")
    assert "Proxy-Pa55" not in message + caught.value.message("zh") + repr(caught.value.params)


@pytest.mark.parametrize(
    ("credentials", "said"),
    [("", "asks for a login (407 Proxy Authentication Required)"), ("u:Pa55@", "did not accept")],
)
def test_a_proxy_asking_for_a_login_is_said_at_once(
    proxy_env, proxy_asking_for_login, credentials, said
):
    port, asked = proxy_asking_for_login
    proxy_env(port, credentials)
    config = make_config(base_url="https://platform.invalid", retries=3, timeout=5)
    with (
        PlatformClient(config, sleep=lambda seconds: None) as client,
        pytest.raises(UnreachableError) as caught,
    ):
        client.login()
    assert len(asked) == 1  # no retry: it cannot change
    assert asked[0].startswith(b"CONNECT platform.invalid:443")
    message = caught.value.message("en")
    assert f"The proxy 127.0.0.1:{port} (from HTTPS_PROXY) {said}" in message
    assert "Pa55" not in message


# -- secrets ----------------------------------------------------------------------------------


def test_key_and_token_appear_in_no_error_event_answer_or_log(caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    events: list[ClientEvent] = []
    texts: list[str] = []
    echoing = f"bad token {TOKEN} for key {KEY}"  # a platform careless enough to echo them

    def collect_error(error: Exception) -> None:
        texts.extend([str(error), repr(error), error.message("zh"), error.message("en")])
        texts.extend(str(v) for v in error.params.values())
        if error.__cause__ is not None:
            texts.append(str(error.__cause__))

    scenarios: list[tuple[list[Any], Callable[[PlatformClient], Any]]] = [
        ([httpx.ConnectError(f"refused {KEY} {TOKEN}")] * 5, lambda c: c.batch_insert("x", ROWS)),
        ([envelope(40009, echoing)], lambda c: c.batch_insert("x", ROWS)),
        ([envelope(40000, echoing)], lambda c: c.batch_insert("x", ROWS)),
        ([envelope(40003)] * 10, lambda c: c.delete("x", {"id": "1"})),
    ]
    for script, act in scenarios:
        platform = FakePlatform(script=script)
        cache = SessionCache(tmp_path / "sessions")
        with make_client(platform, clock, events, cache=cache, retries=2) as client:
            texts.append(repr(client))
            texts.append(repr(client.login()))
            try:
                answer = act(client)
            except (AuthError, UnreachableError) as error:
                collect_error(error)
            else:
                texts.extend([repr(answer), answer.msg])
    with make_client(lambda r: envelope(40002, echoing), clock, events) as client:
        with pytest.raises(AuthError) as caught:
            client.login()
        collect_error(caught.value)

    texts.extend(repr(e) for e in events)
    texts.extend(e.message(lang) for e in events for lang in ("zh", "en"))
    texts.append(caplog.text)
    assert len(texts) > 20 and any("***" in t for t in texts)  # the scrubbed echoes are there
    for text in texts:
        for secret in (KEY, TOKEN, TOKEN.lower()):
            assert secret not in text


# -- the state directory ----------------------------------------------------------------------


def test_state_dir_prefers_the_environment_and_is_owner_only(tmp_path, monkeypatch):
    home = tmp_path / "env-home"
    monkeypatch.setenv("ARTREPORT_HOME", str(home))
    assert state_dir(Config(state_dir=str(tmp_path / "configured"))) == home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    monkeypatch.delenv("ARTREPORT_HOME")
    assert state_dir(Config(state_dir=str(tmp_path / "configured"))) == tmp_path / "configured"


def test_private_files_are_0600_and_replaced_whole(tmp_path):
    target = tmp_path / "report.csv"
    target.write_text("old")
    os.chmod(target, 0o644)
    write_private(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    with pytest.raises(RuntimeError), open_private(target, "w", encoding="utf-8") as handle:
        handle.write("half a report")
        raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["report.csv"]  # no temporary file left behind


# -- artreport login --------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch):
    """Run ``artreport`` against a fake platform."""
    import artreport.client
    from artreport.cli import app

    def run(platform: Handler, *args: str, **env: str) -> Any:
        monkeypatch.setattr(
            artreport.client,
            "PlatformClient",
            functools.partial(PlatformClient, transport=httpx.MockTransport(platform)),
        )
        environment = {
            "ARTREPORT_BASE_URL": BASE_URL,
            "ARTREPORT_ORGID": ORGID,
            "ARTREPORT_KEY": KEY,
            **env,
        }
        return CliRunner().invoke(app, ["--lang", "en", *args], env=environment)

    return run


def test_cli_login_prints_the_expiry_and_reuses_the_login(cli):
    platform = FakePlatform()
    result = cli(platform, "login")
    assert result.exit_code == 0, result.output
    assert "valid until" in result.stdout
    again = cli(platform, "login")
    assert again.exit_code == 0, again.output
    assert "Reusing the earlier login" in again.stdout
    assert platform.logins == 1
    for secret in (KEY, TOKEN):
        assert secret not in result.output + again.output


def test_cli_login_with_a_wrong_key_exits_3(cli):
    result = cli(FakePlatform(key="the-real-key"), "login", "--force")
    assert result.exit_code == EXIT_AUTH, result.output
    assert "code 40002" in result.stderr
    assert KEY not in result.output and TOKEN not in result.output


def test_cli_login_with_the_platform_down_exits_4(cli, tmp_path):
    config = tmp_path / "artreport.yaml"
    config.write_text("retries: 0\n")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    result = cli(down, "--config", str(config), "login")
    assert result.exit_code == EXIT_UNREACHABLE, result.output
    assert f"{BASE_URL}/art/login" in result.stderr


def test_push_against_a_platform_forgetting_every_login_reports_its_fault_not_the_keys(
    cli, tmp_path
):
    from artreport.fakedata import fake_rows, write_rows
    from artreport.schema import load_schema

    cycle = load_schema().get("cycle")
    export = tmp_path / "cycles.csv"
    write_rows(export, cycle, fake_rows(cycle, 3, orgid=ORGID))
    report = tmp_path / "report.csv"
    platform = FakePlatform(script=[envelope(40003, "验签已过期或未登录")] * 10)
    result = cli(platform, "push", "cycle", str(export), "--report", str(report))
    assert result.exit_code == EXIT_UNREACHABLE, result.output
    text = report.read_text(encoding="utf-8-sig")
    assert "not-sent-unreachable" in text and "not-sent-auth" not in text
    assert "refused our credentials" not in text


def test_the_run_log_keeps_the_librarys_own_words_for_a_failure(cli, tmp_path):
    from artreport.fakedata import fake_rows, write_rows
    from artreport.schema import load_schema

    cycle = load_schema().get("cycle")
    export = tmp_path / "cycles.csv"
    write_rows(export, cycle, fake_rows(cycle, 3, orgid=ORGID))
    cut = "peer closed connection without sending complete message body (incomplete chunked read)"
    platform = FakePlatform(script=[httpx.RemoteProtocolError(cut)])
    result = cli(platform, "--lang", "zh", "push", "cycle", str(export))
    assert result.exit_code == 0, result.output
    assert "应答传到一半时连接断开" in result.stderr and "RemoteProtocolError" not in result.output
    (log,) = (tmp_path / "home" / "logs").glob("*.log")
    assert f"RemoteProtocolError: {cut}" in log.read_text(encoding="utf-8")


def test_only_answers_lost_on_the_way_count_as_lost():
    """A dropped connection may hide a request carried out; a 503, a 429 or a framework's
    500 answered it: delete reads 'not found' after the first kind only as done by the
    first copy."""
    for failure, lost in [
        (httpx.ReadError("[Errno 104] Connection reset by peer"), 1),
        (httpx.ConnectError("[Errno 111] Connection refused"), 0),
        (httpx.Response(503, html="<p>busy</p>"), 0),
        (httpx.Response(500, json={"status": 500, "error": "Internal Server Error"}), 0),
    ]:
        platform = FakePlatform(script=[failure])
        with make_client(platform, FakeClock()) as client:
            answer = client.batch_insert("aCyclerecord", ROWS)
        assert (answer.attempts, answer.lost_answers) == (2, lost), failure
