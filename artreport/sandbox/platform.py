"""The emulated platform behind the HTTP transport: routes, organisations and their logins,
the batch checks, the store, and the counters that fault injection and tests read.

All mutable state sits behind one lock. Request numbers come from one shared counter, so a
fault such as "every third request fails" picks the same requests on every run.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from artreport.sandbox.faults import Faults
from artreport.sandbox.protocol import (
    BUSINESS_ERROR,
    HEADERS_MISSING,
    NOT_FOUND,
    NOT_LOGGED_IN,
    OK,
    ORG_MISMATCH,
    ORG_UNKNOWN,
    PARAM_MISSING,
    TOKEN_INVALID,
    code_text,
    envelope,
    token_for,
    wire_text,
)
from artreport.sandbox.rules import BatchRules, Rejected
from artreport.sandbox.store import Store
from artreport.schema import RecordType, Schema

LOGIN_PATH = "/art/login"
#: The request log keeps this many entries, so a sandbox left running does not grow forever.
LOG_LIMIT = 100_000
_FAULTS = ("drop", "lose", "fail", "too_large")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    #: Header names in lower case.
    headers: Mapping[str, str]
    body: bytes


@dataclass
class _Org:
    key: str = field(repr=False)
    token: str = field(repr=False)
    active: bool = True


@dataclass
class _Session:
    expires_at: float
    used: int = 0


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class FrameworkFailure(Exception):
    """The web framework in front of the platform's code fails on the request: it answers
    with its own error, not the platform's envelope."""

    def body(self, path: str) -> bytes:
        error = {
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "status": 500,
            "error": "Internal Server Error",
            "message": str(self),
            "path": path,
        }
        return json.dumps(error).encode()


class Platform:
    def __init__(
        self,
        schema: Schema,
        orgs: Mapping[str, str],
        store: Store,
        *,
        ttl: float,
        faults: Faults,
        name_bad_row: bool,
    ) -> None:
        self.faults = faults
        self._ttl = ttl
        self._name_bad_row = name_bad_row
        self._store = store
        self._orgs = {orgid: _Org(key, token_for(orgid, key)) for orgid, key in orgs.items()}
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._count = 0
        self._endpoints: Counter[str] = Counter()
        self._log: deque[tuple[str, str]] = deque(maxlen=LOG_LIMIT)
        self._logins = 0
        self._rejected = 0
        self._faults_seen: Counter[str] = Counter()
        self._unknown: dict[str, Counter[str]] = {}
        self._ok = code_text(OK)
        self._routes: dict[tuple[str, str], Callable[[Request], Any]] = {
            ("POST", LOGIN_PATH): self._login
        }
        for record_type in schema:
            base = f"/art/{record_type.resource}"
            rules = BatchRules(record_type)
            self._routes[("POST", f"{base}/batchInsert")] = functools.partial(
                self._batch_insert, rules
            )
            self._routes[("GET", f"{base}/delete")] = functools.partial(self._delete, record_type)

    # -- transport hooks ------------------------------------------------------------------

    def register(self, method: str, path: str, body_size: int) -> str | None:
        """Count a request and say which fault, ``"too_large"``, ``"drop"``, ``"lose"`` or
        ``"fail"``, it suffers."""
        with self._lock:
            self._count += 1
            self._endpoints[path] += 1
            self._log.append((method, path))
            fault = None
            if self.faults.max_body and body_size > self.faults.max_body:
                fault = "too_large"
            elif self.faults.drop_every and self._count % self.faults.drop_every == 0:
                fault = "drop"
            elif self.faults.lose_every and self._count % self.faults.lose_every == 0:
                fault = "lose"
            elif self.faults.fail_every and self._count % self.faults.fail_every == 0:
                fault = "fail"
            if fault:
                self._faults_seen[fault] += 1
            return fault

    def handle(self, request: Request) -> tuple[int, bytes] | None:
        """The HTTP status and answer body (the envelope, with 200), or None when no endpoint
        has this method and path."""
        route = self._routes.get((request.method, request.path))
        if route is None:
            return None
        try:
            data = route(request)
        except Rejected as rejection:
            return 200, envelope(rejection.code, self._message(rejection))
        except FrameworkFailure as failure:
            return 500, failure.body(request.path)
        return 200, envelope(self.faults.success_code, self._ok, data)

    # -- inspection -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._count,
                "endpoints": dict(self._endpoints),
                "logins": self._logins,
                "rejected_batches": self._rejected,
                "unknown_fields": {name: dict(c) for name, c in self._unknown.items()},
                "faults": {name: self._faults_seen[name] for name in _FAULTS},
                "log": list(self._log),
            }

    def rows(self, record_type: RecordType) -> list[dict[str, Any]]:
        with self._lock:
            return self._store.rows(record_type.name)

    def disable_org(self, orgid: str) -> None:
        with self._lock:
            self._orgs[orgid].active = False
            self._sessions.pop(orgid, None)

    # -- endpoints ------------------------------------------------------------------------

    def _login(self, request: Request) -> Any:
        fields = _json_object(request.body)
        orgid, key, token = (fields.get(name) for name in ("orgid", "key", "token"))
        if not all(isinstance(value, str) and value for value in (orgid, key, token)):
            raise Rejected(PARAM_MISSING)
        org = self._orgs.get(orgid)
        if org is None or not org.active:
            raise Rejected(ORG_UNKNOWN)
        if key != org.key or token != org.token:
            raise Rejected(TOKEN_INVALID)
        with self._lock:
            self._sessions[orgid] = _Session(time.monotonic() + self._ttl)
            self._logins += 1
        return {}

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        """The caller's orgid, after the checks in the order the platform makes them."""
        orgid, token = headers.get("orgid"), headers.get("token")
        if not orgid or not token:
            raise Rejected(HEADERS_MISSING)
        with self._lock:
            org = self._orgs.get(orgid)
            if org is None or not org.active:
                raise Rejected(ORG_UNKNOWN)
            if token != org.token:
                raise Rejected(TOKEN_INVALID)
            session = self._sessions.get(orgid)
            if session is None:
                raise Rejected(NOT_LOGGED_IN)
            spent = self.faults.expire_after and session.used >= self.faults.expire_after
            if spent or time.monotonic() >= session.expires_at:
                del self._sessions[orgid]
                raise Rejected(NOT_LOGGED_IN)
            session.used += 1
        return orgid

    def _batch_insert(self, rules: BatchRules, request: Request) -> int:
        orgid = self._authenticate(request.headers)
        crash = self.faults.crash_prefix
        if crash and f'"{rules.primary_key}":"{crash}'.encode() in request.body:
            raise FrameworkFailure(f"Data too long for column '{rules.primary_key}' at row 1")
        unknown: Counter[str] = Counter()
        try:
            batch = rules.check(request.body, orgid, self.faults.reject_prefix, unknown)
        except Rejected:
            with self._lock:
                self._rejected += 1
            raise
        finally:
            if unknown:
                with self._lock:
                    self._unknown.setdefault(rules.record_type.name, Counter()).update(unknown)
        with self._lock:
            self._store.upsert(orgid, rules.record_type.name, rules.primary_key, batch.body)
        return batch.count

    def _delete(self, record_type: RecordType, request: Request) -> int:
        orgid = self._authenticate(request.headers)
        params = {
            name: values[-1]
            for name, values in parse_qs(request.query, keep_blank_values=True).items()
        }
        if any(not params.get(name) for name in record_type.delete_params):
            raise Rejected(PARAM_MISSING)
        if params.get("orgid", orgid) != orgid:
            raise Rejected(ORG_MISMATCH)
        prefix = self.faults.reject_prefix
        if prefix and params[record_type.primary_key].startswith(prefix):
            raise Rejected(BUSINESS_ERROR, "sandbox-rule-rejected")
        match = {
            name: params[name]
            for name in record_type.delete_params
            if name not in ("orgid", record_type.primary_key)
        }
        with self._lock:
            deleted = self._store.delete(
                orgid, record_type.name, params[record_type.primary_key], match
            )
        if not deleted:
            raise Rejected(NOT_FOUND)
        return 1

    def _message(self, rejection: Rejected) -> str:
        detail = (
            wire_text(rejection.detail, **rejection.params)
            if rejection.detail
            else code_text(rejection.code)
        )
        if self._name_bad_row and rejection.row is not None:
            return wire_text("sandbox-bad-row", row=rejection.row, message=detail)
        # The platform explains only business errors; for the others it sends the spec's text.
        return detail if rejection.code == BUSINESS_ERROR else code_text(rejection.code)
