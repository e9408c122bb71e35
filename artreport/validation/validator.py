"""Validation of one export: header → fields, then every row → a :class:`RowResult`.

``validate`` and ``push`` both consume :func:`open_validation`, so a row that ``validate``
accepts is exactly the row ``push`` sends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import itertools
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from artreport.dictionaries import Dictionaries, tables_for
from artreport.errors import InputError
from artreport.messages import Listing
from artreport.readers import Notice, Table, open_table
from artreport.readers.table import ANNOTATION_COLUMNS
from artreport.schema import Field, RecordType, load_schema, unit_in
from artreport.validation import problems as codes
from artreport.validation.columns import (
    CODED,
    ID_NUMBER,
    IDENTIFIER,
    ColumnCache,
    convert_column,
)
from artreport.validation.idcard import has_valid_check_digit, looks_rounded
from artreport.validation.problems import CellError, Problem
from artreport.validation.values import (
    BLANK,
    CLEAR_VALUES,
    TypicalCodes,
    coded_reader,
    typical_codes,
    value_reader,
)

# Formats whose numeric cells are IEEE doubles written by a spreadsheet program.
_DOUBLE_FORMATS = frozenset({"xlsx", "xls", "ods"})
#: Formats whose cells are all text: a code and a number that lost its zeros look alike.
_TEXT_FORMATS = frozenset({"csv", "html", "xml"})
_ORGID = "orgid"
#: Rows a file's text columns are sampled over to learn their code lengths.
_CODE_SAMPLE_ROWS = 1000
#: Cells checked together, a column at a time (see ``columns``): as many rows as make this
#: many cells. A batch's cells and what is made of them have to stay in the CPU cache (a
#: core's own 512 kB here), or each is fetched from memory again at every column pass.
_BATCH_CELLS = 3_500
#: A date up to this far ahead is a clock or time-zone slip, not a mistake worth a warning.
_FUTURE_MARGIN = dt.timedelta(days=1)
_DATE_WIDTH = len("yyyy-mm-dd")
# Blank dates as text that sorts before / after every date, for comparing whole columns.
_AS_FIRST: dict[Any, str] = {BLANK: ""}
_AS_LAST: dict[Any, str] = {BLANK: "\uffff", "": "\uffff"}
#: File-level problems after which no row can be sent, whatever it holds.
_UNUSABLE_FILE = frozenset({codes.MISSING_COLUMN, codes.WRONG_UNIT_COLUMN})


@dataclass(frozen=True)
class ValidateOptions:
    blank_clears: bool = False
    sheet: str | None = None
    encoding: str | None = None
    #: Code tables from the config: a coded field with one accepts only its codes.
    dictionaries: Dictionaries | None = field(default=None, hash=False)


# Not frozen: a frozen dataclass's __init__ costs several times more, once per row.
@dataclass(slots=True)
class RowResult:
    row: int
    data: dict[str, Any]
    primary_key: str | None
    problems: tuple[Problem, ...] = ()
    valid: bool = True


@dataclass(slots=True)
class CleanBatch:
    """Consecutive valid rows without any problem, kept as the columns they were checked in:
    ``push`` encodes them from there without making a dict per row."""

    rows: list[int]
    keys: list[str]
    #: Field names, and each field's values in row order (BLANK: a blank optional cell).
    names: list[str]
    columns: list[list[Any]]
    #: Values for fields that are blank or missing in the file (``orgid`` from the config).
    fill: dict[str, Any]

    def __len__(self) -> int:
        return len(self.rows)

    def data(self) -> list[dict[str, Any]]:
        """Each row as the platform would receive it.

        Filled a column at a time: one tight loop per column beats building each row's dict
        from its cells and then taking the blanks out again."""
        datas: list[dict[str, Any]] = [{} for _ in self.rows]
        for name, column in zip(self.names, self.columns, strict=True):
            if BLANK in column:
                for data, value in zip(datas, column, strict=True):
                    if value is not BLANK:
                        data[name] = value
            else:
                for data, value in zip(datas, column, strict=True):
                    data[name] = value
        for name, value in self.fill.items():
            for data in datas:
                data.setdefault(name, value)
        return datas


@dataclass
class ValidationSummary:
    record_type: str
    path: str
    format: str = ""
    rows_read: int = 0
    valid: int = 0
    invalid: int = 0
    warnings: int = 0
    problems_by_code: Counter[str] = field(default_factory=Counter)
    notices: list[Notice] = field(default_factory=list)

    def count(self, result: RowResult) -> None:
        self.rows_read += 1
        if result.valid:
            self.valid += 1
        else:
            self.invalid += 1
        for problem in result.problems:
            self.problems_by_code[problem.code] += 1
            if not problem.is_error:
                self.warnings += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_type": self.record_type,
            "file": self.path,
            "format": self.format,
            "rows_read": self.rows_read,
            "valid": self.valid,
            "invalid": self.invalid,
            "warnings": self.warnings,
            "problems_by_code": dict(self.problems_by_code),
        }


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    field: Field
    read: Callable[[Any], Any]
    clear: Any
    #: What ``columns.convert_column`` may judge the column as: its field's type, CODED or
    #: IDENTIFIER.
    kind: str
    #: Readings of this column's distinct values (see ``columns.convert_column``).
    cache: ColumnCache = field(default_factory=ColumnCache, compare=False)


class Validation:
    """An open export: the file-level findings, then :meth:`rows` to check every row."""

    def __init__(
        self, record_type: RecordType, table: Table, *, orgid: str | None, options: ValidateOptions
    ) -> None:
        self.record_type = record_type
        self.table = table
        self.orgid = orgid or None
        self.options = options
        self.summary = ValidationSummary(record_type.name, str(table.path), table.format)
        self.file_problems: list[Problem] = []
        self._columns = self._plan_columns()
        self._plan = [(c.index, c.field, c.read, c.field.required, c.clear) for c in self._columns]
        # A missing required column, or a column in a unit the platform does not take, makes
        # every row invalid; one problem says so, not one a row.
        self.rows_unusable = any(p.code in _UNUSABLE_FILE for p in self.file_problems)
        for problem in self.file_problems:
            self.summary.problems_by_code[problem.code] += 1

    def _plan_columns(self) -> list[_Column]:
        record_type = self.record_type
        doubles = self.table.format in _DOUBLE_FORMATS
        tables = tables_for(record_type, self.options.dictionaries)
        columns: list[_Column] = []
        unknown: list[str] = []
        # Each field's columns: a header naming it exactly wins over one that names it only
        # once a bracketed remark is taken off (周期ID over 周期ID(旧系统)), then the first.
        candidates: dict[str, list[tuple[bool, int, str]]] = {}
        wrong_unit: set[str] = set()
        for index, header in enumerate(self.table.headers):
            text = str(header).strip() if header is not None else ""
            if not text:
                continue
            found = record_type.match_header(text)
            if found is None:
                shared = record_type.fields_sharing(text)
                if len(shared) > 1:
                    self.file_problems.append(_ambiguous_column(record_type, index, text, shared))
                elif text not in ANNOTATION_COLUMNS:
                    unknown.append(text)
                continue
            unit = unit_in(text)
            if unit is not None and found.unit is not None and unit != found.unit:
                # 新生儿1体重(g) holds 3200 where the platform wants 3.2 (kg): sent, every
                # value would be a thousand times too large, and no cell looks wrong.
                self.file_problems.append(_wrong_unit_column(index, text, unit, found))
                wrong_unit.add(found.name)
                continue
            exact = record_type.names_exactly(text)
            candidates.setdefault(found.name, []).append((not exact, index, text))
        chosen: dict[int, Field] = {}
        # Columns naming a field as well as the one read: a JSON export whose records spell a
        # key in two cases, a sheet with a column twice. A row's blank there is filled from
        # them; two different values are a conflict, not a choice to make for the clerk.
        self._merges: list[tuple[int, list[int], Field]] = []
        self._conflicts: dict[int, list[tuple[Field, Any]]] = {}
        for name, found_columns in candidates.items():
            found_columns.sort()
            first_loose, first_index, first_text = found_columns[0]
            chosen[first_index] = record_type.field(name)
            equals = [index for loose, index, _ in found_columns[1:] if loose == first_loose]
            if equals:
                self._merges.append((first_index, equals, record_type.field(name)))
            for loose, index, text in found_columns[1:]:
                self.file_problems.append(
                    Problem(
                        codes.DUPLICATE_COLUMN
                        if loose == first_loose
                        else codes.DUPLICATE_COLUMN_LOOSE,
                        field=name,
                        severity="warning",
                        params={
                            "column": text,
                            "number": index + 1,
                            "first": first_text,
                            "first_number": first_index + 1,
                            "label": record_type.field(name).short_label,
                        },
                    )
                )
        seen: set[str] = set()
        for index, found in sorted(chosen.items()):
            seen.add(found.name)
            clear = CLEAR_VALUES[found.type] if self.options.blank_clears else BLANK
            read = value_reader(found, numbers_are_doubles=doubles)
            kind: str = found.type
            if found.pii == "idcard":
                kind = ID_NUMBER
            elif found.identifier:
                kind = IDENTIFIER
            if found.name in tables:
                read, kind = coded_reader(read, tables[found.name]), CODED
            columns.append(_Column(index, found, read, clear, kind))
        if unknown:
            self.file_problems.append(
                Problem(
                    codes.UNKNOWN_COLUMNS,
                    severity="warning",
                    params={"columns": Listing(unknown), "count": len(unknown)},
                )
            )
        for required in record_type.required_fields:
            if required.name in seen or (required.name == _ORGID and self.orgid):
                continue
            if required.name in wrong_unit:
                continue  # the column is there, and its problem says what is wrong with it
            self.file_problems.append(
                Problem(
                    codes.MISSING_COLUMN,
                    field=required.name,
                    params={"label": required.short_label},
                )
            )
        if any(p.code == codes.MISSING_COLUMN for p in self.file_problems):
            self._name_the_type_the_header_fits()
        return columns

    def _name_the_type_the_header_fits(self) -> None:
        """A clerk who pushed a cycle file as ovum sees seven missing columns and thirty
        unknown ones: name the record type whose required columns the header all has."""
        headers = [str(h).strip() for h in self.table.headers if h is not None]
        best: tuple[int, RecordType] | None = None
        for other in load_schema():
            if other.name == self.record_type.name:
                continue
            named = {f.name for h in headers if (f := other.match_header(h)) is not None}
            needed = {f.name for f in other.required_fields} - ({_ORGID} if self.orgid else set())
            if needed <= named and (best is None or len(named) > best[0]):
                best = (len(named), other)
        if best is not None:
            other = best[1]
            self.file_problems.append(
                Problem(
                    codes.OTHER_RECORD_TYPE,
                    severity="warning",
                    params={"type": other.label, "name": other.name},
                )
            )

    def _sampled_rows(self, checks: _RowChecks) -> Iterator[tuple[int, list[Any]]]:
        """The table's rows; for spreadsheets and text files, first learn from a sample how
        long each text column's codes are, so numbers that lost their leading zeros can be
        caught: by the column's reader in a spreadsheet, where they are number cells, and by
        ``checks`` in a text file, where they are text like any code."""
        rows = self.table.rows()
        doubles = self.table.format in _DOUBLE_FORMATS
        if not doubles and self.table.format not in _TEXT_FORMATS:
            return rows
        sample = list(itertools.islice(rows, _CODE_SAMPLE_ROWS))
        columns = []
        for column in self._columns:
            found = None
            # Not for ID numbers: none starts with a zero, and an old 15-digit one among
            # 18-digit ones is no shortened code.
            if column.field.type == "string" and column.field.pii != "idcard":
                column_cells = [cells[column.index] for _, cells in sample]
                found = typical_codes(column_cells, all_text=not doubles)
            if found is not None:
                if doubles:
                    read = value_reader(column.field, numbers_are_doubles=True, codes=found)
                    column = dataclasses.replace(column, read=read, cache=ColumnCache())
                else:
                    checks.add_code_column(column.field, found, self.table.format)
            columns.append(column)
        self._columns = columns
        self._plan = [(c.index, c.field, c.read, c.field.required, c.clear) for c in columns]
        return itertools.chain(sample, rows)

    @staticmethod
    def _read_cells_with_problems(
        cells: list[Any], plan: list[tuple[int, Field, Any, bool, Any]], orgid: str | None
    ) -> tuple[dict[str, Any], _Found]:
        data: dict[str, Any] = {}
        found: _Found = []
        for index, fld, read, required, clear in plan:
            cell = cells[index]
            try:
                value = read(cell)
            except CellError as error:
                found.append((error.code, fld, cell, error.params, "error"))
                continue
            if value is BLANK:
                if required and not (fld.name == _ORGID and orgid):
                    found.append((codes.REQUIRED_MISSING, fld, cell, {}, "error"))
                elif clear is not BLANK:
                    data[fld.name] = clear
                continue
            data[fld.name] = value
        return data, found

    def rows(self) -> Iterator[RowResult]:
        """Every data row, checked, with the data the platform would receive."""
        for batch in self.result_batches():
            if isinstance(batch, CleanBatch):
                valid = not self.rows_unusable
                for row, key, data in zip(batch.rows, batch.keys, batch.data(), strict=True):
                    yield RowResult(row, data, key, (), valid)
            else:
                yield from batch
            del batch  # see _checked_batches

    def result_batches(self) -> Iterator[CleanBatch | list[RowResult]]:
        """:meth:`rows` a batch at a time: a :class:`CleanBatch` when no row of the batch has
        a problem (the common case, which ``push`` then handles without an object per row),
        else each row's result."""
        checks = self._row_checks()
        orgid = self.orgid
        summary = self.summary
        unusable = self.rows_unusable
        for batch, numbers, names, values, columns, slow in self._checked_batches(checks):
            keys = columns.get(checks.key_name)
            if (
                keys is not None
                and not unusable
                and not slow
                and checks.take_unique_keys(keys, numbers)
            ):
                fill = {_ORGID: orgid} if orgid else {}
                summary.rows_read += len(numbers)
                summary.valid += len(numbers)
                yield CleanBatch(list(numbers), keys, names, values, fill)
            else:
                yield self._row_results(batch, names, values, slow, checks)
            del batch, numbers, names, values, columns, slow, keys  # see _checked_batches
        self._finish()

    def _row_results(
        self,
        batch: list[tuple[int, list[Any]]],
        names: list[str],
        values: list[list[Any]],
        slow: set[int],
        checks: _RowChecks,
    ) -> list[RowResult]:
        with_blanks = [n for n, v in zip(names, values, strict=True) if BLANK in v]
        results = []
        # With no column the schema knows, zip(*values) would make no rows at all.
        rows = zip(*values, strict=True) if values else itertools.repeat((), len(batch))
        for position, ((row_number, cells), row) in enumerate(zip(batch, rows, strict=True)):
            if position in slow:
                result = self._slow_row(row_number, cells, checks)
            else:
                data = dict(zip(names, row, strict=True))
                for name in with_blanks:
                    if data[name] is BLANK:
                        del data[name]
                found: _Found = []
                key = checks.check(data, row_number, found)
                result = self._result(row_number, data, key, found)
            self._count(result)
            results.append(result)
        return results

    def problem_rows(self) -> Iterator[RowResult]:
        """Check every row but yield only those with a problem; the summary counts them all.

        This is ``validate``'s path: nothing is sent, so valid rows need no data, and the row
        checks run a column at a time like the cell checks.
        """
        checks = self._row_checks()
        summary = self.summary
        unusable = self.rows_unusable
        for batch, numbers, _names, _values, columns, slow in self._checked_batches(checks):
            keys = columns.get(checks.key_name)
            if not slow and checks.take_unique_keys(keys, numbers):
                # The common case, decided a batch at a time: every row clean.
                summary.rows_read += len(batch)
                if unusable:
                    summary.invalid += len(batch)
                else:
                    summary.valid += len(batch)
            else:
                yield from self._problems_in(batch, keys, slow, checks)
            del batch, numbers, _names, _values, columns, slow, keys  # see _checked_batches
        self._finish()

    def _problems_in(
        self,
        batch: list[tuple[int, list[Any]]],
        keys: list[Any] | None,
        slow: set[int],
        checks: _RowChecks,
    ) -> Iterator[RowResult]:
        summary = self.summary
        unusable = self.rows_unusable
        first_row_of_key = checks.first_row_of_key
        for position, (row_number, cells) in enumerate(batch):
            if position not in slow:
                key = keys[position] if keys is not None else BLANK
                if key is BLANK or first_row_of_key.setdefault(str(key), row_number) == row_number:
                    summary.rows_read += 1
                    if unusable:
                        summary.invalid += 1
                    else:
                        summary.valid += 1
                    continue
                # The key was seen before: the slow path reports the duplicate.
            result = self._slow_row(row_number, cells, checks)
            self._count(result)
            if result.problems:
                yield result

    def _checked_batches(
        self, checks: _RowChecks
    ) -> Iterator[
        tuple[
            list[tuple[int, list[Any]]],
            tuple[int, ...],
            list[str],
            list[list[Any]],
            dict[str, list[Any]],
            set[int],
        ]
    ]:
        """Each batch with its row numbers, its converted columns (as a list and by field
        name) and the positions of the rows that some cell or row check flagged.

        Each loop here and in the callers lets go of its batch before the next one is read.
        Otherwise two batches are alive at once, the cells of the old one are out of the CPU
        cache by the time they are freed, and the new one is read into memory that is not
        in it: validation runs a fifth slower (``bench/bench_validate.py``).
        """
        for batch in self._batches(checks):
            numbers, rows = zip(*batch, strict=True)
            names, values, slow = self._convert_batch(rows)
            columns = dict(zip(names, values, strict=True))
            slow.update(checks.suspicious_positions(columns))
            if self._conflicts:
                slow.update(i for i, number in enumerate(numbers) if number in self._conflicts)
            if self.table.row_problems:
                refused = self.table.row_problems
                slow.update(i for i, number in enumerate(numbers) if number in refused)
            yield batch, numbers, names, values, columns, slow
            del batch, numbers, rows, names, values, columns, slow

    def _batches(self, checks: _RowChecks) -> Iterator[list[tuple[int, list[Any]]]]:
        source = self._sampled_rows(checks)
        if self._merges:
            source = self._merged(source)
        size = max(1, _BATCH_CELLS // max(1, len(self.table.headers)))
        while batch := list(itertools.islice(source, size)):
            yield batch
            del batch

    def _merged(self, rows: Iterator[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
        for number, cells in rows:
            for first, others, fld in self._merges:
                for other in others:
                    value = cells[other]
                    if _is_blank(value):
                        continue
                    if _is_blank(cells[first]):
                        cells[first] = value
                    elif str(cells[first]).strip() != str(value).strip():
                        self._conflicts.setdefault(number, []).append((fld, value))
            yield number, cells

    def _row_checks(self) -> _RowChecks:
        return _RowChecks(
            self.record_type,
            self.orgid,
            self.options.blank_clears,
            shown_numbers=self.table.format in _SHOWN_NUMBER_FORMATS,
        )

    def _convert_batch(
        self, rows: tuple[list[Any], ...]
    ) -> tuple[list[str], list[list[Any]], set[int]]:
        """Each mapped column of the batch converted, and the positions of rows that need the
        slow path because some cell of theirs was refused."""
        orgid = self.orgid
        cells_by_index = list(zip(*rows, strict=True))
        names: list[str] = []
        values: list[list[Any]] = []
        slow: set[int] = set()
        for column in self._columns:
            required = column.field.required and not (column.field.name == _ORGID and orgid)
            converted, refused = convert_column(
                cells_by_index[column.index],
                column.kind,
                column.read,
                required=required,
                clear=column.clear,
                cache=column.cache,
            )
            names.append(column.field.name)
            values.append(converted)
            slow.update(refused)
        return names, values, slow

    def _slow_row(self, row_number: int, cells: list[Any], checks: _RowChecks) -> RowResult:
        data, found = self._read_cells_with_problems(cells, self._plan, self.orgid)
        for fld, other in self._conflicts.pop(row_number, ()):
            found.append((codes.CONFLICTING_COLUMNS, fld, other, {}, "error"))
            data.pop(fld.name, None)
        for code, params in self.table.row_problems.pop(row_number, ()):
            found.insert(0, (code, None, None, params, "error"))
        key = checks.check(data, row_number, found)
        return self._result(row_number, data, key, found)

    def _result(
        self, row_number: int, data: dict[str, Any], key: str | None, found: _Found
    ) -> RowResult:
        unusable = self.rows_unusable
        if not found:
            return RowResult(row_number, data, key, (), not unusable)
        problems = tuple(
            Problem(
                code,
                row=row_number,
                field=fld.name if fld else None,
                value=_as_shown(value),
                severity=severity,  # type: ignore[arg-type]
                primary_key=key,
                params={"label": fld.short_label if fld else "", **params},
            )
            for code, fld, value, params, severity in found
        )
        valid = not unusable and not any(p.is_error for p in problems)
        return RowResult(row_number, data, key, problems, valid)

    def _count(self, result: RowResult) -> None:
        self.summary.count(result)

    def _finish(self) -> None:
        self.summary.notices = list(self.table.notices)
        if self.summary.rows_read == 0:
            for notice in self.table.notices:
                if notice.code == "content-format-differs":
                    # A .xlsx that is really a line of text: its name, not "no rows", is the
                    # news for the clerk.
                    raise InputError(
                        "input-no-rows-other-format", path=str(self.table.path), **notice.params
                    )
            raise InputError("input-no-rows", path=str(self.table.path))


_Found = list[tuple[str, Field | None, Any, dict[str, Any], str]]


def _is_blank(cell: Any) -> bool:
    return cell is None or (cell.__class__ is str and not cell.strip())


def _wrong_unit_column(index: int, header: str, unit: str, field: Field) -> Problem:
    return Problem(
        codes.WRONG_UNIT_COLUMN,
        field=field.name,
        params={
            "column": header,
            "number": index + 1,
            "unit": unit,
            "wanted": field.unit,
            "label": field.short_label,
            "header": field.label,
        },
    )


def _ambiguous_column(
    record_type: RecordType, index: int, header: str, fields: list[Field]
) -> Problem:
    # Each field by the header that names it alone, the template's: one a clerk can type.
    shown = [(record_type.header_for(f), f.name) for f in fields]
    return Problem(
        codes.AMBIGUOUS_COLUMN,
        severity="warning",
        params={
            "column": header,
            "number": index + 1,
            "fields": Listing(text if text == name else f"{text}({name})" for text, name in shown),
        },
    )


#: Formats whose numbers are text as a spreadsheet showed them; a JSON number or an xlsx cell
#: keeps its digits, or is caught as rounded by its reader.
_SHOWN_NUMBER_FORMATS = frozenset({"csv", "html"})


#: A whole number as a spreadsheet writes it into a CSV: ASCII digits, no leading zero.
_NUMBER = re.compile(r"(?:0|[1-9][0-9]*)\Z")


@dataclass(frozen=True, slots=True)
class _CodeColumn:
    """A text file's column of codes of one length, where a shorter number is caught."""

    field: Field
    length: int
    #: A shorter number between new lines, in the column's values joined by new lines.
    shorter: re.Pattern[str]
    code: str
    severity: str
    params: dict[str, Any]

    def is_shorter(self, value: Any) -> bool:
        """Whether *value* is a number shorter than the codes, written as a spreadsheet writes
        a number: a code that kept its zeros (000123) lost none."""
        return value.__class__ is str and len(value) < self.length and bool(_NUMBER.match(value))


class _RowChecks:
    """Checks that look at a whole row: orgid, fields of which one must be filled, fields a
    delete will need, resident ID check digits, a primary key seen before in the file,
    numbers shorter than their column's codes in a text file, and the sanity warnings (dates
    in order and not in the future, numbers in a plausible range)."""

    def __init__(
        self,
        record_type: RecordType,
        orgid: str | None,
        blank_clears: bool,
        shown_numbers: bool = False,
    ) -> None:
        self.record_type = record_type
        #: The file holds numbers as a spreadsheet showed them (a CSV or web page saved "as
        #: shown"), where an 18-digit one comes rounded to …000.
        self.shown_numbers = shown_numbers
        self.orgid = orgid
        self.key_name = record_type.primary_key
        self.one_of = record_type.one_of_required
        self.id_fields = [f.name for f in record_type.fields if f.pii == "idcard"]
        # The platform stores a row without them, but its delete requires them (insemination's
        # cycleid): a record stored blank there could never be deleted.
        self.needed_to_delete = [
            record_type.field(name)
            for name in record_type.delete_params
            if record_type.has_field(name) and not record_type.field(name).required
        ]
        self.first_row_of_key: dict[str, int] = {}
        field = record_type.field
        # Dates are canonical text, so text order is time order — except that a date-time
        # compared with a bare date must be cut to its day, or any time that day would be later.
        self.date_order = [
            (
                field(earlier),
                field(later),
                _DATE_WIDTH
                if field(earlier).type == "datetime" and field(later).type == "date"
                else None,
            )
            for earlier, later in record_type.date_order
        ]
        # With --blank-clears a blank number cell reads as the 0 that clears it: not a value.
        self.not_values: frozenset[Any] = frozenset({BLANK, 0} if blank_clears else {BLANK})
        self.ranges = [
            (field(name), low, high, field(name).smaller_units)
            for name, low, high in record_type.ranges
        ]
        latest = dt.datetime.now() + _FUTURE_MARGIN
        formats = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%d %H:%M:%S"}
        self.latest = [
            (f, latest.strftime(formats[f.type])) for f in record_type.fields if f.type in formats
        ]
        #: Known once the file's first rows are read (see ``Validation._sampled_rows``).
        self.code_columns: list[_CodeColumn] = []

    def add_code_column(self, fld: Field, typical: TypicalCodes, file_format: str) -> None:
        """Catch numbers shorter than ``typical`` in a text file's column. Where every code is
        digits (006523), a shorter number can only have lost its zeros, which a spreadsheet
        program that opened and saved the file drops: refused. Where they have letters
        (YS7820), it may be a code of another kind, which the clerk could not have marked as
        text in a CSV: a warning."""
        params: dict[str, Any] = {"length": typical.length, "example": typical.example}
        if typical.digits_only:
            code, severity = codes.LEADING_ZEROS_LOST, "error"
            params |= {
                "format": file_format.upper(),
                codes.WORDING: codes.Wording.LEADING_ZEROS_LOST_TEXT,
            }
        else:
            code, severity = codes.CODE_SHORTER_THAN_COLUMN, "warning"
        # Not ^…$ in MULTILINE: a pattern that starts with a literal new line is searched for
        # from new line to new line, twice as fast as one tried at every character.
        shorter = re.compile(f"\n(?:0|[1-9][0-9]{{0,{typical.length - 2}}})\n")
        self.code_columns.append(_CodeColumn(fld, typical.length, shorter, code, severity, params))

    def suspicious_positions(self, columns: dict[str, list[Any]]) -> set[int]:
        """Positions in a batch (columns by field name) that some row check would flag."""
        positions: set[int] = set()
        orgid = self.orgid
        given = columns.get(_ORGID)
        if orgid and given is not None and not set(given) <= {orgid, BLANK}:
            positions.update(i for i, v in enumerate(given) if v is not BLANK and v != orgid)
        size = len(next(iter(columns.values()), ()))
        for group in self.one_of:
            present = [columns[name] for name in group if name in columns]
            if not present:
                return set(range(size))
            positions.update(
                i
                for i, values in enumerate(zip(*present, strict=True))
                if all(v is BLANK or v == "" for v in values)
            )
        for fld in self.needed_to_delete:
            values = columns.get(fld.name)
            if values is None:
                return set(range(size))
            positions.update(i for i, v in enumerate(values) if v is BLANK or v == "")
        for name in self.id_fields:
            for i, number in enumerate(columns.get(name, ())):
                if isinstance(number, str) and (
                    not has_valid_check_digit(number)
                    or (self.shown_numbers and looks_rounded(number))
                ):
                    positions.add(i)
        for code_column in self.code_columns:
            values = columns.get(code_column.field.name)
            if values is None:
                continue
            # One search over the whole column, at C speed; row by row only when it finds one.
            try:
                joined = "\n".join(values)
            except TypeError:
                joined = "\n".join(map(_AS_FIRST.get, values, values))
            if code_column.shorter.search(f"\n{joined}\n"):
                positions.update(i for i, v in enumerate(values) if code_column.is_shorter(v))
        self._suspicious_sanity(columns, positions)
        return positions

    def _suspicious_sanity(self, columns: dict[str, list[Any]], positions: set[int]) -> None:
        # Each rule first asks the whole column with max / min / map, at C speed, and goes row
        # by row only when that finds something. A blank cell makes max() raise TypeError;
        # only then are the blanks mapped out of the way, still at C speed.
        for fld, latest in self.latest:
            dates = columns.get(fld.name)
            if dates is None:
                continue
            try:
                last = max(dates, default="")
            except TypeError:
                last = max(map(_AS_FIRST.get, dates, dates))
            # max() hands back a lone blank cell without comparing it.
            if last is not BLANK and last > latest:
                positions.update(i for i, v in enumerate(dates) if v is not BLANK and v > latest)
        for earlier, later, width in self.date_order:
            firsts, thens = columns.get(earlier.name), columns.get(later.name)
            if firsts is None or thens is None:
                continue
            try:
                suspect = any(map(operator.gt, firsts, thens))
            except TypeError:
                # A blank is neither before nor after anything: a missing first date sorts
                # before every date, a missing later one after every date.
                suspect = any(
                    map(
                        operator.gt,
                        map(_AS_FIRST.get, firsts, firsts),
                        map(_AS_LAST.get, thens, thens),
                    )
                )
            if suspect:
                # Text order can flag a date-time against the bare date of the same day: the
                # exact check settles it.
                positions.update(
                    i
                    for i, (first, then) in enumerate(zip(firsts, thens, strict=True))
                    if _out_of_order(first, then, width)
                )
        not_values = self.not_values
        for fld, low, high, _ in self.ranges:
            numbers = columns.get(fld.name)
            if numbers is None:
                continue
            present = set(numbers)
            present.difference_update(not_values)
            if present and not (low <= min(present) and max(present) <= high):
                positions.update(
                    i for i, v in enumerate(numbers) if v not in not_values and not low <= v <= high
                )

    def take_unique_keys(self, keys: list[Any] | None, numbers: tuple[int, ...]) -> bool:
        """Record a batch's keys when none is blank, repeated, or seen in an earlier batch;
        False (nothing recorded) otherwise, for the caller to go row by row."""
        if keys is None or BLANK in keys:
            return False
        # Primary keys are text fields, so the column's values are already strings.
        unique = set(keys)
        if len(unique) != len(keys) or not self.first_row_of_key.keys().isdisjoint(unique):
            return False
        self.first_row_of_key.update(zip(keys, numbers, strict=True))
        return True

    def check(self, data: dict[str, Any], row_number: int, found: _Found) -> str | None:
        """Fill ``orgid`` and add this row's problems to ``found``; returns the row's key."""
        field = self.record_type.field
        orgid = self.orgid
        if orgid:
            given = data.get(_ORGID)
            if given is None:
                data[_ORGID] = orgid
            elif given != orgid:
                found.append(
                    (codes.ORGID_MISMATCH, field(_ORGID), given, {"expected": orgid}, "error")
                )
        for group in self.one_of:
            if not any(data.get(name) not in (None, "") for name in group):
                fields = " / ".join(f"{field(name).short_label}({name})" for name in group)
                found.append(
                    (codes.ONE_OF_REQUIRED, field(group[0]), None, {"fields": fields}, "error")
                )
        for fld in self.needed_to_delete:
            if data.get(fld.name) in (None, ""):
                found.append((codes.BLANK_DELETE_KEY, fld, None, {}, "warning"))
        for name in self.id_fields:
            number = data.get(name)
            if not isinstance(number, str):
                continue
            valid = has_valid_check_digit(number)
            if self.shown_numbers and looks_rounded(number):
                # A CSV or web page holds what the spreadsheet showed of the number. With a
                # wrong check digit it is all but surely rounded; with a right one (1 in 11
                # rounded numbers, and a few real ones) the clerk is asked to look.
                if valid:
                    found.append((codes.IDCARD_MAYBE_ROUNDED, field(name), number, {}, "warning"))
                else:
                    found.append((codes.PRECISION_LOST, field(name), number, {}, "error"))
            elif not valid:
                found.append((codes.IDCARD_CHECKSUM, field(name), number, {}, "warning"))
        for code_column in self.code_columns:
            value = data.get(code_column.field.name)
            if code_column.is_shorter(value):
                params = {**code_column.params, "digits": len(value)}
                found.append(
                    (code_column.code, code_column.field, value, params, code_column.severity)
                )
        self._check_sanity(data, found)
        key = data.get(self.key_name)
        if key is None:
            return None
        key = str(key)
        first = self.first_row_of_key.setdefault(key, row_number)
        if first != row_number:
            found.append(
                (codes.DUPLICATE_KEY, field(self.key_name), key, {"first_row": first}, "error")
            )
        return key

    def _check_sanity(self, data: dict[str, Any], found: _Found) -> None:
        for fld, latest in self.latest:
            value = data.get(fld.name)
            if value and value > latest:
                found.append((codes.FUTURE_DATE, fld, value, {}, "warning"))
        for earlier, later, width in self.date_order:
            first, then = data.get(earlier.name), data.get(later.name)
            if _out_of_order(first, then, width):
                params = {
                    "later": later.name,
                    "later_label": later.short_label,
                    "later_value": then,
                }
                found.append((codes.DATE_ORDER, earlier, first, params, "warning"))
        for fld, low, high, smaller_units in self.ranges:
            value = data.get(fld.name)
            if value is None or value in self.not_values or low <= value <= high:
                continue
            for unit, times in smaller_units:
                if low * times <= value <= high * times:
                    # 3250 in kg: a newborn of 3.25 kg written in grams. Sent, the platform
                    # would store a thousand times the weight; a warning goes unread at night.
                    params = {
                        "unit": unit,
                        "wanted": fld.unit,
                        "converted": _divided(value, times),
                        "header": fld.label,
                    }
                    found.append((codes.WRONG_UNIT_VALUE, fld, value, params, "error"))
                    break
            else:
                params = {"min": low, "max": high}
                found.append((codes.OUT_OF_RANGE, fld, value, params, "warning"))


def _out_of_order(first: Any, then: Any, width: int | None) -> bool:
    """Whether the date that should come first comes after the other; False unless both are
    there (not BLANK, None, or the "" of --blank-clears)."""
    return (
        first.__class__ is str
        and then.__class__ is str
        and bool(first)
        and bool(then)
        and first[:width] > then[:width]
    )


def _divided(value: float, times: int) -> str:
    """``value / times`` as a clerk would write it: 3.25, not 3.2500000000000004 or 3.25E+0."""
    quotient = (Decimal(repr(value)) / times).normalize()
    return format(quotient, "f")


def _as_shown(value: Any) -> Any:
    # A spreadsheet shows the number 5879.0 as 5879; so does the report.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@contextlib.contextmanager
def open_validation(
    record_type: RecordType,
    path: str | Path,
    *,
    orgid: str | None = None,
    options: ValidateOptions | None = None,
) -> Iterator[Validation]:
    """Open ``path`` as an export of ``record_type``; ``orgid`` (from config) fills and checks
    the rows' ``orgid``."""
    options = options or ValidateOptions()
    with open_export(record_type, path, sheet=options.sheet, encoding=options.encoding) as table:
        yield Validation(record_type, table, orgid=orgid, options=options)


def open_export(
    record_type: RecordType,
    path: str | Path,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
) -> Table:
    """*path* opened as an export of *record_type*: its header, and the sheet of a workbook,
    found by the type's columns. Whoever reads the file again (``--annotate``) opens it so,
    to read the same sheet."""
    # orgid does not count: exports often leave it out for the config to fill, and whether
    # this config does must not change which sheet validate, push and --annotate read.
    needed = [f.name for f in record_type.required_fields if f.name != _ORGID]

    def missing_columns(headers: list[str]) -> tuple[bool, int]:
        named = {found.name for header in headers if (found := record_type.match_header(header))}
        lacking = sum(1 for name in needed if name not in named)
        return record_type.primary_key not in named, lacking

    return open_table(
        path,
        sheet=sheet,
        encoding=encoding,
        is_known_header=lambda header: record_type.match_header(header) is not None,
        missing_columns=missing_columns,
    )
