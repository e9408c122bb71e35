"""How the platform checks an uploaded batch, compiled once per record type from the schema.

The checks are the platform's, applied strictly: exact JSON types and exact date formats. They
deliberately share nothing with the client's validation, which is lenient by design; a sandbox
that reused it could never catch the client's mistakes.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import repeat
from operator import itemgetter, methodcaller
from typing import Any

import orjson

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


class _Absent:
    """A field the row does not have (unlike ``None``, a JSON null)."""


_ABSENT = _Absent()
# The form only: ``fromisoformat`` then judges each distinct value (month 13, 2023-02-30,
# 24:00:00). ``[0-9]`` rather than ``\d``, which also matches other scripts' digits.
_DATE_COLUMN = re.compile(r"(?:(?:[0-9]{4}-[0-9]{2}-[0-9]{2})?\n)*")
_DATETIME_COLUMN = re.compile(r"(?:(?:[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})?\n)*")
#: Dates a calendar column remembers as checked; more, and it starts afresh.
_KNOWN_DATES_LIMIT = 50_000

# Column checks take the values a batch holds for one field (rows without it left out).


def _strings_column(values: Sequence[Any]) -> bool:
    return set(map(type, values)) <= {str}


def _integers_column(values: Sequence[Any]) -> bool:
    if not set(map(type, values)) <= {int}:
        return False
    return not values or (min(values) >= INT32_MIN and max(values) <= INT32_MAX)


def _numbers_column(values: Sequence[Any]) -> bool:
    if not set(map(type, values)) <= {int, float}:
        return False
    return all(map(math.isfinite, values))


class _CalendarColumn:
    """A date or date-time column's check. Uploads repeat their dates batch after batch, so
    the values already found good are remembered and only new ones are judged."""

    def __init__(self, form: re.Pattern[str], parse: Callable[[str], object]) -> None:
        self._form = form
        self._parse = parse
        self._known: set[str] = set()

    def __call__(self, values: Sequence[Any]) -> bool:
        try:
            distinct = set(values)
        except TypeError:  # a JSON array or object
            return False
        if distinct <= self._known:
            return True
        if not set(map(type, distinct)) <= {str}:
            return False
        new = distinct - self._known
        if self._form.fullmatch("\n".join(new) + "\n") is None:
            return False
        try:
            for value in new:
                if value:
                    self._parse(value)
        except ValueError:
            return False
        if len(self._known) > _KNOWN_DATES_LIMIT:
            self._known = set()
        self._known |= new
        return True


def _column_checks() -> dict[str, Callable[[Sequence[Any]], bool]]:
    return {
        "string": _strings_column,
        "integer": _integers_column,
        "number": _numbers_column,
        "date": _CalendarColumn(_DATE_COLUMN, date.fromisoformat),
        "datetime": _CalendarColumn(_DATETIME_COLUMN, datetime.fromisoformat),
    }


def _columns(rows: list[dict[str, Any]], names: list[str]) -> tuple[Iterable[Sequence[Any]], bool]:
    """The batch's values of each field, and whether every row holds every field.

    Rows of one upload usually hold the same fields: then one C-level ``itemgetter`` call a row
    takes them all. Otherwise a row without a field gives ``_ABSENT`` in that field's column.
    """
    if len(names) > 1:
        try:
            return zip(*map(itemgetter(*names), rows), strict=True), True
        except KeyError:
            pass
    return (list(map(dict.get, rows, repeat(name), repeat(_ABSENT))) for name in names), False


def parse_batch(body: bytes) -> tuple[str, list[Any]]:
    """The request body as text (UTF-8, as the spec fixes it) and as a JSON array.

    orjson, like the platform, accepts only strict JSON and UTF-8: ``NaN`` and ``Infinity``,
    which Python's own parser would take, are refused.
    """
    try:
        rows = orjson.loads(body)
        text = body.decode("utf-8")
    except ValueError:  # orjson.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Rejected(BUSINESS_ERROR, "sandbox-body-invalid") from None
    if type(rows) is not list:
        raise Rejected(BUSINESS_ERROR, "sandbox-body-invalid")
    return text, rows


@dataclass(frozen=True)
class Batch:
    """A batch that passed every check: the fields to store of each row."""

    rows: list[dict[str, Any]]
    #: True when every row is stored exactly as sent (no null, no unknown field), so that the
    #: body's own text can be stored without encoding the rows again.
    verbatim: bool


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
        self._required_set = frozenset(self._required)
        self._field_types = {f.name: f.type for f in record_type.fields}
        by_type = _column_checks()
        self._column_checks = {f.name: by_type[f.type] for f in record_type.fields}
        # Declared in the schema for the information record's fName/wName: error 40008.
        self._one_of = record_type.one_of_required

    def check(
        self, rows: list[Any], orgid: str, reject_prefix: str | None, unknown: Counter[str]
    ) -> Batch:
        """The batch to store, or :class:`Rejected` for its first bad row: all or nothing.

        The fields to store are the known, non-null ones: a null field, like a missing one,
        leaves the stored value alone. Unknown fields are ignored, as the platform does, and
        counted in ``unknown``.
        """
        if self._whole_batch_is_clean(rows, orgid, reject_prefix):
            return Batch(rows, verbatim=True)
        kept_rows: list[dict[str, Any]] = []
        verbatim = True
        for number, row in enumerate(rows, start=1):
            kept = self._check_row(number, row, orgid, unknown)
            if reject_prefix and str(kept[self.primary_key]).startswith(reject_prefix):
                raise Rejected(BUSINESS_ERROR, "sandbox-rule-rejected", number)
            kept_rows.append(kept)
            verbatim = verbatim and len(kept) == len(row)
        return Batch(kept_rows, verbatim)

    def _whole_batch_is_clean(self, rows: list[Any], orgid: str, reject_prefix: str | None) -> bool:
        """True when every row passes every check and holds no null and no unknown field, judged
        a field at a time over the whole batch. False means only "look row by row": the row
        loop then finds the first bad row and the exact answer, or stores the batch after all.

        Row by row the checks cost about 7 µs a row; a field at a time they run mostly inside
        C (``set``, ``map``, ``min``, one regular expression per date field), which is what
        lets the sandbox keep up with a push instead of being its bottleneck.
        """
        if not rows or set(map(type, rows)) != {dict}:
            return False
        present = set().union(*rows)
        if not present <= self._field_types.keys():
            return False
        for name in self._required:
            if name not in present:
                return False
        names = list(present)
        columns, complete = _columns(rows, names)
        checks = self._column_checks
        for name, column in zip(names, columns, strict=True):
            if complete:
                values = column
            else:
                values = [v for v in column if v is not _ABSENT]
                if len(values) != len(column) and name in self._required_set:
                    return False
            if not checks[name](values):
                return False
            if name in self._required_set and "" in values:
                return False
        if not set(map(methodcaller("get", "orgid"), rows)) <= {orgid}:
            return False
        for group in self._one_of:
            for row in rows:
                if all(row.get(name) in (None, "") for name in group):
                    return False
        if reject_prefix:
            keys = map(methodcaller("get", self.primary_key), rows)
            if any(str(key).startswith(reject_prefix) for key in keys):
                return False
        return True

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
