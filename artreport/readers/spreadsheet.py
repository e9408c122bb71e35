"""xlsx, xls and ods workbooks, through python-calamine.

Memory: calamine parses the whole chosen sheet into its own compact cell grid when the
sheet is opened (python-calamine 0.9 has no lazy or streaming reader); ``iter_rows`` then
builds Python values one row at a time, so Python-side memory stays flat. Expect roughly
80–90 bytes per cell: about 250 MB for 200 000 rows of 15 columns.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from python_calamine import (
    CalamineError,
    CalamineWorkbook,
    PasswordError,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from artreport.errors import InputError
from artreport.readers.layout import (
    FOOTER_MARKS,
    Header,
    MissingColumns,
    choose_sheet,
    find_header,
    footer_kind,
    footer_notice,
)
from artreport.readers.ods_scan import scan_ods_sheet
from artreport.readers.table import (
    HeaderRepeats,
    Notice,
    Row,
    Table,
    names_columns,
    row_list,
)
from artreport.readers.xls_scan import scan_xls_sheet
from artreport.readers.xlsx_scan import SheetScan, scan_sheet
from artreport.template_sheets import field_sheet_header, field_sheet_title


def open_spreadsheet(
    path: Path,
    format: str,
    *,
    by_content: bool,
    sheet: str | None,
    is_known_header: Callable[[str], bool] | None,
    missing_columns: MissingColumns | None = None,
    notices: list[Notice],
) -> SheetTable:
    """Open the workbook at *path*, which holds *format*.

    *by_content* is for a file whose extension names another format: calamine then reads
    the whole file into memory to recognise it, instead of going by the extension.
    """
    with calamine_errors(path, format):
        if by_content:
            with path.open("rb") as file:
                workbook = CalamineWorkbook.from_filelike(file)
        else:
            workbook = CalamineWorkbook.from_path(path)
    try:
        return SheetTable(path, format, workbook, sheet, is_known_header, notices, missing_columns)
    except BaseException:
        workbook.close()
        raise


@contextlib.contextmanager
def calamine_errors(path: Path, format: str) -> Iterator[None]:
    """Turn calamine's failures on a damaged or disguised file into an :class:`InputError`."""
    try:
        yield
    except PasswordError:
        raise InputError("input-password-protected", format=format) from None
    except CalamineError as error:
        raise InputError("input-corrupt", format=format, reason=_one_line(error)) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise InputError("input-unreadable", path=str(path), reason=reason) from None
    except BaseException as error:
        # A malformed file can make calamine panic; pyo3 raises that as PanicException,
        # which derives from BaseException and cannot be imported by name.
        if type(error).__name__ != "PanicException":
            raise
        raise InputError("input-corrupt", format=format, reason=_one_line(error)) from None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def cell_text(value: Any) -> str:
    """A cell as header text: whole numbers without ``.0``, dates in ISO form."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


class SheetTable(Table):
    def __init__(
        self,
        path: Path,
        format: str,
        workbook: CalamineWorkbook,
        sheet: str | None,
        is_known_header: Callable[[str], bool] | None,
        notices: list[Notice],
        missing_columns: MissingColumns | None = None,
    ) -> None:
        self._workbook = workbook
        self._is_known_header = is_known_header
        name = _choose_sheet(workbook, sheet, path)
        super().__init__(path, format, [], 0, sheet=name, notices=notices)
        self._scan = _start_scan(path, format, name)
        with calamine_errors(path, format):
            if sheet is None:
                # A first sheet of notes (说明), or of another record type, before the data:
                # the data is on the sheet whose header fits. sync has no --sheet to say so.
                visible = [
                    other
                    for other in _visible_sheets(workbook)
                    if other == name or not _is_template_field_sheet(workbook, other)
                ]
                others = [other for other in visible if other != name]
                chosen, grid, header = choose_sheet(
                    [name, *others],
                    lambda other: _sheet_header(workbook, other, is_known_header),
                    is_known_header,
                    missing_columns,
                )
                if chosen != name:
                    self.notices.append(
                        Notice("sheet-chosen-by-header", None, {"sheet": chosen, "first": name})
                    )
                    self.sheet = chosen
                    self._scan = _start_scan(path, format, chosen)
                elif others:
                    # The clerk sees several tabs: say which one was read.
                    self.notices.append(
                        Notice("sheet-read", None, {"sheet": name, "count": len(visible)})
                    )
            else:
                grid, header = _sheet_header(workbook, name, is_known_header)
            self._merged_down = _merged_down(grid)
            #: The sheet column (0 for A) of the first of :attr:`headers`.
            self.first_column = grid.start[1] if grid.start else 0
        self._records = self._adopt_header(header)

    def _rows(self) -> Iterator[Row]:
        records = self._records
        scan = self._scan.result() if self._scan is not None else None
        if scan:
            records = self._as_scanned(records, scan)
        if scan is not None and scan.merged_down and not self._merged_down:
            # calamine gives no merged ranges for an ods: its scan found them.
            self._merged_down = _scanned_merges(scan.merged_down, self.first_column)
        if self._merged_down:
            records = self._filled_down(records)
        total_mark, count_mark = FOOTER_MARKS
        repeats = HeaderRepeats(self.notices, self.headers, self._is_known_header)
        last_record: list[Any] | None = None
        first_data = True
        # calamine's grid is rectangular: every row is as wide as the header already.
        with calamine_errors(self.path, self.format):
            for number, cells in records:
                for first in cells:
                    if first != "":
                        break
                else:
                    continue
                if type(first) is str and first.isspace() and _only_spaces(cells):
                    continue  # as blank as it looks
                if (
                    type(first) is str
                    and (total_mark in first or count_mark in first)
                    and (kind := footer_kind(first))
                ):
                    self.notices.append(footer_notice(number, first))
                    if kind == "total":
                        yield from self._below_totals(records, cell_text, number, last_record)
                        return
                    continue
                if repeats.is_repeat(cells):
                    repeats.skip(number)
                    continue
                if first_data:
                    # Naming the columns takes a look-up per cell: only a second header row,
                    # right under the first, is looked for so.
                    first_data = False
                    if names_columns([cell_text(cell) for cell in cells], self._is_known_header):
                        repeats.skip(number)
                        continue
                last_record = cells
                yield number, cells

    def _as_scanned(self, records: Iterator[Row], scan: SheetScan) -> Iterator[Row]:
        """The rows with what calamine read as empty but is not put back (see ``xlsx_scan``):
        a mark for a formula without its result, the error value of an error cell; and with
        the text the sheet shows where calamine read a value it does not show: a number shown
        with leading zeros, an xls formula's empty result."""
        if scan.unplaced:
            count = {"count": scan.unplaced}
            self.notices.append(Notice("formulas-without-values", None, count))
        if scan.unplaced_errors:
            count = {"count": scan.unplaced_errors}
            self.notices.append(Notice("error-values-unplaced", None, count))
        if scan.unplaced_shown:
            count = {"count": scan.unplaced_shown}
            self.notices.append(Notice("padded-numbers-unplaced", None, count))
        by_row = scan.cells
        shown = scan.shown
        hidden = self.hidden_rows = frozenset(scan.hidden_rows)
        hidden_read = []
        first_column = self.first_column
        last = self.header_row
        for number, cells in records:
            for column, instead in by_row.get(number, {}).items():
                index = column - first_column
                if 0 <= index < len(cells) and cells[index] == "":
                    cells[index] = instead
            for column, text in shown.get(number, {}).items() if shown else ():
                index = column - first_column
                # Only over what the scan saw as a number (or a time): a cell calamine read
                # as text is the scan's mistake, not the file's.
                if 0 <= index < len(cells) and type(cells[index]) is not str:
                    cells[index] = text
            if number in hidden:
                hidden_read.append(number)
            last = number
            yield number, cells
        # calamine's grid ends at the last row holding a value: rows below it made only of
        # formulas without their results are not in it, and would be lost without a word.
        width = len(self.headers)
        for number in sorted(row for row in by_row if row > last):
            cells = [""] * width
            for column, instead in by_row[number].items():
                index = column - first_column
                if 0 <= index < width:
                    cells[index] = instead
            if any(cells):
                if number in hidden:
                    hidden_read.append(number)
                yield number, cells
        if hidden_read:
            # Data like any other row (Excel's own "save as CSV" keeps them), but a filter may
            # have hidden them from the clerk who checked the sheet by eye.
            params = {"count": len(hidden_read), "rows": row_list(hidden_read)}
            self.notices.append(Notice("hidden-rows-read", hidden_read[0], params))

    def _filled_down(self, records: Iterator[Row]) -> Iterator[Row]:
        """The rows with each cell merged over several rows holding the merged cell's value,
        as the spreadsheet shows it (a report merges one patient's ID over her cycles'
        rows), where the file keeps it in the top row only."""
        carried: dict[int, tuple[Any, int]] = {}  # column → (value, last row of the merge)
        first_filled = None
        ranges = 0
        for number, cells in records:
            for column, last in self._merged_down.get(number, ()):
                if column < len(cells) and cells[column] != "":
                    carried[column] = (cells[column], last)
                    ranges += 1
            for column, (value, last) in list(carried.items()):
                if number > last:
                    del carried[column]
                elif cells[column] == "":
                    cells[column] = value
                    first_filled = first_filled or number
            yield number, cells
        if first_filled is not None:
            self.notices.append(Notice("merged-cells-filled", first_filled, {"count": ranges}))

    def raw_rows(self) -> Iterator[Row]:
        with calamine_errors(self.path, self.format):
            grid = self._workbook.get_sheet_by_name(self.sheet)
            for number, cells in enumerate(grid.iter_rows(), 1):
                yield number, [cell_text(cell) if cell != "" else "" for cell in cells]

    def close(self) -> None:
        with contextlib.suppress(CalamineError):  # already closed
            self._workbook.close()


def _only_spaces(cells: list[Any]) -> bool:
    return all(cell == "" or (type(cell) is str and cell.isspace()) for cell in cells)


_SCANS: dict[str, Callable[[Path, str], SheetScan]] = {
    "xlsx": scan_sheet,
    "ods": scan_ods_sheet,
    "xls": scan_xls_sheet,
}


def _start_scan(path: Path, format: str, sheet: str) -> Future[SheetScan] | None:
    """Start the scan of a sheet for what calamine does not tell (see ``xlsx_scan``,
    ``ods_scan`` and ``xls_scan``). It runs beside calamine's parse of the sheet, which lets go
    of the interpreter lock, so it adds no time where a core is free."""
    scan_of = _SCANS.get(format)
    if scan_of is None:
        return None
    future: Future[SheetScan] = Future()

    def scan() -> None:
        try:
            future.set_result(scan_of(path, sheet))
        except BaseException as error:  # handed to whoever waits for the result
            future.set_exception(error)

    threading.Thread(target=scan, name="artreport-xlsx-scan", daemon=True).start()
    return future


def _merged_down(grid: Any) -> dict[int, list[tuple[int, int]]]:
    """Merged ranges more than one row tall, by their top row as the spreadsheet numbers it:
    the column of their left edge (as an index into the grid's rows) and their last row.
    Merges within a row (a title across the columns) are left alone."""
    first_column = grid.start[1] if grid.start else 0
    by_top: dict[int, list[tuple[int, int]]] = {}
    for (top, left), (bottom, _right) in grid.merged_cell_ranges or ():
        if bottom > top and left >= first_column:
            by_top.setdefault(top + 1, []).append((left - first_column, bottom + 1))
    return by_top


def _scanned_merges(
    merges: list[tuple[int, int, int]], first_column: int
) -> dict[int, list[tuple[int, int]]]:
    """:func:`_merged_down`'s form of the merges a scan found: (top row, column, last row),
    rows as the spreadsheet numbers them and columns from 0 for A."""
    by_top: dict[int, list[tuple[int, int]]] = {}
    for top, column, last in merges:
        if column >= first_column:
            by_top.setdefault(top, []).append((column - first_column, last))
    return by_top


def _merged_across(grid: Any) -> Callable[[int], list[tuple[int, int]]]:
    """The cells of a row merged across columns, as (first column, last column) of the grid,
    for :func:`~artreport.readers.layout.find_header` to read a header over two rows."""
    first_column = grid.start[1] if grid.start else 0

    def spans(row: int) -> list[tuple[int, int]]:
        top = row - 1  # calamine counts rows and columns from 0
        return [
            (left - first_column, right - first_column)
            for (first, left), (bottom, right) in grid.merged_cell_ranges or ()
            if first == bottom == top and right > left and left >= first_column
        ]

    return spans


def _sheet_header(
    workbook: CalamineWorkbook, name: str, is_known_header: Callable[[str], bool] | None
) -> tuple[Any, Header | None]:
    grid = workbook.get_sheet_by_name(name)
    # iter_rows() yields blank rows for any empty rows above the data, so counting from 1
    # gives the row numbers the spreadsheet shows.
    rows = enumerate(grid.iter_rows(), 1)
    return grid, find_header(rows, cell_text, is_known_header, _merged_across(grid))


def _visible_sheets(workbook: CalamineWorkbook) -> list[str]:
    return [
        meta.name
        for meta in workbook.sheets_metadata
        if meta.visible == SheetVisibleEnum.Visible and meta.typ == SheetTypeEnum.WorkSheet
    ]


def _is_template_field_sheet(workbook: CalamineWorkbook, name: str) -> bool:
    """Whether sheet *name* is the field notes (字段说明) of artreport's own template, which a
    workbook filled in from the template keeps: no sheet of records a clerk could mean, so
    neither worth a notice on every push nor a reason for delete to ask which sheet."""
    if name != field_sheet_title():
        return False
    first = workbook.get_sheet_by_name(name).to_python(nrows=1)
    return bool(first) and [str(cell) for cell in first[0]] == field_sheet_header()


def _choose_sheet(workbook: CalamineWorkbook, wanted: str | None, path: Path) -> str:
    names = workbook.sheet_names
    if wanted is not None:
        if wanted not in names:
            raise InputError("input-sheet-not-found", sheet=wanted, sheets=", ".join(names))
        return wanted
    # "The first sheet" is the first one the user can see: templates sometimes keep a
    # hidden lookup sheet in front.
    visible = _visible_sheets(workbook)
    if visible:
        return visible[0]
    if not names:
        raise InputError("input-empty", path=str(path))
    return names[0]
