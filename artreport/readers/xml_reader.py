"""Excel 2003 XML workbooks (SpreadsheetML): what some hospital systems export as ``.xls``.

Excel opens them like any workbook, so the clerk cannot tell. The file is parsed as it is
read, one row at a time, and each row let go once read: memory stays flat. Cells are given as
the file writes them, which is as text: a number keeps the digits written (an ID its zeros),
a date-time is shown as ``2023-05-06 08:30:00``. A cell merged over rows below its own gives
each of them its value in its first column, as in an xlsx (with the same notice).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError, iterparse

from artreport.errors import InputError
from artreport.readers.layout import find_header
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
    notices: list[Notice],
) -> XmlTable:
    raw = path.open("rb")
    try:
        return XmlTable(path, raw, sheet, is_known_header, notices)
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
    ) -> None:
        self._raw = raw
        self._wanted = sheet
        self._filled = 0
        self._first_filled: int | None = None
        super().__init__(path, "xml", [], 0, notices=notices)
        with self._translating_errors():
            header = find_header(self._parsed(), str.strip, is_known_header)
        self._records = self._adopt_header(header)

    def _parsed(self) -> Iterator[Row]:
        sheets: list[str] = []
        reading: Element | None = None  # the chosen sheet's <Table>, while it is read
        number = 0
        # Column → (value, last row) of cells merged over rows below their own.
        carried: dict[int, tuple[str, int]] = {}
        for event, element in iterparse(self._raw, events=("start", "end")):
            tag = element.tag
            if tag == _WORKSHEET and event == "start":
                sheets.append(element.get(_NAME, ""))
            elif tag == _TABLE and event == "start" and self.sheet is None:
                if self._wanted is None or sheets[-1] == self._wanted:
                    self.sheet, reading = sheets[-1], element
            elif tag == _TABLE and event == "end":
                if element is reading:
                    break  # the rest of the file is other sheets
                element.clear()  # a sheet before the chosen one
            elif tag == _ROW and event == "end" and reading is not None:
                number = int(element.get(_INDEX) or number + 1)
                yield number, self._cells(element, number, carried)
                # Let go of the row, so that memory stays flat however long the sheet.
                element.clear()
                with contextlib.suppress(ValueError):  # a row outside its <Table>
                    reading.remove(element)
        if self.sheet is None and self._wanted is not None:
            raise InputError("input-sheet-not-found", sheet=self._wanted, sheets=", ".join(sheets))
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
