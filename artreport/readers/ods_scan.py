"""What calamine does not tell of an ods sheet: its error cells and hidden rows.

LibreOffice saves a failed formula's cell with its error text (``#DIV/0!``, ``Err:502``) and
marks it ``calcext:value-type="error"``; python-calamine reads such a cell as empty, so an
optional field would be left out (or, with --blank-clears, cleared) while the clerk sees the
error. See ``xlsx_scan`` for why such cells are refused, and why hidden rows are mentioned.

``content.xml`` is first searched a megabyte at a time for either mark; only a sheet that has
one is walked cell by cell, which costs about as much as calamine's own read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

from artreport.readers.xlsx_scan import SheetScan

_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_CALCEXT_VALUE_TYPE = (
    "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}value-type"
)
_OFFICE_VALUE_TYPE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}value-type"
_CELLS = frozenset({f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"})
_ROW = f"{_TABLE}table-row"
_SHEET = f"{_TABLE}table"
_HIDDEN = frozenset({"collapse", "filter"})
_MARKS = (b'value-type="error"', b'visibility="collapse"', b'visibility="filter"')
_CHUNK = 1 << 20
#: Error cells a row repeats (a row copied down a thousand times) placed at most: beyond the
#: sheet's data they are nothing calamine reads.
_MOST_REPEATS = 100_000


def scan_ods_sheet(path: Path, sheet: str) -> SheetScan:
    found = SheetScan()
    try:
        with zipfile.ZipFile(path) as archive:
            with archive.open("content.xml") as stream:
                if not _has_marks(stream):
                    return found
            with archive.open("content.xml") as stream:
                _walk(stream, sheet, found)
    except (OSError, zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError):
        # calamine read the file; whatever this second look cannot, it leaves to calamine.
        return SheetScan()
    return found


def _has_marks(stream: IO[bytes]) -> bool:
    overlap = max(map(len, _MARKS))
    tail = b""
    while chunk := stream.read(_CHUNK):
        text = tail + chunk
        if any(mark in text for mark in _MARKS):
            return True
        tail = text[-overlap:]
    return False


def _walk(stream: IO[bytes], sheet: str, found: SheetScan) -> None:
    in_sheet = False
    row = 1  # as the spreadsheet numbers it
    column = 0
    errors: list[tuple[int, str]] = []
    filled = False
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        tag = element.tag
        if event == "start":
            if tag == _ROW:
                column, errors, filled = 0, [], False
            elif tag == _SHEET:
                in_sheet = element.get(f"{_TABLE}name") == sheet
                row = 1
            continue
        if tag in _CELLS:
            if in_sheet:
                repeat = int(element.get(f"{_TABLE}number-columns-repeated", "1"))
                if element.get(_OFFICE_VALUE_TYPE) is not None:
                    filled = True
                if element.get(_CALCEXT_VALUE_TYPE) == "error":
                    text = "".join(element.itertext()).strip()
                    errors.extend((column + offset, text) for offset in range(min(repeat, 256)))
                column += repeat
            element.clear()
        elif tag == _ROW:
            if in_sheet:
                repeat = int(element.get(f"{_TABLE}number-rows-repeated", "1"))
                hidden = element.get(f"{_TABLE}visibility") in _HIDDEN
                for offset in range(min(repeat, _MOST_REPEATS) if filled else 0):
                    for error_column, text in errors:
                        found.place(row + offset, error_column, text)
                    if hidden:
                        found.hidden_rows.append(row + offset)
                row += repeat
            element.clear()
        elif tag == _SHEET and in_sheet:
            return
