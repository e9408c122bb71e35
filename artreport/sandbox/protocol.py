"""The platform's wire protocol as the spec states it: answer codes, the texts that go with
them, the token, and the answer envelope.

The platform answers in Chinese whatever the client's language, so the sandbox renders every
text it sends in ``zh``; the English texts in the catalogue are for readers of this code and of
``sandbox.yaml``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from artreport.messages import translate

WIRE_LANGUAGE = "zh"

OK = 0
HEADERS_MISSING = 40001
TOKEN_INVALID = 40002
NOT_LOGGED_IN = 40003
ORG_UNKNOWN = 40004
NOT_FOUND = 40006
PARAM_MISSING = 40007
NAMES_EMPTY = 40008
ORG_MISMATCH = 40009
BUSINESS_ERROR = 500


def token_for(orgid: str, key: str) -> str:
    """Upper-case hex MD5 of ``orgid + key``, as spec §1.2.3.3 computes it."""
    return hashlib.md5((orgid + key).encode("utf-8")).hexdigest().upper()


def wire_text(code: str, **params: Any) -> str:
    return translate(code, WIRE_LANGUAGE, **params)


def code_text(code: int) -> str:
    """The spec's own message for an answer code."""
    return wire_text(f"sandbox-code-{code}")


def envelope(code: int, msg: str, data: Any = None) -> bytes:
    return json.dumps({"msg": msg, "code": code, "data": data}, ensure_ascii=False).encode()
