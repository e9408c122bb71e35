"""Problems are values: a stable code, where it is (row, field) and what was found.

A problem is never raised to stop the program; checks yield them and reports collect them.
The code is stable across versions (scripts may match on it); the message comes from the
catalogue in the user's language.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from artreport.messages import catalogue, translate

Severity = Literal["error", "warning"]

# Problem codes (the catalogue holds their messages).
REQUIRED_MISSING = "required-missing"
NOT_INTEGER = "not-integer"
INTEGER_OUT_OF_RANGE = "integer-out-of-range"
NOT_NUMBER = "not-number"
BAD_DATE = "bad-date"
BAD_DATETIME = "bad-datetime"
PRECISION_LOST = "precision-lost"
LEADING_ZEROS_LOST = "leading-zeros-lost"
#: A number shorter than its column's codes in a file without cell types (CSV), where the
#: column's codes have letters: it may be right, so the row is still sent.
CODE_SHORTER_THAN_COLUMN = "code-shorter-than-column"
SPREADSHEET_ERROR = "spreadsheet-error-value"
UNSAVED_FORMULA_VALUE = "formula-without-value"
DATE_IN_TEXT_FIELD = "date-in-text-field"
ID_LOOK_ALIKE = "id-look-alike-character"
ID_NUMBER_WITHOUT_DIGITS = "id-number-without-digits"
NOT_TEXT = "not-text"
ONE_OF_REQUIRED = "one-of-required"
#: A field the spec makes optional on insert but required on delete, left blank: the row is
#: stored, and the record can then not be deleted.
BLANK_DELETE_KEY = "blank-delete-key"
ORGID_MISMATCH = "orgid-mismatch"
DUPLICATE_KEY = "duplicate-key"
IDCARD_CHECKSUM = "idcard-checksum"
IDCARD_MAYBE_ROUNDED = "idcard-maybe-rounded"
UNKNOWN_CODE = "unknown-code"
DATE_ORDER = "date-order"
OUT_OF_RANGE = "out-of-range"
#: A number in its field's plausible range times a smaller unit's size (3250 for kg): the
#: value is in that unit, and refused, where any other implausible value is a warning.
WRONG_UNIT_VALUE = "wrong-unit-value"
FUTURE_DATE = "future-date"
MISSING_COLUMN = "missing-column"
#: Beside MISSING_COLUMN: the header has every required column of another record type.
OTHER_RECORD_TYPE = "other-record-type"
UNKNOWN_COLUMNS = "unknown-columns"
DUPLICATE_COLUMN = "duplicate-column"
DUPLICATE_COLUMN_LOOSE = "duplicate-column-loose"
AMBIGUOUS_COLUMN = "ambiguous-column"
CONFLICTING_COLUMNS = "conflicting-columns"
WRONG_UNIT_COLUMN = "wrong-unit-column"
PLATFORM_REJECTED = "platform-rejected"
PLATFORM_STORED_FEWER = "platform-stored-fewer"
NOT_SENT_AUTH = "not-sent-auth"
NOT_SENT_UNREACHABLE = "not-sent-unreachable"
NOT_SENT_INTERRUPTED = "not-sent-interrupted"
NOT_SENT_STRICT = "not-sent-strict"
NOT_READ_AFTER_STOP = "not-read-after-stop"
#: A file of a sync that a signal stopped before it was reached: nothing of it read or sent.
NOT_SENT_SIGNAL = "sync-not-sent-signal"
NOT_READ_INPUT_ERROR = "not-read-input-error"

#: The params key naming the message a problem is told with, where one code is told in
#: words fitting what was found: the code, which scripts match on, stays the same.
WORDING = "wording"


class Wording:
    """The messages, other than its own, a code may be told with (see WORDING): no codes."""

    #: LEADING_ZEROS_LOST among codes that begin with letters (INF…): the letters may be
    #: what is missing.
    LEADING_ZEROS_LOST_PREFIX = "leading-zeros-lost-prefix"
    #: LEADING_ZEROS_LOST in a CSV, whose cells have no type to tell a number from a code.
    LEADING_ZEROS_LOST_TEXT = "leading-zeros-lost-text"
    #: PLATFORM_REJECTED of a row that a gateway refused for its size even alone (HTTP 413):
    #: the gateway's words say nothing a clerk can act on.
    PLATFORM_REJECTED_TOO_LARGE = "platform-rejected-too-large"
    #: PLATFORM_REJECTED of a row that a firewall in front of the platform blocked even
    #: alone (its own page, with HTTP 403, 405 or 200): its text set off a rule, which the
    #: clerk can change.
    PLATFORM_REJECTED_BLOCKED = "platform-rejected-blocked"
    #: NOT_SENT_UNREACHABLE of rows sent whose every answer was lost (a connection closed
    #: mid-answer, a timeout): the platform may have stored them.
    NOT_SENT_UNCONFIRMED = "not-sent-unconfirmed"
    #: NOT_SENT_UNREACHABLE of a row sent alone whose every answer timed out (or a gateway's
    #: 504) while other rows of its chunk were taken: the run went on without it.
    NOT_CONFIRMED_SLOW = "not-confirmed-slow"
    #: NOT_SENT_UNREACHABLE of a row sent alone whose every connection was reset after it was
    #: sent while other rows of its chunk were taken: an IPS or firewall cutting it for its text.
    NOT_CONFIRMED_RESET = "not-confirmed-reset"
    #: NOT_SENT_INTERRUPTED of rows left unsent because the ledger could not record what the
    #: platform accepted (its disk full): the state folder is what to fix, not the rows.
    NOT_SENT_LEDGER = "not-sent-ledger"
    #: DUPLICATE_KEY on the annotated copy's failed-rows sheet, where a row's number is not
    #: the one it had: the earlier row is named by its number in the original file.
    DUPLICATE_KEY_ORIGINAL_ROW = "duplicate-key-original-row"
    #: NOT_SENT_STRICT in a file without unknown references of its own: the files that hold
    #: them are named, or the clerk looks for them in this one.
    NOT_SENT_STRICT_ELSEWHERE = "not-sent-strict-elsewhere"
    #: CROSS_FILE_UNKNOWN of a record that an invalid row of the run's files holds: the clerk
    #: finds its ID there, so the row that holds it is named.
    CROSS_FILE_REFERENCE_INVALID = "cross-file-reference-invalid"
    #: CROSS_FILE_UNKNOWN in a push, which knows only what the ledger says was accepted.
    CROSS_FILE_REFERENCE_NEVER_SENT = "cross-file-reference-never-sent"
    #: NOT_INTEGER of a word in a coded field (字典项) the config gives no table for: the
    #: hospital's label for a code, which a table maps.
    NOT_INTEGER_WORD_IN_CODED = "not-integer-word-in-coded"
    #: UNSAVED_FORMULA_VALUE of a formula giving text that a legacy xls keeps as 0: the file
    #: holds a number in its place, not nothing, and saving it again in LibreOffice keeps it so.
    FORMULA_TEXT_SAVED_AS_ZERO = "formula-text-saved-as-zero"
    #: BAD_DATE or BAD_DATETIME of a real date too early for any record (0023-05-06).
    DATE_BEFORE_EARLIEST_YEAR = "date-before-earliest-year"
    #: BAD_DATE or BAD_DATETIME of a bare number a spreadsheet would read as a date (45052):
    #: the date it stands for is named, for the clerk to re-export or type.
    DATE_AS_SERIAL_NUMBER = "date-as-serial-number"


#: A code's short title is the catalogue entry of this prefix and the code (titles.yaml).
TITLE_PREFIX = "title-"


def problem_title(code: str, lang: str | None = None) -> str:
    """The short name of a problem code, for a table of counts by code. A code without a title
    stands for itself: its rows must still be counted, and the code still finds them."""
    key = TITLE_PREFIX + code
    return translate(key, lang) if key in catalogue() else code


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    row: int | None = None
    field: str | None = None
    value: Any = None
    severity: Severity = "error"
    primary_key: str | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def message(self, lang: str | None = None) -> str:
        return translate(
            self.params.get(WORDING, self.code),
            lang,
            row=self.row,
            field=self.field,
            value=_shown(self.value),
            **self.params,
        )

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "row": self.row,
            "primary_key": self.primary_key,
            "field": self.field,
            "code": self.code,
            "severity": self.severity,
            "message": self.message(lang),
            "value": self.value,
        }


def _shown(value: Any) -> Any:
    """A value as the file wrote it: a JSON ``true`` or object, not Python's ``True`` or
    ``{'id': …}``."""
    if isinstance(value, (bool, dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


class CellError(Exception):
    """Raised by a value reader for a cell it cannot accept; the validator turns it into a
    :class:`Problem`. An exception keeps the common, valid path free of result tuples."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params
