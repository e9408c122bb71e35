"""What the text readers share: a table whose cells are all text and whose rows may differ in
length (CSV, a web page's table)."""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Iterator

from artreport.readers.layout import FOOTER_MARKS, footer_kind, footer_notice
from artreport.readers.table import HeaderRepeats, Notice, Row, Table, names_columns

#: How many rows from the top the usual width of a row is judged on: enough that a shifted
#: row or two among them are outvoted, few enough to hold in memory.
USUAL_WIDTH_ROWS = 50
#: The most rows, blank ones included, held while those are looked for.
TOP_ROWS_HELD = 1000

#: The share of those rows that must be wider than the header, all alike, for that width to
#: be the file's own (a trailing delimiter on every line). Less, and the wider rows may be
#: shifted ones: in a small file they can even be the most common width. Three in four: a
#: trailing delimiter on every line still holds when a few rows in ten are shifted as well.
USUAL_WIDTH_SHARE = 0.75


class TextTable(Table):
    """Blank rows, 小计 and 合计 rows, the footnotes below a 合计 and the header repeated
    below itself are left out, and each row is fitted to the header's width.

    A subclass sets ``_records`` (the rows after the header, see ``Table._adopt_header``) and
    may turn its parser's failures into an :class:`InputError` in :meth:`_translating_errors`.
    """

    _records: Iterator[Row]
    _extra_cells: Notice | None = None
    #: Whether a row with more cells than its neighbours has had its columns shifted: true of
    #: delimited text, where an exporter that does not quote a value holding the delimiter
    #: (an address with a comma) moves every later value one column right.
    _wider_rows_are_shifted = False
    #: How many cells a row may have with none of them shifted: the header's named columns, or
    #: more when nearly all the top rows have more, empty (a trailing delimiter on every line).
    _usual_width: int | None = None

    def _rows(self) -> Iterator[Row]:
        headers = self.headers
        width = len(headers)
        # An empty header cell at the end (a trailing delimiter on the header line only) names
        # no column: a row reaching into it, the rows below being one shorter, is shifted.
        named = width
        while named and not headers[named - 1]:
            named -= 1
        total_mark, count_mark = FOOTER_MARKS
        repeats = HeaderRepeats(self.notices, self.headers, self._is_known_header)
        last_record: list[str] | None = None
        with self._translating_errors():
            self._records = self._looked_ahead(self._records, named, repeats)
            for number, cells in self._records:
                if not any(cells):
                    continue
                first = cells[0] or next(cell for cell in cells if cell)
                if first.isspace() and not "".join(cells).strip():
                    continue  # only spaces: as blank as it looks
                if (total_mark in first or count_mark in first) and (kind := footer_kind(first)):
                    self.notices.append(footer_notice(number, first))
                    if kind == "total":
                        yield from self._below_totals(self._records, str.strip, number, last_record)
                        return
                    continue
                if repeats.is_repeat(cells):
                    repeats.skip(number)
                    continue
                if len(cells) != width or len(cells) > named:
                    cells = self._fit(number, cells, width, named)
                last_record = cells
                yield number, cells

    def _looked_ahead(
        self, records: Iterator[Row], named: int, repeats: HeaderRepeats
    ) -> Iterator[Row]:
        """*records* again, once a second header row under the first (labels over API names,
        or the other way) has been left out and, in delimited text, the top rows have set the
        usual width."""
        top: list[Row] = []
        # Only as far as needed: a web page's parser tells what it did (merged cells) when
        # it reaches the end, and reading ahead would tell it before the rows above.
        limit = USUAL_WIDTH_ROWS if self._wider_rows_are_shifted else 1
        filled = 0
        for number, cells in records:
            if any(cells):
                if not filled and names_columns(
                    [cell.strip() for cell in cells], self._is_known_header
                ):
                    repeats.skip(number)
                    continue
                filled += 1
            top.append((number, cells))
            # Blank lines count too: an export padded with millions of them would otherwise
            # be held here whole.
            if filled == limit or len(top) >= TOP_ROWS_HELD:
                break
        if self._wider_rows_are_shifted:
            self._usual_width = named
            widths = Counter(len(cells) for _, cells in top if any(cells))
            if widths:
                common, count = widths.most_common(1)[0]
                if common > named and count >= USUAL_WIDTH_SHARE * filled:
                    self._usual_width = common
        return itertools.chain(top, records)

    def _fit(self, number: int, cells: list[str], width: int, named: int) -> list[str]:
        if len(cells) <= named:
            return cells + [""] * (width - len(cells))
        if self._wider_rows_are_shifted:
            if any(cells[named:]) or len(cells) > (self._usual_width or named):
                params = {"cells": len(cells), "width": named, "extra": len(cells) - named}
                self.row_problems[number] = [("row-columns-shifted", params)]
                self.full_cells[number] = cells
        elif any(cells[width:]):
            # One notice for the whole file: a header one column short would flag every row.
            if self._extra_cells is None:
                self._extra_cells = Notice("extra-cells-ignored", number, {"rows": 0})
                self.notices.append(self._extra_cells)
            self._extra_cells.params["rows"] += 1
        return cells[:width] + [""] * (width - len(cells))

    def _translating_errors(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()
