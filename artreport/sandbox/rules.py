"""How the platform checks an uploaded batch, compiled once per record type from the schema.

The checks are the platform's, applied strictly: exact JSON types and exact date formats. They
deliberately share nothing with the client's validation, which is lenient by design; a sandbox
that reused it could never catch the client's mistakes.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta

from artreport.sandbox.protocol import (
    BUSINESS_ERROR,
    NAMES_EMPTY,
    ORG_MISMATCH,
    PARAM_MISSING,
)
from artreport.schema import RecordType

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
# ``[0-9]`` rather than ``\d``: ``\d`` also matches other scripts' digits.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


class Rejected(Exception):
    """The platform refuses the request: an answer ``code`` and, where the sandbox can say more
    than the spec's text, a ``detail`` message code with its parameters."""

    def __init__(
        self, code: int, detail: str | None = None, row: int | None = None, **params: Any
    ) -> None:
        super().__init__(code, detail, row)
        self.code = code
        self.detail = detail
        self.row = row
        self.params = params


def _is_string(value: Any) -> bool:
    return type(value) is str


def _is_integer(value: Any) -> bool:
    # ``type() is int`` rather than isinstance: JSON ``true`` parses to a bool, an int subclass.
    return type(value) is int and INT32_MIN <= value <= INT32_MAX


def _is_number(value: Any) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _calendar(pattern: re.Pattern[str], parse: Callable[[str], object]) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if type(value) is not str:
            return False
        if value == "":
            return True
        if pattern.fullmatch(value) is None:
            return False
        try:
            parse(value)  # the pattern fixes the shape; this rejects 2023-02-29 and 24:00:00
        except ValueError:
            return False
        return True

    return check


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (_is_string, "sandbox-bad-string"),
    "integer": (_is_integer, "sandbox-bad-integer"),
    "number": (_is_number, "sandbox-bad-number"),
    "date": (_calendar(_DATE, date.fromisoformat), "sandbox-bad-date"),
    "datetime": (_calendar(_DATETIME, datetime.fromisoformat), "sandbox-bad-datetime"),
}


# The form only, judged on the distinct values joined by new lines: ASCII, and with every
# digit turned into 0, each line exactly this (other scripts' digits are not ASCII).
# ``fromisoformat`` then judges each value (month 13, 2023-02-30, 24:00:00).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_DATE_SHAPE = b"0000-00-00\n"
_DATETIME_SHAPE = b"0000-00-00 00:00:00\n"
_FLOAT_MAX = sys.float_info.max

# What a clean batch's fields decode as: exact JSON types, no null (a null is stored
# differently: see Batch), int32 integers, finite numbers, required fields non-empty.
# Dates decode as text here; their form and calendar are judged on the distinct values.
_CLEAN_TYPES: dict[str, Any] = {
    "string": str,
    "integer": Annotated[int, Meta(ge=INT32_MIN, le=INT32_MAX)],
    "number": int | Annotated[float, Meta(ge=-_FLOAT_MAX, le=_FLOAT_MAX)],
    "date": str,
    "datetime": str,
}
_NON_EMPTY = Meta(min_length=1)


def _clean_batch_decoder(record_type: RecordType, required: frozenset[str]) -> Any:
    """A decoder of a batch in which every row passes the type checks and holds no null and
    no unknown field; it raises for any other batch. Attributes are ``f0``, ``f1``, … in the
    schema's field order, so that no API name can clash with Python.

    The struct declares its fields in order of name, the order artreport sends them in:
    msgspec looks for each key first just after the previous one, and takes nearly twice as
    long over rows whose keys come in another order.
    """
    fields: list[tuple[str, Any, Any]] = []
    for index, fld in sorted(enumerate(record_type.fields), key=lambda item: item[1].name):
        kind = _CLEAN_TYPES[fld.type]
        if fld.name in required:
            if kind is str:
                kind = Annotated[str, _NON_EMPTY]
            fields.append((f"f{index}", kind, msgspec.field(name=fld.name)))
        else:
            fields.append((f"f{index}", kind, msgspec.field(name=fld.name, default=UNSET)))
    row = msgspec.defstruct(
        f"Clean{record_type.resource}", fields, kw_only=True, forbid_unknown_fields=True
    )
    return msgspec.json.Decoder(list[row]).decode


def _tuples(attributes: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """``attrgetter`` that returns a tuple for one attribute too."""
    if len(attributes) == 1:
        only = attrgetter(attributes[0])
        return lambda row: (only(row),)
    return attrgetter(*attributes)


class _Calendar:
    """The date or date-time fields of a type, judged a batch at a time: the form of all its
    values at once, on their bytes; then each value's calendar with ``fromisoformat``.

    About 0.1 µs a value. Remembering the values already judged cost more than judging them
    again: a batch's date-times are mostly new, and hashing them into sets took twice as long
    as parsing them.
    """

    def __init__(self, attributes: list[str], shape: bytes, parse: Callable[[str], object]) -> None:
        self._getters = [attrgetter(attribute) for attribute in attributes]
        self._shape = shape
        self._parse = parse

    def accepts(self, rows: list[Any]) -> bool:
        if not self._getters:
            return True
        values: list[Any] = []
        for getter in self._getters:
            values += map(getter, rows)
        # Absent (UNSET) and empty values are falsy: neither has a form to judge.
        values = list(filter(None, values))
        try:
            joined = ("\n".join(values) + "\n").encode("ascii")
        except UnicodeEncodeError:
            return False
        # A value holding a new line passes line by line, but makes one line too many.
        if joined.translate(_DIGITS_AS_ZERO) != self._shape * len(values):
            return False
        try:
            for _ in map(self._parse, values):
                pass
        except ValueError:
            return False
        return True


def parse_batch(body: bytes) -> list[Any]:
    """The request body (UTF-8, as the spec fixes it) as a JSON array.

    msgspec, like the platform, accepts only strict JSON and UTF-8: ``NaN`` and ``Infinity``,
    which Python's own parser would take, are refused.
    """
    try:
        rows = msgspec.json.decode(body)
    except ValueError:  # msgspec.DecodeError and UnicodeDecodeError are ValueErrors
        raise Rejected(BUSINESS_ERROR, "sandbox-body-invalid") from None
    if type(rows) is not list:
        raise Rejected(BUSINESS_ERROR, "sandbox-body-invalid")
    return rows


@dataclass(frozen=True)
class Batch:
    """A batch that passed every check."""

    #: The JSON array to store: the body itself when every row is stored as sent, else the
    #: known, non-null fields of each row.
    body: bytes
    count: int


class BatchRules:
    """The platform's checks for one record type."""

    def __init__(self, record_type: RecordType) -> None:
        self.record_type = record_type
        self.primary_key = record_type.primary_key
        self._checks = {f.name: _CHECKS[f.type][0] for f in record_type.fields}
        self._messages = {f.name: _CHECKS[f.type][1] for f in record_type.fields}
        # A row without its primary key could not be stored, whatever the schema file says.
        self._required = tuple(
            dict.fromkeys([record_type.primary_key, *(f.name for f in record_type.required_fields)])
        )
        # Declared in the schema for the information record's fName/wName: error 40008.
        self._one_of = record_type.one_of_required
        self._decode_clean = _clean_batch_decoder(record_type, frozenset(self._required))
        attribute = {f.name: f"f{index}" for index, f in enumerate(record_type.fields)}
        by_type: dict[str, list[str]] = {}
        for fld in record_type.fields:
            by_type.setdefault(fld.type, []).append(attribute[fld.name])
        self._calendars = (
            _Calendar(by_type.get("date", []), _DATE_SHAPE, date.fromisoformat),
            _Calendar(by_type.get("datetime", []), _DATETIME_SHAPE, datetime.fromisoformat),
        )
        self._orgids = attrgetter(attribute["orgid"]) if "orgid" in attribute else None
        self._keys = attrgetter(attribute[self.primary_key])
        self._groups = [_tuples([attribute[name] for name in group]) for group in self._one_of]

    def check(
        self, body: bytes, orgid: str, reject_prefix: str | None, unknown: Counter[str]
    ) -> Batch:
        """The batch to store, or :class:`Rejected` for its first bad row: all or nothing.

        The fields to store are the known, non-null ones: a null field, like a missing one,
        leaves the stored value alone. Unknown fields are ignored, as the platform does, and
        counted in ``unknown``.
        """
        count = self._count_if_clean(body, orgid, reject_prefix)
        if count is not None:
            return Batch(body, count)
        rows = parse_batch(body)
        kept_rows: list[dict[str, Any]] = []
        verbatim = True
        for number, row in enumerate(rows, start=1):
            kept = self._check_row(number, row, orgid, unknown)
            if reject_prefix and str(kept[self.primary_key]).startswith(reject_prefix):
                raise Rejected(BUSINESS_ERROR, "sandbox-rule-rejected", number)
            kept_rows.append(kept)
            verbatim = verbatim and len(kept) == len(row)
        return Batch(body if verbatim else msgspec.json.encode(kept_rows), len(kept_rows))

    def _count_if_clean(self, body: bytes, orgid: str, reject_prefix: str | None) -> int | None:
        """The number of rows when every row passes every check and holds no null and no
        unknown field; None means only "look row by row": the row loop then finds the first
        bad row and the exact answer, or stores the batch after all.

        Row by row the checks cost about 10 µs a row; here msgspec checks the types while it
        parses, in C, and the rest is judged a field at a time on distinct values, which is
        what lets the sandbox keep up with a push instead of being its bottleneck.
        """
        try:
            rows = self._decode_clean(body)
        except ValueError:  # msgspec.ValidationError and DecodeError are ValueErrors
            return None
        if not all(calendar.accepts(rows) for calendar in self._calendars):
            return None
        if self._orgids is not None and not set(map(self._orgids, rows)) <= {orgid, UNSET, ""}:
            return None
        for group in self._groups:
            # Names are text: a row whose names are all absent (UNSET) or "" has none.
            if not all(map(any, map(group, rows))):
                return None
        if reject_prefix and any(
            str(key).startswith(reject_prefix) for key in map(self._keys, rows)
        ):
            return None
        return len(rows)

    def _check_row(
        self, number: int, row: Any, orgid: str, unknown: Counter[str]
    ) -> dict[str, Any]:
        # This loop runs once per uploaded row: keep it free of function calls it can avoid.
        if type(row) is not dict:
            raise Rejected(BUSINESS_ERROR, "sandbox-row-not-object", number)
        row_orgid = row.get("orgid")
        if row_orgid != orgid and row_orgid is not None and row_orgid != "":
            raise Rejected(ORG_MISMATCH, "sandbox-orgid-mismatch", number)
        for name in self._required:
            value = row.get(name)
            if value is None or value == "":
                raise Rejected(PARAM_MISSING, "sandbox-missing-field", number, field=name)
        for group in self._one_of:
            if all(row.get(name) in (None, "") for name in group):
                raise Rejected(NAMES_EMPTY, "sandbox-code-40008", number)
        kept: dict[str, Any] = {}
        checks = self._checks
        for name, value in row.items():
            check = checks.get(name)
            if check is None:
                unknown[name] += 1
            elif value is not None:
                if not check(value):
                    raise Rejected(BUSINESS_ERROR, self._messages[name], number, field=name)
                kept[name] = value
        return kept
