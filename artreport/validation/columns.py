"""Checking a batch of rows a column at a time.

Validation has to keep up with reading (the target is a third of the speed of a raw CSV read),
and a loop over cells spends more on its own bookkeeping than on the cells. A column of a batch,
though, can usually be judged whole with C-speed tools — ``str.strip`` mapped over it, one
regular expression over its cells joined by new lines, ``fromisoformat`` on its distinct values.
When a column holds anything unusual (a refused cell, a blank required cell, a number in a text
column of a spreadsheet) it is read cell by cell with the column's own reader instead, and the
positions of the cells that reader refused are returned so the validator can re-read those
rows the slow way, collecting every problem with its field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

from artreport.validation.problems import CellError
from artreport.validation.values import BLANK

_NO_POSITIONS: frozenset[int] = frozenset()

# Whole columns, joined by "\n" with a final "\n": every cell blank or of the plain form.
_INTEGERS = re.compile(r"(?:-?\d{1,9}\n|\n)*")
_DECIMALS = re.compile(r"(?:-?(?:\d+(?:\.\d*)?|\.\d+)\n|\n)*")
# ASCII digits only: the platform must receive exactly yyyy-MM-dd, never full-width digits.
_DATES = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}\n|\n)*")
_DATETIMES = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\n|\n)*")
# A number in scientific notation anywhere in a text column: a spreadsheet's mangled ID.
_SCIENTIFIC_LINE = re.compile(r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$", re.MULTILINE)


def convert_column(
    cells: Sequence[Any],
    kind: str,
    read: Callable[[Any], Any],
    *,
    required: bool,
    clear: Any,
) -> tuple[list[Any], frozenset[int] | set[int]]:
    """The column's values (``clear`` for a blank optional cell, normally :data:`BLANK`) and
    the positions whose cell the reader refused or that are blank though required."""
    try:
        whole = _WHOLE_COLUMN[kind](cells, required, clear)
    except (TypeError, ValueError):
        whole = None
    if whole is not None:
        return whole, _NO_POSITIONS
    return _cell_by_cell(cells, read, required, clear)


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


def _text(cells: Sequence[Any], required: bool, clear: Any) -> Any:
    stripped = list(map(str.strip, cells))  # TypeError: not all text (a spreadsheet's numbers)
    joined = "\n".join(stripped)
    if ("e" in joined or "E" in joined) and _SCIENTIFIC_LINE.search(joined):
        return None
    if "" not in stripped:
        return stripped
    return None if required else [text or clear for text in stripped]


def _integers(cells: Sequence[Any], required: bool, clear: Any) -> Any:
    if not _INTEGERS.fullmatch("\n".join(cells) + "\n"):  # TypeError: not all text
        return None
    if "" not in cells:
        return list(map(int, cells))
    return None if required else [int(c) if c else clear for c in cells]


def _numbers(cells: Sequence[Any], required: bool, clear: Any) -> Any:
    if not _DECIMALS.fullmatch("\n".join(cells) + "\n"):
        return None
    if "" in cells and required:
        return None
    return [(float(c) if "." in c else int(c)) if c else clear for c in cells]


def _dates(cells: Sequence[Any], required: bool, clear: Any) -> Any:
    return _canonical(cells, required, clear, _DATES, dt.date.fromisoformat)


def _datetimes(cells: Sequence[Any], required: bool, clear: Any) -> Any:
    return _canonical(cells, required, clear, _DATETIMES, dt.datetime.fromisoformat)


def _canonical(
    cells: Sequence[Any],
    required: bool,
    clear: Any,
    form: re.Pattern[str],
    parse: Callable[[str], Any],
) -> Any:
    """Dates already written exactly as the platform wants them: kept as they are once each
    distinct value is a real calendar date (``parse`` raises ValueError for 2023-02-30)."""
    if not form.fullmatch("\n".join(cells) + "\n"):
        return None
    for value in set(cells):
        if value:
            parse(value)
    if "" not in cells:
        return list(cells)
    return None if required else [c or clear for c in cells]


_WHOLE_COLUMN: dict[str, Callable[[Sequence[Any], bool, Any], Any]] = {
    "string": _text,
    "integer": _integers,
    "number": _numbers,
    "date": _dates,
    "datetime": _datetimes,
}
