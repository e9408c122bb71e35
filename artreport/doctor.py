"""``artreport doctor``: check the setup one step at a time, in the order a run needs it.

Each check yields a :class:`Check`, a small value holding message codes and their parameters
(the CLI renders them in the user's language). A check that needs an earlier one which failed
is reported as skipped rather than run, so the first failure is the one the user is told to fix.

Nothing here prints or returns the key or the token: the checks name the config file, the base
URL and the orgid only.
"""

from __future__ import annotations

import email.utils
import enum
import os
import shlex
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx

from artreport import __version__
from artreport.client.deadline import DeadlineClient
from artreport.client.platform import checked_base_url, is_loopback, tls_context
from artreport.client.proxy import Proxy, asks_for_login, proxy_for
from artreport.client.tls import cause, certificate_problem
from artreport.config import Config, holds_key
from artreport.errors import ArtreportError, ConfigError, LedgerError
from artreport.ledger import LEDGER_FILE, Ledger
from artreport.state import state_dir

#: The longest any one network step may take, whatever the config's ``timeout`` says: doctor
#: is run by someone waiting at a terminal, and a platform slower than this is a finding too.
MAX_TIMEOUT_SECONDS = 10.0
#: How far the local clock may be from the platform's before it deserves a warning: further off,
#: the times artreport records mislead, and certificate dates may be misjudged.
CLOCK_TOLERANCE_SECONDS = 5 * 60
#: Any earlier year means the clock was never set: every certificate looks not yet valid.
EARLIEST_PLAUSIBLE_YEAR = 2024

#: False on Windows, where file modes do not say who can read a file.
POSIX = os.name == "posix"

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Status(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One line of the diagnosis. ``code`` and ``hint`` (what to do) are message codes, both
    rendered with ``params``."""

    name: str
    status: Status
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)
    hint: str | None = None


#: The checks in the order they run; every diagnosis yields exactly one line for each.
CHECKS = ("config", "key-file", "connect", "tls", "login", "clock", "state-dir")


def diagnose(
    load: Callable[[], Config], *, clock: Callable[[], float] = time.time
) -> Iterator[Check]:
    """Run the checks, yielding each result as soon as it is known (the network ones take a
    moment). ``load`` reads the config the way the other commands do."""
    config, found = _check_config(load)
    yield found
    if config is None:
        for name in CHECKS[1:]:
            yield _skipped(name, "doctor-skipped-config")
        return
    yield _check_key_file(config)
    timeout = min(config.timeout, MAX_TIMEOUT_SECONDS)
    # Seconds the local clock is ahead of the platform's, from the first answer's Date header.
    offset: float | None = None
    answered = False
    url = _usable_base_url(config)
    if url is None:
        for name in ("connect", "tls", "login"):
            yield _skipped(name, "doctor-skipped-base-url")
    else:
        connect = _check_connect(url, timeout)
        yield connect
        if connect.status is Status.FAILED:
            yield _skipped("tls", "doctor-skipped-connect")
            yield _skipped("login", "doctor-skipped-connect")
        else:
            probe = _probe(config, url, timeout, clock)
            offset, answered = probe.offset, probe.answered
            yield probe.tls
            if probe.tls.status is Status.FAILED:
                yield _skipped("login", "doctor-skipped-tls")
            elif probe.silence is not None:
                # The login would only wait as long again for the same silence.
                yield probe.silence
            elif not (config.orgid and config.key):
                yield _skipped("login", "doctor-skipped-credentials")
            else:
                yield _check_login(config, timeout)
    yield _check_clock(offset, clock, answered=answered)
    yield _check_state_dir(config)


def _skipped(name: str, code: str) -> Check:
    return Check(name, Status.SKIPPED, code)


def _failed(name: str, error: ArtreportError, hint: str | None = None) -> Check:
    return Check(name, Status.FAILED, error.code, dict(error.params), hint)


# -- the config -------------------------------------------------------------------------------


def _check_config(load: Callable[[], Config]) -> tuple[Config | None, Check]:
    try:
        config = load()
    except ConfigError as error:
        return None, _failed("config", error, "doctor-hint-config")
    source = str(config.source.absolute()) if config.source else None
    missing = [name for name in ("base_url", "orgid", "key") if not getattr(config, name)]
    if missing:
        names = ", ".join(missing)
        if source is None:
            # Without a file the environment is what lacks them, and there they are spelt
            # ARTREPORT_KEY: `export key=…` would set nothing artreport reads.
            variables = ", ".join(f"ARTREPORT_{name.upper()}" for name in missing)
            return config, Check(
                "config",
                Status.FAILED,
                "doctor-config-none",
                {"names": variables},
                "doctor-hint-new",
            )
        return config, Check(
            "config",
            Status.FAILED,
            "doctor-config-incomplete",
            {"path": source, "names": names},
            "doctor-hint-complete",
        )
    try:
        checked_base_url(config.base_url)
    except ConfigError as error:
        return config, _failed("config", error)
    shown = {"base_url": config.base_url, "orgid": config.orgid}
    if source is None:
        return config, Check("config", Status.OK, "doctor-config-env", shown)
    return config, Check("config", Status.OK, "doctor-config-file", {"path": source, **shown})


def _usable_base_url(config: Config) -> httpx.URL | None:
    if not config.base_url:
        return None
    try:
        return httpx.URL(checked_base_url(config.base_url))
    except ConfigError:
        return None  # the config line has said why


def _check_key_file(config: Config) -> Check:
    if config.source is None:
        return Check("key-file", Status.OK, "doctor-key-no-file")
    path = config.source.absolute()
    if not holds_key(path):
        return Check("key-file", Status.OK, "doctor-key-not-in-file", {"path": str(path)})
    if not POSIX:
        return Check("key-file", Status.SKIPPED, "doctor-key-windows", {"path": str(path)})
    mode = path.stat().st_mode
    if mode & 0o066:
        return Check(
            "key-file",
            Status.FAILED,
            "doctor-key-file-open",
            {
                "path": str(path),
                "mode": f"{mode & 0o777:03o}",
                "command": f"chmod 600 {shlex.quote(str(path))}",
            },
            "doctor-hint-chmod",
        )
    return Check("key-file", Status.OK, "doctor-key-file-private", {"path": str(path)})


# -- the network ------------------------------------------------------------------------------


def _check_connect(url: httpx.URL, timeout: float) -> Check:
    """Resolve the host and open a TCP connection: to the proxy when the client would use one,
    since that is the only connection this computer makes then (and may be allowed to)."""
    proxy = _proxy_for(url)
    host = proxy.host if proxy else url.host
    port = proxy.port if proxy else url.port or _DEFAULT_PORTS.get(url.scheme, 80)
    hint = "doctor-hint-proxy" if proxy else "doctor-hint-firewall"
    params: dict[str, Any] = {"host": host, "port": port}
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return Check(
            "connect",
            Status.FAILED,
            "doctor-dns-failed",
            {**params, "reason": exc.strerror or str(exc)},
            "doctor-hint-proxy" if proxy else "doctor-hint-dns",
        )
    addresses = ", ".join(dict.fromkeys(str(info[4][0]) for info in found))
    params["target"] = host if addresses == host else f"{host} ({addresses})"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except TimeoutError:
        return Check(
            "connect",
            Status.FAILED,
            "doctor-connect-timeout",
            {**params, "seconds": f"{timeout:g}"},
            hint,
        )
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return Check(
            "connect", Status.FAILED, "doctor-connect-failed", {**params, "reason": reason}, hint
        )
    if proxy:
        return Check("connect", Status.OK, "doctor-connect-proxy", params)
    return Check("connect", Status.OK, "doctor-connect-ok", params)


def _proxy_for(url: httpx.URL) -> Proxy | None:
    # None for loopback, as the client turns proxies off there.
    return None if is_loopback(str(url)) else proxy_for(url)


@dataclass(frozen=True)
class _Probe:
    """What the first request to the platform found."""

    tls: Check
    #: Seconds our clock is ahead of the answer's Date header; None without one.
    offset: float | None = None
    answered: bool = False
    #: For an http:// address that gave no answer: the login line saying so. There is no TLS
    #: there to blame, and the TLS line keeps its plain-http warning.
    silence: Check | None = None


def _probe(config: Config, url: httpx.URL, timeout: float, clock: Callable[[], float]) -> _Probe:
    """One HTTP request to the platform through httpx with the client's very trust settings
    (a handshake of our own would trust the system's authorities, while httpx trusts certifi's
    unless ``ca_bundle`` is set)."""
    https = url.scheme == "https"
    try:
        verify = tls_context(config)
    except ConfigError as error:
        return _Probe(_failed("tls", error))
    try:
        # DeadlineClient: MAX_TIMEOUT_SECONDS must hold for the whole request.
        with DeadlineClient(
            verify=verify,
            timeout=timeout,
            trust_env=not is_loopback(str(url)),
            headers={"user-agent": f"artreport/{__version__} doctor"},
        ) as http:
            # Any answer will do, even an error page: it proves the connection and carries the
            # platform's time. No credentials are sent.
            response = http.get(f"{url}/art/login")
            received = clock()
    except httpx.RequestError as exc:  # DecodingError too: a gateway's mislabelled body
        proxy = _proxy_for(url)
        if isinstance(exc, httpx.ProxyError) and proxy is not None:
            # The proxy refused to open the way to the platform: nothing to say of its TLS.
            hint = "doctor-hint-proxy-login" if asks_for_login(exc) else "doctor-hint-proxy"
            params = {"proxy": proxy.address, "source": proxy.source, "status": str(exc)}
            return _Probe(Check("tls", Status.FAILED, "doctor-proxy-refused", params, hint))
        if not https:
            return _Probe(
                Check("tls", Status.WARNING, "doctor-tls-plain-http"),
                silence=_no_answer("login", url, exc, timeout, hint="doctor-hint-no-answer"),
            )
        return _Probe(_tls_failure(config, url, exc, timeout))
    offset = _clock_offset(response.headers.get("date"), received)
    if not https:
        check = Check("tls", Status.WARNING, "doctor-tls-plain-http")
    elif verify is False:
        check = Check("tls", Status.WARNING, "doctor-tls-unverified", {}, "doctor-hint-verify")
    elif config.ca_bundle:
        check = Check("tls", Status.OK, "doctor-tls-ok-ca-bundle", {"path": config.ca_bundle})
    else:
        check = Check("tls", Status.OK, "doctor-tls-ok")
    return _Probe(check, offset, answered=True)


def _tls_failure(config: Config, url: httpx.URL, exc: httpx.RequestError, timeout: float) -> Check:
    problem = certificate_problem(exc, host=url.host, ca_bundle=config.ca_bundle)
    if problem is not None:
        return Check("tls", Status.FAILED, problem.code, problem.params, problem.hint)
    handshake = cause(exc, ssl.SSLError)
    if handshake is not None:
        params = {
            "host": url.host,
            "reason": handshake.reason or handshake.strerror or type(handshake).__name__,
        }
        return Check("tls", Status.FAILED, "doctor-tls-handshake-failed", params, "doctor-hint-tls")
    return _no_answer("tls", url, exc, timeout, hint="doctor-hint-tls")


def _no_answer(
    name: str, url: httpx.URL, exc: httpx.RequestError, timeout: float, hint: str
) -> Check:
    params: dict[str, Any] = {"host": url.host}
    if isinstance(exc, httpx.TimeoutException):
        params["seconds"] = f"{timeout:g}"
        return Check(name, Status.FAILED, "doctor-http-timeout", params, hint)
    params["reason"] = str(exc) or type(exc).__name__
    return Check(name, Status.FAILED, "doctor-http-failed", params, hint)


def _clock_offset(date_header: str | None, received: float) -> float | None:
    if not date_header:
        return None
    try:
        platform_time = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if platform_time.tzinfo is None:
        platform_time = platform_time.replace(tzinfo=timezone.utc)
    return received - platform_time.timestamp()


def _check_login(config: Config, timeout: float) -> Check:
    from artreport.client import PlatformClient

    # A small retry budget: doctor answers in seconds, and the network steps have already
    # said whether the platform can be reached at all.
    quick = config.with_overrides(retries=1, retry_max_seconds=5.0, timeout=timeout)
    try:
        # No session cache: a cached login would prove nothing about the key.
        with PlatformClient(quick, session_cache=None) as client:
            client.login(force=True)
    except ArtreportError as error:
        return _failed("login", error)
    return Check("login", Status.OK, "doctor-login-ok", {"orgid": config.orgid})


# -- this computer ----------------------------------------------------------------------------


def _check_clock(offset: float | None, clock: Callable[[], float], *, answered: bool) -> Check:
    now = datetime.fromtimestamp(clock()).astimezone()
    params: dict[str, Any] = {"now": now.strftime("%Y-%m-%d %H:%M:%S %z")}
    if now.year < EARLIEST_PLAUSIBLE_YEAR:
        return Check("clock", Status.FAILED, "doctor-clock-wrong-year", params, "doctor-hint-clock")
    if not answered:
        # Only the year could be judged: a tick here would read as "the clock agrees".
        return Check("clock", Status.SKIPPED, "doctor-clock-not-compared", params)
    if offset is None:
        return Check("clock", Status.OK, "doctor-clock-local", params)
    if abs(offset) > CLOCK_TOLERANCE_SECONDS:
        code = "doctor-clock-ahead" if offset > 0 else "doctor-clock-behind"
        params["minutes"] = round(abs(offset) / 60)
        return Check("clock", Status.WARNING, code, params, "doctor-hint-clock")
    params["seconds"] = round(abs(offset))
    return Check("clock", Status.OK, "doctor-clock-ok", params)


def _check_state_dir(config: Config) -> Check:
    try:
        directory = state_dir(config)
    except ConfigError as error:
        return _failed("state-dir", error)
    # The folders runs write in too, when they exist: made by another user (the clerk's runs
    # before cron's), they may refuse what the top folder allows.
    for folder in (directory, directory / "logs", directory / "reports"):
        if folder != directory and not folder.exists() and not folder.is_symlink():
            continue
        try:
            handle, name = tempfile.mkstemp(dir=folder, prefix=".doctor-", suffix=".tmp")
            os.close(handle)
            os.unlink(name)
        except OSError as exc:
            return Check(
                "state-dir",
                Status.FAILED,
                "state-dir-unusable",
                {"path": str(folder), "reason": exc.strerror or type(exc).__name__},
            )
    # The ledger in it too: after IT rolls artreport back, every run stops on a ledger the
    # newer version upgraded, which is what doctor is asked about.
    try:
        Ledger.check(directory / LEDGER_FILE)
    except LedgerError as error:
        return _failed("state-dir", error)
    return Check("state-dir", Status.OK, "doctor-state-dir-ok", {"path": str(directory)})
