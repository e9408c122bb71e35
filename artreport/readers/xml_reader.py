"""Excel 2003 XML workbooks (SpreadsheetML): what some hospital systems export as ``.xls``.

Excel opens them like any workbook, so the clerk cannot tell. The file is parsed as it is
read, one row at a time, and each row let go once read: memory stays flat. Cells are given as
the file writes them, which is as text: a number keeps the digits written (an ID its zeros),
a date-time is shown as ``2023-05-06 08:30:00``. A cell merged over rows below its own gives
each of them its value in its first column, as in an xlsx (with the same notice).
"""

from __future__ import annotations

import contextlib
import html
import mmap
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError, iterparse

from artreport.errors import InputError
from artreport.readers.layout import Header, MissingColumns, choose_sheet, find_header
from artreport.readers.table import Notice, Row
from artreport.readers.text import TextTable

_SS = "urn:schemas-microsoft-com:office:spreadsheet"
#: How an Excel 2003 XML workbook is known among other markup.
SPREADSHEET_MARK = _SS.encode()
_WORKSHEET, _TABLE, _ROW, _CELL, _DATA = (
    f"{{{_SS}}}{name}" for name in ("Worksheet", "Table", "Row", "Cell", "Data")
)
_NAME, _INDEX = f"{{{_SS}}}Name", f"{{{_SS}}}Index"
_ACROSS, _DOWN, _TYPE = (f"{{{_SS}}}{name}" for name in ("MergeAcross", "MergeDown", "Type"))
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})")


def open_spreadsheet_xml(
    path: Path,
    *,
    sheet: str | None,
    is_known_header: Callable[[str], bool] | None,
    missing_columns: MissingColumns | None = None,
    notices: list[Notice],
) -> XmlTable:
    raw = path.open("rb")
    try:
        return XmlTable(path, raw, sheet, is_known_header, notices, missing_columns)
    except BaseException:
        raw.close()
        raise


class XmlTable(TextTable):
    def __init__(
        self,
        path: Path,
        raw: BinaryIO,
        sheet: str | None,
        is_known_header: Callable[[str], bool] | None,
        notices: list[Notice],
        missing_columns: MissingColumns | None = None,
    ) -> None:
        self._raw = raw
        self._filled = 0
        self._is_known_header = is_known_header
        self._first_filled: int | None = None
        super().__init__(path, "xml", [], 0, notices=notices)
        with self._translating_errors():
            sheets = _sheets(path)
            names = [name for name, _ in sheets]
            if sheet is not None and sheet not in names:
                raise InputError("input-sheet-not-found", sheet=sheet, sheets=", ".join(names))
            # The first visible sheet, as in an xlsx; after a sheet of notes (说明) or of
            # another record type, the one whose header fits.
            visible = [name for name, hidden in sheets if not hidden] or names[:1]
            header: Header | None = None
            if sheet is not None:
                header = self._header(sheet, is_known_header)
            elif visible:
                before = len(self.notices)
                chosen, _, header = choose_sheet(
                    visible,
                    lambda name: (None, self._header(name, is_known_header)),
                    is_known_header,
                    missing_columns,
                )
                if self.sheet != visible[0]:
                    # Other sheets were read for their headers: the file has been read on
                    # from there, and a sheet read to its end said what it did (its merged
                    # cells). Read the chosen one again, and only its news.
                    del self.notices[before:]
                    header = self._header(chosen, is_known_header)
                if chosen != visible[0]:
                    self.notices.append(
                        Notice(
                            "sheet-chosen-by-header", None, {"sheet": chosen, "first": visible[0]}
                        )
                    )
                elif len(visible) > 1:
                    # The clerk sees several tabs: say which one was read.
                    self.notices.append(
                        Notice("sheet-read", None, {"sheet": chosen, "count": len(visible)})
                    )
        self._records = self._adopt_header(header)

    def _header(self, sheet: str, is_known_header: Callable[[str], bool] | None) -> Header | None:
        """*sheet*'s header, the file read up to it; the rows after it are read from there."""
        self.sheet = sheet
        return find_header(self._parsed(sheet), str.strip, is_known_header)

    def _parsed(self, sheet: str) -> Iterator[Row]:
        self._raw.seek(0)
        self._filled, self._first_filled = 0, None  # a sheet passed over had its own
        name: str | None = None
        table: Element | None = None  # the <Table> being passed over or read
        number = 0
        # Column → (value, last row) of cells merged over rows below their own.
        carried: dict[int, tuple[str, int]] = {}
        for event, element in iterparse(self._raw, events=("start", "end")):
            tag = element.tag
            if tag == _WORKSHEET and event == "start":
                name = element.get(_NAME, "")
            elif tag == _TABLE and event == "start":
                table = element
            elif tag == _TABLE and event == "end":
                if name == sheet:
                    break  # the rest of the file is other sheets
                element.clear()
            elif tag == _ROW and event == "end":
                if name == sheet:
                    number = int(element.get(_INDEX) or number + 1)
                    yield number, self._cells(element, number, carried)
                # Let go of every row once read or passed over: memory stays flat however
                # long the sheets.
                element.clear()
                if table is not None:
                    with contextlib.suppress(ValueError):  # a row outside its <Table>
                        table.remove(element)
        if self._first_filled is not None:
            self.notices.append(
                Notice("merged-cells-filled", self._first_filled, {"count": self._filled})
            )

    def _cells(self, row: Element, number: int, carried: dict[int, tuple[str, int]]) -> list[str]:
        cells: list[str] = []
        for cell in row.iter(_CELL):
            column = int(cell.get(_INDEX) or len(cells) + 1) - 1
            cells.extend([""] * (column - len(cells)))
            data = cell.find(_DATA)
            text = "" if data is None else _text(data)
            if text and int(cell.get(_DOWN) or 0) > 0:
                carried[column] = (text, number + int(cell.get(_DOWN) or 0))
                self._filled += 1
            cells.append(text)
            cells.extend([""] * int(cell.get(_ACROSS) or 0))
        for column, (value, last) in list(carried.items()):
            if number > last:
                del carried[column]
                continue
            cells.extend([""] * (column + 1 - len(cells)))
            if not cells[column]:
                cells[column] = value
                if self._first_filled is None:
                    self._first_filled = number
        return cells

    @contextlib.contextmanager
    def _translating_errors(self) -> Iterator[None]:
        try:
            yield
        except ParseError as error:
            # A damaged or cut-off file.
            line = error.position[0]
            raise InputError("input-bad-xml", path=str(self.path), line=line) from None

    def close(self) -> None:
        self._raw.close()


def _text(data: Element) -> str:
    # Rich text (<ss:Data><Font>…</Font></ss:Data>) keeps its words in the inner elements.
    text = "".join(data.itertext()).strip()
    if data.get(_TYPE) == "DateTime":
        matched = _DATE_TIME.match(text)
        if matched:
            return f"{matched[1]} {matched[2]}"
    return text


#: A worksheet's start, and a sheet marked hidden in its options (which come after its rows).
_SHEET_MARKS = re.compile(
    rb"<(?:ss:)?Worksheet\b[^>]*?\bss:Name\s*=\s*\"([^\"]*)\""
    rb"|<(?:x:)?Visible>\s*Sheet(?:Very)?Hidden\s*</(?:x:)?Visible>"
)


def _sheets(path: Path) -> list[tuple[str, bool]]:
    """Each worksheet's name and whether it is hidden, in order: found by their marks in the
    bytes (a hidden sheet says so only after all its rows), without parsing the file."""
    sheets: list[tuple[str, bool]] = []
    with (
        path.open("rb") as file,
        contextlib.suppress(ValueError),  # an empty file cannot be mapped
        mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as content,
    ):
        for mark in _SHEET_MARKS.finditer(content):
            if mark[1] is not None:
                sheets.append((html.unescape(mark[1].decode("utf-8", "replace")), False))
            elif sheets:
                sheets[-1] = (sheets[-1][0], True)
    return sheets
