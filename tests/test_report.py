"""The failure report as the records clerk opens it: in Excel, WPS or LibreOffice Calc."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from artreport.cli import app

runner = CliRunner()

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
