"""``artreport validate`` and ``artreport schema`` as a user runs them."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from artreport.cli import app
from artreport.schema import load_schema
from artreport.validation import ValidateOptions, open_validation
from tests.conftest import AS_AN_ORDINARY_USER, CANNOT_BE_AN_ORDINARY_USER, real_sample

runner = CliRunner()
CYCLE = load_schema().get("cycle")


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


#: The columns of the small cycle CSVs below: the required ones, in an export's order.
SHORT_CYCLE_HEADERS = [
    "周期ID",
    "档案信息ID",
    "方案",
    "周期开始时间",
    "周期次数",
    "治疗状态",
    "机构ID",
]


def short_cycle_csv(path: Path, rows: list[str]) -> Path:
    """A cycle CSV of SHORT_CYCLE_HEADERS and ``rows``, each a line of its values."""
    path.write_text("\n".join([",".join(SHORT_CYCLE_HEADERS), *rows]) + "\n", encoding="utf-8")
    return path


def cycle_xlsx_with_date_cells(path: Path, rows: int = 3) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    headers = [f.label for f in CYCLE.required_fields] + ["启动日期"]
    sheet.append(headers)
    for i in range(rows):
        values = []
        for field in CYCLE.required_fields:
            if field.name == "cycleid":
                values.append(f"CYC{i:05d}")
            elif field.name == "orgid":
                values.append("ZJ3301001")
            elif field.type == "integer":
                values.append(1.0)  # Excel keeps every number as a double
            elif field.type == "number":
                values.append(2.5)
            elif field.type == "date":
                values.append(dt.date(2023, 5, 6))
            elif field.type == "datetime":
                values.append(dt.datetime(2023, 5, 6, 8, 30))
            else:
                values.append(f"X{i}")
        values.append(dt.datetime(2023, 5, 6))
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
    workbook.save(path)
    return path


def report_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def table_rows(output: str, rule: str = "│") -> list[list[str]]:
    """The cells of each line of the tables Rich drew in ``output`` (``┃`` between headers)."""
    return [
        [cell.strip() for cell in line.split(rule)[1:-1]]
        for line in output.splitlines()
        if rule in line
    ]


def test_gb18030_csv_with_chinese_headers_is_valid() -> None:
    code, output = invoke("validate", "ovum", str(real_sample("ovum_gb18030.csv")))
    assert code == 0, output
    assert "25" in output


def test_xlsx_with_date_cells_is_valid(tmp_path: Path) -> None:
    path = cycle_xlsx_with_date_cells(tmp_path / "cycles.xlsx")
    code, output = invoke("--lang", "en", "validate", "周期", str(path))
    assert code == 0, output
    assert "3 valid" in output


def test_legacy_xls_codes_that_lost_their_leading_zeros_are_caught(tmp_path: Path) -> None:
    # In the source CSV these operator codes were 008093, 004176, …; the spreadsheet made them
    # numbers. The report must name exactly those rows and that field.
    source = real_sample("eresult_source_utf8.csv")
    with open(source, encoding="utf-8") as handle:
        expected = [
            (str(i), "opertioncode")
            for i, row in enumerate(csv.DictReader(handle), start=2)
            if row["操作人员代码"].startswith("0")
        ]
    report = tmp_path / "report.csv"
    code, output = invoke(
        "validate", "eresult", str(real_sample("eresult.xls")), "--report", str(report)
    )
    assert code == 1, output
    found = [(r["row"], r["field"]) for r in report_rows(report)]
    assert found == expected
    assert {r["code"] for r in report_rows(report)} == {"leading-zeros-lost"}


def test_codes_a_spreadsheet_made_numbers_are_flagged_in_the_csv_it_saved(tmp_path: Path) -> None:
    # ovum.xlsx refuses 5879 among codes like YS5270, a number cell; the CSV LibreOffice saved
    # of it sent all its rows without a word, 5879 being text there like any code. Each such
    # cell now has a warning: in a CSV, a short code among lettered ones may be right.
    found = {}
    for name in ("ovum.xlsx", "ovum_gb18030.csv"):
        report = tmp_path / f"{name}.report.csv"
        code, _ = invoke("validate", "ovum", str(real_sample(name)), "--report", str(report))
        found[name] = code, report_rows(report)
    sheet_code, refused = found["ovum.xlsx"]
    csv_code, warned = found["ovum_gb18030.csv"]
    assert (sheet_code, csv_code) == (1, 0)
    assert len(warned) == 39
    cells = [(r["row"], r["field"], r["value"]) for r in warned]
    assert cells == [(r["row"], r["field"], r["value"]) for r in refused]
    assert {(r["code"], r["severity"]) for r in warned} == {("code-shorter-than-column", "warning")}


def test_report_is_owner_only_and_names_row_field_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.label for f in CYCLE.required_fields])
        writer.writerow(
            [
                "abc"
                if f.type == "integer"
                else "2023-05-06"
                if f.type == "date"
                else "2023-05-06 00:00:00"
                if f.type == "datetime"
                else "ZJ3301001"
                if f.name == "orgid"
                else "X"
                for f in CYCLE.required_fields
            ]
        )
    report = tmp_path / "out" / "report.csv"
    code, output = invoke("--lang", "en", "validate", "cycle", str(path), "--report", str(report))
    assert code == 1, output
    if os.name == "posix":
        assert stat.S_IMODE(report.stat().st_mode) == 0o600
    rows = report_rows(report)
    integer_fields = [f.name for f in CYCLE.required_fields if f.type == "integer"]
    assert [(r["row"], r["field"], r["code"]) for r in rows] == [
        ("2", name, "not-integer") for name in integer_fields
    ]
    assert all("whole number" in r["message"] for r in rows)


def test_json_summary_matches_the_run(tmp_path: Path) -> None:
    path = cycle_xlsx_with_date_cells(tmp_path / "cycles.xlsx", rows=4)
    code, output = invoke("validate", "cycle", str(path), "--json")
    assert code == 0
    payload = json.loads(output)
    assert (payload["rows_read"], payload["valid"], payload["invalid"]) == (4, 4, 0)
    assert payload["exit_code"] == 0 and payload["report"] is None


def test_english_and_chinese_messages(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.csv")
    _, chinese = invoke("validate", "cycle", missing)
    _, english = invoke("--lang", "en", "validate", "cycle", missing)
    assert "找不到" in chinese or "不存在" in chinese
    assert "not found" in english.lower() or "does not exist" in english.lower()


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


@pytest.mark.parametrize(
    ("name", "make", "record_type"),
    [
        ("missing.csv", None, "cycle"),
        ("empty.csv", lambda p: p.write_bytes(b""), "cycle"),
        ("random.xlsx", _random_bytes, "cycle"),
        ("header_only.csv", lambda p: p.write_text("周期ID,机构ID\n", encoding="utf-8"), "cycle"),
        ("fine.csv", lambda p: p.write_text("a\n1\n", encoding="utf-8"), "no-such-type"),
        ("data.parquet", lambda p: p.write_bytes(b"PAR1"), "cycle"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(
    tmp_path: Path, name: str, make: object, record_type: str
) -> None:
    path = tmp_path / name
    if make is not None:
        make(path)  # type: ignore[operator]
    result = runner.invoke(app, ["validate", record_type, str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.strip()


def test_an_excel_lock_file_is_named_as_such_with_its_workbook(tmp_path: Path) -> None:
    """What Excel writes beside a workbook it has open: the length of the user's name, the
    name, then the name again in UTF-16, 165 bytes in all."""
    workbook = tmp_path / "cycles.xlsx"
    workbook.write_bytes(b"PK\x03\x04")
    user = "Zhang San"
    owner = bytes([len(user)]) + user.encode().ljust(53) + bytes([len(user), 0])
    lock = tmp_path / "~$cycles.xlsx"
    lock.write_bytes((owner + user.encode("utf-16-le")).ljust(165, b"\x00"))
    for lang, words in (("zh", "锁定文件"), ("en", "lock file")):
        result = runner.invoke(app, ["--lang", lang, "validate", "cycle", str(lock)])
        assert result.exit_code == 2, result.output
        assert words in result.output and str(workbook) in result.output
        assert "损坏" not in result.output and "damaged" not in result.output


def test_schema_json_lists_every_type_and_field() -> None:
    code, output = invoke("schema", "--json")
    assert code == 0
    types = json.loads(output)
    assert len(types) == 15
    assert sum(len(t["fields"]) for t in types) == 310
    cycle = next(t for t in types if t["name"] == "cycle")
    assert cycle["resource"] == "aCyclerecord" and cycle["primary_key"] == "cycleid"
    assert {"name", "label", "type", "required"} <= set(cycle["fields"][0])


def test_schema_json_gives_the_codes_the_platform_fixes() -> None:
    code, output = invoke("schema", "result", "--json")
    assert code == 0
    fields = {f["name"]: f for f in json.loads(output)["fields"]}
    assert fields["clinicalP"]["codes"] == {"1": "是", "2": "否"}
    assert fields["pregnancyresult"]["codes"] == {}  # a 字典项: the hospital's codes


def test_a_zero_for_no_is_refused_naming_the_platform_s_codes(tmp_path: Path) -> None:
    path = tmp_path / "result.csv"
    path.write_text(
        "治疗结果ID,周期ID,机构ID,临床妊娠(1是0否),是否死胎\n"
        "RES1,CYC1,ZJ3301001,1,否\n"
        "RES2,CYC2,ZJ3301001,0,2\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.csv"
    code, output = invoke("validate", "result", str(path), "--report", str(report))
    assert code == 1, output
    [row] = report_rows(report)
    assert (row["row"], row["field"], row["code"]) == ("3", "clinicalP", "unknown-code")
    assert "可选：1-是, 2-否" in row["message"]


def childbirth_in_grams_and_millimetres(path: Path) -> Path:
    path.write_text(
        "分娩信息ID,周期ID,机构ID,分娩时间,分娩方式,新生儿1是否死亡,新生儿1身长(mm),"
        "新生儿1性别,新生儿1体重(g),孕周\n"
        "CHB001,CYC001,ZJ3301001,2023-05-06 08:00:00,1,2,500,1,3200,39\n"
        "CHB002,CYC002,ZJ3301001,2023-05-07 08:00:00,2,2,480,2,2900,38\n",
        encoding="utf-8",
    )
    return path


def test_a_column_in_grams_is_refused_naming_both_units(tmp_path: Path) -> None:
    path = childbirth_in_grams_and_millimetres(tmp_path / "childbirth.csv")
    code, output = invoke("--lang", "en", "validate", "childbirth", str(path))
    assert code == 1, output
    flat = " ".join(output.split())
    assert "Column 9 '新生儿1体重(g)' is in g, but the platform takes '新生儿1体重'" in flat
    assert "Column 7 '新生儿1身长(mm)' is in mm" in flat and "in cm" in flat
    assert "0 valid, 2 invalid" in flat


def test_no_row_of_a_file_in_the_wrong_unit_is_sent(tmp_path: Path) -> None:
    path = childbirth_in_grams_and_millimetres(tmp_path / "childbirth.csv")
    result = runner.invoke(app, ["push", "childbirth", str(path), "--sandbox", "--json"])
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows_read"], summary["sent"], summary["accepted"]) == (2, 0, 0)
    assert summary["problems_by_code"] == {"wrong-unit-column": 2}


def test_schema_of_one_type_by_chinese_name() -> None:
    code, output = invoke("schema", "周期信息")
    assert code == 0 and "cycleid" in output and "ordernumber" in output


def test_schema_of_one_type_by_the_clerks_short_name() -> None:
    code, output = invoke("schema", "供精")
    assert code == 0 and "supplierid" in output


def test_an_unknown_type_lists_the_types_with_their_chinese_names() -> None:
    code, output = invoke("schema", "供卵")
    assert code == 2
    assert "supplier (外供信息/供精)" in output and "result (治疗结果信息/妊娠结局)" in output


def test_global_options_may_follow_the_command(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.csv")
    result = subprocess.run(
        [sys.executable, "-m", "artreport", "validate", "cycle", missing, "--lang", "en"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "not found" in result.stderr.lower() or "does not exist" in result.stderr.lower()


@pytest.mark.parametrize("command", [["validate"], ["push", "--dry-run"]])
def test_a_file_without_one_known_column_is_reported_not_crashed_on(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "unrelated.csv"
    path.write_text("a\n1\n2\n", encoding="utf-8")
    report = tmp_path / "report.csv"
    result = runner.invoke(
        app, ["--lang", "en", command[0], "cycle", str(path), *command[1:], "--report", str(report)]
    )
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    codes = {row["code"] for row in report_rows(report)}
    assert codes == {"missing-column", "unknown-columns"}


@pytest.mark.parametrize("command", [["validate"], ["push", "--dry-run"]])
def test_the_problems_by_code_are_named_in_the_clerks_language_beside_their_code(
    tmp_path: Path, command: list[str]
) -> None:
    """The table showed only identifiers such as required-missing, which a Chinese-reading
    clerk cannot read; the code stays beside the title for the support desk."""
    path = short_cycle_csv(
        tmp_path / "c.csv",
        ["C1,INF1,,2023-05-01,1,1,ZJ3301001", "C2,INF2,IVF,2023-05-02,abc,1,ZJ3301001"],
    )
    expected = {
        "zh": (["问题", "代码", "数量"], "必填项为空", "不是整数"),
        "en": (["Problem", "Code", "Count"], "Required field empty", "Not a whole number"),
    }
    for lang, (header, required, integer) in expected.items():
        exit_code, output = invoke("--lang", lang, command[0], "cycle", str(path), *command[1:])
        assert exit_code == 1, output
        assert header in table_rows(output, "┃")
        assert [required, "required-missing", "1"] in table_rows(output)
        assert [integer, "not-integer", "1"] in table_rows(output)


@pytest.mark.parametrize("command", [["validate"], ["push", "--dry-run"]])
def test_a_report_path_naming_the_export_is_refused_and_the_export_kept(
    tmp_path: Path, command: list[str]
) -> None:
    path = cycle_xlsx_with_date_cells(tmp_path / "cycles.xlsx")
    original = path.read_bytes()
    (tmp_path / "link.xlsx").symlink_to(path)
    for report in (path, tmp_path / "." / "cycles.xlsx", tmp_path / "link.xlsx"):
        code, output = invoke(
            "--lang", "en", command[0], "cycle", str(path), *command[1:], "--report", str(report)
        )
        assert code == 2, output
        assert "may not overwrite the export" in output
    assert path.read_bytes() == original


def test_a_report_path_naming_the_annotated_copy_is_refused(tmp_path: Path) -> None:
    path = cycle_xlsx_with_date_cells(tmp_path / "cycles.xlsx")
    both = tmp_path / "checked.xlsx"
    code, output = invoke(
        "--lang", "en", "validate", "cycle", str(path), "--report", str(both),
        "--annotate", str(both),
    )  # fmt: skip
    assert code == 2, output
    assert "may not be the same file" in output
    assert not both.exists()


def test_output_to_a_file_or_pipe_keeps_a_long_report_path_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("周期ID\nC1\n", encoding="utf-8")
    report = tmp_path / ("a-folder-whose-name-is-long-" * 3) / "validate-cycle-report.csv"
    result = subprocess.run(
        [sys.executable, "-m", "artreport", "validate", "cycle", str(path), "--report", report],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert str(report) in result.stdout


def test_a_reader_that_goes_away_ends_the_output_quietly() -> None:
    """Quietly, and with the command's own exit code: Click's 1 for the closed pipe is "rows
    invalid or rejected" to whoever reads the exit code (tests/test_output_streams.py)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "artreport", "schema", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before anything is written: the first write meets a closed pipe
    errors = process.stderr.read().decode("utf-8")
    assert process.wait(timeout=60) == 0
    assert errors == ""


def test_a_name_or_id_number_in_the_wrong_column_is_still_masked(tmp_path: Path) -> None:
    # An unquoted comma in the address shifts the row: the ID number lands in the name
    # column, the name in the birth date, and the address's district in the ID type.
    path = tmp_path / "shifted.csv"
    path.write_text(
        "档案信息ID,机构ID,病历号,女方现住址,女方证件类型,女方证件号码,女方姓名,女方出生日期,备注\n"
        "INF1,ZJ3301001,M1,杭州市,西湖区,1,330102199001011234,王秀英,1990-01-01,13812345678\n"
        # Shifted left this time (a column missing): the name lands in the record ID's column
        # and a staff name in the organisation's; or an ID number typed as the record ID.
        "沈浩然,金春梅,M3,,1,330102199001011234,王秀英,1990-01-01\n"
        "330102199001011234,ZJ3301001,M4,,x,,王秀英,1990-01-01\n",
        encoding="utf-8",
    )
    data = tmp_path / "typed.json"
    data.write_text(
        json.dumps([{"informationid": "INF2", "wName": "李四", "wIdtype": 330102199001011234}]),
        encoding="utf-8",
    )
    for export in (path, data):
        for as_json in ([], ["--json"]):
            code, output = invoke("--lang", "en", "validate", "information", str(export), *as_json)
            assert code == 1, output
            for secret in ("王秀英", "秀英", "330102199001011234", "13812345678", "浩然", "春梅"):
                assert secret not in output


def test_a_date_written_with_chinese_words_is_shown_not_masked(tmp_path: Path) -> None:
    """LibreOffice's Chinese display of a date (06-5月-23) in a CSV was shown as '0*******',
    masked like a name: the clerk could not see which value was wrong."""
    path = short_cycle_csv(
        tmp_path / "c.csv",
        ["C1,INF1,IVF,06-5月-23,1,1,ZJ3301001", "C2,INF2,IVF,王秀英,1,1,ZJ3301001"],
    )
    code, output = invoke("--lang", "en", "validate", "cycle", str(path), "--json")
    assert code == 1, output
    assert "06-5月-23" in output
    assert "秀英" not in output


def test_words_that_name_no_one_are_shown_in_a_number_columns_message(tmp_path: Path) -> None:
    """否 was shown as '否*': the clerk read the star as part of the cell. A name is still
    masked, also one of number words (万一), of date words (时三) or with a rare character."""
    counts = ("否", "张三", "万一", "时三", "刘䶮")
    path = short_cycle_csv(
        tmp_path / "c.csv",
        [
            f"C{number},INF{number},IVF,2023-05-0{number},{count},1,ZJ3301001"
            for number, count in enumerate(counts, 1)
        ],
    )
    code, output = invoke("--lang", "en", "validate", "cycle", str(path), "--json")
    assert code == 1, output
    assert "'否'" in output
    for name in counts[1:]:
        assert name[1:] not in output and f"'{name[0]}*'" in output


def test_a_name_in_latin_letters_is_masked_and_a_placeholder_is_shown(tmp_path: Path) -> None:
    """Pinyin and foreign names refused by a date or number column were shown whole (WANG
    LIHUA), where a Chinese name is masked; words that name no one stay readable."""
    masked = ("WANG LIHUA", "Li Ming", "O'Brien", "zhang wei", "CHEN")
    starts = (*masked, "unknown", "IVF", "abc", "5月6日 晚8点")
    path = short_cycle_csv(
        tmp_path / "c.csv",
        [
            f"C{number},INF{number},IVF,{start},1,1,ZJ3301001"
            for number, start in enumerate(starts, 1)
        ],
    )
    code, output = invoke("--lang", "en", "validate", "cycle", str(path), "--json")
    assert code == 1, output
    for name in masked:
        assert name not in output and f"'{name[0]}*'" in output
    for shown in starts[len(masked) :]:
        assert f"'{shown}'" in output


def test_a_word_of_the_trade_in_a_coded_or_number_column_is_shown_a_name_is_masked(
    tmp_path: Path,
) -> None:
    """身份证 refused by 女方证件类型 was shown as '身*' (and 阳性 as '阳*', 肿瘤 as '肿*'):
    the clerk could not tell what to fix. A name shifted into such a column stays masked."""
    path = tmp_path / "information.csv"
    path.write_text(
        "档案信息ID,机构ID,病历号,女方姓名,女方证件类型,男方证件类型\n"
        "INF1,ZJ3301001,M1,李四,身份证,护照\n"
        "INF2,ZJ3301001,M2,李四,王秀英,Passport\n"
        "INF3,ZJ3301001,M3,李四,单胎,１\n",  # one of the record types' code labels
        encoding="utf-8",
    )
    for lang, quote in (("zh", "“{}”"), ("en", "'{}'")):
        for as_json in ([], ["--json"]):
            code, output = invoke("--lang", lang, "validate", "information", str(path), *as_json)
            assert code == 1, output
            for word in ("身份证", "护照", "Passport", "单胎"):
                assert quote.format(word) in output, (lang, word)
            assert "秀英" not in output and quote.format("王*") in output


def test_a_label_of_the_config_s_code_tables_is_shown_in_another_column(tmp_path: Path) -> None:
    path = short_cycle_csv(tmp_path / "c.csv", ["C1,INF1,IVF,2023-05-06,促排中,1,ZJ3301001"])
    config = tmp_path / "artreport.yaml"
    config.write_text("orgid: ZJ3301001\n", encoding="utf-8")
    code, output = invoke("--config", str(config), "validate", "cycle", str(path), "--json")
    assert code == 1 and "“促*”" in output and "促排中" not in output
    config.write_text(
        "orgid: ZJ3301001\ndictionaries:\n  tstatus: {1: 促排中, 2: 已完成}\n", encoding="utf-8"
    )
    # The same word in the number column 周期次数: the table is 治疗状态's, not its own.
    path = short_cycle_csv(tmp_path / "c.csv", ["C1,INF1,IVF,2023-05-06,促排中,2,ZJ3301001"])
    code, output = invoke("--config", str(config), "validate", "cycle", str(path), "--json")
    assert code == 1 and "“促排中”" in output, output


def test_a_word_in_a_coded_field_without_a_table_is_told_how_a_table_maps_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "thawdet.csv"
    path.write_text(
        "解冻明细ID,解冻ID,冷冻物存活情况,冷冻物去向,解冻数,解冻胚龄,解冻类型,机构ID\n"
        "TD1,TH1,存活,1,1,3,1,ZJ3301001\nTD2,TH1,3.5,1,1,3,1,ZJ3301001\n",
        encoding="utf-8",
    )
    code, output = invoke("validate", "thawdet", str(path), "--json")
    assert code == 1, output
    first, second = json.loads(output)["first_problems"]
    assert (first["code"], first["field"], first["value"]) == ("not-integer", "survival", "存活")
    assert "是字典项，应填代码（整数），实际为“存活”" in first["message"]
    assert "dictionaries" in first["message"] and "survival: {代码: 文字}" in first["message"]
    # A number that is no whole one is told as before: no word for a table to map.
    assert second["code"] == "not-integer" and "dictionaries" not in second["message"]
    code, output = invoke("--lang", "en", "validate", "thawdet", str(path), "--json")
    message = json.loads(output)["first_problems"][0]["message"]
    assert "is a coded field and takes a code (a whole number), got '存活'" in message
    assert "under dictionaries in the config (survival: {code: word}" in message


def test_a_misspelt_setting_is_named_in_a_warning(tmp_path: Path) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text("orgid: ZJ3301001\nchunksize: 5\n", encoding="utf-8")
    path = cycle_xlsx_with_date_cells(tmp_path / "cycles.xlsx")
    result = runner.invoke(
        app, ["--lang", "en", "--config", str(config), "validate", "cycle", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.count("chunksize") == 1 and "not known" in result.stderr


def test_an_unknown_language_is_a_usage_error() -> None:
    result = runner.invoke(app, ["--lang", "fr", "schema"])
    assert result.exit_code == 2
    assert "zh or en" in result.output


def test_a_spreadsheet_error_value_in_a_name_column_is_shown_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "information.csv"
    path.write_text(
        "档案信息ID,机构ID,病历号,女方姓名,男方姓名\nINF1,ZJ3301001,M1,#N/A,#VALUE!\n",
        encoding="utf-8",
    )
    code, output = invoke("--lang", "en", "validate", "information", str(path))
    assert code == 1, output
    assert "'#N/A'" in output and "'#VALUE!'" in output


def test_a_line_of_text_named_xlsx_is_called_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "cycles.xlsx"
    path.write_text("hello\n", encoding="utf-8")
    code, output = invoke("--lang", "en", "validate", "cycle", str(path))
    assert code == 2, output
    assert "named .xlsx but holds csv" in output


def _validated_rows(path: Path, record_type: str = "cycle") -> tuple[str, dict[str, Any]]:
    with open_validation(
        load_schema().get(record_type), path, orgid="ZJ3301001", options=ValidateOptions()
    ) as validation:
        [row] = list(validation.rows())
        problems = [p.message("en") for p in validation.file_problems]
    return "\n".join(problems), row.data


def test_a_header_naming_its_field_exactly_wins_over_one_with_a_remark(tmp_path: Path) -> None:
    path = tmp_path / "old_ids.csv"
    path.write_text(
        "周期ID(旧系统),周期ID,档案信息ID,方案,周期开始时间,周期次数,治疗状态,女方年龄(岁),女方年龄\n"
        "OLD001,CYC_NEW1,INF1,IVF,2023-05-06 08:30:00,1,1,,33\n",
        encoding="utf-8",
    )
    problems, data = _validated_rows(path)
    assert (data["cycleid"], data["wage"]) == ("CYC_NEW1", 33)
    assert "column 2 '周期ID' names that field exactly: column 2 is used, column 1 ignored" in (
        problems
    )


def _results(path: Path) -> tuple[str, list[Any]]:
    with open_validation(CYCLE, path, orgid="ZJ3301001", options=ValidateOptions()) as validation:
        results = list(validation.rows())
        problems = [p.message("en") for p in validation.file_problems]
    return "\n".join(problems), results


def test_a_column_given_twice_fills_its_blanks_and_refuses_a_conflict(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text(
        "周期ID,档案信息ID,方案,周期开始时间,周期次数,治疗状态,方案\n"
        "CYC1,INF1,IVF,2023-05-06 08:30:00,1,1,\n"
        "CYC2,INF1,,2023-05-06 08:30:00,1,1,ICSI\n"
        "CYC3,INF1,IVF,2023-05-06 08:30:00,1,1,ICSI\n",
        encoding="utf-8",
    )
    problems, results = _results(path)
    assert "Column 7 '方案' and column 3 '方案' both mean" in problems
    assert [r.data.get("artplan") for r in results[:2]] == ["IVF", "ICSI"]
    assert results[0].valid and results[1].valid and not results[2].valid
    [conflict] = results[2].problems
    assert (conflict.code, conflict.field, conflict.row) == ("conflicting-columns", "artplan", 4)


def test_two_headers_with_remarks_for_one_field_are_read_as_one(tmp_path: Path) -> None:
    path = tmp_path / "ages.csv"
    path.write_text(
        "周期ID,档案信息ID,方案,周期开始时间,周期次数,治疗状态,女方年龄(岁),女方年龄(周岁)\n"
        "CYC1,INF1,IVF,2023-05-06 08:30:00,1,1,,30\n"
        "CYC2,INF1,IVF,2023-05-06 08:30:00,1,1,30,31\n",
        encoding="utf-8",
    )
    problems, results = _results(path)
    assert "names that field exactly" not in problems
    assert results[0].data["wage"] == 30
    assert [p.code for p in results[1].problems] == ["conflicting-columns"]


def test_json_records_spelling_a_key_in_two_cases_are_both_read(tmp_path: Path) -> None:
    common = {
        "informationid": "INF1",
        "artplan": "IVF",
        "cycledate": "2023-05-06 08:30:00",
        "ordernumber": 1,
        "tstatus": 1,
    }
    path = tmp_path / "cycles.json"
    path.write_text(
        json.dumps([{"cycleid": "CYJ1", **common}, {"CycleID": "CYJ2", **common}]),
        encoding="utf-8",
    )
    _, results = _results(path)
    assert [(r.primary_key, r.valid) for r in results] == [("CYJ1", True), ("CYJ2", True)]


def test_a_hospital_apis_answer_with_grouped_fields_validates_as_its_records(
    tmp_path: Path,
) -> None:
    # A trial's export: the records under "data", some of each record's fields in an object.
    records = [
        {
            "CycleID": f"CYJ{i}",
            "informationid": "INF1",
            "orgid": "ZJ3301001",
            "plan": {"artplan": "IVF", "cycledate": "2023-05-06 08:30:00"},
            "ordernumber": 1,
            "tstatus": 1,
        }
        for i in range(3)
    ]
    path = tmp_path / "cycles.json"
    path.write_text(json.dumps({"code": 0, "total": 3, "data": records}), encoding="utf-8")

    report = str(tmp_path / "r.csv")
    code, output = invoke("--lang", "en", "validate", "cycle", str(path), "--report", report)

    assert code == 0, output
    assert "read from its array 'data' (3)" in output
    assert "'plan' in the records is an object; its 2 field(s) (artplan, cycledate)" in output
    assert "Read 3 rows: 3 valid" in output


def test_a_label_two_fields_share_is_named_as_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "transplant.csv"
    path.write_text("移植ID,周期ID,操作人员姓名\nTRA1,CYC1,张三\n", encoding="utf-8")
    _code, output = invoke("--lang", "en", "validate", "transplant", str(path))
    assert "Column 3 '操作人员姓名' could be any of" in output
    assert "(checkname)" in output and "(opertionname)" in output
    assert "not recognised" not in output


def test_an_ambiguous_column_is_offered_the_headers_the_template_writes(tmp_path: Path) -> None:
    path = tmp_path / "transplant.csv"
    path.write_text("移植ID,周期ID,操作人员姓名\nTRA1,CYC1,张三\n", encoding="utf-8")
    _code, output = invoke("validate", "transplant", str(path))
    offered = ["核对人员姓名(checkname)", "录入人员姓名(opertionname)"]
    assert "、".join(offered) in output
    template = tmp_path / "template.csv"
    assert invoke("template", "transplant", "-o", str(template))[0] == 0
    headers = template.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    for header in ("核对人员姓名", "录入人员姓名"):
        assert header in headers
        # Typed in, each names its field.
        path.write_text(f"移植ID,周期ID,{header}\nTRA1,CYC1,张三\n", encoding="utf-8")
        _code, output = invoke("validate", "transplant", str(path))
        assert "可能是" not in output and "无法识别" not in output


def test_totals_and_the_footnotes_below_them_are_not_checked_as_data(tmp_path: Path) -> None:
    # A user's trial file: its signature and remark rows below the total were checked as
    # cycles, and failed.
    path = cycle_xlsx_with_date_cells(tmp_path / "cycles.xlsx", rows=3)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    sheet.insert_rows(3)
    sheet["A3"] = "5月小计"
    sheet.append(["合  计：", 3])
    sheet.append(["制表人：李四", None, None, "审核：王五"])
    sheet.append(["备注：CYX002 周期已取消"])
    workbook.save(path)

    code, output = invoke("--lang", "en", "validate", "cycle", str(path))

    assert code == 0, output
    assert "3 valid" in output
    assert "2 row(s) below the totals" in output


def test_a_workbook_with_a_sheet_per_type_is_read_from_the_types_sheet(tmp_path: Path) -> None:
    # A HIS "export all": a sheet per record type, 周期 first, whose 周期ID and 机构ID are
    # columns of ovum too.
    workbook = openpyxl.Workbook()
    cycles = workbook.active
    cycles.title = "周期"
    cycles.append(["周期ID", "档案信息ID", "机构ID", "操作人员代码", "操作人员姓名", "操作时间"])
    cycles.append(["CYC001", "INF001", "ZJ3301001", "YS0001", "张三", "2023-05-01 08:00:00"])
    ovum = workbook.create_sheet("取卵")
    header = ["取卵信息ID", "周期ID", "机构ID", "手术者代码", "手术者姓名", "取卵时间"]
    ovum.append([*header, "卵子来源", "取卵数", "穿刺卵泡数"])
    ovum.append(
        ["OVU001", "CYC001", "ZJ3301001", "YS0001", "张医生", "2023-05-06 09:30", 1, 12, 15]
    )
    path = tmp_path / "all_types.xlsx"
    workbook.save(path)

    code, output = invoke("--lang", "en", "validate", "ovum", str(path))
    pushed_code, pushed = invoke("--lang", "en", "push", "ovum", str(path), "--dry-run")
    cycle_code, cycle_output = invoke("--lang", "en", "validate", "cycle", str(path))

    assert code == 0, output
    assert "1 valid" in output
    chosen = "The first sheet, '周期', lacks columns of this record type; sheet '取卵'"
    assert chosen in output
    assert pushed_code == 0 and chosen in pushed, pushed
    # The first sheet fits cycle better than 取卵 does: it is read, and the output names it.
    assert "The file has 2 sheets; the first, '周期', was read" in cycle_output, cycle_code


def test_json_values_are_quoted_as_json_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "ovum.json"
    path.write_text(
        json.dumps(
            [
                {"取卵信息ID": "O1", "周期ID": {"id": "CYC6"}, "取卵数": True},
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    code, output = invoke("--lang", "en", "validate", "ovum", str(path), "--json")
    assert code == 1, output
    assert '{\\"id\\": \\"CYC6\\"}' in output and "'true'" in output
    assert "'id'" not in output and "True" not in output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
def test_a_named_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    """The file was opened twice, its head then its rows: on a named pipe the second opening
    waited for ever, and a nightly job with it."""
    fifo = tmp_path / "cycles.csv"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "artreport", "--lang", "en", "validate", "cycle", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"ARTREPORT_HOME": str(tmp_path / "state")},
    )
    assert done.returncode == 2, done.stderr
    assert "is not a regular file" in done.stdout + done.stderr


@pytest.mark.parametrize(
    "text",
    ["[" * 20_000 + "]" * 20_000, '[{"取卵信息ID": "OV1", "取卵数": ' + "9" * 5000 + "}]"],
    ids=["nested-deep", "thousands-of-digits"],
)
def test_json_beyond_any_exports_limits_is_an_input_error(tmp_path: Path, text: str) -> None:
    """It was an internal error (RecursionError, ValueError), with nothing on --json's stdout."""
    path = tmp_path / "ovum.json"
    path.write_text(text, encoding="utf-8")
    code, output = invoke("validate", "ovum", str(path), "--json")
    assert code == 2
    assert json.loads(output.splitlines()[-1])["error"] == "input-json-beyond-limits"


@pytest.mark.skipif(CANNOT_BE_AN_ORDINARY_USER is not None, reason=str(CANNOT_BE_AN_ORDINARY_USER))
@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_file_that_may_not_be_read_is_said_so_in_the_users_words(
    tmp_path: Path, where: str
) -> None:
    """Click's 'Path … is not readable.' came as a mistyped command, in English, without the
    --json object; a folder on the way that may not be entered was an internal error."""
    folder = tmp_path / "exports"
    folder.mkdir()
    path = folder / "cycles.csv"
    path.write_text("周期ID\nCYC1\n", encoding="utf-8")
    locked = path if where == "file" else folder
    locked.chmod(0)
    try:
        done = subprocess.run(
            [*AS_AN_ORDINARY_USER,
             sys.executable, "-m", "artreport", "validate", "cycle", str(path), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ | {"ARTREPORT_HOME": str(tmp_path / "state")},
        )  # fmt: skip
    finally:
        locked.chmod(0o700)
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["error"] == "input-unreadable"


@pytest.mark.parametrize("command", ["validate", "push"])
@pytest.mark.parametrize(
    ("lang", "said"), [("en", "is a PDF document, not data in xlsx"), ("zh", "实际是一个 PDF 文档")]
)
def test_a_pdf_named_xlsx_is_called_a_pdf_not_read_as_csv(
    tmp_path: Path, command: str, lang: str, said: str
) -> None:
    """A report "printed" to PDF and saved under the export's name: its first line had been
    taken for a CSV header, and the file reported as lacking every required column."""
    path = tmp_path / "cycles.xlsx"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    extra = ["--sandbox"] if command == "push" else []
    result = runner.invoke(app, ["--lang", lang, command, "cycle", str(path), *extra])
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())
    assert "csv" not in result.output
    assert "Traceback" not in result.output
