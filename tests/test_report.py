"""The failure report as the records clerk opens it: in Excel, WPS or LibreOffice Calc."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from artreport.cli import app
from artreport.report import csv_cell
from tests.conftest import AS_AN_ORDINARY_USER, CANNOT_BE_AN_ORDINARY_USER

runner = CliRunner()
SOFFICE = shutil.which("soffice")

#: Record IDs and values an export may hold that a spreadsheet would not show as written.
TRICKY_KEYS = ["=1+1", "-5", "000123", "330102198503121235", "1-2", "@SUM(A1)"]


def information_csv(path: Path, keys: list[str]) -> Path:
    """A patient-file CSV whose every row is refused for its birthday, keyed by ``keys``."""
    lines = ["机构ID,档案信息ID,病历号,女方姓名,女方出生日期"]
    lines += [f"ZJ3301001,{key},{key},王丽,1985-13-01" for key in keys]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def validate(source: Path, report: Path) -> None:
    result = runner.invoke(app, ["validate", "information", str(source), "--report", str(report)])
    assert result.exit_code == 1, result.output


def test_an_xlsx_report_holds_an_export_text_starting_with_equals_as_text(
    tmp_path: Path,
) -> None:
    # A record ID or value beginning with = is the export's text; stored as a formula, Excel
    # would run it (=HYPERLINK, =WEBSERVICE) and show its result instead of the key.
    report = tmp_path / "report.xlsx"
    validate(information_csv(tmp_path / "information.csv", TRICKY_KEYS), report)
    sheet = openpyxl.load_workbook(report).active
    cells = [(row[1], row[5]) for row in sheet.iter_rows(min_row=2)]
    assert [(key.value, value.value) for key, value in cells] == [
        (key, "1985-13-01") for key in TRICKY_KEYS
    ]
    assert {key.data_type for key, _ in cells} == {"s"}


def calc_reads(csv_report: Path, out: Path) -> list[tuple[object, ...]]:
    """The CSV report's cells as LibreOffice Calc opens it: UTF-8, comma, and like Excel,
    numbers and dates detected and formulas evaluated."""
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{out}/profile",
            "--headless",
            "--infilter=CSV:44,34,76,1,,0,false,true,false,false,false,-1,true",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            str(csv_report),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sheet = openpyxl.load_workbook(out / f"{csv_report.stem}.xlsx", data_only=True).active
    return list(sheet.iter_rows(min_row=2, values_only=True))


def test_a_csv_report_keeps_ids_as_written_in_a_spreadsheet(tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    validate(information_csv(tmp_path / "information.csv", TRICKY_KEYS), report)
    # Written so that Excel, WPS and Calc show each key as text: 000123 keeps its zeros, an
    # 18-digit number is not rounded to 3.30102E+17, 1-2 is no date, =1+1 is not run.
    with open(report, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["row"], r["primary_key"]) for r in rows] == [
        (str(row), f'="{key}"') for row, key in enumerate(TRICKY_KEYS, 2)
    ]
    if SOFFICE is None:
        pytest.skip("LibreOffice is not installed")
    cells = calc_reads(report, tmp_path / "calc")
    assert [(row, key, value) for row, key, _, _, _, value, _ in cells] == [
        (row, key, "1985-13-01") for row, key in enumerate(TRICKY_KEYS, 2)
    ]


def test_a_long_csv_report_cell_beginning_with_a_formula_sign_is_not_a_formula() -> None:
    # Too long for ="…" (Excel keeps 255 characters of a formula's text): a ' before it.
    long = "=" + "x" * 300
    assert csv_cell(long) == "'" + long
    assert csv_cell("-5\n6") == "'-5\n6"
    assert csv_cell("CYC001") == "CYC001" and csv_cell("“周期ID”…") == "“周期ID”…"


@pytest.mark.skipif(CANNOT_BE_AN_ORDINARY_USER is not None, reason=str(CANNOT_BE_AN_ORDINARY_USER))
@pytest.mark.parametrize("option", ["--report", "--annotate"])
def test_last_runs_report_still_open_in_excel_is_named_as_the_likely_cause(
    tmp_path: Path, option: str
) -> None:
    # The clerk runs again with last run's report (or copy) still open in Excel: on Windows
    # writing it is refused, "Permission denied". Here, a file and folder that may not be
    # written stand for Excel's lock.
    source = information_csv(tmp_path / "information.csv", ["INF001"])
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "失败报告.xlsx"
    target.write_bytes(b"last run's")
    target.chmod(0o400)
    folder.chmod(0o500)
    try:
        done = subprocess.run(
            [*AS_AN_ORDINARY_USER, sys.executable, "-m", "artreport",
             "validate", "information", str(source), option, str(target)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
            env=os.environ | {"ARTREPORT_HOME": str(tmp_path / "state")},
        )  # fmt: skip
    finally:
        folder.chmod(0o700)
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "失败报告.xlsx" in said and "Excel" in said and option in said


def test_an_xlsx_report_is_laid_out_to_be_read(tmp_path: Path) -> None:
    report = tmp_path / "report.xlsx"
    validate(information_csv(tmp_path / "information.csv", TRICKY_KEYS), report)
    sheet = openpyxl.load_workbook(report).active
    # The header stays in place and is bold; an 18-digit ID and the message are readable
    # at the column's width, not cut to 3301021985…; a filter on every row.
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    widths = {cell.value: sheet.column_dimensions[cell.column_letter].width for cell in sheet[1]}
    assert widths["primary_key"] >= len("330102198503121235") + 2
    assert widths["message"] >= 60
    assert sheet.auto_filter.ref == f"A1:G{len(TRICKY_KEYS) + 1}"
