"""Value readers: turn what a clerk's export really holds into exactly what the platform accepts.

Each reader takes one cell (a ``str`` from CSV, a number, date or string from a spreadsheet,
any JSON value) and returns the platform's value, :data:`BLANK` for an empty cell, or raises
:class:`CellError`. They are built once per column by :func:`value_reader`, so the per-cell path
is a plain function call with the common case first.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from artreport.dictionaries import label_key
from artreport.readers.table import TEXT_RESULT_LOST, UNSAVED_FORMULA
from artreport.schema import Field
from artreport.validation.idcard import looks_like_resident_id
from artreport.validation.problems import (
    BAD_DATE,
    BAD_DATETIME,
    DATE_IN_TEXT_FIELD,
    ID_LOOK_ALIKE,
    ID_NUMBER_WITHOUT_DIGITS,
    INTEGER_OUT_OF_RANGE,
    LEADING_ZEROS_LOST,
    NOT_INTEGER,
    NOT_NUMBER,
    NOT_TEXT,
    PRECISION_LOST,
    SPREADSHEET_ERROR,
    UNKNOWN_CODE,
    UNSAVED_FORMULA_VALUE,
    WORDING,
    CellError,
    Wording,
)


class _Blank:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BLANK"


BLANK: Final = _Blank()

#: Relative difference below which a double is taken for the whole number next to it.
_FLOAT_NOISE = 1e-9
#: Significant digits a spreadsheet works to and shows: its arithmetic leaves 0.1+0.2 in the
#: file as 0.30000000000000004 (LibreOffice's xls, Excel's xlsx), the clerk sees 0.3.
_SHOWN_DIGITS = 15

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# A double holds 15–17 significant digits; an ID of 16 or more digits that went through a
# spreadsheet number has lost its tail (330101199001011234 → 3.30101199001011E+17).
_EXACT_DIGITS_LIMIT = 10**15
_WHOLE_NUMBER_AS_FLOAT = re.compile(r"^[0-9]+\.0+$")
# What a spreadsheet or a program writes of a number too long to show (3.30101E+17,
# LibreOffice's 3.30101199001011E+017, 3.30101199001011e17): a signed exponent or a decimal
# point. A code such as 1E0023 or 12E3 has neither.
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:\.\d+[eE][+-]?|[eE][+-])\d+$")

# Excel serial day numbers 20000–80000 are the years 1954–2119: anything a clinic records.
_SERIAL_MIN, _SERIAL_MAX = 20000, 80000
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)

_CANONICAL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CANONICAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_DATE_TEXT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s+|T|(?<=日))(\d{1,2})\s*[:时点]\s*(\d{1,2})"
    r"(?:\s*[:分]\s*(\d{1,2})(?:\.\d+)?\s*秒?|\s*分)?)?$"
)
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:[ T]?(\d{2})(\d{2})(\d{2})?)?$")

# Forms tried only once the ones above have failed, so that the common cell pays nothing for
# them. What Excel and WPS write of a cell shown in a 12-hour or a month-name format when the
# sheet is saved "as displayed": 2023/5/6 下午 3:00, 2023-05-06 下午3:00, 2023-5-6 8:30 PM,
# 06-May-2023.
_HALF_DAY = r"(上午|下午|[AaPp][Mm])"
_CLOCK = r"(\d{1,2})\s*[:时点]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:\.\d+)?\s*秒?|\s*分)?"
_DATE_TEXT_12_HOUR = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    rf"(?:\s*{_HALF_DAY}\s*|\s+|(?<=日)){_CLOCK}(?:\s*{_HALF_DAY})?$"
)
# Day, month's name, year: only a year of four digits. In 6-May-23 the century is a guess,
# and so is which number is the day (Excel's d-mmm-yy, or yy-mmm-d).
_DATE_MONTH_NAME = re.compile(
    r"^(\d{1,2})(?:\s*-\s*|\s+)([A-Za-z]{3,9})\.?(?:\s*-\s*|\s+)(\d{4})"
    rf"(?:(?:\s*{_HALF_DAY}\s*|\s+){_CLOCK}(?:\s*{_HALF_DAY})?)?$"
)
# The English names and their usual abbreviations, in any case (MAY, May, may).
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_AFTERNOON = frozenset({"下午", "PM"})
# ISO 8601 with an offset from UTC, as JSON writes a moment: 2024-05-06T14:00:00+08:00,
# JavaScript's 2024-05-06T06:00:00.000Z, or the offset as +0800 or +08.
_ISO_WITH_OFFSET = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
    r"\s*(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$"
)
#: What python-calamine hands over for an ods cell of time type (a date-time cell whose format
#: shows only the time, 07:05:09): the time since 1899-12-30 as an ISO 8601 duration,
#: PT1082599H05M08.999999519S.
_ODS_DURATION = re.compile(r"^PT([0-9]+)H([0-9]+)M([0-9]+(?:\.[0-9]+)?)S$")
#: The platform's times are China's local time, which has been UTC+8 all year since 1991.
_CHINA_TIME = dt.timezone(dt.timedelta(hours=8))
#: No patient, birth or treatment of this platform's is older: an earlier year is a slip of the
#: keys (0023 or 1023 for 2023), and one below 1000 is not even written in four digits by
#: strftime (23-05-06 00:00:00, which the platform refuses and compares as a future date).
EARLIEST_YEAR: Final = 1900
EARLIEST_YEAR_TEXT: Final = str(EARLIEST_YEAR)

# Caches for the readers whose parsing is costly and whose inputs repeat (dates, numbers as
# text). Bounded so that a column of unique values cannot grow them without limit.
_CACHE_LIMIT = 4096


#: Characters that show as nothing: a number, a date or a name means the same without them (an
#: ID does not: there they are refused as making it look like another).
#: (Not the direction marks U+202A–202E: ‮12 shows as "21", and is refused as written.)
_INVISIBLE = dict.fromkeys([0x00AD, 0x180E, *range(0x200B, 0x200E), 0x2060, 0xFEFF])
INVISIBLE_CHARACTERS: Final = tuple(map(chr, _INVISIBLE))


def _ascii_digits(text: str) -> str:
    """Full-width digits and punctuation (``２０２３／５／６``) → ASCII, without invisible
    characters (a zero-width space pasted in from a web page)."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text.translate(_INVISIBLE))


def _cached(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    cache: dict[str, Any] = {}

    def lookup(text: str) -> Any:
        try:
            return cache[text]
        except KeyError:
            pass
        result = parse(text)  # a CellError is not cached: bad cells are rare
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[text] = result
        return result

    return lookup


# --- text ---------------------------------------------------------------------------------


def _text_from_number(
    value: float | int, numbers_are_doubles: bool, codes: TypicalCodes | None
) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CellError(NOT_TEXT)
        if not value.is_integer():
            return repr(_as_shown(value) if numbers_are_doubles else value)
        value = int(value)
        if abs(value) >= _EXACT_DIGITS_LIMIT:
            raise CellError(PRECISION_LOST)
    elif numbers_are_doubles and abs(value) >= _EXACT_DIGITS_LIMIT:
        raise CellError(PRECISION_LOST)
    text = str(value)
    if codes is not None and len(text) < codes.length:
        # The column's codes are text of this length (003476); a shorter number among them is
        # one whose leading zeros the spreadsheet dropped (003476 → 3476). Where they begin
        # with letters (INF20000001), a bare number may as well have lost its letters.
        if codes.prefix:
            raise CellError(
                LEADING_ZEROS_LOST,
                length=codes.length,
                prefix=codes.prefix,
                **{WORDING: Wording.LEADING_ZEROS_LOST_PREFIX},
            )
        raise CellError(LEADING_ZEROS_LOST, length=codes.length)
    return text


# What a spreadsheet writes into a cell whose formula failed; never a value to send.
_SPREADSHEET_ERRORS = frozenset(
    {"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!"}
)


def cell_text(value: str) -> str:
    """A text cell without surrounding spaces and without what exporters put around a value
    to make Excel keep it as text (the ``="000123"`` wrapper, a leading ``'`` or a backtick
    before a code); ``NULL``, which database tools write for an empty cell, is empty; a
    spreadsheet's error value (``#N/A``) and a formula without its result are refused."""
    text = value.strip()
    if not text or text[0] not in _MARKED:
        return text
    return _unmarked(text)


#: LibreOffice's form of an error value (Err:502, an invalid argument), in its cells and in
#: the CSV it saves.
_LIBREOFFICE_ERROR = re.compile(r"Err:[0-9]{3}")
#: The first characters of what :func:`_unmarked` looks at: the common cell starts with none.
_MARKED = frozenset("=#'`NnE")
_NULL = frozenset({"NULL", "null", "Null"})
_CODE_AFTER_MARK = re.compile(r"[0-9A-Za-z._-]*[0-9][0-9A-Za-z._-]*")


def _unmarked(text: str) -> str:
    first = text[0]
    if first == "=":
        if text.startswith('="') and text.endswith('"') and len(text) >= 3:
            return text[2:-1].strip()
    elif first == "'" or first == "`":
        # Only before a code or an ID (letters and digits, with a digit), where it is the mark
        # an exporter puts to keep Excel from turning 000123 into 123: in a name ('t Hooft) or
        # an address it is the text itself.
        rest = text[1:].lstrip()
        if rest.isascii() and _CODE_AFTER_MARK.fullmatch(rest):
            return rest
    elif first == "#":
        if text.upper() in _SPREADSHEET_ERRORS:
            raise CellError(SPREADSHEET_ERROR)
        if text == UNSAVED_FORMULA:
            raise CellError(UNSAVED_FORMULA_VALUE)
        if text == TEXT_RESULT_LOST:
            raise CellError(UNSAVED_FORMULA_VALUE, **{WORDING: Wording.FORMULA_TEXT_SAVED_AS_ZERO})
    elif first == "E":
        if _LIBREOFFICE_ERROR.fullmatch(text):
            raise CellError(SPREADSHEET_ERROR)
    elif text in _NULL:
        return ""
    return text


def _text_reader(
    numbers_are_doubles: bool, codes: TypicalCodes | None, *, visible: bool = False
) -> Callable[[Any], Any]:
    """``visible``: without the characters that show as nothing (a zero-width space or a BOM
    pasted in with a name), which the platform would store, so that the 张三 it holds is not
    the 张三 the clerk sees. An ID's reader sees them, to refuse them."""

    def read_text(value: Any) -> Any:
        if value.__class__ is str:
            text = cell_text(value)
            if visible and not text.isprintable():
                text = text.translate(_INVISIBLE).strip()
            if not text:
                return BLANK
            if numbers_are_doubles and text[0] == "P" and _ODS_DURATION.match(text):
                raise CellError(DATE_IN_TEXT_FIELD)  # a time cell, as a date cell of an xlsx
            if text[0] in "0123456789+-":
                if ("E" in text or "e" in text) and _SCIENTIFIC.match(text):
                    raise CellError(PRECISION_LOST)
                if _WHOLE_NUMBER_AS_FLOAT.match(text):
                    # 10388644.0: an ID that went through a float column (Excel, pandas).
                    return _text_from_number(float(text), numbers_are_doubles, codes)
            return text
        if value is None:
            return BLANK
        if isinstance(value, bool):
            raise CellError(NOT_TEXT)
        if isinstance(value, (int, float)):
            return _text_from_number(value, numbers_are_doubles, codes)
        if isinstance(value, (dt.date, dt.time)):
            # A spreadsheet turned a code such as "3-5" into a date: the original is gone.
            raise CellError(DATE_IN_TEXT_FIELD)
        raise CellError(NOT_TEXT)

    return read_text


#: Full-width forms of ASCII's letters, digits and signs (an input method left on).
_FULL_WIDTH = range(0xFF01, 0xFF5F)


def _identifier_reader(read_text: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Text, refusing an ID with a character that makes it look like another: invisible
    (a zero-width space, a line break inside a quoted CSV cell) or a full-width letter or
    digit. The platform would store it as a new record beside the one it looks like."""

    def read_identifier(value: Any) -> Any:
        text = _without_mark(read_text(value))
        if text.__class__ is str and not (text.isascii() and text.isprintable()):
            for character in text:
                if not character.isprintable() or ord(character) in _FULL_WIDTH:
                    raise CellError(ID_LOOK_ALIKE, character=_character_name(character))
        return text

    return read_identifier


#: Full-width letters, digits and signs, and the ideographic space, as their ASCII selves.
_HALF_WIDTH = {code: code - 0xFEE0 for code in _FULL_WIDTH} | {0x3000: 0x20}


#: What separates a resident ID number's groups when it is written in them: spaces, hyphens and
#: dashes.
_GROUP_SEPARATORS = str.maketrans(dict.fromkeys(" -\u2010\u2011\u2012\u2013\u2014\u2015"))


def _id_number_reader(read_text: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An identity document's number as the platform must receive it to find the patient:
    full-width characters (a Chinese input method's ３３０１…) as ASCII; a resident ID number
    written with spaces or hyphens between its groups, or with a small x, in its one form.
    An invisible character is refused, as in a record's ID: it cannot be told from the number
    without it, and the platform would take it for another person's."""

    def read_id_number(value: Any) -> Any:
        text = _without_mark(read_text(value))
        if text.__class__ is not str or (
            text.isascii() and text.isalnum() and text == text.upper() and not text.isalpha()
        ):
            return text
        text = text.translate(_HALF_WIDTH)
        for character in text:
            if not character.isprintable():
                raise CellError(ID_LOOK_ALIKE, character=_character_name(character))
        if not any(character.isdigit() for character in text):
            # Every kind of document number has digits; a name here means the row's columns
            # have shifted, or the wrong column was filled in.
            raise CellError(ID_NUMBER_WITHOUT_DIGITS)
        compact = text.translate(_GROUP_SEPARATORS)
        if looks_like_resident_id(compact) or (len(compact) == 15 and compact.isdigit()):
            return compact.upper()  # an 18-digit number, or an old 15-digit one
        return text

    return read_id_number


def _without_mark(text: Any) -> Any:
    """An ID or a date without the ' or backtick an exporter put before it for Excel, whatever
    follows (cell_text takes it off only before a code: a name may begin with one)."""
    if text.__class__ is str and text[:1] in _MARKS:
        return text[1:].lstrip() or BLANK
    return text


_MARKS = ("'", "`")


def _character_name(character: str) -> str:
    name = unicodedata.name(character, "")
    if not name and character in "\r\n\t":
        name = {"\r": "CARRIAGE RETURN", "\n": "LINE FEED", "\t": "TAB"}[character]
    return f"U+{ord(character):04X} {name}".rstrip()


# --- integers and numbers -------------------------------------------------------------------


def _checked_int(number: int) -> int:
    if INT32_MIN <= number <= INT32_MAX:
        return number
    raise CellError(INTEGER_OUT_OF_RANGE)


#: A number written with thousands separators, as a web page or a CSV saved "as shown" has
#: it: 12,345,678 (two separators) or 1,234.5 (a decimal point as well). 3,250 alone could be
#: a decimal comma (3.25 kg, a thousand times less), and 0,500 can only be one: refused.
_GROUPED = re.compile(r"[+-]?[1-9][0-9]{0,2}(?:(?:,[0-9]{3}){2,}(?:\.[0-9]+)?|,[0-9]{3}\.[0-9]+)")


#: Spaces a number may hold: after its sign, and between groups of three digits (1 234 567, as
#: a French or SI export writes thousands). Others join numbers that were two: 3 5 is not 35.
_SPACED = re.compile(r"[+-]? *[0-9]{1,3}(?: [0-9]{3})*(?:\.[0-9]+)?")


def _plain_digits(text: str) -> str:
    digits = _ascii_digits(text)
    if " " in digits:
        digits = digits.strip()  # one that stood beside an invisible character
        if " " in digits and not _SPACED.fullmatch(digits):
            return digits  # refused by int() and float() as it is
        digits = digits.replace(" ", "")
    # A full-width comma (，) is Chinese punctuation, not a separator a program writes.
    if "," in digits and "，" not in text and _GROUPED.fullmatch(digits):
        return digits.replace(",", "")
    return digits


def _int_from_text(text: str) -> int:
    digits = _plain_digits(text)
    if "_" in digits:
        raise CellError(NOT_INTEGER)
    try:
        return _checked_int(int(digits))
    except ValueError:
        pass
    try:
        number = float(digits)
    except ValueError:
        raise CellError(NOT_INTEGER) from None
    if not math.isfinite(number) or not number.is_integer():
        raise CellError(NOT_INTEGER)
    return _checked_int(int(number))


def read_integer(value: Any) -> Any:
    if value.__class__ is str:
        text = cell_text(value)
        if not text:
            return BLANK
        if text.isascii() and text.isdigit() and len(text) < 10:
            return int(text)
        return _int_from_text(text)
    if value.__class__ is int:
        return _checked_int(value)
    if value is None:
        return BLANK
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CellError(NOT_INTEGER)
        whole = round(value)
        # A spreadsheet's arithmetic leaves 2.9999999999999996 where the clerk sees 3.
        if abs(value - whole) > _FLOAT_NOISE * max(1.0, abs(value)):
            raise CellError(NOT_INTEGER)
        return _checked_int(whole)
    raise CellError(NOT_INTEGER)


def _coded_field_reader(value: Any) -> Any:
    """A coded field's (字典项) integer, refusing a word (身份证) in words that say how a code
    table in the config maps it. With a table, :func:`coded_reader` maps it instead."""
    try:
        return read_integer(value)
    except CellError as error:
        if error.code == NOT_INTEGER and value.__class__ is str and any(map(str.isalpha, value)):
            raise CellError(NOT_INTEGER, **{WORDING: Wording.NOT_INTEGER_WORD_IN_CODED}) from None
        raise


def _number_from_text(text: str) -> int | float:
    digits = _plain_digits(text)
    if "_" in digits:
        raise CellError(NOT_NUMBER)
    try:
        return int(digits)
    except ValueError:
        pass
    try:
        number = float(digits)
    except ValueError:
        raise CellError(NOT_NUMBER) from None
    if not math.isfinite(number):
        raise CellError(NOT_NUMBER)
    return whole_as_int(number)


#: Doubles up to here hold every whole number exactly; beyond, int() would spell out digits
#: the double only approximates.
_EXACT_INTS = 2**53


def whole_as_int(number: float) -> int | float:
    """A whole number as the int another export of the record gives: a workbook keeps every
    number as a double (35.0) where a CSV has 35, and the body sent, which --changed-only
    compares with the ledger's, must not depend on the file's format."""
    return int(number) if number.is_integer() and abs(number) < _EXACT_INTS else number


def read_number(value: Any) -> Any:
    if value.__class__ is str:
        text = cell_text(value)
        return _number_from_text(text) if text else BLANK
    if value is None:
        return BLANK
    if isinstance(value, bool):
        raise CellError(NOT_NUMBER)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CellError(NOT_NUMBER)
        return whole_as_int(value)
    raise CellError(NOT_NUMBER)


def _as_shown(value: float) -> float:
    """A spreadsheet's double to the digits the sheet shows of it."""
    return float(f"{value:.{_SHOWN_DIGITS}g}")


def read_spreadsheet_number(value: Any) -> Any:
    """:func:`read_number` of a spreadsheet's cell, without the noise its arithmetic leaves
    in the last of a double's digits."""
    if value.__class__ is float and not value.is_integer() and math.isfinite(value):
        return _as_shown(value)
    return read_number(value)


# --- dates and date-times -------------------------------------------------------------------


def _parse_date_text(text: str, code: str) -> dt.datetime:
    """``2023-05-06``, ``2023/5/6 8:00``, ``2023年5月6日``, ``20230506``, ``2023-05-06T08:00:00``,
    and those of :func:`_parse_other_date_text` → a datetime. Day-first and month-first forms
    (``6/5/2023``) are refused: ambiguous."""
    normal = _ascii_digits(text)
    match = _DATE_TEXT.match(normal) or _DATE_COMPACT.match(normal)
    if match is None:
        return _parse_other_date_text(normal, code)
    year, month, day, hour, minute, second = (int(part) if part else 0 for part in match.groups())
    try:
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise CellError(code) from None


def _parse_other_date_text(normal: str, code: str) -> dt.datetime:
    """``2023/5/6 下午 3:00``, ``2023-5-6 8:30 PM``, ``06-May-2023``,
    ``2023-05-06T08:00:00+08:00`` → a datetime."""
    match = _ISO_WITH_OFFSET.match(normal)
    if match is not None:
        return _in_china_time(match, code)
    match = _DATE_TEXT_12_HOUR.match(normal)
    if match is not None:
        year, month, day, before, hour, minute, second, after = match.groups()
    else:
        match = _DATE_MONTH_NAME.match(normal)
        if match is None or match[2].lower() not in _MONTHS:
            raise _not_a_date(normal, code)
        day, name, year, before, hour, minute, second, after = match.groups()
        month = str(_MONTHS[name.lower()])
    hour_of_day = int(hour) if hour else 0
    if before and after:
        raise CellError(code)  # 下午 3:00 PM: said twice, and perhaps not alike
    if before or after:
        hour_of_day = _hour_of_day(hour_of_day, before or after, code)
    try:
        return dt.datetime(
            int(year), int(month), int(day), hour_of_day, int(minute or 0), int(second or 0)
        )
    except ValueError:
        raise CellError(code) from None


def _in_china_time(match: re.Match[str], code: str) -> dt.datetime:
    """The moment an ISO 8601 date-time with an offset names, as China's clock shows it: at
    +08:00 as written, at another offset (or Z, UTC) moved to +08:00."""
    *moment, sign, hours, minutes = match.groups()
    if minutes is not None and int(minutes) >= 60:
        raise CellError(code)
    offset = dt.timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    try:
        zone = dt.timezone(-offset if sign == "-" else offset)
        year, month, day, hour, minute, second = (int(part or 0) for part in moment)
        written = dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
        return written.astimezone(_CHINA_TIME).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise CellError(code) from None


def _hour_of_day(hour: int, half_day: str, code: str) -> int:
    """The hour of a 12-hour clock's 1–12 and 上午/下午 (AM/PM) on the 24-hour clock: 12 上午 is
    midnight, 12 下午 noon. 0 or 13 with either is a contradiction, not guessed at."""
    if not 1 <= hour <= 12:
        raise CellError(code)
    return hour % 12 + (12 if half_day.upper() in _AFTERNOON else 0)


_SECOND = 1_000_000
#: Microseconds from which a spreadsheet's time shows as the next second.
HALF_SECOND: Final = _SECOND // 2


#: A bare count of days, as a spreadsheet keeps a date (1954 to 2119): a date column that went
#: out to a CSV formatted as a number. Refused all the same (another system's number could be
#: anything), but the clerk is told which date the spreadsheet meant.
_SERIAL_DAY = re.compile(r"[2-7][0-9]{4}(?:[.][0-9]+)?")


def _not_a_date(normal: str, code: str) -> CellError:
    if _SERIAL_DAY.fullmatch(normal):
        meant = _from_serial(float(normal), code)
        shown = meant.strftime("%Y-%m-%d" if code == BAD_DATE else "%Y-%m-%d %H:%M:%S")
        return CellError(code, date=shown, **{WORDING: Wording.DATE_AS_SERIAL_NUMBER})
    return CellError(code)


def _from_serial(value: float, code: str) -> dt.datetime:
    if not (_SERIAL_MIN <= value <= _SERIAL_MAX):
        raise CellError(code)
    # To the nearest second: a time stored as 45052.35416666666 is 08:30:00, not 08:29:59.
    return _EXCEL_EPOCH + dt.timedelta(seconds=round(value * 86400))


def _datetime_of(value: Any, code: str, numbers_are_doubles: bool) -> dt.datetime:
    """Any non-text cell that can stand for a moment in time."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_CHINA_TIME)
        if value.microsecond >= HALF_SECOND:
            # To the nearest second, as the sheet shows it and as a serial is read: a reader
            # hands over 45052.35416666 as 08:29:59.999 (LibreOffice's ods: .99), not 08:30:00.
            value += dt.timedelta(microseconds=_SECOND - value.microsecond)
        return value.replace(microsecond=0, tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CellError(code)
    if isinstance(value, float) and not value.is_integer():
        if numbers_are_doubles:
            return _from_serial(value, code)
        raise CellError(code)
    number = int(value)
    if 19000101 <= number <= 21001231:
        return _parse_date_text(str(number), code)
    if numbers_are_doubles:
        return _from_serial(number, code)
    raise CellError(code)


def _calendar_reader(
    numbers_are_doubles: bool,
    canonical: re.Pattern[str],
    from_iso: Callable[[str], object],
    code: str,
    form: str,
) -> Callable[[Any], Any]:
    """A date or date-time column's reader: ``form`` is the platform's strftime format."""

    @_cached
    def parse(text: str) -> str:
        text = _without_mark(text)
        if text is BLANK:
            raise CellError(code)
        if canonical.match(text):
            try:
                from_iso(text)
            except ValueError:
                raise CellError(code) from None
            if text[:4] < EARLIEST_YEAR_TEXT:
                raise _too_early(code)
            return text
        return _in_range(_parse_date_text(text, code), code).strftime(form)

    def read_calendar(value: Any) -> Any:
        if value.__class__ is str:
            text = cell_text(value)
            if numbers_are_doubles and text[:1] == "P":
                duration = _ODS_DURATION.match(text)
                if duration is not None:
                    hours, minutes, seconds = duration.groups()
                    days = (int(hours) * 3600 + int(minutes) * 60 + float(seconds)) / 86400
                    return _from_serial(days, code).strftime(form)
            return parse(text) if text else BLANK
        if value is None:
            return BLANK
        return _in_range(_datetime_of(value, code, numbers_are_doubles), code).strftime(form)

    return read_calendar


def _in_range(moment: dt.datetime, code: str) -> dt.datetime:
    if moment.year < EARLIEST_YEAR:
        raise _too_early(code)
    return moment


def _too_early(code: str) -> CellError:
    return CellError(code, year=EARLIEST_YEAR, **{WORDING: Wording.DATE_BEFORE_EARLIEST_YEAR})


def value_reader(
    field: Field, *, numbers_are_doubles: bool = False, codes: TypicalCodes | None = None
) -> Callable[[Any], Any]:
    """The reader for one column.

    ``numbers_are_doubles`` says the source stores numbers as IEEE doubles (spreadsheets), so a
    large integer may already have lost digits and a bare number in a date column is an Excel
    serial day; JSON integers are exact and CSV cells are text. ``codes`` is what the codes a
    text column holds as text look like (see :func:`typical_codes`): a shorter number there is
    refused.
    """
    if field.type == "string":
        if field.pii == "idcard":
            return _id_number_reader(_text_reader(numbers_are_doubles, codes))
        if field.identifier:
            return _identifier_reader(_text_reader(numbers_are_doubles, codes))
        return _text_reader(numbers_are_doubles, codes, visible=True)
    if field.type == "integer":
        return _coded_field_reader if field.dict else read_integer
    if field.type == "number":
        return read_spreadsheet_number if numbers_are_doubles else read_number
    if field.type == "date":
        return _calendar_reader(
            numbers_are_doubles, _CANONICAL_DATE, dt.date.fromisoformat, BAD_DATE, "%Y-%m-%d"
        )
    return _calendar_reader(
        numbers_are_doubles,
        _CANONICAL_DATETIME,
        dt.datetime.fromisoformat,
        BAD_DATETIME,
        "%Y-%m-%d %H:%M:%S",
    )


# ``1-顺产``, ``1:顺产``, ``1、顺产`` once white space is gone (``1 顺产`` → ``1顺产``).
_CODE_AND_LABEL = re.compile(r"^(-?\d+)[-:、.]?(.+)$")


_NOT_A_LABEL = frozenset({SPREADSHEET_ERROR, UNSAVED_FORMULA_VALUE})

#: Other words for a label, in any case: a JSON export writes a 1是2否 field's 是 as ``true``.
_LABEL_SYNONYMS: Mapping[str, tuple[str, ...]] = {"是": ("true",), "否": ("false",)}


def coded_reader(read: Callable[[Any], Any], table: Mapping[int, str]) -> Callable[[Any], Any]:
    """*read* (an integer column's reader) restricted to *table*'s codes, also taking a cell
    that holds the label (``顺产``) or the code and the label (``1-顺产``, as a template's
    drop-down enters it); where a label is 是 or 否, also ``true`` or ``false`` (a JSON
    boolean, or the word)."""
    by_label = {label_key(label): code for code, label in table.items()}
    for code, label in table.items():
        for synonym in _LABEL_SYNONYMS.get(label_key(label), ()):
            by_label.setdefault(synonym, code)
    allowed = ", ".join(f"{code}-{label}" for code, label in sorted(table.items()))

    def code_of_text(text: str) -> int:
        key = label_key(text)
        code = by_label.get(key)
        if code is not None:
            return code
        match = _CODE_AND_LABEL.match(key)
        if match and by_label.get(match[2]) == int(match[1]):
            return int(match[1])
        raise CellError(UNKNOWN_CODE, codes=allowed)

    def read_coded(value: Any) -> Any:
        try:
            code = read(value)
        except CellError as error:
            if value.__class__ is bool:
                return code_of_text("true" if value else "false")
            if value.__class__ is not str or error.code in _NOT_A_LABEL:
                raise  # an error value or a formula's mark is no label to look up
            return code_of_text(value)
        if code is BLANK or code in table:
            return code
        raise CellError(UNKNOWN_CODE, codes=allowed)

    return read_coded


_CODE_LIKE = re.compile(r"^[0-9A-Za-z]*[0-9][0-9A-Za-z]*$")
_ASCII_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Fewest text codes in a column before their length counts as evidence.
_MIN_CODE_EVIDENCE = 3


@dataclass(frozen=True, slots=True)
class TypicalCodes:
    """What most text codes of a column look like (see :func:`typical_codes`)."""

    length: int
    #: One of them, to show the clerk.
    example: str
    #: When most of them begin with letters, the letters most begin with (INF of INF20000001);
    #: else "".
    prefix: str
    #: Every one of them is digits (006523): a fixed-width numeric code.
    digits_only: bool


def typical_codes(cells: list[Any], *, all_text: bool = False) -> TypicalCodes | None:
    """The length most text codes in a column share, when at least three share it and they
    are most of the column's text codes; None when there is no such evidence.

    A spreadsheet turns a code typed as ``003476`` into the number 3476 but leaves ``YS4670``
    text, so the text codes of a column tell how long its numbers should have been.
    ``all_text`` is for a file without cell types (CSV): there a value of bare digits, such as
    3476, may be one of those numbers written back as text, and is no evidence; a code with a
    letter or a leading zero is.
    """
    # Each distinct value once: most columns repeat a few, and this runs on every file.
    codes: dict[int, dict[str, int]] = {}
    total = 0
    for cell, count in Counter(cells).items():
        if cell.__class__ is not str:
            continue
        if all_text:
            try:
                cell = cell_text(cell)
            except CellError:
                continue
            if cell.isdigit() and cell[0] != "0":
                continue
        # Codes mostly of digits: grades such as 4AB or 3BB say nothing of how long the
        # numbers of their column should be (a grade 2 is a grade 2).
        if (
            len(cell) >= 3
            and _CODE_LIKE.match(cell)
            and sum(map(str.isdigit, cell)) * 2 >= len(cell)
        ):
            of_length = codes.setdefault(len(cell), {})
            of_length[cell] = of_length.get(cell, 0) + count
            total += count
    if not codes:
        return None
    counts = {length: sum(found.values()) for length, found in codes.items()}
    length, count = max(counts.items(), key=lambda item: item[1])
    if count < _MIN_CODE_EVIDENCE or count * 2 <= total:
        return None
    typical = codes[length]
    prefixes: dict[str, int] = {}
    for code, times in typical.items():
        letters = code[: len(code) - len(code.lstrip(_ASCII_LETTERS))]
        if letters:
            prefixes[letters] = prefixes.get(letters, 0) + times
    prefix = ""
    if sum(prefixes.values()) * 2 > count:
        prefix = max(prefixes.items(), key=lambda item: item[1])[0]
    return TypicalCodes(
        length=length,
        example=next(code for code in typical if code.startswith(prefix)),
        prefix=prefix,
        digits_only=all(code.isdigit() for code in typical),
    )


#: What ``--blank-clears`` sends for an empty optional cell: the platform clears a field on
#: ``0`` (numbers) or ``""`` (text, dates).
CLEAR_VALUES: Final = {"string": "", "integer": 0, "number": 0, "date": "", "datetime": ""}
