"""``--annotate OUT.xlsx``: the clerk's own file handed back with the problems marked, and a
failed-rows sheet that pushes once fixed."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from typer.testing import CliRunner

from artreport.annotate import ERROR_FILL, FAILED_SHEET, ORIGINAL_ROW_COLUMN, REASON_COLUMN
from artreport.cli import app
from artreport.fakedata import fake_rows, write_rows
from artreport.readers.table import SPILL_COLUMN
from artreport.sandbox import Faults, Sandbox
from artreport.schema import load_schema
from tests.conftest import real_sample

ORGID = "ZJ3301001"
KEY = "sandbox-test-key-annotate"
SCHEMA = load_schema()
CYCLE = SCHEMA.get("cycle")
INFORMATION = SCHEMA.get("information")
TRANSPLANT = SCHEMA.get("transplant")
RED = ERROR_FILL.fgColor.rgb
runner = CliRunner()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox({ORGID: KEY}) as started:
        yield started


@pytest.fixture
def rejecting_sandbox() -> Iterator[Sandbox]:
    with Sandbox({ORGID: KEY}, faults=Faults(reject_prefix="BAD")) as started:
        yield started


def cli_env(sandbox: Sandbox) -> dict[str, str]:
    return {"ARTREPORT_BASE_URL": sandbox.base_url, "ARTREPORT_ORGID": ORGID, "ARTREPORT_KEY": KEY}


def fill_of(sheet: Worksheet, coordinate: str) -> str | None:
    cell = sheet[coordinate]
    return cell.fill.fgColor.rgb if cell.fill.fill_type == "solid" else None


def header_columns(sheet: Worksheet, row: int = 1) -> dict[str, str]:
    """Column letters by header text, and by API name for the headers of any record type."""
    columns: dict[str, str] = {}
    for cell in sheet[row]:
        if cell.value is not None:
            columns[cell.value] = cell.column_letter
            for record_type in (CYCLE, INFORMATION, TRANSPLANT):
                found = record_type.match_header(cell.value)
                if found is not None:
                    columns.setdefault(found.name, cell.column_letter)
    return columns


def push_annotated(sandbox: Sandbox, source: Path, out: Path) -> Workbook:
    """Push ``source`` with ``--annotate out`` (some rows fail); the annotated copy."""
    result = runner.invoke(
        app, ["push", "cycle", str(source), "--annotate", str(out)], env=cli_env(sandbox)
    )
    assert result.exit_code == 1, result.output
    return openpyxl.load_workbook(out)


def push_failed_sheet(sandbox: Sandbox, out: Path) -> None:
    """Push the fixed failed-rows sheet of ``out``: every row is taken."""
    result = runner.invoke(
        app, ["push", "cycle", str(out), "--sheet", FAILED_SHEET], env=cli_env(sandbox)
    )
    assert result.exit_code == 0, result.output


def information_rows(count: int) -> list[dict[str, Any]]:
    rows = list(fake_rows(INFORMATION, count, orgid=ORGID))
    rows[2]["wIdtype"] = "abc"  # sheet row 4: not an integer
    rows[5]["informationid"] = None  # sheet row 7: required, empty
    rows[5]["wIdtype"] = "x"  # and a second problem on the same row
    number = rows[7]["wIdcode"]  # sheet row 9: wrong check digit, a warning only
    rows[7]["wIdcode"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    return rows


def test_validate_marks_bad_cells_and_lists_the_reasons_on_failed_rows(tmp_path: Path) -> None:
    source = tmp_path / "information.xlsx"
    write_rows(source, INFORMATION, information_rows(10))
    out = tmp_path / "marked.xlsx"
    result = runner.invoke(app, ["validate", "information", str(source), "--annotate", str(out)])
    assert result.exit_code == 1, result.output
    assert str(out) in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    original = openpyxl.load_workbook(source).active
    workbook = openpyxl.load_workbook(out)
    sheet = workbook.worksheets[0]
    columns = header_columns(sheet)
    idtype, key = columns["wIdtype"], columns["informationid"]
    idcode = columns["wIdcode"]
    reason = columns[REASON_COLUMN]

    assert fill_of(sheet, f"{idtype}4") == RED
    assert "abc" in sheet[f"{idtype}4"].comment.text
    assert fill_of(sheet, f"{key}7") == RED and fill_of(sheet, f"{idtype}7") == RED
    assert "informationid" in sheet[f"{key}7"].comment.text
    assert len(sheet[f"{reason}7"].value.splitlines()) == 2
    # The warning: a lighter fill and a note, but the row has not failed.
    assert fill_of(sheet, f"{idcode}9") not in (None, RED)
    assert sheet[f"{idcode}9"].comment is not None
    failed = {row for row in range(2, 12) if sheet[f"{reason}{row}"].value}
    assert failed == {4, 7}
    # Good rows are the clerk's rows, untouched.
    for row in (2, 3, 5, 11):
        for cell in sheet[row]:
            assert cell.comment is None and cell.fill.fill_type is None
            if cell.column_letter != reason:
                assert cell.value == original[cell.coordinate].value

    todo = workbook[FAILED_SHEET]
    rows = list(todo.iter_rows(values_only=True))
    assert list(rows[0]) == [*(c.value for c in original[1]), ORIGINAL_ROW_COLUMN]
    assert [row[-1] for row in rows[1:]] == [4, 7]
    assert list(rows[1][:-1]) == [c.value for c in original[4]]
    # IDs stay text with their zeros, and the marks come along to where the clerk fixes them.
    medical = header_columns(todo)["病历号"]
    assert todo[f"{medical}2"].value == original[f"{medical}4"].value
    assert todo[f"{medical}2"].number_format == "@"
    assert fill_of(todo, f"{idtype}2") == RED


def test_a_report_style_workbook_keeps_its_title_and_gets_marks_on_the_right_rows(
    tmp_path: Path,
) -> None:
    source = tmp_path / "transplant.xlsx"
    shutil.copy(real_sample("transplant_report_layout.xlsx"), source)
    workbook = openpyxl.load_workbook(source)
    sheet = workbook.active
    columns = header_columns(sheet, 4)
    sheet[f"{columns['移植胚龄']}7"] = "四天"
    merged = {str(r) for r in sheet.merged_cells.ranges}
    workbook.save(source)

    out = tmp_path / "marked.xlsx"
    result = runner.invoke(app, ["validate", "transplant", str(source), "--annotate", str(out)])
    assert result.exit_code == 1, result.output
    marked = openpyxl.load_workbook(out)
    sheet = marked.worksheets[0]
    assert sheet["A1"].value == "某某医院生殖中心 移植信息导出"
    assert {str(r) for r in sheet.merged_cells.ranges} == merged
    assert fill_of(sheet, f"{columns['移植胚龄']}7") == RED
    reason = header_columns(sheet, 4)[REASON_COLUMN]
    assert [r for r in range(5, 26) if sheet[f"{reason}{r}"].value] == [7]
    todo = list(marked[FAILED_SHEET].iter_rows(values_only=True))
    assert len(todo) == 2 and todo[1][-1] == 7
    assert todo[1][list(todo[0]).index("移植ID")] == sheet[f"{columns['移植ID']}7"].value


def test_a_csv_input_is_rebuilt_with_text_kept_as_text(tmp_path: Path) -> None:
    rows = list(fake_rows(CYCLE, 6, orgid=ORGID))
    rows[0]["medrecNo"] = "000123"
    rows[1]["ordernumber"] = "abc"
    source = tmp_path / "cycles.csv"
    write_rows(source, CYCLE, rows)
    out = tmp_path / "marked.xlsx"
    result = runner.invoke(
        app, ["--lang", "en", "validate", "cycle", str(source), "--annotate", str(out)]
    )
    assert result.exit_code == 1, result.output

    workbook = openpyxl.load_workbook(out)
    sheet = workbook.worksheets[0]
    columns = header_columns(sheet)
    bad = sheet[f"{columns['ordernumber']}3"]
    assert fill_of(sheet, bad.coordinate) == RED
    assert "ordernumber" in bad.comment.text and "abc" in bad.comment.text
    assert "ordernumber" in sheet[f"{columns[REASON_COLUMN]}3"].value
    assert [r for r in range(2, 8) if sheet[f"{columns[REASON_COLUMN]}{r}"].value] == [3]
    # Every cell is the CSV's text: IDs with their zeros, dates not turned into dates.
    start = sheet[f"{columns['cycledate']}2"]
    assert isinstance(start.value, str) and start.number_format == "@"
    assert sheet[f"{columns['medrecNo']}2"].value == "000123"
    todo = list(workbook[FAILED_SHEET].iter_rows(values_only=True))
    assert [row[-1] for row in todo[1:]] == [3]


def test_a_rebuilt_copy_keeps_the_title_the_totals_and_the_footnotes(tmp_path: Path) -> None:
    """A row below the 合计 is refused with a message that points at the 合计's row: in the
    copy that row, like the title, was empty."""
    rows = list(fake_rows(CYCLE, 4, orgid=ORGID))
    source = tmp_path / "cycles.csv"
    write_rows(source, CYCLE, rows)
    header, *data = source.read_text(encoding="utf-8-sig").splitlines()
    lines = [
        "周期信息导出",
        header,
        *data[:2],
        "5月小计",
        *data[2:3],
        "合计：3 例",
        data[3],
        "制表人：李四",
        "审核：王五",
        "",
        "注：本表由系统导出",
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "marked.xlsx"
    result = runner.invoke(app, ["validate", "cycle", str(source), "--annotate", str(out)])
    assert result.exit_code == 1, result.output

    sheet = openpyxl.load_workbook(out).worksheets[0]
    assert [sheet.cell(row, 1).value for row in (1, 5, 7, 9, 10, 11, 12)] == [
        "周期信息导出",
        "5月小计",
        "合计：3 例",
        "制表人：李四",
        "审核：王五",
        None,
        "注：本表由系统导出",
    ]
    columns = header_columns(sheet, 2)
    assert sheet[f"{columns['cycleid']}8"].value == rows[3]["cycleid"]
    assert "第 7 行" in sheet[f"{columns[REASON_COLUMN]}8"].value


def test_a_platform_rejection_is_marked_on_its_row(
    tmp_path: Path, rejecting_sandbox: Sandbox
) -> None:
    rows = list(fake_rows(CYCLE, 8, orgid=ORGID))
    rows[4]["cycleid"] = "BAD00000005"
    source = tmp_path / "cycles.xlsx"
    write_rows(source, CYCLE, rows)
    out = tmp_path / "marked.xlsx"
    result = runner.invoke(
        app,
        ["push", "cycle", str(source), "--annotate", str(out)],
        env=cli_env(rejecting_sandbox),
    )
    assert result.exit_code == 1, result.output
    sheet = openpyxl.load_workbook(out).worksheets[0]
    reason = header_columns(sheet)[REASON_COLUMN]
    assert [r for r in range(2, 10) if sheet[f"{reason}{r}"].value] == [6]
    assert "平台拒收" in sheet[f"{reason}6"].value
    assert fill_of(sheet, "A6") == RED and "平台拒收" in sheet["A6"].comment.text


def test_the_failed_rows_sheet_pushes_once_fixed(tmp_path: Path, sandbox: Sandbox) -> None:
    rows = list(fake_rows(CYCLE, 12, orgid=ORGID))
    rows[3]["ordernumber"] = "abc"
    rows[8]["cycledate"] = "2023-02-30 08:00:00"
    source = tmp_path / "cycles.xlsx"
    write_rows(source, CYCLE, rows)
    out = tmp_path / "marked.xlsx"
    first = runner.invoke(
        app, ["push", "cycle", str(source), "--annotate", str(out)], env=cli_env(sandbox)
    )
    assert first.exit_code == 1, first.output
    assert len(sandbox.rows("cycle")) == 10

    workbook = openpyxl.load_workbook(out)
    todo = workbook[FAILED_SHEET]
    columns = header_columns(todo)
    assert [todo[f"{columns[ORIGINAL_ROW_COLUMN]}{r}"].value for r in (2, 3)] == [5, 10]
    todo[f"{columns['ordernumber']}2"] = 2
    todo[f"{columns['cycledate']}3"] = "2023-02-28 08:00:00"
    workbook.save(out)

    again = runner.invoke(
        app, ["push", "cycle", str(out), "--sheet", FAILED_SHEET], env=cli_env(sandbox)
    )
    assert again.exit_code == 0, again.output
    stored = {row["cycleid"] for row in sandbox.rows("cycle")}
    assert stored == {row["cycleid"] for row in rows}


def test_a_shifted_csv_row_keeps_every_cell_and_is_refused_until_moved_back(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """不孕原因 男方,少弱精 unquoted: the row has a cell more than the header. The copy and the
    failed-rows sheet had only the header's cells, so the sheet pushed unchanged sent the row
    cut short without a word."""
    rows = list(fake_rows(CYCLE, 4, orgid=ORGID))
    for row in rows:
        row["acyesisname"] = "男方"
    source = tmp_path / "cycles.csv"
    write_rows(source, CYCLE, rows)
    lines = source.read_text(encoding="utf-8-sig").splitlines()
    fixed = lines[3].split(",")
    lines[3] = lines[3].replace("男方", "男方,少弱精")
    shifted = lines[3].split(",")
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "marked.xlsx"
    first = runner.invoke(
        app, ["push", "cycle", str(source), "--annotate", str(out)], env=cli_env(sandbox)
    )
    assert first.exit_code == 1, first.output

    workbook = openpyxl.load_workbook(out)
    todo = workbook[FAILED_SHEET]
    for sheet, row in ((workbook.worksheets[0], 4), (todo, 2)):
        cells = [cell.value or "" for cell in sheet[row]][: len(shifted)]
        assert cells == shifted, sheet.title
        assert sheet.cell(1, len(shifted)).value == SPILL_COLUMN
    again = runner.invoke(
        app, ["push", "cycle", str(out), "--sheet", FAILED_SHEET], env=cli_env(sandbox)
    )
    assert again.exit_code == 1, again.output
    assert rows[2]["cycleid"] not in {row["cycleid"] for row in sandbox.rows("cycle")}

    for column, value in enumerate([*fixed, None], 1):
        todo.cell(2, column).value = value
    workbook.save(out)
    push_failed_sheet(sandbox, out)
    [stored] = [row for row in sandbox.rows("cycle") if row["cycleid"] == rows[2]["cycleid"]]
    assert stored["acyesisname"] == "男方"


@pytest.mark.parametrize("name", ["marked.csv", "marked.xls"])
def test_an_output_that_is_not_xlsx_is_refused(tmp_path: Path, name: str) -> None:
    source = tmp_path / "cycles.csv"
    write_rows(source, CYCLE, fake_rows(CYCLE, 2, orgid=ORGID))
    out = tmp_path / name
    result = runner.invoke(app, ["validate", "cycle", str(source), "--annotate", str(out)])
    assert result.exit_code == 2, result.output
    assert ".xlsx" in result.output and not out.exists()


def test_the_input_file_is_never_overwritten(tmp_path: Path) -> None:
    source = tmp_path / "cycles.xlsx"
    write_rows(source, CYCLE, fake_rows(CYCLE, 2, orgid=ORGID))
    before = source.read_bytes()
    result = runner.invoke(app, ["validate", "cycle", str(source), "--annotate", str(source)])
    assert result.exit_code == 2, result.output
    assert source.read_bytes() == before


def test_the_annotated_copy_marks_the_sheet_that_was_checked(tmp_path: Path) -> None:
    # A sheet per record type: validate reads 取卵, not the 周期 sheet in front of it, and
    # the marks go where it read.
    source = tmp_path / "all_types.xlsx"
    workbook = openpyxl.Workbook()
    cycles = workbook.active
    cycles.title = "周期"
    cycles.append(["周期ID", "档案信息ID", "机构ID", "操作人员代码", "操作人员姓名", "操作时间"])
    cycles.append(["CYC001", "INF001", ORGID, "YS0001", "张三", "2023-05-01 08:00:00"])
    ovum = workbook.create_sheet("取卵")
    header = ["取卵信息ID", "周期ID", "机构ID", "手术者代码", "手术者姓名", "取卵时间"]
    ovum.append([*header, "卵子来源", "取卵数", "穿刺卵泡数"])
    ovum.append(["OVU001", "CYC001", ORGID, "YS0001", "张医生", "2023-05-06 09:30:00", 1, 12, 15])
    ovum.append(["OVU002", "CYC001", ORGID, "YS0001", "张医生", "2023-05-07 09:30:00", 1, "x", 9])
    workbook.save(source)
    out = tmp_path / "marked.xlsx"

    result = runner.invoke(app, ["validate", "ovum", str(source), "--annotate", str(out)])

    assert result.exit_code == 1, result.output
    marked = openpyxl.load_workbook(out)
    assert REASON_COLUMN not in header_columns(marked["周期"])
    columns = header_columns(marked["取卵"])
    assert fill_of(marked["取卵"], f"{columns['取卵数']}3") == RED
    assert marked["取卵"][f"{columns[REASON_COLUMN]}3"].value
    assert [row[0] for row in marked[FAILED_SHEET].iter_rows(min_row=2, values_only=True)] == [
        "OVU002"
    ]


def test_a_problem_in_a_merged_cell_is_marked_on_the_cell_the_clerk_sees(tmp_path: Path) -> None:
    """One patient's 女方年龄 merged over her three rows, and wrong: openpyxl lets no comment
    be put on the covered cells, and the run ended in an internal error after the upload."""
    rows = list(fake_rows(INFORMATION, 5, orgid=ORGID))
    source = tmp_path / "information.xlsx"
    write_rows(source, INFORMATION, rows)
    workbook = openpyxl.load_workbook(source)
    sheet = workbook.active
    idtype = header_columns(sheet)["wIdtype"]
    sheet[f"{idtype}3"] = "abc"
    sheet.merge_cells(f"{idtype}3:{idtype}5")
    workbook.save(source)
    out = tmp_path / "marked.xlsx"

    result = runner.invoke(app, ["validate", "information", str(source), "--annotate", str(out)])

    assert result.exit_code == 1, result.output
    marked = openpyxl.load_workbook(out).worksheets[0]
    assert fill_of(marked, f"{idtype}3") == RED
    # Each row the merge spans is refused (its value filled down), said once on the cell.
    assert marked[f"{idtype}3"].comment.text.count("abc") == 1
    reasons = header_columns(marked)[REASON_COLUMN]
    assert all(marked[f"{reasons}{row}"].value for row in (3, 4, 5))


def test_the_failed_rows_sheet_holds_the_values_the_reader_read(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """What the failed-rows sheet held was the file's raw cell: a merged cell's covered rows
    empty (the fixed row landed without the operator), a code kept as 001001 by its format
    the number 1001 (sent as 1001), and a code the spreadsheet turned into a date the date
    (sent as a number): each sent with "all accepted" once the red cell was fixed."""
    rows = list(fake_rows(CYCLE, 6, orgid=ORGID))
    source = tmp_path / "cycles.xlsx"
    write_rows(source, CYCLE, rows)
    workbook = openpyxl.load_workbook(source)
    sheet = workbook.active
    columns = header_columns(sheet)
    name, code, plan = columns["opertionname"], columns["opertioncode"], columns["ppap"]
    order = columns["ordernumber"]
    for row in range(2, 8):
        sheet[f"{code}{row}"] = 1000 + row
        sheet[f"{code}{row}"].number_format = "000000"
    sheet[f"{name}2"] = "王医生"
    sheet.merge_cells(f"{name}2:{name}5")
    sheet[f"{order}4"] = "abc"  # the row to fix
    sheet[f"{plan}4"] = dt.datetime(2024, 3, 12)  # a code the spreadsheet made a date
    workbook.save(source)
    out = tmp_path / "marked.xlsx"
    marked = push_annotated(sandbox, source, out)
    todo = marked[FAILED_SHEET]
    todo_columns = header_columns(todo)
    assert todo[f"{todo_columns['opertionname']}2"].value == "王医生"
    assert todo[f"{todo_columns['opertioncode']}2"].value == "001004"
    assert todo[f"{todo_columns['ppap']}2"].value is None  # to be typed again
    assert fill_of(todo, f"{todo_columns['ppap']}2") == RED
    todo[f"{todo_columns['ordernumber']}2"] = 2
    todo[f"{todo_columns['ppap']}2"] = "IVF"
    marked.save(out)

    push_failed_sheet(sandbox, out)
    [fixed] = [r for r in sandbox.rows("cycle") if r["cycleid"] == rows[2]["cycleid"]]
    assert (fixed["opertionname"], fixed["opertioncode"], fixed["ppap"]) == (
        "王医生",
        "001004",
        "IVF",
    )


def test_a_header_over_two_rows_is_annotated_and_its_failed_rows_sheet_pushes(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """年龄 merged over 女方 and 男方: the reason column went into the merged cell (an internal
    error after the upload), and the failed-rows sheet had no names for the ages."""
    rows = list(fake_rows(CYCLE, 3, orgid=ORGID))
    base = [f.label for f in CYCLE.fields if f.name not in ("wage", "mage")]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["周期信息导出"])
    sheet.append([*base, "年龄", None])
    sheet.append([None] * len(base) + ["女方", "男方"])
    for row in rows:
        values = [row.get(CYCLE.match_header(label).name) for label in base]  # type: ignore[union-attr]
        sheet.append([*values, 31, 40])
    width = len(base)
    for column in range(1, width + 1):
        sheet.merge_cells(start_row=2, start_column=column, end_row=3, end_column=column)
    sheet.merge_cells(start_row=2, start_column=width + 1, end_row=2, end_column=width + 2)
    sheet.cell(5, base.index("周期次数") + 1).value = "abc"
    source = tmp_path / "two_rows.xlsx"
    workbook.save(source)
    out = tmp_path / "marked.xlsx"

    marked = push_annotated(sandbox, source, out)

    todo = marked[FAILED_SHEET]
    assert [c.value for c in todo[1]][width : width + 3] == ["女方年龄", "男方年龄", "原行号"]
    todo.cell(2, base.index("周期次数") + 1).value = 2
    marked.save(out)
    push_failed_sheet(sandbox, out)
    [fixed] = [r for r in sandbox.rows("cycle") if r["cycleid"] == rows[1]["cycleid"]]
    assert (fixed["ordernumber"], fixed["wage"], fixed["mage"]) == (2, 31, 40)


def test_with_warnings_only_the_clerk_is_not_sent_to_the_failed_rows_sheet(
    tmp_path: Path,
) -> None:
    rows = list(fake_rows(INFORMATION, 3, orgid=ORGID))
    number = rows[1]["wIdcode"]
    rows[1]["wIdcode"] = number[:-1] + ("0" if number[-1] != "0" else "1")  # a warning only
    source = tmp_path / "information.xlsx"
    write_rows(source, INFORMATION, rows)
    out = tmp_path / "marked.xlsx"
    result = runner.invoke(
        app, ["--lang", "en", "validate", "information", str(source), "--annotate", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "no failed rows" in result.output and "--sheet" not in result.output


def test_history_tells_the_failed_rows_sheet_from_the_whole_file(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    rows = list(fake_rows(CYCLE, 4, orgid=ORGID))
    rows[1]["ordernumber"] = "abc"
    source = tmp_path / "cycles.xlsx"
    write_rows(source, CYCLE, rows)
    out = tmp_path / "marked.xlsx"
    push_annotated(sandbox, source, out)
    runner.invoke(app, ["push", "cycle", str(out), "--sheet", FAILED_SHEET], env=cli_env(sandbox))
    shown = runner.invoke(app, ["history", "--json"], env=cli_env(sandbox))
    commands = [run["command"] for run in json.loads(shown.output)]
    assert commands[0] == f"push cycle {out} --sheet {FAILED_SHEET}"
    assert commands[1] == f"push cycle {source}"


def test_the_failed_rows_sheet_annotated_again_keeps_the_original_row_numbers(
    tmp_path: Path,
) -> None:
    rows = list(fake_rows(CYCLE, 8, orgid=ORGID))
    rows[5]["ordernumber"] = "abc"
    source = tmp_path / "cycles.xlsx"
    write_rows(source, CYCLE, rows)
    first, second = tmp_path / "marked.xlsx", tmp_path / "again.xlsx"
    runner.invoke(app, ["validate", "cycle", str(source), "--annotate", str(first)])
    again = ["validate", "cycle", str(first), "--sheet", FAILED_SHEET, "--annotate", str(second)]
    result = runner.invoke(app, ["--lang", "en", *again])
    assert result.exit_code == 1, result.output
    assert "--sheet 待修改1" in result.output
    todo = openpyxl.load_workbook(second)["待修改1"]
    columns = header_columns(todo)
    assert todo[f"{columns[ORIGINAL_ROW_COLUMN]}2"].value == 7


def test_a_merge_across_columns_on_a_failed_row_gives_the_others_nothing(
    tmp_path: Path,
) -> None:
    """A merge across the last two columns of a failed row: the reason went into its covered
    cell (an internal error), and the failed-rows sheet gave the second column the first's
    value, which the readers never read (an address sent for the husband)."""
    rows = list(fake_rows(INFORMATION, 3, orgid=ORGID))
    source = tmp_path / "information.xlsx"
    write_rows(source, INFORMATION, rows)
    workbook = openpyxl.load_workbook(source)
    sheet = workbook.active
    last = sheet.max_column
    sheet.cell(3, 1).value = None  # 档案信息ID: the row fails
    sheet.cell(3, last - 1).value = "杭州市A路1号"
    sheet.cell(3, last).value = None
    sheet.merge_cells(start_row=3, start_column=last - 1, end_row=3, end_column=last)
    workbook.save(source)
    out = tmp_path / "marked.xlsx"

    result = runner.invoke(app, ["validate", "information", str(source), "--annotate", str(out)])

    assert result.exit_code == 1, result.output
    todo = openpyxl.load_workbook(out)[FAILED_SHEET]
    assert [todo.cell(2, last - 1).value, todo.cell(2, last).value] == ["杭州市A路1号", None]


def test_of_two_columns_for_one_field_the_one_the_validator_reads_is_marked(
    tmp_path: Path,
) -> None:
    """操作人员代码(旧系统) beside 操作人员代码: the mark and the emptying of a destroyed value
    went to the old system's column, and the value that lost its zeros was sent."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    header = (
        "操作人员代码(旧系统) 周期ID 档案信息ID 方案 周期开始时间 周期次数 治疗状态 操作人员代码"
    )
    sheet.append(header.split())
    for number in range(1, 6):
        code: object = f"00{number}471" if number != 3 else 3471
        sheet.append([f"OLD{number}", f"C{number}", f"I{number}", "IVF", "2023-05-01", 1, 1, code])
    source = tmp_path / "cycles.xlsx"
    workbook.save(source)
    out = tmp_path / "marked.xlsx"
    result = runner.invoke(app, ["validate", "cycle", str(source), "--annotate", str(out)])
    assert result.exit_code == 1, result.output
    marked = openpyxl.load_workbook(out)
    assert (
        fill_of(marked.worksheets[0], "H4") == RED and fill_of(marked.worksheets[0], "A4") is None
    )
    todo = marked[FAILED_SHEET]
    assert (todo["A2"].value, todo["H2"].value) == ("OLD3", None)


def test_a_file_error_is_not_announced_as_nothing_to_fix(tmp_path: Path) -> None:
    source = tmp_path / "cycles.csv"
    source.write_text("周期ID,方案\nC1,IVF\n", encoding="utf-8")
    out = tmp_path / "marked.xlsx"
    result = runner.invoke(
        app, ["--lang", "en", "validate", "cycle", str(source), "--annotate", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert "the file itself has an error" in result.output and "no failed rows" not in result.output


def duplicate_comments(workbook: Workbook) -> tuple[str, str]:
    """The note on the repeated record ID on the annotated sheet and on the failed-rows sheet
    (whose first data row is the duplicate)."""
    sheet, todo = workbook.worksheets[0], workbook[FAILED_SHEET]
    notes = [c.comment.text for row in sheet.iter_rows() for c in row if c.comment is not None]
    [marked] = [note for note in notes if "cycleid" in note]
    return marked, todo[f"{header_columns(todo)['cycleid']}2"].comment.text


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_a_duplicate_names_the_earlier_row_as_the_sheet_it_is_read_on_shows_it(
    tmp_path: Path, suffix: str
) -> None:
    """On the failed-rows sheet, "already on row 4" pointed at the duplicate itself: there
    rows are numbered anew, and 原行号 holds the file's number."""
    rows = list(fake_rows(CYCLE, 5, orgid=ORGID))
    rows[4]["cycleid"] = rows[2]["cycleid"]  # file row 6 repeats file row 4
    source = tmp_path / f"cycles{suffix}"
    write_rows(source, CYCLE, rows)
    out = tmp_path / "marked.xlsx"
    result = runner.invoke(app, ["validate", "cycle", str(source), "--annotate", str(out)])
    assert result.exit_code == 1, result.output

    workbook = openpyxl.load_workbook(out)
    on_sheet, on_todo = duplicate_comments(workbook)
    todo = workbook[FAILED_SHEET]
    assert todo[f"{header_columns(todo)[ORIGINAL_ROW_COLUMN]}2"].value in (6, "6")
    assert "在第 4 行已出现过" in on_sheet
    assert "在原文件第 4 行（原行号 4）已出现过" in on_todo
    assert fill_of(todo, f"{header_columns(todo)['cycleid']}2") == RED


def test_a_json_duplicate_names_the_earlier_records_row_on_the_rebuilt_sheet(
    tmp_path: Path,
) -> None:
    # Record 3 sits on the copy's row 4, below the header the copy adds.
    rows = list(fake_rows(CYCLE, 4, orgid=ORGID))
    rows[3]["cycleid"] = rows[2]["cycleid"]
    source = tmp_path / "cycles.json"
    source.write_text(json.dumps(rows, default=str), encoding="utf-8")
    out = tmp_path / "marked.xlsx"
    runner.invoke(app, ["--lang", "en", "validate", "cycle", str(source), "--annotate", str(out)])

    workbook = openpyxl.load_workbook(out)
    sheet = workbook.worksheets[0]
    on_sheet, on_todo = duplicate_comments(workbook)
    assert sheet[f"{header_columns(sheet)['cycleid']}4"].value == rows[2]["cycleid"]
    assert "already appears on row 4;" in on_sheet
    assert "on row 3 of the original file (原行号 3)" in on_todo


def test_a_duplicate_on_a_failed_rows_sheet_annotated_again_names_the_original_row(
    tmp_path: Path,
) -> None:
    rows = list(fake_rows(CYCLE, 8, orgid=ORGID))
    rows[2]["ordernumber"] = "abc"  # file row 4: fails, and so goes to the failed-rows sheet
    rows[6]["cycleid"] = rows[2]["cycleid"]  # file row 8 repeats it
    source = tmp_path / "cycles.xlsx"
    write_rows(source, CYCLE, rows)
    first, second = tmp_path / "marked.xlsx", tmp_path / "again.xlsx"
    runner.invoke(app, ["validate", "cycle", str(source), "--annotate", str(first)])
    again = ["validate", "cycle", str(first), "--sheet", FAILED_SHEET, "--annotate", str(second)]
    runner.invoke(app, again)

    workbook = openpyxl.load_workbook(second)
    todo = workbook["待修改1"]
    # 待修改 holds file rows 4 and 8 as its rows 2 and 3, and so does 待修改1, still unfixed.
    assert todo[f"{header_columns(todo)[ORIGINAL_ROW_COLUMN]}3"].value == 8
    note = todo[f"{header_columns(todo)['cycleid']}3"].comment.text
    assert "在原文件第 4 行（原行号 4）已出现过" in note
    on_sheet = workbook[FAILED_SHEET]
    assert "在第 2 行已出现过" in on_sheet[f"{header_columns(on_sheet)['cycleid']}3"].comment.text


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_export_text_starting_with_equals_stays_text_and_its_fixed_row_pushes(
    tmp_path: Path, sandbox: Sandbox, suffix: str
) -> None:
    rows = list(fake_rows(INFORMATION, 3, orgid=ORGID))
    rows[1]["informationid"] = "=1+1"
    rows[1]["wBirthday"] = "1985-13-01"
    source = tmp_path / f"information{suffix}"
    write_rows(source, INFORMATION, rows)
    if suffix == ".xlsx":  # as a spreadsheet holds it: a text cell, not a formula
        workbook = openpyxl.load_workbook(source)
        for row in workbook.active.iter_rows():
            for cell in row:
                if cell.value == "=1+1":
                    cell.data_type = "s"
        workbook.save(source)
    out = tmp_path / "marked.xlsx"
    result = runner.invoke(app, ["validate", "information", str(source), "--annotate", str(out)])
    assert result.exit_code == 1, result.output

    workbook = openpyxl.load_workbook(out)
    for sheet in (workbook.worksheets[0], workbook[FAILED_SHEET]):
        keys = [c for row in sheet.iter_rows() for c in row if c.value == "=1+1"]
        assert [c.data_type for c in keys] == ["s"], sheet.title
    todo = workbook[FAILED_SHEET]
    todo[f"{header_columns(todo)['wBirthday']}2"] = "1985-12-01"
    workbook.save(out)
    again = runner.invoke(
        app, ["push", "information", str(out), "--sheet", FAILED_SHEET], env=cli_env(sandbox)
    )
    assert again.exit_code == 0, again.output
    assert "=1+1" in {row["informationid"] for row in sandbox.rows("information")}
