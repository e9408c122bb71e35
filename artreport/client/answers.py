"""The platform's answer envelope ``{"code", "msg", "data"}`` and the one table that decides
what each code means for us."""

from __future__ import annotations

import codecs
import enum
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from artreport.errors import ArtreportError, UnreachableError


class Outcome(enum.Enum):
    SUCCESS = "success"
    AUTH = "auth"  # our credentials are refused: stop the run (exit 3)
    EXPIRED = "expired"  # the login has lapsed: log in again and resend
    DATA = "data"  # this request's rows were refused: the caller reports or bisects them
    TOO_LARGE = "too_large"  # refused for its size (HTTP 413): send fewer bytes at a time
    #: The server's framework failed on this request (HTTP 400, or 500 still after retries,
    #: without the envelope): a row it cannot read may be the cause, so the caller bisects.
    SERVER_FAILED = "server_failed"
    #: A firewall in front of the platform blocked this request (its own page, with HTTP 403,
    #: 405 or 200): never the platform's answer, but the upload's reading of a data call
    #: refused so.
    BLOCKED = "blocked"


_OUTCOMES: Mapping[int, Outcome] = {
    # The error table lists 200 as OK while the envelope example shows 0: both mean success.
    0: Outcome.SUCCESS,
    200: Outcome.SUCCESS,
    40001: Outcome.AUTH,  # orgid/token headers missing
    40002: Outcome.AUTH,  # token check failed: wrong key
    40004: Outcome.AUTH,  # organisation unknown or disabled
    40009: Outcome.AUTH,  # verification field does not match the organisation
    # Not in the spec: the codes a Java platform's security layer puts in this same envelope
    # (RuoYi's AjaxResult: 401 "认证失败，无法访问系统资源", 403 "没有权限"). They refuse the
    # caller, not the rows: splitting the batch to find a bad row would send the whole file a
    # row at a time and blame each row for it.
    401: Outcome.AUTH,
    403: Outcome.AUTH,
    40003: Outcome.EXPIRED,  # login expired or not logged in
    40000: Outcome.DATA,  # other error
    40005: Outcome.DATA,  # duplicate data
    40006: Outcome.DATA,  # data not found
    40007: Outcome.DATA,  # required parameter missing
    40008: Outcome.DATA,  # male and female names both empty
    500: Outcome.DATA,  # business error
}


def classify(code: int) -> Outcome:
    # A code the spec does not list still came inside a well-formed envelope, so the platform's
    # application has judged this very request. Treating it as a data answer keeps the run going
    # and puts the rows, with the platform's own message, into the failure report where a person
    # can read it; stopping the whole run, or resending something the platform has already
    # judged, would help no one.
    return _OUTCOMES.get(code, Outcome.DATA)


@dataclass(frozen=True)
class Answer:
    code: int
    msg: str
    data: Any
    outcome: Outcome
    #: Requests sent for this call; more than one means it was resent after a lost answer, a
    #: gateway error or an expired login.
    attempts: int = 1
    #: Of those, the ones whose answer was lost after they may have been carried out (a
    #: dropped connection, a gateway's timeout): an earlier copy may already have been applied.
    #: A 40003, a 503 or a 429 says the request was not carried out, and does not count.
    lost_answers: int = 0


#: A count written as text, as a Java platform does whose ``data`` is a String: ``"200"``.
#: Beyond any count of rows, and beyond what a Double holds exactly.
_MAX_COUNT = 2**53
_COUNT_TEXT = re.compile(r"\s*(\d{1,18})(?:\.0*)?\s*", re.ASCII)


def affected_rows(data: Any) -> int | None:
    """The number of rows a success answer's ``data`` says were stored or deleted, or None when
    it says none.

    The spec makes ``data`` the rows affected. A Java platform hands back what its database
    layer returned: JDBC's ``SUCCESS_NO_INFO`` (-2) or MyBatis's batch executor
    (-2147482646) for "done, count unknown", MyBatis-Plus's ``true``, a String, a Double, null.
    Those succeeded without a count, and taking them for a count of fewer rows than were sent
    would report every row of a good upload as not stored. The count in another JSON type
    (``"200"``, ``200.0``) is still the count.
    """
    if isinstance(data, bool):
        return None
    if isinstance(data, int):
        return data if 0 <= data <= _MAX_COUNT else None
    if isinstance(data, float):
        whole = math.isfinite(data) and data.is_integer()
        return int(data) if whole and 0 <= data <= _MAX_COUNT else None
    found = _COUNT_TEXT.fullmatch(data) if isinstance(data, str) else None
    return int(found.group(1)) if found else None


class UnreadableAnswer(ValueError):
    """The platform's envelope, in bytes that are not in the charset its answer declares (or,
    declaring none, not in the UTF-8 of the spec)."""

    def __init__(self, charset: str) -> None:
        super().__init__(charset)
        self.charset = charset


_BOMS = (
    codecs.BOM_UTF8,
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
)
#: Labels that browsers read as GBK, which GB18030 extends: a platform declaring gb2312 still
#: sends the characters GBK added (生僻字 in names), and those must not make its answer unreadable.
_READ_AS_GB18030 = frozenset({"gb2312", "gbk", "gb18030"})
#: Labels under which the spec's UTF-8 comes all the same. Spring's StringHttpMessageConverter
#: declares ISO-8859-1 unless told otherwise, whatever bytes the JSON is in; its Jackson
#: converter, told to produce ``charset=GBK``, says so and writes UTF-8, which Jackson falls
#: back to for any charset but UTF-8/16/32. These charsets read most UTF-8 without an error,
#: so a platform's Chinese message reached the report as mojibake (å¨æID…, 鍛ㄦ湡ID…).
_UTF8_FIRST = frozenset({"iso8859-1", "cp1252", "gbk", "gb2312", "gb18030"})
#: What UTF-8 from a Chinese platform holds beyond ASCII: Chinese characters and punctuation.
#: A short message really in GBK may also be valid UTF-8 (one character in five is), but
#: then reads as Latin, Cyrillic or rare characters, not as these, so it is read as GBK.
_CHINESE_TEXT = re.compile(
    r"[\x00-\x7f\u2000-\u206f\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]*"
)


def read_answer(body: bytes, charset: str | None = None) -> Answer | None:
    """The envelope in ``body``, read in the ``charset`` its Content-Type declares (the spec's
    UTF-8 when it declares none), or None when the body is not one (a gateway's HTML page, an
    empty body, JSON of another shape). :class:`UnreadableAnswer` for an envelope whose
    bytes are not in that charset."""
    text = _decoded(body, charset)
    if text is not None:
        return _envelope(text)
    # Still an envelope when its non-ASCII bytes are ignored: the platform answered, in bytes
    # we cannot read. Anything else is some other page in some other charset.
    if _envelope(body.decode("utf-8", "replace")) is not None:
        raise UnreadableAnswer((charset or "UTF-8").upper())
    return None


def _decoded(body: bytes, charset: str | None) -> str | None:
    if charset and not body.startswith(_BOMS):
        try:
            name = codecs.lookup(charset).name
        except LookupError:
            name = None  # a label Python does not know: perhaps it is UTF-8 all the same
        if name in _UTF8_FIRST:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None  # in the charset declared after all
            if text is not None and (name not in _READ_AS_GB18030 or _CHINESE_TEXT.fullmatch(text)):
                return text
        if name is not None:
            try:
                return body.decode("gb18030" if name in _READ_AS_GB18030 else name)
            except UnicodeDecodeError:
                pass  # a platform declaring one charset and sending the spec's is common too
    try:
        # json's own detection: UTF-8, -16 or -32, with or without a byte order mark.
        return body.decode(json.detect_encoding(body))
    except UnicodeDecodeError:
        return None


def _envelope(text: str) -> Answer | None:
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or "code" not in parsed:
        return None
    raw_code = parsed["code"]
    if isinstance(raw_code, float) and raw_code.is_integer():
        # A Java gateway that parses the platform's answer into a Map with Gson and writes it
        # out again turns every number into a Double: 0.0, 40003.0.
        raw_code = int(raw_code)
    if isinstance(raw_code, bool) or not isinstance(raw_code, (int, str)):
        return None
    try:
        code = int(raw_code)
    except ValueError:
        return None
    msg = parsed.get("msg")
    if isinstance(msg, (dict, list)):
        # A Java platform putting its validator's findings there ({"cycleid": "不能为空"}):
        # said as JSON, not in Python's notation.
        msg = json.dumps(msg, ensure_ascii=False)
    return Answer(
        code=code,
        msg="" if msg is None else str(msg),
        data=parsed.get("data"),
        outcome=classify(code),
    )


def firewall_block(error: ArtreportError) -> Answer | None:
    """The answer to read into a client's error that may be a firewall blocking a data call
    (an HTTP 403/405 or 200 page: see ``PlatformClient._judge``), or None for any other
    error."""
    status = error.params.get("http_status")
    if not isinstance(error, UnreachableError) or not isinstance(status, int):
        return None
    return Answer(status, str(error.params.get("page", "")), None, Outcome.BLOCKED)
