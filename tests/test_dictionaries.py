"""Code tables: from the config, through validation (codes checked, labels mapped), into
templates whose drop-down entries validate as they are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from artreport.cli import app
from artreport.config import load_config
from artreport.errors import ConfigError
from artreport.sandbox import DEMO_ORG
from artreport.schema import load_schema
from artreport.validation import ValidateOptions, open_validation
from tests.test_template import clerk_rows, fill_xlsx
from tests.test_validate import CYCLE, ORGID, required_cycle_headers, write_csv

runner = CliRunner()
CHILDBIRTH = load_schema().get("childbirth")
STATUS = {"tstatus": {1: "治疗中", 2: "已完成"}}


def validate_both_ways(path: Path, dictionaries: Any) -> tuple[list[Any], list[Any]]:
    """Every row's result the push way, and the problem rows the validate way."""
    options = ValidateOptions(dictionaries=dictionaries)
    with open_validation(CYCLE, path, orgid=ORGID, options=options) as validation:
        results = list(validation.rows())
    with open_validation(CYCLE, path, orgid=ORGID, options=options) as validation:
        problem_rows = list(validation.problem_rows())
    return results, problem_rows


def status_rows(*values: str) -> list[dict[str, str]]:
    return [
        required_cycle_headers() | {"周期ID": f"C{i}", "治疗状态(字典项)": value}
        for i, value in enumerate(values)
    ]


@pytest.mark.parametrize("filler", [0, 40], ids=["alone", "among-many-valid"])
def test_an_unknown_code_is_refused_naming_the_allowed_codes(tmp_path: Path, filler: int) -> None:
    # Among many repeated valid codes the column goes through its distinct-value cache; alone,
    # through the reader cell by cell: both must check the table.
    path = write_csv(tmp_path / "c.csv", status_rows(*["1"] * filler, "3"))
    results, problem_rows = validate_both_ways(path, STATUS)
    [bad] = [r for r in results if not r.valid]
    assert [r.row for r in problem_rows] == [bad.row] == [filler + 2]
    [problem] = bad.problems
    assert (problem.code, problem.field, problem.value) == ("unknown-code", "tstatus", "3")
    assert "1-治疗中, 2-已完成" in problem.message("zh")
    assert "1-治疗中, 2-已完成" in problem.message("en")


def test_labels_and_code_label_entries_become_codes(tmp_path: Path) -> None:
    cells = ["治疗中", "2-已完成", "1 治疗中", "1：治疗中", "２－已完成", " 已完成 ", "2", ""]
    path = write_csv(tmp_path / "c.csv", status_rows(*cells))
    results, _ = validate_both_ways(path, STATUS)
    assert [r.data.get("tstatus") for r in results[:-1]] == [1, 2, 1, 1, 2, 2, 2]
    assert all(r.valid for r in results[:-1])
    # Blank is still "required and empty", not an unknown code.
    assert [p.code for p in results[-1].problems] == ["required-missing"]


@pytest.mark.parametrize("cell", ["1-已完成", "已取消", "3-已取消"])
def test_a_label_that_is_not_the_codes_own_is_refused(tmp_path: Path, cell: str) -> None:
    path = write_csv(tmp_path / "c.csv", status_rows(cell))
    [result], _ = validate_both_ways(path, STATUS)
    assert [p.code for p in result.problems] == ["unknown-code"]


def test_without_a_table_any_integer_passes_and_labels_do_not(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", status_rows("3", "97", "治疗中"))
    results, _ = validate_both_ways(path, None)
    assert [r.valid for r in results] == [True, True, False]
    assert [p.code for p in results[2].problems] == ["not-integer"]
    # A table for another field leaves this one as it was.
    results, _ = validate_both_ways(path, {"childbirthtype": {1: "顺产"}})
    assert [r.valid for r in results] == [True, True, False]


def test_a_table_for_one_record_type_wins_over_the_general_one(tmp_path: Path) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text(
        "dictionaries:\n"
        "  tstatus: {1: 治疗中}\n"
        "  周期.tstatus: {1: 治疗中, 2: 已完成}\n",  # any name of the type will do
        encoding="utf-8",
    )
    dictionaries = load_config(config).dictionaries
    assert dictionaries == {"tstatus": {1: "治疗中"}, "cycle.tstatus": {1: "治疗中", 2: "已完成"}}
    path = write_csv(tmp_path / "c.csv", status_rows("2"))
    [result], _ = validate_both_ways(path, dictionaries)
    assert result.valid and result.data["tstatus"] == 2


def test_dictionaries_from_a_csv_or_yaml_file_beside_the_config(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    (folder / "codes").mkdir(parents=True)
    # As Excel saves a CSV on a Chinese Windows: GB18030, no byte-order mark.
    (folder / "codes" / "codes.csv").write_bytes(
        "field,code,label\ntstatus,1,治疗中\ntstatus,2,已完成\nchildbirthtype,1,顺产\n".encode(
            "gb18030"
        )
    )
    (folder / "codes" / "codes.yaml").write_text(
        "tstatus:\n  '1': 治疗中\n  2: 已完成\nchildbirthtype: {1: 顺产}\n", encoding="utf-8"
    )
    expected = {"tstatus": {1: "治疗中", 2: "已完成"}, "childbirthtype": {1: "顺产"}}
    for name in ("codes.csv", "codes.yaml"):
        config = folder / "artreport.yaml"
        config.write_text(f"dictionaries: codes/{name}\n", encoding="utf-8")
        assert load_config(config).dictionaries == expected, name


@pytest.mark.parametrize(
    "setting",
    [
        "[tstatus, 1, 治疗中]",  # not a mapping
        "{nosuchfield: {1: a}}",
        "{cycleid: {1: a}}",  # a field, but not a coded one
        "{nosuchtype.tstatus: {1: a}}",
        "{tstatus: [治疗中]}",
        "{tstatus: {}}",
        "{tstatus: {one: 治疗中}}",
        "{tstatus: {1: ''}}",
        "{tstatus: {1: 治疗中, 2: 治疗中}}",  # one label for two codes cannot be mapped back
        "missing.csv",
        "bad.csv",
    ],
)
def test_a_bad_dictionaries_setting_is_a_config_error_exit_2(tmp_path: Path, setting: str) -> None:
    (tmp_path / "bad.csv").write_text("字段,代码,名称\ntstatus,1,治疗中\n", encoding="utf-8")
    config = tmp_path / "artreport.yaml"
    config.write_text(f"dictionaries: {setting}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(config)
    path = write_csv(tmp_path / "c.csv", status_rows("1"))
    result = runner.invoke(app, ["--config", str(config), "validate", "cycle", str(path)])
    assert result.exit_code == 2, result.output


def test_a_template_with_dictionaries_has_drop_downs_and_validates_filled(
    tmp_path: Path,
) -> None:
    Path("artreport.yaml").write_text(
        f"orgid: {DEMO_ORG[0]}\ndictionaries:\n  childbirthtype: {{1: 顺产, 2: 剖宫产}}\n",
        encoding="utf-8",
    )
    path = tmp_path / "childbirth.xlsx"
    result = runner.invoke(app, ["template", "childbirth", "-o", str(path)])
    assert result.exit_code == 0, result.output
    workbook = openpyxl.load_workbook(path)
    codes = workbook["代码表"]
    assert [c.value for c in codes["A"] if c.value] == ["childbirthtype", "1-顺产", "2-剖宫产"]
    # childbirthnum's codes are the platform's own (分娩胎数(单胎1 双胎2 三胎3 其他0)).
    assert [c.value for c in codes["B"] if c.value] == [
        "childbirthnum",
        "0-其他",
        "1-单胎",
        "2-双胎",
        "3-三胎",
    ]
    lists = [v for v in workbook.worksheets[0].data_validations.dataValidation if v.type == "list"]
    assert len(lists) == 2

    rows = clerk_rows(CHILDBIRTH)
    for row, entry in zip(rows, ["1-顺产", "2-剖宫产", "1-顺产"], strict=True):
        row["childbirthtype"] = entry  # as the drop-down enters it
    fill_xlsx(path, rows, CHILDBIRTH)
    result = runner.invoke(app, ["validate", "childbirth", str(path)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["push", "childbirth", str(path), "--sandbox", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["warnings"]) == (3, 0)
    options = ValidateOptions(dictionaries=load_config().dictionaries)
    with open_validation(CHILDBIRTH, path, options=options) as validation:
        assert [r.data["childbirthtype"] for r in validation.rows()] == [1, 2, 1]
