"""Checking a batch of rows a column at a time.

Validation has to keep up with reading (the target is a third of the speed of a raw CSV read),
and a loop over cells spends more on its own bookkeeping than on the cells. A column of a batch,
though, can usually be judged whole with C-speed tools — ``str.strip`` mapped over it, one
regular expression or a byte translation over its cells joined by new lines, ``fromisoformat``
on its distinct values.
When a column holds anything unusual (a refused cell, a blank required cell, a number in a text
column of a spreadsheet) it is read cell by cell with the column's own reader instead, and the
positions of the cells that reader refused are returned so the validator can re-read those
rows the slow way, collecting every problem with its field.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from artreport.validation.problems import CellError
from artreport.validation.values import (
    BLANK,
    EARLIEST_YEAR,
    EARLIEST_YEAR_TEXT,
    HALF_SECOND,
    INVISIBLE_CHARACTERS,
    whole_as_int,
)

_NO_POSITIONS: frozenset[int] = frozenset()

# Whole columns, joined by "\n" with a final "\n": every cell blank or of the plain form.
_INTEGERS = re.compile(r"(?:-?\d{1,9}\n|\n)*")
_DECIMALS = re.compile(r"(?:-?(?:\d+(?:\.\d*)?|\.\d+)\n|\n)*")
# A column of dates already written exactly as the platform wants them is recognised by its
# shape: ASCII, every digit turned into 0, each line one of these. Only ASCII digits pass, since
# the platform must receive exactly yyyy-MM-dd, never full-width digits.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_DATE_SHAPE = b"0000-00-00\n"
_DATETIME_SHAPE = b"0000-00-00 00:00:00\n"
# A number in scientific notation anywhere in a text column: a spreadsheet's mangled ID.
_SCIENTIFIC_LINE = re.compile(r"^[+-]?\d+(?:\.\d+[eE][+-]?|[eE][+-])\d+$", re.MULTILINE)


#: The kind of a column only its reader can judge (a coded field with a table): it has no
#: whole-column reader, so every distinct value goes through the reader.
CODED = "coded"

#: The kind of a text column holding IDs: whole-column reading takes it only when all of its
#: text is printable ASCII, so that the reader judges any other character.
IDENTIFIER = "identifier"

#: The kind of a column holding identity document numbers: whole-column reading takes it only
#: when its reader would change nothing (see ``values._id_number_reader``).
ID_NUMBER = "id-number"

#: Distinct values a column remembers the reading of; more, and it starts afresh.
CACHE_LIMIT = 20_000

#: Batches a column of too many distinct values to look up goes without trying again.
VARIED_BATCHES_SKIPPED = 8

#: A column's values, and whether some of them are :data:`BLANK`.
Read = tuple[list[Any], bool]


class ColumnCache:
    """What a column remembers across batches: the reading of each distinct cell seen, which
    of those cells read as blank, and for how many more batches its cells are too varied to
    be worth looking up."""

    __slots__ = ("blank_cells", "readings", "skip")

    def __init__(self) -> None:
        self.readings: dict[Any, Any] = {}
        self.blank_cells: set[Any] = set()
        self.skip = 0


def convert_column(
    cells: Sequence[Any],
    kind: str,
    read: Callable[[Any], Any],
    *,
    required: bool,
    clear: Any,
    cache: ColumnCache,
) -> tuple[list[Any], frozenset[int] | set[int]]:
    """The column's values (``clear`` for a blank optional cell, normally :data:`BLANK`) and
    the positions whose cell the reader refused or that are blank though required.

    ``cache`` belongs to the column and lasts across batches: most columns hold a few distinct
    values (codes, counts, dates), so reading each distinct value once and looking the rest up
    is the cheapest whole-column check there is.
    """
    found = _from_cache(cells, read, cache)
    whole_column = _WHOLE_COLUMN.get(kind)
    if found is None and whole_column is not None:
        try:
            found = whole_column(cells)
        except (TypeError, ValueError):
            found = None
    if found is None:
        return _cell_by_cell(cells, read, required, clear)
    values, has_blank = found
    if has_blank:
        if required:
            return _cell_by_cell(cells, read, required, clear)
        if clear is not BLANK:
            values = [clear if value is BLANK else value for value in values]
    return values, _NO_POSITIONS


def _from_cache(
    cells: Sequence[Any], read: Callable[[Any], Any], cache: ColumnCache
) -> Read | None:
    """Every cell read through ``cache``; None when the column is better read another way (too
    many distinct values, a refused cell, booleans, which hash like 0 and 1)."""
    if cache.skip:
        cache.skip -= 1
        return None
    readings = cache.readings
    try:
        values = _look_up(readings, cells)
    except KeyError:
        values = None
    except TypeError:  # an unhashable JSON value
        return None
    if values is None:
        try:
            distinct = set(cells)
        except TypeError:
            return None
        if len(distinct) * 4 > len(cells):
            cache.skip = VARIED_BATCHES_SKIPPED
            return None
        if bool in set(map(type, distinct)):
            return None
        missing = distinct.difference(readings)
        if len(readings) + len(missing) > CACHE_LIMIT:
            readings.clear()
            cache.blank_cells.clear()
            missing = distinct
        try:
            for cell in missing:
                reading = readings[cell] = read(cell)
                if reading is BLANK:
                    cache.blank_cells.add(cell)
        except CellError:
            return None
        values = _look_up(readings, cells)
    blank_cells = cache.blank_cells
    return values, bool(blank_cells) and not blank_cells.isdisjoint(cells)


def _look_up(readings: dict[Any, Any], cells: Sequence[Any]) -> list[Any]:
    # One itemgetter of all the cells looks them up in C, twice as fast as mapping
    # readings.__getitem__; given one cell, though, it returns the value, not a tuple.
    if len(cells) == 1:
        return [readings[cells[0]]]
    return list(operator.itemgetter(*cells)(readings))


def _cell_by_cell(
    cells: Sequence[Any], read: Callable[[Any], Any], required: bool, clear: Any
) -> tuple[list[Any], set[int]]:
    values: list[Any] = []
    refused: set[int] = set()
    for position, cell in enumerate(cells):
        try:
            value = read(cell)
        except CellError:
            refused.add(position)
            value = BLANK
        if value is BLANK:
            if required:
                refused.add(position)
            value = clear
        values.append(value)
    return values, refused


# Whole-column readers for text cells (CSV) of many distinct values: they return the column's
# values with BLANK for blank cells, None when some cell needs its reader, or raise TypeError
# (a cell is not text) or ValueError (a date that does not exist).


def _text(cells: Sequence[Any]) -> Read | None:
    stripped = list(map(str.strip, cells))
    joined = "\n".join(stripped)
    if ("e" in joined or "E" in joined) and _SCIENTIFIC_LINE.search(joined):
        return None
    if '="' in joined or "#" in joined or ".0" in joined or "'" in joined or "`" in joined:
        # Excel's ="…" wrapper or a leading ', an error value like #N/A, an ID written as
        # 10388644.0: the column's reader knows what to make of them.
        return None
    if "NULL" in joined or "null" in joined or "Null" in joined:
        return None  # a database tool's empty cell
    # Each character sought alone (memchr-fast), which costs a name column a tenth of a regex.
    if not joined.isascii() and any(map(joined.__contains__, INVISIBLE_CHARACTERS)):
        return None  # a zero-width space pasted in with a name: the reader takes it out
    if "" not in stripped:
        return stripped, False
    return [text or BLANK for text in stripped], True


def _id_numbers(cells: Sequence[Any]) -> Read | None:
    found = _text(cells)
    if found is None:
        return None
    values = [value for value in found[0] if value is not BLANK]
    text = "".join(values)
    # Letters and digits only, no small letter: nothing for the reader to put in its form;
    # and a digit in each (PASSPORT is a word, not a number: the reader refuses it).
    if not (text.isascii() and text.isalnum() and text == text.upper()):
        return None
    return None if any(map(str.isalpha, values)) else found


def _identifiers(cells: Sequence[Any]) -> Read | None:
    found = _text(cells)
    if found is None:
        return None
    text = "".join(value for value in found[0] if value is not BLANK)
    return found if text.isascii() and text.isprintable() else None


def _integers(cells: Sequence[Any]) -> Read | None:
    if not _INTEGERS.fullmatch("\n".join(cells) + "\n"):
        return None
    if "" not in cells:
        return list(map(int, cells)), False
    return [int(c) if c else BLANK for c in cells], True


def _numbers(cells: Sequence[Any]) -> Read | None:
    if not _DECIMALS.fullmatch("\n".join(cells) + "\n"):
        return None
    values = [(whole_as_int(float(c)) if "." in c else int(c)) if c else BLANK for c in cells]
    return values, "" in cells


def _dates(cells: Sequence[Any]) -> Read | None:
    try:
        return _canonical(cells, _DATE_SHAPE, dt.date.fromisoformat)
    except TypeError:  # not all text: a spreadsheet's date cells
        return _calendar_cells(cells, _date_text)


def _datetimes(cells: Sequence[Any]) -> Read | None:
    try:
        return _canonical(cells, _DATETIME_SHAPE, dt.datetime.fromisoformat)
    except TypeError:
        return _calendar_cells(cells, _datetime_text)


# A spreadsheet's date cells, as the cell readers write them (``values._datetime_of``): the
# time of day to the second (a cell the reader rounds up is left to it), a bare date at
# midnight, a date-time's day for a date.
def _date_text(cell: Any) -> str:
    return str(cell.isoformat()[:_DATE_WIDTH])


def _datetime_text(cell: Any) -> str:
    if cell.__class__ is dt.datetime:
        return str(cell.isoformat(" ", "seconds"))
    return str(cell.isoformat()) + " 00:00:00"


_DATE_WIDTH = len("yyyy-mm-dd")
_CALENDAR_CELLS = frozenset({dt.datetime, dt.date, str})


def _calendar_cells(cells: Sequence[Any], text_of: Callable[[Any], str]) -> Read | None:
    """A spreadsheet column of date cells and blank cells; None when some cell is something
    else (a date typed as text, a number), for the column's reader to judge."""
    if not set(map(type, cells)) <= _CALENDAR_CELLS:
        return None
    values = []
    has_blank = False
    for cell in cells:
        kind = cell.__class__
        if kind is str:
            if cell.strip():
                return None
            values.append(BLANK)
            has_blank = True
        else:
            if cell.year < EARLIEST_YEAR or (
                kind is dt.datetime and (cell.tzinfo is not None or cell.microsecond >= HALF_SECOND)
            ):
                return None  # for the reader: too early, another zone, rounded up
            values.append(text_of(cell))
    return values, has_blank


def _canonical(cells: Sequence[Any], shape: bytes, parse: Callable[[str], Any]) -> Read | None:
    """Dates already written exactly as the platform wants them, kept as they are once each is
    a real calendar date and time (``parse`` raises ValueError for 2023-02-30 or 25:00:00)."""
    try:
        joined = ("\n".join(cells) + "\n").encode("ascii")
    except UnicodeEncodeError:
        return None
    shapes = joined.translate(_DIGITS_AS_ZERO)
    # Taking out every whole line of the right shape leaves only the blank lines.
    has_blank = shapes != shape * len(cells)
    if has_blank and shapes.replace(shape, b"").strip(b"\n"):
        return None
    if b" 24:" in joined:
        # Some Pythons read 24:00:00 as the next day's midnight; the platform does not.
        return None
    distinct = set(cells)
    distinct.discard("")
    if distinct and min(distinct) < EARLIEST_YEAR_TEXT:
        return None  # 0023-05-06: its reader refuses it
    # A cell holding a new line passes the shape test line by line; parse refuses it whole.
    for _ in map(parse, distinct):
        pass
    if not has_blank:
        return list(cells), False
    return [c or BLANK for c in cells], True


_WHOLE_COLUMN: dict[str, Callable[[Sequence[Any]], Read | None]] = {
    "string": _text,
    IDENTIFIER: _identifiers,
    ID_NUMBER: _id_numbers,
    "integer": _integers,
    "number": _numbers,
    "date": _dates,
    "datetime": _datetimes,
}
