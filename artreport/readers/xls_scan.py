"""What calamine does not tell of a legacy xls sheet: its error cells.

python-calamine reads a cell holding an error value (``#N/A`` from a failed look-up,
``#DIV/0!``) as empty, so an optional field would be left out (or, with --blank-clears,
cleared) while the clerk sees the error; see ``xlsx_scan`` for why such cells are refused.

The file's bytes are first searched for the two records that can hold an error (an error
constant, a formula whose result is an error), which takes a few milliseconds. Only a file
that has one is read a second time, by xlrd, to place them: xlrd is slow (a few seconds for
60,000 rows), but it is the reader of the format that tells a cell's type, and the rare file
with an error value pays for it alone.
"""

from __future__ import annotations

import mmap
import os
import re
from pathlib import Path

from artreport.readers.xlsx_scan import SheetScan

# BIFF records, little-endian: a BOOLERR (0x0205, 8 bytes) whose flag says error; a FORMULA
# (0x0006) whose cached result is an error (type 2, 0xFFFF in its last two bytes). The
# error codes are BIFF's: #NULL! #DIV/0! #VALUE! #REF! #NAME? #NUM! #N/A.
_CODES = rb"[\x00\x07\x0f\x17\x1d\x24\x2a]"
_ERROR_RECORD = re.compile(
    rb"\x05\x02\x08\x00.{6}" + _CODES + rb"\x01"
    rb"|\x06\x00..(?:.{6})\x02\x00" + _CODES + rb"\x00\x00\x00\xff\xff",
    re.DOTALL,
)


def scan_xls_sheet(path: Path, sheet: str) -> SheetScan:
    found = SheetScan()
    try:
        suspected = _error_records(path)
    except (OSError, ValueError):
        return found
    if not suspected:
        return found
    try:
        _place_errors(path, sheet, found)
    except Exception:  # xlrd fails its own ways on files calamine reads
        found = SheetScan()
        found.unplaced_errors = suspected
    return found


def _error_records(path: Path) -> int:
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return sum(1 for _ in _ERROR_RECORD.finditer(data))


def _place_errors(path: Path, sheet: str, found: SheetScan) -> None:
    import xlrd  # only for the rare file with an error value

    with open(os.devnull, "w") as quiet:  # xlrd prints its warnings to a log file
        book = xlrd.open_workbook(str(path), on_demand=True, logfile=quiet)
        try:
            cells = book.sheet_by_name(sheet)
            for row in range(cells.nrows):
                types = cells.row_types(row)
                if xlrd.XL_CELL_ERROR not in types:
                    continue
                values = cells.row_values(row)
                for column, kind in enumerate(types):
                    if kind == xlrd.XL_CELL_ERROR:
                        text = xlrd.error_text_from_code.get(values[column], "#VALUE!")
                        found.place(row + 1, column, text)
        finally:
            book.release_resources()
