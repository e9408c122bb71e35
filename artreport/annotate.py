"""The annotated copy (``--annotate OUT.xlsx``): the clerk's own file handed back with every
problem marked where it is, and the failed rows on a sheet of their own, ready to fix and push.

An :class:`Annotator` is a problem sink like the report (``.add(problem)``); :class:`Tee` feeds
both from one run (:class:`artreport.report.Tee`). :meth:`Annotator.write` then writes the copy:

- an XLSX input is loaded with openpyxl and modified, so its formatting, other sheets and
  title rows stay as the clerk knows them;
- any other input (CSV, XLS, ODS, JSON) is rebuilt from what the readers saw, each row at its
  own row number, text cells as text so IDs keep their zeros.

The sheet and column names are always Chinese whatever ``--lang`` says: the copy is the clerk's
workbook, and a fixed name is what the README and ``--sheet 待修改`` can rely on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import sys
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator
from copy import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

from artreport.errors import InputError, UsageError
from artreport.readers import Table
from artreport.readers.number_formats import zero_padding
from artreport.readers.table import ORIGINAL_ROW_COLUMN, REASON_COLUMN, SPILL_COLUMN
from artreport.report import Tee, unwritable_code
from artreport.schema import RecordType
from artreport.state import open_private
from artreport.validation.problems import (
    DATE_IN_TEXT_FIELD,
    DUPLICATE_KEY,
    LEADING_ZEROS_LOST,
    PRECISION_LOST,
    WORDING,
    Problem,
    Wording,
)
from artreport.validation.validator import open_export

FAILED_SHEET = "待修改"
#: Our own columns: never copied to the failed-rows sheet, reused when an annotated copy is
#: annotated again. (SPILL_COLUMN is copied: its values are the clerk's data.)
OWN_COLUMNS = frozenset({REASON_COLUMN, ORIGINAL_ROW_COLUMN})

# Excel's own "bad" and "neutral" cell-style colours, which clerks already read as such.
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
WARNING_FILL = PatternFill("solid", fgColor="FFEB9C")
TEXT_FORMAT = "@"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
COMMENT_AUTHOR = "artreport"
REASON_COLUMN_WIDTH = 60
_INVALID_TITLE_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})


@dataclass
class _RowMarks:
    #: Problems by the sheet column they are shown on.
    cells: dict[int, list[Problem]] = field(default_factory=dict)
    #: The row's errors in arrival order, for the reason column.
    reasons: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.reasons)


class Annotator:
    """Collects problems for one input file, then writes its annotated copy to ``out``."""

    def __init__(
        self,
        record_type: RecordType,
        source: Path,
        out: Path,
        *,
        lang: str | None = None,
        sheet: str | None = None,
        encoding: str | None = None,
    ) -> None:
        if out.suffix.lower() != ".xlsx":
            raise UsageError("annotate-bad-suffix", path=str(out))
        if out.resolve() == source.resolve():
            raise UsageError("annotate-same-as-input", path=str(out))
        self.record_type = record_type
        self.source = source
        self.out = out
        self.lang = lang
        self.sheet = sheet
        self.encoding = encoding
        self.by_row: dict[int, list[Problem]] = {}
        self.file_problems: list[Problem] = []
        self.failed_rows = 0
        #: The name of the failed-rows sheet written (待修改, or 待修改1 beside an old one).
        self.failed_sheet = FAILED_SHEET
        #: How far below its number in the file a row is on the copy (a JSON record: one,
        #: under the added header)...
        self._row_shift = 0
        #: ...and a row's number in the original file, which the failed-rows sheet's 原行号
        #: gives: a failed-rows sheet annotated again holds them.
        self._original_row: Callable[[int], Any] = lambda row: row

    def add(self, problem: Problem) -> None:
        if problem.row is None:
            self.file_problems.append(problem)
        else:
            self.by_row.setdefault(problem.row, []).append(problem)

    def tee(self, report: Any) -> Tee:
        """A sink for a run that feeds ``report`` and this annotator alike."""
        return Tee(report, self)

    def write(self) -> Path:
        """Write the annotated copy (owner-only: it holds patient data) and return its path."""
        failure: str | None = None
        code = "annotate-unwritable"
        writing = False
        with _unraisable_silenced():
            try:
                with open_export(
                    self.record_type, self.source, sheet=self.sheet, encoding=self.encoding
                ) as table:
                    if table.format == "xlsx":
                        workbook = self._annotated_xlsx(table)
                    else:
                        # Its sheets are streamed to temporary files: a full disk may stop
                        # them already.
                        workbook = self._rebuilt(table)
                writing = True
                self.out.parent.mkdir(parents=True, exist_ok=True)
                with open_private(self.out, "wb") as handle:
                    workbook.save(handle)
            except OSError as error:
                failure = error.strerror or str(error)
                if writing:
                    code = unwritable_code(code, self.out, error)
                workbook = None
        if failure is not None:
            raise InputError(code, path=str(self.out), reason=failure)
        return self.out

    # -- marks ------------------------------------------------------------------------------

    def _marks(self, field_columns: dict[str, int], first_column: int) -> dict[int, _RowMarks]:
        """Where each row's problems go: on the cell of the problem's field, else (a row-level
        problem such as a platform rejection, or a field without a column) on the row's first
        cell."""
        marks: dict[int, _RowMarks] = {}
        for row, problems in self.by_row.items():
            row_marks = marks[row] = _RowMarks()
            for problem in problems:
                column = field_columns.get(problem.field or "", first_column)
                row_marks.cells.setdefault(column, []).append(problem)
                if problem.is_error:
                    text = self._message(problem)
                    if text not in row_marks.reasons:
                        row_marks.reasons.append(text)
        self.failed_rows = sum(1 for m in marks.values() if m.failed)
        return marks

    def _mark(
        self, cell: Cell | WriteOnlyCell, problems: list[Problem], *, failed_sheet: bool = False
    ) -> None:
        cell.fill = ERROR_FILL if any(p.is_error for p in problems) else WARNING_FILL
        texts = (self._message(p, failed_sheet=failed_sheet) for p in problems)
        cell.comment = _comment(_unique(texts))

    def _message(self, problem: Problem, *, failed_sheet: bool = False) -> str:
        """The problem's message as it reads where it is written: a row it names is that row
        on the sheet, or, on the failed-rows sheet, where rows have other numbers, the row of
        the original file."""
        if problem.code == DUPLICATE_KEY:
            first = problem.params["first_row"]
            if failed_sheet:
                params = {
                    **problem.params,
                    "first_row": self._original_row(first),
                    WORDING: Wording.DUPLICATE_KEY_ORIGINAL_ROW,
                }
            else:
                params = {**problem.params, "first_row": first + self._row_shift}
            problem = dataclasses.replace(problem, params=params)
        return problem.message(self.lang)

    def _mark_reason_header(self, cell: Cell | WriteOnlyCell) -> None:
        # A file-level error (a required column missing) concerns every row but no one cell.
        errors = [p for p in self.file_problems if p.is_error]
        if errors:
            self._mark(cell, errors)

    def _field_columns(self, headers: Iterable[tuple[int, Any]]) -> dict[str, int]:
        """The column the validator reads for each field: of two that name one field, the one
        whose header names it exactly (周期ID over 周期ID(旧系统)), else the first."""
        columns: dict[str, tuple[bool, int]] = {}
        for column, header in headers:
            found = self.record_type.match_header(header)
            if found is not None:
                candidate = (not self.record_type.names_exactly(header), column)
                columns[found.name] = min(columns.get(found.name, candidate), candidate)
        return {name: column for name, (_, column) in columns.items()}

    def _text_columns(self, field_columns: dict[str, int]) -> set[int]:
        return {
            column
            for name, column in field_columns.items()
            if self.record_type.field(name).type == "string"
        }

    # -- XLSX input: the clerk's workbook, modified -------------------------------------------

    def _annotated_xlsx(self, table: Table) -> Workbook:
        try:
            with open(self.source, "rb") as handle:
                workbook = load_workbook(handle)
        except (OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as error:
            raise InputError(
                "annotate-input-unreadable", path=str(self.source), reason=str(error)
            ) from None
        sheet = workbook[table.sheet]
        header_row = table.header_row
        # The columns as the reader named them: a header over two rows (年龄 merged over 女方
        # and 男方) names columns that have no text of their own in the header row.
        offset = getattr(table, "first_column", 0) + 1
        headers = {offset + index: text for index, text in enumerate(table.headers) if text}
        merged_into = _merged_anchors(sheet)
        reason_column = next((c for c, text in headers.items() if text == REASON_COLUMN), None)
        data_columns = [c for c, text in headers.items() if text not in OWN_COLUMNS]
        data_columns = data_columns or list(headers)
        field_columns = self._field_columns((c, headers[c]) for c in data_columns)
        marks = self._marks(field_columns, min(data_columns))
        if reason_column is None:
            # Past every merged cell of the rows it writes in: a merged cell takes no value.
            reason_column = max(headers) + 1
            written = [header_row, *(row for row, m in marks.items() if m.failed)]
            while any((row, reason_column) in merged_into for row in written):
                reason_column += 1

        header_cell = sheet.cell(header_row, reason_column, REASON_COLUMN)
        header_cell.font = copy(sheet.cell(header_row, min(data_columns)).font)
        self._mark_reason_header(header_cell)
        letter = get_column_letter(reason_column)
        sheet.column_dimensions[letter].width = max(
            sheet.column_dimensions[letter].width or 0, REASON_COLUMN_WIDTH
        )
        if headers.get(reason_column) == REASON_COLUMN:
            # An annotated copy annotated again: yesterday's reasons no longer hold.
            for (cell,) in sheet.iter_rows(
                min_row=header_row + 1, min_col=reason_column, max_col=reason_column
            ):
                cell.value = None
        on_anchors: dict[tuple[int, int], list[Problem]] = {}
        for row, row_marks in marks.items():
            for column, problems in row_marks.cells.items():
                # A cell inside a merged range takes no comment: its range's first cell, the
                # one the clerk sees, shows the problems of all the rows it spans.
                anchor = merged_into.get((row, column), (row, column))
                on_anchors.setdefault(anchor, []).extend(problems)
            if row_marks.failed:
                reason = sheet.cell(row, reason_column, "\n".join(row_marks.reasons))
                reason.alignment = Alignment(wrap_text=True, vertical="top")
        for (row, column), problems in on_anchors.items():
            self._mark(sheet.cell(row, column), problems)

        copied = [c for c in range(1, max(data_columns) + 1) if headers.get(c) not in OWN_COLUMNS]
        failed = self._new_failed_sheet(workbook, sheet.title)
        self.failed_sheet = failed.title
        copier = _RowCopier(sheet, failed, copied, _filled_down(sheet))
        copier.copy(header_row, 1)
        for target_column, column in enumerate(copied, 1):
            # One header row, as the reader named the columns.
            failed.cell(1, target_column).value = headers.get(column)
        failed.cell(1, len(copied) + 1, ORIGINAL_ROW_COLUMN).font = copy(
            sheet.cell(header_row, min(data_columns)).font
        )
        copier.text_columns = self._text_columns(field_columns)
        copier.cached = _CachedValues(self.source)
        copier.destroyed = _destroyed(marks)
        # A failed-rows sheet annotated again: its rows keep the number they had in the file
        # they came from.
        original_rows = next(
            (c for c, text in headers.items() if text == ORIGINAL_ROW_COLUMN), None
        )
        if original_rows is not None:
            self._original_row = lambda row: _number_in(sheet.cell(row, original_rows), row)
        for target, row in enumerate(sorted(r for r, m in marks.items() if m.failed), 2):
            copier.copy(row, target)
            failed.cell(target, len(copied) + 1, self._original_row(row))
            # Marked for the row alone, in its words for this sheet: a merged cell's note on
            # the sheet holds the problems of every row it spans.
            for column, problems in marks[row].cells.items():
                if column in copied:
                    cell = failed.cell(target, copied.index(column) + 1)
                    self._mark(cell, problems, failed_sheet=True)
        for target, column in enumerate(copied, 1):
            width = sheet.column_dimensions[get_column_letter(column)].width
            if width:
                failed.column_dimensions[get_column_letter(target)].width = width
        return workbook

    @staticmethod
    def _new_failed_sheet(workbook: Workbook, annotated: str) -> Worksheet:
        # An annotated copy annotated again: its old failed-rows sheet is replaced, unless it
        # is the sheet being annotated (openpyxl then names the new one 待修改1).
        if FAILED_SHEET in workbook.sheetnames and annotated != FAILED_SHEET:
            del workbook[FAILED_SHEET]
        return workbook.create_sheet(FAILED_SHEET)

    # -- other inputs: rebuilt from what the readers saw ----------------------------------------

    def _rebuilt(self, table: Table) -> Workbook:
        # A shifted row (an unquoted comma in a CSV) has cells beyond the header: they are
        # kept, under SPILL_COLUMN, so that the clerk can move them back, and so that the row
        # is refused until then rather than sent cut short.
        headers = list(table.headers)
        headers += [SPILL_COLUMN] * (self._widest_shifted_row() - len(headers))
        # JSON has no header row; its rows are numbered from 1, so everything moves down one.
        shift = self._row_shift = 1 if table.header_row == 0 else 0
        named = {index + 1: text for index, text in enumerate(headers) if text}
        reason_column = next(
            (c for c, text in named.items() if text == REASON_COLUMN), len(headers) + 1
        )
        data_columns = [c for c, text in named.items() if text not in OWN_COLUMNS] or [1]
        field_columns = self._field_columns((c, named[c]) for c in data_columns)
        text_columns = self._text_columns(field_columns)
        every = range(1, len(headers) + 1)
        copied = [c for c in every if named.get(c) not in OWN_COLUMNS]
        marks = self._marks(field_columns, min(data_columns))

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(self.record_type.label.translate(_INVALID_TITLE_CHARS)[:31])
        failed = workbook.create_sheet(FAILED_SHEET)
        sheet.column_dimensions[get_column_letter(reason_column)].width = REASON_COLUMN_WIDTH
        header_cells = [_text_cell(sheet, text) for text in headers]
        reason_header = _text_cell(sheet, REASON_COLUMN)
        self._mark_reason_header(reason_header)
        header_cells[reason_column - 1 : reason_column] = [reason_header]
        # The rows the readers do not hand on (a title, a 合计, a footnote) as the file has them:
        # the messages point at them by number ("below the totals row, row 13").
        others = _RowsByNumber(table.raw_rows())
        written = _skip_to(sheet, 0, table.header_row + shift, others)
        sheet.append(header_cells)
        failed.append(
            [_text_cell(failed, headers[c - 1]) for c in copied]
            + [_text_cell(failed, ORIGINAL_ROW_COLUMN)]
        )
        for number, values in table.rows():
            written = _skip_to(sheet, written, number + shift, others)
            values = table.full_cells.get(number, values)
            values = values + [""] * (len(headers) - len(values))
            row_marks = marks.get(number)
            cells = self._rebuilt_cells(sheet, values, every, row_marks, text_columns)
            # Also blanks an old reason left in a re-annotated copy.
            reason = None
            if row_marks is not None and row_marks.failed:
                reason = _text_cell(sheet, "\n".join(row_marks.reasons))
                reason.alignment = Alignment(wrap_text=True, vertical="top")
                again = self._rebuilt_cells(
                    failed, values, copied, row_marks, text_columns, failed_sheet=True
                )
                failed.append([*again, number])
            cells[reason_column - 1 : reason_column] = [reason]
            sheet.append(cells)
        for number in others.numbers_after(written):
            _skip_to(sheet, written, number + 1, others)
            written = number
        return workbook

    def _widest_shifted_row(self) -> int:
        return max(
            (
                int(problem.params["cells"])
                for problems in self.by_row.values()
                for problem in problems
                if problem.code == "row-columns-shifted"
            ),
            default=0,
        )

    def _rebuilt_cells(
        self,
        sheet: Any,
        values: list[Any],
        columns: Iterable[int],
        row_marks: _RowMarks | None,
        text_columns: Collection[int],
        failed_sheet: bool = False,
    ) -> list[WriteOnlyCell | None]:
        cells: list[WriteOnlyCell | None] = []
        for column in columns:
            problems = row_marks.cells.get(column) if row_marks is not None else None
            value = values[column - 1]
            if failed_sheet and problems and _is_destroyed(problems):
                value = None  # see _RowCopier: what the spreadsheet destroyed is retyped
            cell = _value_cell(sheet, value, column in text_columns)
            if problems:
                self._mark(cell, problems, failed_sheet=failed_sheet)
            cells.append(cell)
        return cells


class _CachedValues:
    """Formula results as Excel last saved them; the workbook is loaded a second time only
    when a formula is met on a failed row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._workbook: Workbook | None = None

    def value(self, sheet: str, row: int, column: int) -> Any:
        if self._workbook is None:
            with open(self.path, "rb") as handle:
                self._workbook = load_workbook(handle, data_only=True)
        return self._workbook[sheet].cell(row, column).value


class _RowsByNumber:
    """The rows of :meth:`Table.raw_rows`, looked up in increasing order of number."""

    def __init__(self, rows: Iterator[tuple[int, list[Any]]] | None) -> None:
        self._rows = rows
        self._next: tuple[int, list[Any]] | None = None

    def get(self, number: int) -> list[Any]:
        while self._rows is not None and (self._next is None or self._next[0] < number):
            self._next = next(self._rows, None)
            if self._next is None:
                self._rows = None
        if self._next is not None and self._next[0] == number:
            return self._next[1]
        return []

    def numbers_after(self, number: int) -> Iterator[int]:
        """The numbers of the rows after ``number`` that hold anything (a 合计, a footnote)."""
        self.get(number + 1)
        while self._next is not None:
            if any(cell != "" for cell in self._next[1]):
                yield self._next[0]
            self._next = next(self._rows, None) if self._rows is not None else None


def _skip_to(sheet: Any, written: int, row: int, others: _RowsByNumber) -> int:
    """Append the file's rows before sheet row ``row`` that were not written (a title, a total,
    a blank), so that the next row appended lands on ``row``; returns the rows written so far.
    The readers' row numbers then match the copy's."""
    for number in range(written + 1, row):
        sheet.append(
            [_text_cell(sheet, str(cell)) if cell != "" else None for cell in others.get(number)]
        )
    return row


def _number_in(cell: Cell, default: int) -> Any:
    return cell.value if cell.value is not None else default


def _text_cell(sheet: Any, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, text)
    cell.number_format = TEXT_FORMAT
    cell.data_type = "s"  # see _value_cell
    return cell


def _value_cell(sheet: Any, value: Any, text_column: bool) -> WriteOnlyCell:
    if value == "" or value is None:
        value = None
    elif isinstance(value, (list, dict)):
        value = str(value)
    cell = WriteOnlyCell(sheet, value)
    if isinstance(value, str):
        # openpyxl stores text beginning with = as a formula: the export's "=1+1" would be
        # run by Excel, and, having no result in the file, refused when the sheet is pushed.
        cell.data_type = "s"
    if isinstance(value, str) or text_column:
        cell.number_format = TEXT_FORMAT
    elif isinstance(value, dt.datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, dt.date):
        cell.number_format = DATE_FORMAT
    return cell


def _comment(texts: list[str]) -> Comment:
    text = "\n".join(texts)
    # openpyxl's default note (79 × 108 pt) hides most of a Chinese sentence.
    lines = sum(1 + len(t) // 24 for t in texts)
    return Comment(text, COMMENT_AUTHOR, width=320, height=min(40 + 18 * lines, 400))


def _unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def _filled_down(sheet: Worksheet) -> dict[tuple[int, int], tuple[int, int]]:
    """The cells the readers give a merged cell's value: those below its first cell, in its
    first column, where it spans rows (see ``readers.spreadsheet``); by (row, column), to the
    merged cell's first cell. A merge across columns gives the others nothing."""
    filled: dict[tuple[int, int], tuple[int, int]] = {}
    for merged in sheet.merged_cells.ranges:
        if merged.max_row > merged.min_row:
            first = (merged.min_row, merged.min_col)
            for row in range(merged.min_row + 1, merged.max_row + 1):
                filled[(row, merged.min_col)] = first
    return filled


def _merged_anchors(sheet: Worksheet) -> dict[tuple[int, int], tuple[int, int]]:
    """Each cell covered by a merged range, by (row, column), to the range's first cell."""
    anchors: dict[tuple[int, int], tuple[int, int]] = {}
    for merged in sheet.merged_cells.ranges:
        first = (merged.min_row, merged.min_col)
        for row in range(merged.min_row, merged.max_row + 1):
            for column in range(merged.min_col, merged.max_col + 1):
                anchors[(row, column)] = first
    return anchors


#: Problems of a value the spreadsheet destroyed (a code that became a number or a date):
#: the file no longer holds what was typed.
_DESTROYED = frozenset({PRECISION_LOST, LEADING_ZEROS_LOST, DATE_IN_TEXT_FIELD})


def _is_destroyed(problems: Iterable[Problem]) -> bool:
    return any(problem.code in _DESTROYED for problem in problems)


def _destroyed(marks: dict[int, _RowMarks]) -> set[tuple[int, int]]:
    return {
        (row, column)
        for row, row_marks in marks.items()
        for column, problems in row_marks.cells.items()
        if _is_destroyed(problems)
    }


class _RowCopier:
    """Copies rows of the annotated sheet to the failed-rows sheet: values, formats and marks
    (fill and note), each value as the readers read it, so that the sheet pushes as the
    original would once fixed:

    - a cell below a merged cell's first, in its column, has its value (the readers give each
      row a merge spans its value; a merge across columns gives the others nothing);
    - a number whose format shows leading zeros (000000) is its text, 000101;
    - a formula is its last result (a formula would point elsewhere on the new sheet);
    - a value the spreadsheet destroyed (3476 for 003476, a date for a code) is left empty
      under its red mark: copied, it would read as a good value there, where the rows that
      betrayed it are not, and be sent once the rest of the row was fixed;
    - text-field columns are text, so that a code retyped as 003476 keeps its zeros.
    """

    def __init__(
        self,
        source: Worksheet,
        target: Worksheet,
        columns: list[int],
        filled_down: dict[tuple[int, int], tuple[int, int]],
    ) -> None:
        self.source = source
        self.target = target
        self.columns = columns
        self.filled_down = filled_down
        self.text_columns: Collection[int] = ()
        self.cached: _CachedValues | None = None
        self.destroyed: set[tuple[int, int]] = set()

    def copy(self, row: int, target_row: int) -> None:
        for target_column, column in enumerate(self.columns, 1):
            original = self.source.cell(row, column)
            anchor = self.filled_down.get((row, column))
            holder = self.source.cell(*anchor) if anchor is not None else original
            value = holder.value
            formula = holder.data_type == "f"
            if self.cached is not None and formula:
                value = self.cached.value(self.source.title, holder.row, holder.column)
                formula = False
            if (row, column) in self.destroyed:
                value = None
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                padding = zero_padding(holder.number_format)
                shown = padding.shown(value) if padding is not None else None
                if shown is not None:
                    value = shown
            cell = self.target.cell(target_row, target_column, value)
            if isinstance(value, str) and not formula:
                cell.data_type = "s"  # a text cell's "=1+1" stays text, as on the sheet copied
            if original.has_style:
                cell.font = copy(original.font)
                cell.border = copy(original.border)
                cell.fill = copy(original.fill)
                cell.alignment = copy(original.alignment)
                cell.number_format = original.number_format
            if original.comment is not None:
                cell.comment = copy(original.comment)
            if column in self.text_columns or isinstance(value, str):
                cell.number_format = TEXT_FORMAT


@contextlib.contextmanager
def _unraisable_silenced() -> Iterator[None]:
    """While a workbook that failed half-way (a full disk) is let go: openpyxl's streams and
    zip file try to finish writing to files already closed as they are collected, and Python
    prints each failure, traceback and all, after artreport's own message has said what
    went wrong."""
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        yield
        gc.collect()
    finally:
        sys.unraisablehook = hook
