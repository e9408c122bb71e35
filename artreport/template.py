"""Blank templates a records clerk fills in Excel and hands straight to ``validate`` / ``push``.

An XLSX template's first sheet is the data sheet: one header row of Chinese labels (required
ones with a trailing ``*``, which header matching ignores), the API name in each header's note,
and every column pre-formatted for what it holds. The column format is the point: Excel applies
it to whatever is typed below, so ``003476`` stays text and ``2023/5/6`` becomes a real date
instead of the clerk's codes and IDs being turned into numbers. The second sheet, 字段说明,
describes every field. A CSV template is the header row alone, UTF-8 with a BOM so that Excel
shows the Chinese.

The workbook's own texts are always Chinese: it is for the clerk, whatever language the person
generating it reads on the console.
"""

from __future__ import annotations

import csv
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from artreport.dictionaries import Dictionaries, tables_for
from artreport.errors import InputError, UsageError
from artreport.messages import Listing, translate
from artreport.schema import Field, RecordType, Schema
from artreport.template_sheets import (
    FIELD_SHEET_COLUMNS,
    WORKBOOK_LANG,
    field_sheet_header,
    field_sheet_title,
)

SUFFIXES = (".xlsx", ".csv")
REQUIRED_MARK = "*"

NUMBER_FORMATS: Mapping[str, str] = {
    "string": "@",
    "integer": "0",
    "number": "General",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}
# Wide enough to show a typical value, not just the header.
_MIN_WIDTHS: Mapping[str, int] = {
    "string": 14,
    "integer": 10,
    "number": 10,
    "date": 12,
    "datetime": 20,
}
_ID_NUMBER_WIDTH = 22
_MAX_WIDTH = 24
_NOTES_MAX_WIDTH = 60
_LINE_HEIGHT = 15
# Excel's whole-number validation needs bounds; these are the platform's integer range.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LAST_ROW = 1_048_576

_REQUIRED_FONT = Font(bold=True, color="C00000")
_REQUIRED_FILL = PatternFill("solid", fgColor="FDE9D9")
_OPTIONAL_FILL = PatternFill("solid", fgColor="F2F2F2")
_HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)
_WRAP = Alignment(vertical="top", wrap_text=True)


def _zh(code: str, **params: object) -> str:
    return translate(code, WORKBOOK_LANG, **params)


def default_file_name(record_type: RecordType) -> str:
    return f"{record_type.name}_template.xlsx"


def template_headers(record_type: RecordType) -> list[str]:
    """The header row: one per field in schema order, required ones marked."""
    return [
        record_type.header_for(f) + (REQUIRED_MARK if f.required else "")
        for f in record_type.fields
    ]


def plan_templates(
    schema: Schema, record_type: str | None, *, all_types: bool, output: Path | None
) -> list[tuple[RecordType, Path]]:
    """Which template goes to which file.

    One type: *output* is the file (its suffix picks the format) or a folder to put
    ``<type>_template.xlsx`` in; by default that name in the current folder. ``all_types``:
    *output* is the folder (created if need be) for one XLSX per record type.
    """
    if (record_type is None) != all_types:
        raise UsageError("template-type-or-all")
    if record_type is None:
        folder = output or Path()
        if folder.exists() and not folder.is_dir():
            raise UsageError("template-all-needs-folder", path=str(folder))
        return [(t, folder / default_file_name(t)) for t in schema]
    chosen = schema.get(record_type)
    path = output or Path(default_file_name(chosen))
    if path.is_dir():
        path = path / default_file_name(chosen)
    return [(chosen, path)]


def write_templates(
    targets: Sequence[tuple[RecordType, Path]],
    *,
    force: bool = False,
    dictionaries: Dictionaries | None = None,
) -> None:
    """Write every target, or — when a file is already there and not *force* — none of them,
    so that a clerk's filled-in template is never replaced by a blank one."""
    existing = [str(path) for _, path in targets if path.exists()]
    if existing and not force:
        raise UsageError("template-exists", paths=Listing(existing))
    for record_type, path in targets:
        write_template(record_type, path, dictionaries=dictionaries)


def write_template(
    record_type: RecordType, path: Path, *, dictionaries: Dictionaries | None = None
) -> None:
    """The template for *record_type* at *path*, XLSX or CSV by its suffix; an existing file
    is replaced."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError("template-bad-suffix", path=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            with open(path, "w", encoding="utf-8-sig", newline="") as handle:
                csv.writer(handle, lineterminator="\r\n").writerow(template_headers(record_type))
        else:
            build_workbook(record_type, dictionaries).save(path)
    except OSError as error:
        raise InputError(
            "template-unwritable", path=str(path), reason=error.strerror or str(error)
        ) from None


def build_workbook(record_type: RecordType, dictionaries: Dictionaries | None = None) -> Workbook:
    """The XLSX template. With *dictionaries*, coded columns get a drop-down of
    ``code-label`` entries and the field sheet lists the allowed codes."""
    tables = {
        name: dict(sorted(table.items()))
        for name, table in tables_for(record_type, dictionaries).items()
    }
    workbook = Workbook()
    data = workbook.active
    data.title = record_type.label
    _fill_data_sheet(data, record_type)
    _add_type_checks(data, record_type, skip=tables.keys())
    _fill_field_sheet(workbook.create_sheet(field_sheet_title()), record_type, tables)
    if tables:
        _add_drop_downs(workbook, data, record_type, tables)
    return workbook


def _fill_data_sheet(sheet: Worksheet, record_type: RecordType) -> None:
    lines = 1
    for column, (field, text) in enumerate(
        zip(record_type.fields, template_headers(record_type), strict=True), 1
    ):
        cell = sheet.cell(row=1, column=column, value=text)
        if field.required:
            cell.font = _REQUIRED_FONT
        cell.fill = _REQUIRED_FILL if field.required else _OPTIONAL_FILL
        cell.alignment = _HEADER_ALIGNMENT
        cell.comment = _note(field)
        dimension = sheet.column_dimensions[get_column_letter(column)]
        dimension.number_format = NUMBER_FORMATS[field.type]
        minimum = _ID_NUMBER_WIDTH if field.pii == "idcard" else _MIN_WIDTHS[field.type]
        needed = _display_width(text) + 2
        dimension.width = min(max(needed, minimum), _MAX_WIDTH)
        lines = max(lines, math.ceil(needed / dimension.width))
    # Excel does not grow a row for wrapped text in a file it did not lay out itself.
    sheet.row_dimensions[1].height = _LINE_HEIGHT * lines + 3
    sheet.freeze_panes = "A2"


def _note(field: Field) -> Comment:
    text = _zh(
        "template-note",
        name=field.name,
        type=_zh(f"template-type-{field.type}"),
        required=_zh("template-required" if field.required else "template-optional"),
    )
    note = Comment(text, "artreport")
    note.width, note.height = 180, 60
    return note


def _add_type_checks(sheet: Worksheet, record_type: RecordType, skip: Iterable[str]) -> None:
    """Excel refuses text typed into a number column, so the clerk hears of it at once."""
    skip = set(skip)
    checks = {
        "integer": DataValidation(
            type="whole",
            operator="between",
            formula1=str(_INT_MIN),
            formula2=str(_INT_MAX),
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=_zh("template-integer-title"),
            error=_zh("template-integer-error"),
        ),
        "number": DataValidation(
            type="decimal",
            operator="between",
            formula1="-1E+307",
            formula2="1E+307",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=_zh("template-number-title"),
            error=_zh("template-number-error"),
        ),
    }
    for column, field in enumerate(record_type.fields, 1):
        if field.type in checks and field.name not in skip:
            checks[field.type].add(_column_below_header(column))
    for check in checks.values():
        if check.sqref:
            sheet.add_data_validation(check)


def _add_drop_downs(
    workbook: Workbook,
    data: Worksheet,
    record_type: RecordType,
    tables: Mapping[str, Mapping[int, str]],
) -> None:
    # The lists live on a hidden sheet: an inline list is limited to 255 characters and
    # cannot hold a label with a comma in it.
    codes = workbook.create_sheet(_zh("template-code-sheet"))
    codes.sheet_state = "hidden"
    for list_column, (name, table) in enumerate(tables.items(), 1):
        codes.cell(row=1, column=list_column, value=name)
        for row, entry in enumerate(_code_entries(table), 2):
            codes.cell(row=row, column=list_column, value=entry)
        letter = get_column_letter(list_column)
        drop_down = DataValidation(
            type="list",
            formula1=f"{quote_sheetname(codes.title)}!${letter}$2:${letter}${len(table) + 1}",
            allow_blank=True,
            showErrorMessage=True,
            # A bare code is valid input too, so a value off the list only warns.
            errorStyle="warning",
            errorTitle=_zh("template-list-title"),
            error=_zh("template-list-error"),
        )
        column = next(i for i, f in enumerate(record_type.fields, 1) if f.name == name)
        drop_down.add(_column_below_header(column))
        data.add_data_validation(drop_down)


def _fill_field_sheet(
    sheet: Worksheet, record_type: RecordType, tables: Mapping[str, Mapping[int, str]]
) -> None:
    columns = FIELD_SHEET_COLUMNS
    sheet.append(field_sheet_header())
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = _OPTIONAL_FILL
    yes, no = _zh("template-yes"), _zh("template-no")
    for field in record_type.fields:
        table = tables.get(field.name)
        sheet.append(
            [
                record_type.header_for(field),
                field.name,
                _zh(f"template-type-{field.type}"),
                yes if field.required else no,
                yes if field.dict else no,
                "；".join(_code_entries(table)) if table else "",
                "\n".join(_field_notes(record_type, field)),
            ]
        )
    for index in range(1, len(columns) + 1):
        letter = get_column_letter(index)
        texts = [str(c.value or "") for c in sheet[letter]]
        widest = max(_display_width(line) for text in texts for line in text.split("\n"))
        sheet.column_dimensions[letter].width = min(widest + 2, _NOTES_MAX_WIDTH)
        for cell in sheet[letter][1:]:
            cell.alignment = _WRAP
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions


def _field_notes(record_type: RecordType, field: Field) -> list[str]:
    notes = [field.description] if field.description else []
    header = record_type.header_for(field)
    if header != field.label:
        notes.append(_zh("template-hint-renamed", label=field.label, header=header))
    if field.type in ("date", "datetime"):
        notes.append(_zh(f"template-hint-{field.type}"))
    if field.name == "orgid":
        notes.append(_zh("template-hint-orgid"))
    for group in record_type.one_of_required:
        if field.name in group:
            others = [record_type.header_for(record_type.field(n)) for n in group]
            notes.append(_zh("template-hint-one-of", fields="、".join(others)))
    return notes


def _code_entries(table: Mapping[int, str]) -> list[str]:
    return [f"{code}-{label}" for code, label in table.items()]


def _column_below_header(column: int) -> str:
    letter = get_column_letter(column)
    return f"{letter}2:{letter}{_LAST_ROW}"


def _display_width(text: str) -> int:
    """Width in Excel's character units: a Chinese character takes about two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
