"""What the text readers share: a table whose cells are all text and whose rows may differ in
length (CSV, a web page's table)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from artreport.readers.layout import FOOTER_MARKS, footer_kind, footer_notice, footnotes_notice
from artreport.readers.table import Notice, Row, Table


class TextTable(Table):
    """Blank rows, 小计 and 合计 rows and the footnotes below a 合计 are left out, and each row
    is fitted to the header's width.

    A subclass sets ``_records`` (the rows after the header, see ``Table._adopt_header``) and
    may turn its parser's failures into an :class:`InputError` in :meth:`_translating_errors`.
    """

    _records: Iterator[Row]
    _extra_cells: Notice | None = None
    #: Whether a row with more cells than its neighbours has had its columns shifted: true of
    #: delimited text, where an exporter that does not quote a value holding the delimiter
    #: (an address with a comma) moves every later value one column right.
    _wider_rows_are_shifted = False
    #: The width of the first data row: a file whose rows all end with an empty cell beyond the
    #: header (a trailing delimiter on every line) sets it wider than the header.
    _usual_width: int | None = None

    def _rows(self) -> Iterator[Row]:
        width = len(self.headers)
        total_mark, count_mark = FOOTER_MARKS
        with self._translating_errors():
            for number, cells in self._records:
                if not any(cells):
                    continue
                first = cells[0] or next(cell for cell in cells if cell)
                if first.isspace() and not "".join(cells).strip():
                    continue  # only spaces: as blank as it looks
                if (total_mark in first or count_mark in first) and (kind := footer_kind(first)):
                    self.notices.append(footer_notice(number, first))
                    if kind == "total":
                        footnotes = footnotes_notice(self._records, str.strip)
                        if footnotes is not None:
                            self.notices.append(footnotes)
                        return
                    continue
                if self._usual_width is None:
                    self._usual_width = len(cells)
                if len(cells) != width:
                    cells = self._fit(number, cells, width)
                yield number, cells

    def _fit(self, number: int, cells: list[str], width: int) -> list[str]:
        if len(cells) < width:
            return cells + [""] * (width - len(cells))
        extra = any(cells[width:])
        if self._wider_rows_are_shifted and (extra or len(cells) > (self._usual_width or 0)):
            params = {"cells": len(cells), "width": width, "extra": len(cells) - width}
            self.row_problems[number] = [("row-columns-shifted", params)]
        elif extra:
            # One notice for the whole file: a header one column short would flag every row.
            if self._extra_cells is None:
                self._extra_cells = Notice("extra-cells-ignored", number, {"rows": 0})
                self.notices.append(self._extra_cells)
            self._extra_cells.params["rows"] += 1
        return cells[:width]

    def _translating_errors(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()
