"""Validation of one export: header → fields, then every row → a :class:`RowResult`.

``validate`` and ``push`` both consume :func:`open_validation`, so a row that ``validate``
accepts is exactly the row ``push`` sends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreport.errors import InputError
from artreport.readers import Notice, Table, open_table
from artreport.schema import Field, RecordType
from artreport.validation import problems as codes
from artreport.validation.idcard import has_valid_check_digit
from artreport.validation.problems import CellError, Problem
from artreport.validation.values import BLANK, CLEAR_VALUES, typical_code_length, value_reader

# Formats whose numeric cells are IEEE doubles written by a spreadsheet program.
_DOUBLE_FORMATS = frozenset({"xlsx", "xls", "ods"})
_ORGID = "orgid"
#: Rows a spreadsheet's text columns are sampled over to learn their code lengths.
_CODE_SAMPLE_ROWS = 1000


@dataclass(frozen=True)
class ValidateOptions:
    blank_clears: bool = False
    sheet: str | None = None
    encoding: str | None = None


@dataclass(frozen=True, slots=True)
class RowResult:
    row: int
    data: dict[str, Any]
    primary_key: str | None
    problems: tuple[Problem, ...] = ()
    valid: bool = True


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
        # A missing required column makes every row invalid; one problem says so, not one a row.
        self.rows_unusable = any(p.code == codes.MISSING_COLUMN for p in self.file_problems)
        for problem in self.file_problems:
            self.summary.problems_by_code[problem.code] += 1

    def _plan_columns(self) -> list[_Column]:
        record_type = self.record_type
        doubles = self.table.format in _DOUBLE_FORMATS
        columns: list[_Column] = []
        seen: dict[str, str] = {}
        unknown: list[str] = []
        for index, header in enumerate(self.table.headers):
            text = str(header).strip() if header is not None else ""
            if not text:
                continue
            found = record_type.match_header(text)
            if found is None:
                unknown.append(text)
                continue
            if found.name in seen:
                self.file_problems.append(
                    Problem(
                        codes.DUPLICATE_COLUMN,
                        field=found.name,
                        severity="warning",
                        params={"column": text, "first": seen[found.name], "label": found.label},
                    )
                )
                continue
            seen[found.name] = text
            clear = CLEAR_VALUES[found.type] if self.options.blank_clears else BLANK
            columns.append(
                _Column(index, found, value_reader(found, numbers_are_doubles=doubles), clear)
            )
        if unknown:
            self.file_problems.append(
                Problem(
                    codes.UNKNOWN_COLUMNS,
                    severity="warning",
                    params={"columns": "、".join(unknown), "count": len(unknown)},
                )
            )
        for required in record_type.required_fields:
            if required.name in seen or (required.name == _ORGID and self.orgid):
                continue
            self.file_problems.append(
                Problem(codes.MISSING_COLUMN, field=required.name, params={"label": required.label})
            )
        return columns

    def _sampled_rows(self) -> Iterator[tuple[int, list[Any]]]:
        """The table's rows; for spreadsheets, first learn from a sample how long each text
        column's codes are, so numbers that lost their leading zeros can be caught."""
        rows = self.table.rows()
        if self.table.format not in _DOUBLE_FORMATS:
            return rows
        sample = list(itertools.islice(rows, _CODE_SAMPLE_ROWS))
        columns = []
        for column in self._columns:
            length = None
            if column.field.type == "string":
                length = typical_code_length([cells[column.index] for _, cells in sample])
            if length is not None:
                read = value_reader(column.field, numbers_are_doubles=True, code_length=length)
                column = dataclasses.replace(column, read=read)
            columns.append(column)
        self._columns = columns
        return itertools.chain(sample, rows)

    def rows(self) -> Iterator[RowResult]:
        record_type = self.record_type
        key_name = record_type.primary_key
        orgid = self.orgid
        one_of = record_type.one_of_required
        id_fields = [f.name for f in record_type.fields if f.pii == "idcard"]
        source = self._sampled_rows()
        plan = [(c.index, c.field, c.read, c.field.required, c.clear) for c in self._columns]
        first_row_of_key: dict[str, int] = {}
        summary = self.summary
        unusable = self.rows_unusable
        for row_number, cells in source:
            data: dict[str, Any] = {}
            found: list[tuple[str, Field | None, Any, dict[str, Any], str]] | None = None
            for index, fld, read, required, clear in plan:
                cell = cells[index]
                try:
                    value = read(cell)
                except CellError as error:
                    if found is None:
                        found = []
                    found.append((error.code, fld, cell, error.params, "error"))
                    continue
                if value is BLANK:
                    if required and not (fld.name == _ORGID and orgid):
                        if found is None:
                            found = []
                        found.append((codes.REQUIRED_MISSING, fld, cell, {}, "error"))
                    elif clear is not BLANK:
                        data[fld.name] = clear
                    continue
                data[fld.name] = value

            if orgid:
                given = data.get(_ORGID)
                if given is None:
                    data[_ORGID] = orgid
                elif given != orgid:
                    found = found or []
                    found.append(
                        (
                            codes.ORGID_MISMATCH,
                            record_type.field(_ORGID),
                            given,
                            {"expected": orgid},
                            "error",
                        )
                    )
            for group in one_of:
                if not any(data.get(name) not in (None, "") for name in group):
                    found = found or []
                    found.append(
                        (
                            codes.ONE_OF_REQUIRED,
                            record_type.field(group[0]),
                            None,
                            {"fields": " / ".join(group)},
                            "error",
                        )
                    )
            for name in id_fields:
                number = data.get(name)
                if isinstance(number, str) and not has_valid_check_digit(number):
                    found = found or []
                    found.append(
                        (codes.IDCARD_CHECKSUM, record_type.field(name), number, {}, "warning")
                    )
            key = data.get(key_name)
            key = None if key is None else str(key)
            if key is not None:
                first = first_row_of_key.setdefault(key, row_number)
                if first != row_number:
                    found = found or []
                    found.append(
                        (
                            codes.DUPLICATE_KEY,
                            record_type.field(key_name),
                            key,
                            {"first_row": first},
                            "error",
                        )
                    )

            if found is None:
                result = RowResult(row_number, data, key, (), not unusable)
            else:
                row_problems = tuple(
                    Problem(
                        code,
                        row=row_number,
                        field=fld.name if fld else None,
                        value=_as_shown(value),
                        severity=severity,  # type: ignore[arg-type]
                        primary_key=key,
                        params={"label": fld.label if fld else "", **params},
                    )
                    for code, fld, value, params, severity in found
                )
                valid = not unusable and not any(p.is_error for p in row_problems)
                result = RowResult(row_number, data, key, row_problems, valid)
            summary.count(result)
            yield result
        summary.notices = list(self.table.notices)
        if summary.rows_read == 0:
            raise InputError("input-no-rows", path=str(self.table.path))


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
    with open_table(
        path,
        sheet=options.sheet,
        encoding=options.encoding,
        is_known_header=lambda header: record_type.match_header(header) is not None,
    ) as table:
        yield Validation(record_type, table, orgid=orgid, options=options)
