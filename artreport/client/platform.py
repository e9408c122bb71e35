"""``PlatformClient``: login, batchInsert and delete over httpx, shared by worker threads.

One call goes through three layers::

    batch_insert / delete          returns the Answer (success or data), raises AuthError
     └── _call                     a usable session first; on 40003 log in again and resend
          └── RetryPolicy.run      resend on network failures, 429/502/503/504, non-envelopes,
                                   and start none once the run's stop is set
               └── _attempt        one HTTP request, judged into Answer or TryAgain

The key and the token live only in this object's private attributes and in the requests it
sends; every text that leaves it (errors, events, the platform's messages) is scrubbed of both.
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Any

import httpx

from artreport import __version__
from artreport.client.answers import Answer, Outcome, UnreadableAnswer, read_answer
from artreport.client.deadline import AnswerNotBegun, DeadlineClient
from artreport.client.events import ClientEvent, EventHandler, EventKind
from artreport.client.proxy import Proxy, asks_for_login, proxy_for
from artreport.client.retry import (
    LOST_RESET,
    LOST_TIMEOUT,
    RetryPolicy,
    TryAgain,
    retry_after_seconds,
)
from artreport.client.session import Session, SessionCache, make_token
from artreport.client.tls import cause, certificate_problem
from artreport.config import Config, checked_base_url
from artreport.errors import ArtreportError, AuthError, ConfigError, UnreachableError
from artreport.messages import Phrase

#: Logins in a row made after a 40003 with no other answer in between: past this many, the
#: platform refuses every fresh login and another one will not help.
MAX_RELOGINS = 3

# Gateways and an overloaded platform use these to say "come back later", whatever the body.
_COME_BACK_LATER = frozenset({429, 502, 503, 504})
_TURNED_AWAY = frozenset({429, 503})
_SERVER_FAILED = frozenset({400, 422, 500})
_NOT_THE_PLATFORM = frozenset({401, 403, 404, 405, 407, 410})
_REFUSED_CALLER = frozenset({401, 403})
# What a web application firewall answers a request it blocks for its content (a row holding
# "<script>" or "select … from"): 403, or 405 as Alibaba Cloud's WAF does.
_FIREWALL_BLOCKS = frozenset({403, 405})
LOGIN_PATH = "/art/login"
_LOGIN_RETRY_CODES = frozenset({500})
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_PASSWORD_FIELD = re.compile(r"<input\b[^>]*\btype\s*=\s*[\"']?password", re.IGNORECASE)
_TOO_LARGE = 413
_GATEWAY_TIMEOUT = 504

_AUTH_MESSAGES = {
    40001: "client-auth-missing-fields",
    40002: "client-auth-bad-key",
    40004: "client-auth-unknown-org",
    40009: "client-auth-org-mismatch",
    401: "client-auth-not-authorised",
    403: "client-auth-not-authorised",
}


def encode_body(value: Any) -> bytes:
    """A request body as the platform receives it: compact UTF-8 JSON. Callers that cap chunks in
    bytes measure this."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class PlatformClient:
    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.BaseTransport | None = None,
        session_cache: SessionCache | None = None,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.time,
        on_event: EventHandler | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """``stop`` is the run's (set by SIGINT/SIGTERM): once set, no login or request starts,
        and the pause between attempts ends at once unless ``sleep`` replaces it."""
        config.require("base_url", "orgid", "key")
        self._base_url = checked_base_url(config.base_url)
        self._orgid = config.orgid
        self._key = config.key
        self._token = make_token(config.orgid, config.key)
        self._ca_bundle = config.ca_bundle
        # Parsed once per path: httpx parses a URL given as text at every request, about 70 µs
        # of CPU here, a tenth of what a small batch's whole round trip to the sandbox costs.
        self._urls: dict[str, httpx.URL] = {}
        self._cache = session_cache
        self._clock = clock
        self._on_event: EventHandler = on_event or (lambda event: None)
        stop = stop or threading.Event()
        self._retry = RetryPolicy(
            retries=config.retries,
            max_seconds=config.retry_max_seconds,
            sleep=sleep or stop.wait,
            clock=clock,
            on_event=self._on_event,
            stop=stop,
        )
        # An injected transport is the whole network; with trust_env httpx would route proxied
        # URLs around it. A loopback platform (the sandbox) is never behind the hospital's proxy.
        trust_env = transport is None and not is_loopback(self._base_url)
        self._proxy = proxy_for(httpx.URL(self._base_url)) if trust_env else None
        # ``timeout`` bounds each attempt as a whole, however slowly the platform answers.
        self._http = DeadlineClient(
            timeout=config.timeout,
            verify=tls_context(config),
            trust_env=trust_env,
            limits=httpx.Limits(
                max_connections=config.concurrency,
                max_keepalive_connections=config.concurrency,
            ),
            transport=transport,
            headers={"user-agent": f"artreport/{__version__}"},
        )
        # One login at a time; a worker that waited reuses the session the other one made.
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._generation = 0  # bumped whenever _session changes, to tell stale 40003s apart
        self._login_failure: ArtreportError | None = None
        self._cache_unsaved_told = False
        self._relogins_in_a_row = 0

    def __repr__(self) -> str:
        return f"PlatformClient(base_url={self._base_url!r}, orgid={self._orgid!r})"

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the platform's operations ------------------------------------------------------------

    def login(self, force: bool = False) -> Session:
        """A usable session: the one in hand, else a cached one, else a new login (always a new
        login with ``force``)."""
        with self._lock:
            if not force and self._session is not None and self._session.usable(self._clock()):
                return self._session
            return self._log_in(EventKind.LOGIN, use_cache=not force)

    def batch_insert(self, resource: str, rows: list[dict[str, Any]]) -> Answer:
        """Upload ``rows`` to ``POST /art/<resource>/batchInsert``. A data answer (some row was
        refused; the platform says not which) is returned for the caller to bisect."""
        return self.batch_insert_body(resource, encode_body(rows))

    def batch_insert_body(
        self, resource: str, body: bytes, *, retry_server_failures: bool = True
    ) -> Answer:
        """:meth:`batch_insert` for a JSON array already encoded, so that a pipeline keeping
        rows as bytes never encodes them twice, not even when bisecting.

        ``retry_server_failures=False``: an HTTP 500 from the server's framework, or a web
        page in the platform's place, is answered at once, not retried: for the parts of a
        batch that already failed so after retries, which are being split to find the row at
        fault."""
        path = f"/art/{resource}/batchInsert"
        return self._call("POST", path, content=body, retry_server_failures=retry_server_failures)

    def delete(self, resource: str, params: dict[str, str]) -> Answer:
        """``GET /art/<resource>/delete?<params>``. If the answer to a first copy was lost, the
        resent copy may answer 40006 (not found) for a record that copy deleted: see
        ``Answer.attempts``."""
        return self._call("GET", f"/art/{resource}/delete", params=params)

    # -- sessions -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        retry_server_failures: bool = True,
    ) -> Answer:
        headers = {"orgid": self._orgid, "token": self._token}
        if content is not None:
            headers["content-type"] = "application/json"
        sent = 0
        lost = 0
        while True:
            generation = self._session_generation()
            answer = self._exchange(
                method,
                path,
                content=content,
                params=params,
                headers=headers,
                retry_server_failures=retry_server_failures,
            )
            sent += answer.attempts
            lost += answer.lost_answers
            if answer.outcome is Outcome.EXPIRED:
                # A 40003 means the platform did not process the request, so resending is safe.
                try:
                    self._renew(generation)
                except ArtreportError as error:
                    if not lost:
                        raise
                    # A copy sent before, whose answer was lost, may have been carried out.
                    said = {**error.params, "may_have_arrived": True}
                    raise type(error)(error.code, **said) from None
                continue
            if answer.outcome is Outcome.AUTH:
                raise self._auth_error(answer)
            # The platform took a session of ours: logins are working.
            self._relogins_in_a_row = 0
            return replace(answer, attempts=sent, lost_answers=lost)

    def _session_generation(self) -> int:
        """Make sure a usable session exists, logging in if needed, and say which one it is."""
        with self._lock:
            if self._session is None:
                self._log_in(EventKind.LOGIN, use_cache=True)
            elif not self._session.usable(self._clock()):
                self._log_in(EventKind.RELOGIN, use_cache=True, reason="expiring")
            return self._generation

    def _renew(self, stale_generation: int) -> None:
        """Log in again after a 40003 answered to a request sent with ``stale_generation``,
        unless another worker has done so meanwhile.

        The bound on re-logins is counted for the whole client, not per call: when sessions
        expire after a few requests and several workers share them, one call may meet 40003
        again and again while the others succeed, which is progress, not a stuck platform.
        """
        with self._lock:
            if self._generation != stale_generation:
                return
            if self._relogins_in_a_row >= MAX_RELOGINS:
                # Each of those logins was accepted, so the key is right: the platform fails to
                # keep them (its servers behind a load balancer not sharing sessions). Exit 4,
                # not the exit 3 that sends IT to check the key.
                raise UnreachableError(
                    "client-session-keeps-expiring", count=self._relogins_in_a_row
                )
            self._relogins_in_a_row += 1
            # Not the cache: it holds the very login the platform just called expired.
            self._log_in(EventKind.RELOGIN, use_cache=False, reason="40003")

    def _log_in(self, kind: EventKind, *, use_cache: bool, reason: str = "") -> Session:
        """Called with the lock held. A failed login is final for this client: credentials do
        not heal during a run, and workers queued behind a login that exhausted its retries
        must not each spend the whole retry budget again."""
        if self._login_failure is not None:
            raise _copy(self._login_failure)
        now = self._clock()
        if use_cache and self._cache is not None:
            cached = self._cache.load(self._base_url, self._orgid, self._token)
            if cached is not None and cached.usable(now):
                return self._adopt(cached)
        self._on_event(ClientEvent(kind, self._base_url + LOGIN_PATH, reason=reason))
        body = encode_body({"key": self._key, "orgid": self._orgid, "token": self._token})
        try:
            answer = self._exchange(
                "POST",
                LOGIN_PATH,
                content=body,
                headers={"content-type": "application/json"},
                # A business error at login is the platform failing for a moment as often as
                # for good (its database reconnecting): worth the retries a 503 gets, rather
                # than the night's upload. A data call's code 500 is a verdict on its rows.
                retry_codes=_LOGIN_RETRY_CODES,
            )
            if answer.outcome is Outcome.AUTH:
                raise self._auth_error(answer)
            if answer.outcome is not Outcome.SUCCESS:
                # A business or system error (500, 40000…) at login is the platform failing on
                # its side, not the key: exit 4, which the next run gets over, and no advice
                # to check a key that may be right.
                raise UnreachableError(
                    "client-login-failed",
                    platform_code=answer.code,
                    platform_msg=answer.msg or "-",
                    url=self._base_url,
                )
        except ArtreportError as error:
            # Whatever became of the login, the data call waiting for it was never sent: its
            # rows are not sent, not "sent, every answer lost".
            error.params.pop("may_have_arrived", None)
            error.params.pop("lost_after_sending", None)
            self._login_failure = error
            raise
        # Timed from before the request, so our idea of expiry is never later than the
        # platform's.
        session = Session.started(self._base_url, self._orgid, now)
        if self._cache is not None:
            self._keep(session, self._cache)
        return self._adopt(session)

    def _keep(self, session: Session, cache: SessionCache) -> None:
        """Save the login for later commands. Unless that is the command's job, a cache that
        cannot be written (its disk full, ``sessions`` a file) leaves the upload to go on with
        the login just made, said once: the next run logs in again, which costs one request."""
        try:
            cache.save(session, self._token)
        except ConfigError as error:
            if cache.required:
                raise
            if not self._cache_unsaved_told:
                self._cache_unsaved_told = True
                reason = str(error.params.get("reason") or "")
                self._on_event(
                    ClientEvent(
                        EventKind.CACHE_UNSAVED,
                        self._base_url + LOGIN_PATH,
                        reason=reason,
                        path=str(cache.directory),
                    )
                )

    def _adopt(self, session: Session) -> Session:
        self._session = session
        self._generation += 1
        return session

    def _auth_error(self, answer: Answer) -> AuthError:
        return AuthError(
            _AUTH_MESSAGES[answer.code],
            platform_code=answer.code,
            platform_msg=answer.msg or "-",
            orgid=self._orgid,
            url=self._base_url,
        )

    # -- one request, with retries ------------------------------------------------------------

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str],
        retry_server_failures: bool = True,
        retry_codes: frozenset[int] = frozenset(),
    ) -> Answer:
        # The query (delete's patient record ids) travels in ``params`` and so is never part of
        # the URL that errors and events name.
        url = self._base_url + path
        parsed_url = self._urls.get(path)
        if parsed_url is None:
            parsed_url = self._urls[path] = httpx.URL(url)

        def attempt() -> Answer | TryAgain:
            # Resending is safe: batchInsert is an upsert by primary key, so a batch whose
            # answer was lost (the platform may have stored it) replaces the same rows with the
            # same values; login and delete are idempotent too (see PlatformClient.delete).
            try:
                response = self._http.request(
                    method, parsed_url, content=content, params=params, headers=headers
                )
            except httpx.RequestError as exc:
                # Transport failures, and answers that cannot be read: a body a gateway marks
                # gzip that is not (DecodingError). Both may pass on a second attempt.
                # Retrying cannot fix a certificate we do not trust; doctor's diagnosis says why.
                problem = certificate_problem(exc, host=parsed_url.host, ca_bundle=self._ca_bundle)
                if problem is not None:
                    said = {**problem.params, "reason": self._scrub(problem.params["reason"])}
                    raise UnreachableError(
                        "client-certificate-rejected",
                        url=url,
                        problem=Phrase(problem.code, **said),
                        advice=Phrase(problem.hint, **said),
                    ) from None
                blamed = self._proxy_failure(self._proxy, exc) if self._proxy else None
                if blamed is not None:
                    return blamed
                detail = self._technical(exc)
                never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                reason = _network_reason(exc)
                return TryAgain(
                    reason or detail,
                    may_have_arrived=not never_sent,
                    detail=detail,
                    lost_after_sending=_lost_after_sending(exc, reason),
                )
            judged = self._judge(response, url, retry_server_failures)
            if isinstance(judged, Answer) and judged.code in retry_codes:
                reason = Phrase(
                    "net-platform-code", number=judged.code, msg=self._scrub(judged.msg)
                )
                return TryAgain(reason, may_have_arrived=False, if_exhausted=judged)
            return judged

        answer, attempts, lost = self._retry.run(url, attempt)
        return replace(answer, msg=self._scrub(answer.msg), attempts=attempts, lost_answers=lost)

    def _judge(
        self, response: httpx.Response, url: str, retry_server_failures: bool
    ) -> Answer | TryAgain:
        status = response.status_code
        try:
            answer = read_answer(response.content, response.charset_encoding)
        except UnreadableAnswer as unreadable:
            if status in _COME_BACK_LATER:
                answer = None
            else:
                # The platform's own answer, in bytes the same on every attempt: no network
                # fault, and nothing to retry.
                raise UnreachableError(
                    "client-answer-unreadable", url=url, charset=unreadable.charset
                ) from None
        if answer is not None and status not in _COME_BACK_LATER:
            # Any other status carrying the envelope (e.g. HTTP 500 with code 500, business
            # error) is the platform's application answering about this request: its code,
            # not the HTTP status, says what happened.
            return answer
        framework = _framework_status(response) if answer is None else None
        if framework is not None and 200 <= status < 300:
            # Spring's error attributes under a success status (an exception handler that
            # returns them without setting one): the status they carry is what happened. Taken
            # for a page in the platform's place, a row the platform's code fails on stopped
            # the run as if the address were wrong.
            status = framework
        if status == _TOO_LARGE:
            # A gateway's limit on the size of a request (nginx allows 1 MB unless told
            # otherwise). Resending the same body cannot pass; the caller sends halves of the
            # chunk instead, and reports a row too large alone.
            message = f"HTTP {status} {response.reason_phrase}"
            return Answer(status, message, None, Outcome.TOO_LARGE)
        reason = f"HTTP {status}"
        if answer is None:
            # Kept to what an IT person looks up, in no language: it stands inside messages
            # in the user's.
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            reason += f" ({content_type})" if content_type else ""
        if status == 407 and self._proxy is not None:
            # A forward proxy (for an http:// platform) answers for itself, not in a tunnel.
            status_line = f"{status} {response.reason_phrase}".strip()
            raise self._proxy_login_error(self._proxy, status_line)
        if framework is not None and status in _REFUSED_CALLER and not url.endswith(LOGIN_PATH):
            # Spring Security refusing a data call after the login at the same address was
            # accepted: the platform's own framework answers, so the address is right, and
            # no row causes it.
            raise AuthError(
                "client-auth-not-authorised",
                platform_code=status,
                platform_msg=self._scrub(_framework_message(response)),
                orgid=self._orgid,
                url=self._base_url,
            )
        if answer is None and (300 <= status < 400 or status in _NOT_THE_PLATFORM):
            # A redirect (to a portal's login page), "unauthorised", "forbidden", "no such
            # address": the same on every attempt, and about the address or the network in
            # between, not about the data. Said at once, with what answered.
            location = response.headers.get("location", "")
            https = _https_base_url(self._base_url, url, location) if location else None
            if https is not None:
                raise UnreachableError(
                    "client-redirected-to-https",
                    url=self._base_url,
                    status=f"{status} {response.reason_phrase}".strip(),
                    location=self._scrub(location.split("?")[0]),
                    suggested=https,
                )
            blocked: dict[str, Any] = {}
            if status in _FIREWALL_BLOCKS and not location and not url.endswith(LOGIN_PATH):
                # A firewall refusing this data call for its rows looks the same, but lets the
                # rest of the file through: the caller may split the chunk to tell.
                blocked = {
                    "http_status": status,
                    "page": self._scrub(_framework_message(response)),
                }
            raise UnreachableError(
                "client-not-the-platform",
                url=self._base_url,
                status=f"{status} {response.reason_phrase}".strip(),
                seen=self._what_answered(response, location),
                **blocked,
            )
        if answer is None and status in _SERVER_FAILED:
            # The web framework in front of the platform's code failed on this request: it
            # could not read it (400), or threw (500). One row the client cannot know is bad
            # does that, so the caller splits the chunk to find it, rather than the run
            # stopping at the same chunk every night. A 400 is the same on every attempt.
            failed = Answer(status, _framework_message(response), None, Outcome.SERVER_FAILED)
            if status != 500 or not retry_server_failures:
                return failed
            # It answered: the request was not lost, and a failed one is rolled back.
            return TryAgain(reason, may_have_arrived=False, if_exhausted=failed)
        if answer is None and 200 <= status < 300:
            data_call = not url.endswith(LOGIN_PATH)
            return self._not_an_answer(response, reason, data_call, retry_server_failures)
        retry_after = retry_after_seconds(response.headers.get("retry-after"), self._clock())
        # "Too many requests" and "unavailable" refuse a request before it is read; a gateway
        # timing out (502, 504) or any other page may have let it through first.
        turned_away = status in _TURNED_AWAY
        return TryAgain(
            reason,
            retry_after,
            may_have_arrived=not turned_away,
            gives_up="client-rate-limited" if status == 429 else "client-unreachable",
            # A gateway that gave up waiting for the platform: as a read timeout of ours.
            lost_after_sending=LOST_TIMEOUT if status == _GATEWAY_TIMEOUT else "",
        )

    def _what_answered(self, response: httpx.Response, location: str) -> Phrase:
        """Where a redirect leads, or else what the page says: a firewall's or a gateway's
        words name it for IT."""
        if location:
            return Phrase("net-redirected-to", location=self._scrub(location.split("?")[0]))
        words = self._scrub(_TAG.sub(" ", _page_words(response)))
        words = " ".join(html.unescape(words).split())[:80]
        return Phrase("net-page-says", words=words) if words else Phrase("net-empty-page")

    def _not_an_answer(
        self, response: httpx.Response, status: str, data_call: bool, retry: bool
    ) -> TryAgain:
        """A success status without the envelope: a page of something answering in the
        platform's place (a gateway's error page, a portal, a firewall's block page), or the
        platform's answer mangled. Worth another try, except a login form: it stays until
        someone logs in there. Without ``retry``, a page is answered at once."""
        text = response.text
        found = _TITLE.search(text)
        title = self._scrub(" ".join(html.unescape(found.group(1)).split()))[:80] if found else ""
        if _PASSWORD_FIELD.search(text):
            raise UnreachableError(
                "client-login-page",
                url=self._base_url,
                status=f"{response.status_code} {response.reason_phrase}".strip(),
                title=title or "-",
            )
        if title:
            # A firewall blocking a data call for its rows answers so too, on every attempt,
            # while letting the rest of the file through: the caller may split the chunk.
            blocked = (
                {"http_status": response.status_code, "page": f"{status}: {title}"}
                if data_call
                else {}
            )
            return TryAgain(
                Phrase("net-web-page", status=status, title=title),
                gives_up="client-no-answer",
                gives_up_with=blocked,
                final=data_call and not retry,
            )
        return TryAgain(Phrase("net-no-envelope", status=status), gives_up="client-no-answer")

    # -- the proxy in between -----------------------------------------------------------------

    def _proxy_failure(self, proxy: Proxy, exc: httpx.RequestError) -> TryAgain | None:
        """A failure of the proxy, said to be the proxy's (the platform was never reached), or
        None for one of the platform's. A proxy asking for a login is an error at once."""
        said = {"proxy": proxy.address, "source": proxy.source}
        if isinstance(exc, httpx.ProxyError):
            if asks_for_login(exc):
                raise self._proxy_login_error(proxy, self._scrub(exc)) from None
            # Mostly 502 or 504: the proxy could not reach the platform, which may pass.
            reason = Phrase("net-proxy-answered", status=self._scrub(exc), **said)
            return TryAgain(reason, may_have_arrived=False)
        found = _network_reason(exc) if isinstance(exc, httpx.ConnectError) else None
        if found is None or found.code not in _PROXY_CONNECT_FAILURES:
            return None
        reason = Phrase(_PROXY_CONNECT_FAILURES[found.code], **said)
        return TryAgain(
            reason,
            may_have_arrived=False,
            gives_up="client-proxy-unreachable",
            detail=self._technical(exc),
        )

    def _proxy_login_error(self, proxy: Proxy, status: str) -> UnreachableError:
        # With a user name in the proxy's URL the login was tried, and refused.
        code = "client-proxy-login-refused" if proxy.url.username else "client-proxy-login"
        return UnreachableError(
            code, url=self._base_url, proxy=proxy.address, source=proxy.source, status=status
        )

    # -- keeping secrets out of texts ---------------------------------------------------------

    def _technical(self, exc: Exception) -> str:
        detail = self._scrub(exc).rstrip(".")
        return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__

    def _scrub(self, text: object) -> str:
        scrubbed = str(text)
        for secret in (self._key, self._token, self._token.lower()):
            scrubbed = scrubbed.replace(secret, "***")
        return scrubbed[:300]


def _network_reason(exc: httpx.RequestError) -> Phrase | None:
    """Why a request got no answer, in words for the message's language, for the failures a
    hospital network has; None for others, which are named as the library names them. The
    library's own words go to the log (``TryAgain.detail``)."""
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectTimeout):
        return Phrase("net-connect-timeout")
    if isinstance(exc, httpx.TimeoutException):
        return Phrase("net-timeout")
    if isinstance(exc, httpx.DecodingError):
        return Phrase("net-garbled")
    if isinstance(exc, httpx.ConnectError):
        for words, code in _CONNECT_FAILURES:
            if any(word in text for word in words):
                return Phrase(code)
    if isinstance(exc, httpx.RemoteProtocolError) and "disconnected" in text:
        return Phrase("net-disconnected")
    if "connection reset" in text or "errno 104" in text:
        return Phrase("net-reset")
    if isinstance(exc, httpx.RemoteProtocolError) and (
        "incomplete" in text or "peer closed" in text
    ):
        return Phrase("net-cut-short")
    if isinstance(exc, httpx.ProtocolError):
        return Phrase("net-protocol")
    if isinstance(exc, httpx.ConnectError):
        return Phrase("net-tls-failed" if cause(exc, ssl.SSLError) else "net-connect-failed")
    if isinstance(exc, httpx.ReadError):
        return Phrase("net-read-failed")
    if isinstance(exc, httpx.WriteError):
        return Phrase("net-write-failed")
    return None


def _lost_after_sending(exc: httpx.RequestError, reason: Phrase | None) -> str:
    """How an answer was lost after the request went out, when the request itself may be the
    cause (see ``TryAgain.lost_after_sending``). A connect that fails or times out never
    reached the server, and an answer that began but came too slowly is the line's: that is
    the network, whatever the request."""
    if isinstance(exc, AnswerNotBegun):
        return LOST_TIMEOUT
    if isinstance(exc, httpx.ReadError) and reason is not None and reason.code == "net-reset":
        return LOST_RESET
    return ""


_CONNECT_FAILURES = (
    (("connection refused", "errno 111", "winerror 10061"), "net-connection-refused"),
    (
        ("name or service not known", "nodename nor servname", "name resolution", "getaddrinfo"),
        "net-name-unresolved",
    ),
    (("network is unreachable", "errno 101"), "net-network-unreachable"),
)


#: Failures to connect that, with a proxy set, are the proxy's: it is the only host dialled.
_PROXY_CONNECT_FAILURES = {
    "net-connection-refused": "net-proxy-refused",
    "net-name-unresolved": "net-proxy-unresolved",
    "net-network-unreachable": "net-proxy-unreachable",
}


def _framework_status(response: httpx.Response) -> int | None:
    """The HTTP status a web framework's own error answer gives in its body (Spring's
    ``{"timestamp", "status", "error", "path"}``), or None for any other body."""
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or "path" not in body or not isinstance(body.get("error"), str):
        return None
    status = body.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status < 600:
        return None
    return status


def _framework_message(response: httpx.Response) -> str:
    """What a web framework's own error answer says (Spring's ``{"status", "error",
    "message"}``, an error page's title), for the failure report: the platform's words on the
    row, as near as there are any."""
    said = " ".join(_page_words(response).split())[:200]
    heading = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    framework = _framework_status(response)
    if framework is not None and framework != response.status_code:
        heading += f" (status {framework})"
    return f"{heading}: {said}" if said else heading


def _page_words(response: httpx.Response) -> str:
    """What an answer that is not the envelope says: a framework's error fields, a page's
    title, or else its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [body.get(k) for k in ("error", "message", "detail", "title")]
        return ": ".join(str(p) for p in parts if p and isinstance(p, (str, int)))
    if response.text:
        title = _TITLE.search(response.text)
        return title.group(1) if title else response.text
    return ""


def _https_base_url(base_url: str, url: str, location: str) -> str | None:
    """The https:// base_url to use when an http:// one redirects to the same host over HTTPS
    (as a web server does for every request once the site has moved to it); None for any other
    redirect, such as to a portal's login page."""
    if not base_url.startswith("http://"):
        return None
    try:
        target = httpx.URL(url).join(location).copy_with(query=None, fragment=None)
    except httpx.InvalidURL:
        return None
    if target.scheme != "https" or target.host != httpx.URL(base_url).host:
        return None
    path = url[len(base_url) :]
    if target.path.endswith(path):
        # The same path on the new address: whatever comes before it is the new base.
        return str(target)[: -len(path)]
    return str(target.copy_with(path=httpx.URL(base_url).path or "/")).rstrip("/")


def is_loopback(base_url: str) -> bool:
    host = httpx.URL(base_url).host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(config: Config) -> ssl.SSLContext | bool:
    if not config.ca_bundle:
        return config.verify
    # A hospital whose network re-signs TLS traffic names its own authority; it replaces the
    # public ones, as with curl's --cacert.
    try:
        return ssl.create_default_context(cafile=config.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            "client-ca-bundle-unreadable", path=config.ca_bundle, reason=str(exc)
        ) from None


def _copy(error: ArtreportError) -> ArtreportError:
    # Raising one exception object from several threads would tangle their tracebacks.
    return type(error)(error.code, **error.params)
