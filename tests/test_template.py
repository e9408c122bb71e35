"""``artreport template``: what the clerk's workbook looks like, and that a filled one goes
through ``validate`` and ``push`` without edits."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from typer.testing import CliRunner

from artreport.cli import app
from artreport.fakedata import fake_rows
from artreport.readers import open_table
from artreport.sandbox import DEMO_ORG
from artreport.schema import Field, RecordType, load_schema
from artreport.template import build_workbook, template_headers
from artreport.validation.validator import open_validation

runner = CliRunner()
SCHEMA = load_schema()
CYCLE = SCHEMA.get("cycle")
INFORMATION = SCHEMA.get("information")
TRANSPLANT = SCHEMA.get("transplant")
FIELD_SHEET_COLUMNS = ["中文名称", "接口字段名", "类型", "必填", "字典项", "可选代码", "说明"]
TYPE_NAMES = {"string": "文本", "integer": "整数", "number": "数字", "date": "日期"}
TYPE_NAMES["datetime"] = "日期时间"


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def make_template(tmp_path: Path, type_name: str, suffix: str = ".xlsx") -> Path:
    path = tmp_path / f"{type_name}{suffix}"
    code, output = invoke("template", type_name, "-o", str(path))
    assert code == 0, output
    return path


def column_format(sheet: Worksheet, column: int) -> str:
    return sheet.column_dimensions[openpyxl.utils.get_column_letter(column)].number_format


def field_of_column(record_type: RecordType, header: object) -> Field:
    found = record_type.match_header(header)
    assert found is not None, header
    return found


# --------------------------------------------------------------------------------------------
# What the clerk gets


def test_data_sheet_comes_first_with_marked_headers_and_notes(tmp_path: Path) -> None:
    workbook = openpyxl.load_workbook(make_template(tmp_path, "cycle"))
    assert workbook.sheetnames == ["周期信息", "字段说明"]
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert headers == template_headers(CYCLE)
    assert sheet.max_row == 1
    for cell, field in zip(sheet[1], CYCLE.fields, strict=True):
        assert cell.comment is not None and cell.comment.text.startswith(field.name + "\n")
        if field.required:
            assert cell.value == field.label + "*"
            assert cell.font.bold
            assert "必填" in cell.comment.text
        else:
            assert cell.value == field.label
            assert not cell.font.bold
            assert "选填" in cell.comment.text
    assert "周期ID*" in headers and "方案*" in headers and "不孕原因" in headers


def test_columns_are_formatted_for_what_they_hold(tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(make_template(tmp_path, "cycle")).worksheets[0]
    formats = {
        field.name: column_format(sheet, column) for column, field in enumerate(CYCLE.fields, 1)
    }
    assert formats["cycleid"] == "@"  # IDs and codes stay text: 003476 keeps its zeros
    assert formats["informationid"] == "@"
    assert formats["cycledate"] == "yyyy-mm-dd hh:mm:ss"
    assert formats["startDate"] == "yyyy-mm-dd"
    assert formats["ordernumber"] == "0"
    assert formats["wInfertilityyear"] == "General"
    expected = {"string": "@", "integer": "0", "number": "General", "date": "yyyy-mm-dd"}
    expected["datetime"] = "yyyy-mm-dd hh:mm:ss"
    assert all(formats[f.name] == expected[f.type] for f in CYCLE.fields)
    assert sheet.freeze_panes == "A2"
    widths = [sheet.column_dimensions[c.column_letter].width for c in sheet[1]]
    assert all(10 <= width <= 24 for width in widths)
    assert sheet.column_dimensions["F"].width >= 20  # canceldate: a whole date-time shows


def test_identity_numbers_get_room_for_eighteen_digits(tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(make_template(tmp_path, "information")).worksheets[0]
    for column, field in enumerate(INFORMATION.fields, 1):
        if field.pii == "idcard":
            letter = openpyxl.utils.get_column_letter(column)
            assert column_format(sheet, column) == "@"
            assert sheet.column_dimensions[letter].width >= 20


def test_number_columns_refuse_text_in_excel(tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(make_template(tmp_path, "cycle")).worksheets[0]
    checks = {v.type: v for v in sheet.data_validations.dataValidation}
    assert set(checks) == {"whole", "decimal"}
    whole_columns = {str(r).split(":")[0].rstrip("2") for r in checks["whole"].sqref.ranges}
    integer_columns = {
        openpyxl.utils.get_column_letter(i)
        for i, f in enumerate(CYCLE.fields, 1)
        if f.type == "integer"
    }
    assert whole_columns == integer_columns
    assert checks["whole"].error == "此列只能填整数。"


def test_field_sheet_describes_every_field(tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(make_template(tmp_path, "cycle"))["字段说明"]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == FIELD_SHEET_COLUMNS
    assert len(rows) == len(CYCLE.fields) + 1
    for row, field in zip(rows[1:], CYCLE.fields, strict=True):
        label, name, kind, required, coded, codes, _notes = row
        assert (label, name) == (field.label, field.name)
        assert kind == TYPE_NAMES[field.type]
        assert required == ("是" if field.required else "否")
        assert coded == ("是" if field.dict else "否")
        assert codes is None  # no code tables configured
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name["acyesistype"][4] == "是"
    assert "2023-05-06 08:30:00" in by_name["cycledate"][6]
    assert "orgid" in by_name["orgid"][6]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])


def test_field_sheet_says_which_of_the_names_is_needed(tmp_path: Path) -> None:
    sheet = openpyxl.load_workbook(make_template(tmp_path, "information"))["字段说明"]
    notes = {row[1]: row[6] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert notes["fName"] == notes["wName"] == "男方姓名、女方姓名 至少填一个。"


def test_a_label_two_fields_share_is_replaced_by_each_ones_alias(tmp_path: Path) -> None:
    # transplant's checkname and opertionname are both 操作人员姓名 in the platform's text, and
    # a column so headed would match neither.
    workbook = openpyxl.load_workbook(make_template(tmp_path, "transplant"))
    headers = [cell.value for cell in workbook.worksheets[0][1]]
    assert "操作人员姓名" not in headers
    assert "核对人员姓名" in headers and "录入人员姓名" in headers
    notes = {row[1]: row[6] for row in workbook["字段说明"].iter_rows(values_only=True)}
    assert "操作人员姓名" in notes["checkname"] and "核对人员姓名" in notes["checkname"]


@pytest.mark.parametrize("record_type", list(SCHEMA), ids=lambda t: t.name)
def test_the_readers_find_every_column_of_every_template(
    tmp_path: Path, record_type: RecordType
) -> None:
    path = tmp_path / "t.xlsx"
    code, output = invoke("template", record_type.name, "-o", str(path))
    assert code == 0, output
    with open_table(
        path, is_known_header=lambda text: record_type.match_header(text) is not None
    ) as table:
        assert table.header_row == 1
        assert [field_of_column(record_type, h) for h in table.headers] == list(record_type.fields)


def test_dictionaries_fill_the_codes_and_add_drop_downs() -> None:
    tables = {"situation": {2: "未移植", 1: "已移植"}, "childbirthtype": {1: "顺产"}}
    workbook = build_workbook(TRANSPLANT, tables)
    assert workbook.sheetnames == ["移植信息", "字段说明", "代码表"]
    assert workbook["代码表"].sheet_state == "hidden"
    notes = {row[1]: row for row in workbook["字段说明"].iter_rows(values_only=True)}
    assert notes["situation"][5] == "1-已移植；2-未移植"
    assert notes["transplantage"][5] in (None, "")
    column = next(i for i, f in enumerate(TRANSPLANT.fields, 1) if f.name == "situation")
    letter = openpyxl.utils.get_column_letter(column)
    validations = workbook.worksheets[0].data_validations.dataValidation
    (drop_down,) = [v for v in validations if v.type == "list" and letter in str(v.sqref)]
    assert str(drop_down.sqref) == f"{letter}2:{letter}1048576"
    assert drop_down.formula1 == "'代码表'!$A$2:$A$3"
    assert [c.value for c in workbook["代码表"]["A"]] == ["situation", "1-已移植", "2-未移植"]
    # The coded column takes its list instead of the whole-number check.
    (whole,) = [v for v in validations if v.type == "whole"]
    assert f"{letter}2:{letter}1048576" not in str(whole.sqref)


def test_codes_the_platform_fixes_are_listed_and_offered_without_a_config(
    tmp_path: Path,
) -> None:
    result = SCHEMA.get("result")
    workbook = openpyxl.load_workbook(make_template(tmp_path, "result"))
    notes = {row[1]: row for row in workbook["字段说明"].iter_rows(values_only=True)}
    assert notes["clinicalP"][5] == "1-是；2-否"
    assert notes["pregnancyresult"][5] in (None, "")  # a 字典项 without a configured table
    column = next(i for i, f in enumerate(result.fields, 1) if f.name == "clinicalP")
    letter = openpyxl.utils.get_column_letter(column)
    validations = workbook.worksheets[0].data_validations.dataValidation
    (drop_down,) = [v for v in validations if v.type == "list" and letter in str(v.sqref)]
    sheet, cells = drop_down.formula1.split("!")
    first, last = (int(cell.rsplit("$", 1)[1]) for cell in cells.split(":"))
    codes = workbook[sheet.strip("'")]
    list_column = cells.split("$")[1]
    assert [codes[f"{list_column}{n}"].value for n in range(first, last + 1)] == ["1-是", "2-否"]


def test_csv_template_is_a_header_row_with_a_bom(tmp_path: Path) -> None:
    path = make_template(tmp_path, "transplant", ".csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 1 and raw.endswith(b"\r\n")
    assert raw[3:].decode("utf-8").rstrip("\r\n").split(",") == template_headers(TRANSPLANT)
    assert "移植ID*" in template_headers(TRANSPLANT)


# --------------------------------------------------------------------------------------------
# Where templates go


def test_default_file_name_and_no_overwrite_without_force() -> None:
    code, output = invoke("--lang", "en", "template", "周期")
    assert code == 0, output
    path = Path("cycle_template.xlsx")
    assert path.exists() and "cycle_template.xlsx" in output
    path.write_bytes(b"the clerk's filled-in work")
    code, output = invoke("--lang", "en", "template", "cycle")
    assert code == 2
    assert "already exists" in output and "--force" in output
    assert path.read_bytes() == b"the clerk's filled-in work"
    code, output = invoke("template", "cycle", "--force")
    assert code == 0, output
    assert openpyxl.load_workbook(path).sheetnames[0] == "周期信息"


def test_output_may_be_a_folder(tmp_path: Path) -> None:
    code, output = invoke("template", "ovum", "-o", str(tmp_path))
    assert code == 0, output
    assert (tmp_path / "ovum_template.xlsx").exists()


def test_all_writes_one_template_per_record_type(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    code, output = invoke("template", "--all", "-o", str(folder))
    assert code == 0, output
    written = sorted(p.name for p in folder.iterdir())
    assert len(written) == len(SCHEMA) == 15
    assert written == sorted(f"{t.name}_template.xlsx" for t in SCHEMA)
    # All or nothing: one file already there means none is written.
    (folder / "ovum_template.xlsx").unlink()
    (folder / "cycle_template.xlsx").write_bytes(b"filled in")
    code, output = invoke("template", "--all", "-o", str(folder))
    assert code == 2
    assert not (folder / "ovum_template.xlsx").exists()
    assert (folder / "cycle_template.xlsx").read_bytes() == b"filled in"
    code, output = invoke("template", "--all", "-o", str(folder), "--force")
    assert code == 0, output
    assert len(list(folder.iterdir())) == 15


@pytest.mark.parametrize(
    "args",
    [
        ("template",),
        ("template", "cycle", "--all"),
        ("template", "cycle", "-o", "cycle.txt"),
        ("template", "nosuchtype"),
    ],
)
def test_usage_mistakes_exit_2(args: tuple[str, ...]) -> None:
    code, output = invoke(*args)
    assert code == 2, output
    assert not list(Path().iterdir())


def test_all_into_a_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "x.xlsx"
    file.write_bytes(b"")
    code, output = invoke("--lang", "en", "template", "--all", "-o", str(file))
    assert code == 2
    assert "must be a folder" in output


# --------------------------------------------------------------------------------------------
# Round trip: fill in as a clerk would, then validate and push without edits


def type_into(sheet: Worksheet, row: int, column: int, value: Any) -> None:
    """A value typed into a cell: Excel gives a new cell its column's format."""
    cell = sheet.cell(row=row, column=column, value=value)
    cell.number_format = column_format(sheet, column)


def sent_form(field: Field, value: Any) -> Any:
    """What the platform must receive for a value the clerk typed."""
    if field.type == "datetime":
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if field.type == "date":
        return value.strftime("%Y-%m-%d")
    return value


def fill_xlsx(path: Path, rows: list[Mapping[str, Any]], record_type: RecordType) -> None:
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.worksheets[0]
    columns = {field_of_column(record_type, c.value).name: c.column for c in sheet[1]}
    for number, row in enumerate(rows, 2):
        for name, value in row.items():
            type_into(sheet, number, columns[name], value)
    workbook.save(path)


def clerk_rows(record_type: RecordType, count: int = 3) -> list[dict[str, Any]]:
    rows = list(fake_rows(record_type, count, orgid=DEMO_ORG[0]))
    for row in rows:
        # Codes with leading zeros: the reason templates format ID columns as text.
        row["opertioncode"] = "003476"
    return rows


def assert_validates_and_pushes(record_type: RecordType, path: Path, rows: int) -> None:
    code, output = invoke("validate", record_type.name, str(path))
    assert code == 0, output
    result = runner.invoke(app, ["push", record_type.name, str(path), "--sandbox", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows_read"], summary["accepted"], summary["rejected"]) == (rows, rows, 0)


def assert_sends(record_type: RecordType, path: Path, rows: list[dict[str, Any]]) -> None:
    with open_validation(record_type, path) as validation:
        results = list(validation.rows())
    assert not validation.file_problems
    sent = [result.data for result in results]
    expected = [
        {name: sent_form(record_type.field(name), value) for name, value in row.items()}
        for row in rows
    ]
    assert sent == expected


@pytest.mark.parametrize("record_type", [CYCLE, INFORMATION], ids=lambda t: t.name)
def test_a_filled_xlsx_template_validates_and_pushes(
    tmp_path: Path, record_type: RecordType
) -> None:
    path = make_template(tmp_path, record_type.name)
    rows = clerk_rows(record_type)
    fill_xlsx(path, rows, record_type)
    assert_sends(record_type, path, rows)
    assert_validates_and_pushes(record_type, path, len(rows))


def test_information_keeps_identity_numbers_and_zeros(tmp_path: Path) -> None:
    path = make_template(tmp_path, "information")
    rows = [
        {
            "informationid": "000123",
            "medicalid": "003476",
            "orgid": DEMO_ORG[0],
            "wName": "任丽娟",
            "wIdcode": "330382198707021301",
            "wBirthday": dt.date(1987, 7, 2),
        }
    ]
    fill_xlsx(path, rows, INFORMATION)
    assert_sends(INFORMATION, path, rows)
    assert_validates_and_pushes(INFORMATION, path, 1)


def test_a_filled_csv_template_validates_and_pushes(tmp_path: Path) -> None:
    path = make_template(tmp_path, "transplant", ".csv")
    rows = clerk_rows(TRANSPLANT)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        headers = next(csv.reader(handle))
    names = [field_of_column(TRANSPLANT, h).name for h in headers]
    with open(path, "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        for row in rows:
            # As Excel saves a CSV: its own short date-time form.
            writer.writerow(
                [
                    f"{v.year}/{v.month}/{v.day} {v.hour}:{v.minute:02d}"
                    if isinstance(v := row.get(name, ""), dt.datetime)
                    else v
                    for name in names
                ]
            )
    for row in rows:
        for name, value in row.items():
            if isinstance(value, dt.datetime):
                row[name] = value.replace(second=0)
    assert_sends(TRANSPLANT, path, rows)
    assert_validates_and_pushes(TRANSPLANT, path, len(rows))
