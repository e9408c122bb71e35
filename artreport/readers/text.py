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

    def _rows(self) -> Iterator[Row]:
        width = len(self.headers)
        total_mark, count_mark = FOOTER_MARKS
        with self._translating_errors():
            for number, cells in self._records:
                if not any(cells):
                    continue
                first = cells[0] or next(cell for cell in cells if cell)
                if (total_mark in first or count_mark in first) and (kind := footer_kind(first)):
                    self.notices.append(footer_notice(number, first))
                    if kind == "total":
                        footnotes = footnotes_notice(self._records, str.strip)
                        if footnotes is not None:
                            self.notices.append(footnotes)
                        return
                    continue
                if len(cells) != width:
                    cells = self._fit(number, cells, width)
                yield number, cells

    def _fit(self, number: int, cells: list[str], width: int) -> list[str]:
        if len(cells) < width:
            return cells + [""] * (width - len(cells))
        if any(cells[width:]):
            # One notice for the whole file: a header one column short would flag every row.
            if self._extra_cells is None:
                self._extra_cells = Notice("extra-cells-ignored", number, {"rows": 0})
                self.notices.append(self._extra_cells)
            self._extra_cells.params["rows"] += 1
        return cells[:width]

    def _translating_errors(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()
