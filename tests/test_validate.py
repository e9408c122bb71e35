"""Row checks through the validator: each problem code from a source file to a report entry."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from artreport.fakedata import fake_rows, write_rows
from artreport.schema import load_schema
from artreport.validation import Problem, ValidateOptions, open_validation
from tests.conftest import real_sample

SCHEMA = load_schema()
CYCLE = SCHEMA.get("cycle")
INFORMATION = SCHEMA.get("information")
RESULT = SCHEMA.get("result")
CHILDBIRTH = SCHEMA.get("childbirth")
ORGID = "ZJ3301001"

# A complete, valid cycle row keyed by Chinese label, as a clerk's export has it.
CYCLE_ROW = {
    "周期ID": "CYC001",
    "档案信息ID": "INF001",
    "周期次数": "1",
    "治疗状态(字典项)": "1",
    "机构ID": ORGID,
}


def required_cycle_headers() -> dict[str, str]:
    """One value per required field of cycle, so the tests keep up with the schema."""
    values = {
        "string": "X1",
        "integer": "1",
        "number": "1.5",
        "date": "2023-05-06",
        "datetime": "2023-05-06 08:00:00",
    }
    row = {f.label: values[f.type] for f in CYCLE.required_fields}
    row.update(CYCLE_ROW)
    return row


def write_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    headers = list(dict.fromkeys(h for row in rows for h in row))
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, headers)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(record_type: Any, path: Path, orgid: str | None = ORGID, **options: Any):
    with open_validation(record_type, path, orgid=orgid, options=ValidateOptions(**options)) as v:
        results = list(v.rows())
        return v, results


def codes(problems: list[Problem]) -> list[tuple[int | None, str | None, str]]:
    return [(p.row, p.field, p.code) for p in problems]


def test_a_valid_row_is_normalised_for_the_platform(tmp_path: Path) -> None:
    row = required_cycle_headers() | {"周期次数": " 2.0 ", "启动日期": "2023/5/6"}
    _, results = run(CYCLE, write_csv(tmp_path / "c.csv", [row]))
    assert results[0].valid and not results[0].problems
    data = results[0].data
    assert data["ordernumber"] == 2
    assert data["startDate"] == "2023-05-06"
    assert data["cycleid"] == "CYC001"
    assert data["orgid"] == ORGID


def test_a_json_export_s_times_with_an_offset_are_sent_in_china_s_time(tmp_path: Path) -> None:
    # Enough rows for the column's whole-column and cached readings as well.
    times = ["2024-05-06T14:00:00+08:00", "2024-05-06T06:00:00.000Z", "2024-05-05T22:00:00-08:00"]
    rows = [
        required_cycle_headers()
        | {"周期ID": f"C{i}", "周期开始时间": times[i % 3], "启动日期": times[0]}
        for i in range(300)
    ]
    path = tmp_path / "cycles.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    for results in (run(CYCLE, path)[1], run(CYCLE, path, orgid=None)[1]):
        assert all(r.valid and not r.problems for r in results)
        assert {r.data["cycledate"] for r in results} == {"2024-05-06 14:00:00"}
        assert {r.data["startDate"] for r in results} == {"2024-05-06"}


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"周期ID": ""}, "cycleid", "required-missing"),
        ({"周期次数": "abc"}, "ordernumber", "not-integer"),
        ({"周期次数": "3000000000"}, "ordernumber", "integer-out-of-range"),
        ({"不孕年龄": "many"}, "wInfertilityyear", "not-number"),
        ({"启动日期": "2023-02-30"}, "startDate", "bad-date"),
        ({"扳机时间": "next tuesday"}, "triggerdate", "bad-datetime"),
        ({"档案信息ID": "3.30101199001011E+17"}, "informationid", "precision-lost"),
        ({"机构ID": "ZJ9999999"}, "orgid", "orgid-mismatch"),
    ],
)
def test_each_cell_problem_names_row_and_field(
    tmp_path: Path, change: dict[str, str], field: str, code: str
) -> None:
    rows = [required_cycle_headers(), required_cycle_headers() | {"周期ID": "CYC002"} | change]
    validation, results = run(CYCLE, write_csv(tmp_path / "c.csv", rows))
    assert results[0].valid
    assert not results[1].valid
    assert codes(list(results[1].problems)) == [(3, field, code)]
    assert validation.summary.invalid == 1 and validation.summary.valid == 1


def test_a_column_of_codes_shaped_like_scientific_notation_is_read_as_text(
    tmp_path: Path,
) -> None:
    rows = [
        required_cycle_headers() | {"周期ID": f"CYC{i}", "病历号": code}
        for i, code in enumerate(["1E0023", "2E10", "0012E5"])
    ]
    _, results = run(CYCLE, write_csv(tmp_path / "c.csv", rows))
    assert [r.data.get("medrecNo") for r in results] == ["1E0023", "2E10", "0012E5"]
    assert all(r.valid and not r.problems for r in results)


def test_a_resident_id_a_spreadsheet_rounded_to_000_in_a_csv_is_caught(tmp_path: Path) -> None:
    """LibreOffice and Excel write an 18-digit number in full in a CSV saved "as shown", its
    last three digits zeros: with a wrong check digit it is refused as rounded; with a right
    one (1 in 11 rounded numbers) it is sent with a warning to check it."""
    rows = list(fake_rows(INFORMATION, 3, orgid=ORGID))
    rows[0]["wIdcode"] = "330102198503128000"  # check digit wrong
    rows[1]["wIdcode"] = "330101199001011000"  # check digit right
    path = tmp_path / "information.csv"
    write_rows(path, INFORMATION, rows)
    _, results = run(INFORMATION, path)
    assert [codes(r.problems) for r in results] == [
        [(2, "wIdcode", "precision-lost")],
        [(3, "wIdcode", "idcard-maybe-rounded")],
        [],
    ]
    assert [r.valid for r in results] == [False, True, True]


def test_a_hand_typed_id_number_cell_says_how_to_type_it_again(tmp_path: Path) -> None:
    # A clerk who typed the number into a sheet of her own has no system to export from.
    selfsemen = SCHEMA.get("selfsemen")
    workbook = openpyxl.Workbook()
    workbook.active.append(["身份证号", "机构ID"])
    workbook.active.append([330102199001011232, ORGID])
    path = tmp_path / "selfsemen.xlsx"
    workbook.save(path)

    _, [result] = run(selfsemen, path)

    [problem] = result.problems
    assert problem.code == "precision-lost"
    assert "文本格式" in problem.message("zh") and "type the number again" in problem.message("en")


def _text_file_of_codes(path: Path, label: str, values: list[str]) -> Path:
    """Cycle rows with *values* in the column *label*, as a CSV or as a web page's table."""
    rows = [
        required_cycle_headers() | {"周期ID": f"CYC{i:03d}", label: value}
        for i, value in enumerate(values)
    ]
    if path.suffix == ".csv":
        return write_csv(path, rows)
    page = "<html><body><table><tr>" + "".join(f"<th>{h}</th>" for h in rows[0]) + "</tr>"
    for row in rows:
        page += "<tr>" + "".join(f"<td>{v}</td>" for v in row.values()) + "</tr>"
    path.write_text(page + "</table></body></html>", encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".html"])
def test_a_number_shorter_than_its_columns_numeric_codes_in_a_text_file_is_refused(
    tmp_path: Path, suffix: str
) -> None:
    """Where a spreadsheet refuses the number 6523 among codes like 006523, the CSV it saves
    has 6523 as text, which was sent. Among codes that are all digits it can only have lost
    its zeros; 000123, which kept them, is a code of another length, not a lost one."""
    values = ["006523", "012345", "000871", "123456", "6523", "000123"]
    path = _text_file_of_codes(tmp_path / f"c{suffix}", "操作人员代码", values)
    _, results = run(CYCLE, path)
    assert [codes(r.problems) for r in results] == [
        [],
        [],
        [],
        [],
        [(6, "opertioncode", "leading-zeros-lost")],
        [],
    ]
    assert [r.valid for r in results] == [True, True, True, True, False, True]
    [problem] = results[4].problems
    message = problem.message("en")
    assert "only 4 digits" in message and "6-digit numbers (such as 006523)" in message
    assert f"saved this {suffix[1:].upper()} file drops leading zeros" in message
    assert "hospital system" in message
    assert "表格软件" in problem.message("zh")


def test_a_number_shorter_than_its_columns_lettered_codes_in_a_csv_is_sent_with_a_warning(
    tmp_path: Path,
) -> None:
    """Among codes like YS7820 a bare 5760 may be a code of another kind, which a clerk cannot
    mark as text in a CSV: the row is sent, with a warning to check the code."""
    values = ["YS7820", "YS3462", "5760", "YS8145", "YS0811"]
    _, results = run(CYCLE, _text_file_of_codes(tmp_path / "c.csv", "操作人员代码", values))
    assert [codes(r.problems) for r in results] == [
        [],
        [],
        [(4, "opertioncode", "code-shorter-than-column")],
        [],
        [],
    ]
    assert all(r.valid for r in results)
    assert results[2].data["opertioncode"] == "5760"
    [problem] = results[2].problems
    assert problem.severity == "warning"
    message = problem.message("en")
    assert "only 4 digits where the column's codes have 6 characters" in message
    assert "such as YS7820" in message and "check" in message


def test_a_number_among_codes_beginning_with_letters_in_a_sheet_is_said_to_lack_them(
    tmp_path: Path,
) -> None:
    """20000002 among INF20000001-like codes lost no zeros: its letters are missing, or the
    spreadsheet made a number of it. Refused as before, under the same code, but said so;
    among codes of digits the message still speaks of leading zeros."""
    base = required_cycle_headers()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([*base, "操作人员代码"])
    for i, (information, operator) in enumerate(
        [
            ("INF20000001", "003476"),
            (20000002, 3476),
            ("INF20000003", "004670"),
            ("INF20000004", "001234"),
        ]
    ):
        sheet.append([*(base | {"周期ID": f"C{i}", "档案信息ID": information}).values(), operator])
    workbook.save(tmp_path / "c.xlsx")
    _, results = run(CYCLE, tmp_path / "c.xlsx")
    assert [codes(r.problems) for r in results] == [
        [],
        [(3, "informationid", "leading-zeros-lost"), (3, "opertioncode", "leading-zeros-lost")],
        [],
        [],
    ]
    prefix, zeros = results[1].problems
    assert "bare number" in prefix.message("en")
    assert "begin with letters (such as INF…, 11 characters)" in prefix.message("en")
    assert "letters may be missing" in prefix.message("en")
    assert "INF…" in prefix.message("zh") and "很可能已丢失" not in prefix.message("zh")
    assert "leading zeros were probably lost" in zeros.message("en")


def test_a_record_below_the_total_is_in_the_failure_report(tmp_path: Path) -> None:
    rows = [
        required_cycle_headers(),
        {"周期ID": "合计"},
        {"周期ID": "制表人：张三", "方案": "审核：李四"},
        required_cycle_headers() | {"周期ID": "CYC009"},
    ]
    validation, results = run(CYCLE, write_csv(tmp_path / "c.csv", rows))
    assert [(r.row, r.valid) for r in results] == [(2, True), (5, False)]
    assert codes(results[1].problems) == [(5, None, "row-below-totals")]
    assert "row 3" in results[1].problems[0].message("en")
    assert validation.summary.invalid == 1


def test_a_file_of_another_record_type_names_that_type(tmp_path: Path) -> None:
    # A cycle export given as ovum: seven missing columns say what is wrong, not what to do.
    path = write_csv(tmp_path / "c.csv", [required_cycle_headers()])

    ovum, _ = run(SCHEMA.get("ovum"), path)
    cycle, _ = run(CYCLE, path)

    [hint] = [p for p in ovum.file_problems if p.code == "other-record-type"]
    assert (hint.severity, hint.params["name"]) == ("warning", "cycle")
    assert "cycle" in hint.message("en")
    assert not any(p.code == "other-record-type" for p in cycle.file_problems)


def test_a_file_missing_columns_of_every_type_names_none(tmp_path: Path) -> None:
    row = {"周期ID": "CYC001", "机构ID": ORGID}
    validation, _ = run(SCHEMA.get("ovum"), write_csv(tmp_path / "c.csv", [row]))

    assert "missing-column" in {p.code for p in validation.file_problems}
    assert "other-record-type" not in {p.code for p in validation.file_problems}


def test_the_same_primary_key_twice_is_an_error_on_the_second(tmp_path: Path) -> None:
    rows = [required_cycle_headers(), required_cycle_headers()]
    _, results = run(CYCLE, write_csv(tmp_path / "c.csv", rows))
    assert results[0].valid
    [problem] = results[1].problems
    assert (problem.row, problem.code, problem.params["first_row"]) == (3, "duplicate-key", 2)


def test_information_needs_a_male_or_female_name(tmp_path: Path) -> None:
    base = {f.name: "X" for f in INFORMATION.required_fields} | {"orgid": ORGID}
    rows = [
        base | {"informationid": "I1", "fName": "", "wName": "王芳"},
        base | {"informationid": "I2", "fName": "", "wName": ""},
    ]
    _, results = run(INFORMATION, write_csv(tmp_path / "i.csv", rows))
    assert results[0].valid
    assert [p.code for p in results[1].problems] == ["one-of-required"]


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_names_are_sent_as_the_clerk_sees_them(tmp_path: Path, encoding: str) -> None:
    # Rare characters beyond the BMP (four bytes in GB18030) and a minority name's middle dot
    # arrive as typed; a zero-width space or a BOM pasted in with a name, which the platform
    # would keep, does not. Enough distinct names that the column is read whole.
    base = {f.name: "X" for f in INFORMATION.required_fields} | {"orgid": ORGID}
    names = ["𠀀明", "买买提·艾力", "张三\u200b", "\ufeff李四", "王\u200b五", "\u200b"]
    names += [f"周{chr(0x4E00 + n)}" for n in range(60)]
    rows = [
        base | {"informationid": f"I{n}", "wName": name, "fName": "赵六"}
        for n, name in enumerate(names)
    ]
    _, results = run(INFORMATION, write_csv(tmp_path / "i.csv", rows, encoding))
    sent = [result.data.get("wName") for result in results[:6]]
    assert sent == ["𠀀明", "买买提·艾力", "张三", "李四", "王五", None]
    assert all(result.valid for result in results)


def test_a_blank_cycle_id_that_a_delete_will_need_is_a_warning(tmp_path: Path) -> None:
    # The spec makes insemination's cycleid optional on insert but required on delete: the
    # platform stores the row, and then no delete can ever name it.
    insemination = SCHEMA.get("insemination")
    values = {"string": "X", "datetime": "2023-05-06 08:30:00"}
    base = {f.name: values[f.type] for f in insemination.required_fields} | {"orgid": ORGID}
    rows = [
        base | {"inseminationid": "A1", "cycleid": "CYC001"},
        base | {"inseminationid": "A2", "cycleid": ""},
    ]
    _, results = run(insemination, write_csv(tmp_path / "a.csv", rows))

    assert results[0].valid and not results[0].problems
    [problem] = results[1].problems
    assert results[1].valid
    assert (problem.field, problem.code, problem.severity) == (
        "cycleid",
        "blank-delete-key",
        "warning",
    )
    assert "周期ID" in problem.message("zh")


def test_a_file_without_the_cycle_id_a_delete_will_need_warns_on_every_row(
    tmp_path: Path,
) -> None:
    insemination = SCHEMA.get("insemination")
    values = {"string": "X", "datetime": "2023-05-06 08:30:00"}
    base = {f.name: values[f.type] for f in insemination.required_fields} | {"orgid": ORGID}
    rows = [base | {"inseminationid": "A1"}, base | {"inseminationid": "A2"}]
    _, results = run(insemination, write_csv(tmp_path / "a.csv", rows))

    assert [codes(r.problems) for r in results] == [
        [(2, "cycleid", "blank-delete-key")],
        [(3, "cycleid", "blank-delete-key")],
    ]


def test_the_names_of_which_one_is_needed_are_given_by_their_labels(tmp_path: Path) -> None:
    base = {f.name: "X" for f in INFORMATION.required_fields} | {"orgid": ORGID}
    rows = [base | {"informationid": "I1", "fName": "", "wName": ""}]
    _, results = run(INFORMATION, write_csv(tmp_path / "i.csv", rows))
    [problem] = results[0].problems
    assert problem.message("zh").startswith("男方姓名(fName) / 女方姓名(wName) 至少要填一个")
    assert "At least one of 男方姓名(fName) / 女方姓名(wName)" in problem.message("en")


def test_a_bad_resident_id_check_digit_warns_but_the_row_is_sent(tmp_path: Path) -> None:
    base = {f.name: "X" for f in INFORMATION.required_fields} | {"orgid": ORGID, "wName": "王芳"}
    id_field = next(f.name for f in INFORMATION.fields if f.pii == "idcard")
    rows = [
        base | {"informationid": "I1", id_field: "11010519491231002X"},  # valid
        base | {"informationid": "I2", id_field: "110105194912310021"},
    ]  # bad check digit
    _, results = run(INFORMATION, write_csv(tmp_path / "i.csv", rows))
    assert not results[0].problems
    assert results[1].valid
    assert [(p.code, p.severity) for p in results[1].problems] == [("idcard-checksum", "warning")]


def test_a_missing_required_column_is_one_error_not_one_per_row(tmp_path: Path) -> None:
    rows = [{k: v for k, v in required_cycle_headers().items() if k != "周期次数"}] * 3
    rows = [r | {"周期ID": f"C{i}"} for i, r in enumerate(rows)]
    validation, results = run(CYCLE, write_csv(tmp_path / "c.csv", rows))
    assert codes(validation.file_problems) == [(None, "ordernumber", "missing-column")]
    assert all(not r.valid and not r.problems for r in results)
    assert validation.summary.invalid == 3


def test_unknown_columns_give_one_warning_naming_them(tmp_path: Path) -> None:
    rows = [required_cycle_headers() | {"备注": "x", "科室": "y"}]
    validation, results = run(CYCLE, write_csv(tmp_path / "c.csv", rows))
    [warning] = validation.file_problems
    assert warning.code == "unknown-columns" and warning.severity == "warning"
    assert "备注" in warning.message("zh") and "科室" in warning.message("en")
    assert results[0].valid


def test_headers_match_api_name_label_short_label_and_alias(tmp_path: Path) -> None:
    row = {
        "CYCLEID": "C1",
        "informationid": "I1",
        "周期次数": "1",
        "治疗状态": "1",
        "机构ID": ORGID,
    }
    row |= {
        f.label: "1"
        for f in CYCLE.required_fields
        if f.name not in ("cycleid", "informationid", "ordernumber", "tstatus", "orgid")
    }
    validation, results = run(CYCLE, write_csv(tmp_path / "c.csv", [row]))
    assert validation.file_problems == []
    assert results[0].data["tstatus"] == 1 and results[0].data["cycleid"] == "C1"


def test_orgid_comes_from_config_when_the_column_is_absent(tmp_path: Path) -> None:
    row = {k: v for k, v in required_cycle_headers().items() if k != "机构ID"}
    validation, results = run(CYCLE, write_csv(tmp_path / "c.csv", [row]))
    assert validation.file_problems == [] and results[0].data["orgid"] == ORGID
    validation, results = run(CYCLE, write_csv(tmp_path / "c.csv", [row]), orgid=None)
    assert codes(validation.file_problems) == [(None, "orgid", "missing-column")]


def test_blank_optional_cells_are_left_out_unless_blank_clears(tmp_path: Path) -> None:
    row = required_cycle_headers() | {"不孕年龄": "", "启动日期": " ", "操作人员姓名": ""}
    path = write_csv(tmp_path / "c.csv", [row])
    _, [kept] = run(CYCLE, path)
    assert not {"wInfertilityyear", "startDate", "opertionname"} & set(kept.data)
    _, [cleared] = run(CYCLE, path, blank_clears=True)
    assert cleared.data["wInfertilityyear"] == 0
    assert cleared.data["startDate"] == "" and cleared.data["opertionname"] == ""


def test_validate_and_push_paths_find_the_same_problems(tmp_path: Path) -> None:
    # validate checks a column at a time and push row by row; both must agree on every row.
    good = required_cycle_headers()
    rows = []
    for i in range(1200):  # more than one batch
        row = good | {"周期ID": f"C{i}"}
        if i % 97 == 5:
            row |= {"周期次数": "x"}
        if i % 131 == 7:
            row |= {"机构ID": "OTHER"}
        if i % 151 == 9:
            row |= {"周期ID": "C3"}  # a repeat of an earlier key
        if i % 173 == 11:
            row |= {"启动日期": "2023-02-30", "不孕年龄": ""}
        if i % 211 == 13:
            row |= {"扳机时间": "2023-04-31 08:00:00"}
        if i % 223 == 17:
            row |= {"扳机时间": "2023/5/16 8:00"}  # fine once normalised
        if i % 101 == 19:
            row |= {"扳机时间": "2023-05-01 08:00:00"}  # before the cycle's start: a warning
        if i % 107 == 23:
            row |= {"女方年龄": "72", "男方年龄": ""}
        rows.append(row)
    path = write_csv(tmp_path / "c.csv", rows)
    with open_validation(CYCLE, path, orgid=ORGID) as validation:
        by_row = [(p.row, p.field, p.code) for r in validation.rows() for p in r.problems]
        push_summary = validation.summary.to_dict()
    with open_validation(CYCLE, path, orgid=ORGID) as validation:
        by_column = [
            (p.row, p.field, p.code) for r in validation.problem_rows() for p in r.problems
        ]
        validate_summary = validation.summary.to_dict()
    assert by_row == by_column
    assert push_summary == validate_summary
    assert {code for _, _, code in by_row} == {
        "not-integer",
        "orgid-mismatch",
        "duplicate-key",
        "bad-date",
        "bad-datetime",
        "date-order",
        "out-of-range",
    }


@pytest.mark.parametrize(
    ("cycleid", "character"),
    [
        ("CYC\u200b001", "U+200B ZERO WIDTH SPACE"),
        ("CYC\n001", "U+000A LINE FEED"),
        ("ＣＹＣ001", "U+FF23 FULLWIDTH LATIN CAPITAL LETTER C"),
        ("CYC\u00a0001", "U+00A0 NO-BREAK SPACE"),
    ],
)
def test_an_id_that_only_looks_like_another_is_refused(
    tmp_path: Path, cycleid: str, character: str
) -> None:
    # Alone among 150 plain IDs, and in a reference column as well as in the key column, so
    # both the whole-column and the cell-by-cell readings meet it.
    good = required_cycle_headers()
    rows = [good | {"周期ID": f"C{i}", "档案信息ID": f"INF{i}"} for i in range(150)]
    rows[120] |= {"周期ID": cycleid}
    rows[130] |= {"档案信息ID": cycleid.replace("CYC", "INF").replace("ＣＹＣ", "ＩＮＦ")}
    path = write_csv(tmp_path / "c.csv", rows)
    _, results = run(CYCLE, path)
    refused = [(r.row, p.field, p.code) for r in results for p in r.problems]
    assert refused == [
        (122, "cycleid", "id-look-alike-character"),
        (132, "informationid", "id-look-alike-character"),
    ]
    problem = next(p for r in results for p in r.problems)
    assert character in problem.message("en")
    with open_validation(CYCLE, path, orgid=ORGID) as validation:
        by_column = [
            (r.row, p.field, p.code) for r in validation.problem_rows() for p in r.problems
        ]
    assert by_column == refused


def test_an_id_in_chinese_or_with_inner_punctuation_is_accepted(tmp_path: Path) -> None:
    rows = [required_cycle_headers() | {"周期ID": "周期-2024/001", "档案信息ID": "INF 001"}]
    _, results = run(CYCLE, write_csv(tmp_path / "c.csv", rows))
    assert [r.valid for r in results] == [True]
    assert results[0].data["cycleid"] == "周期-2024/001"


def test_the_fields_holding_ids_are_known_from_the_record_types_keys() -> None:
    ids = {f.name for t in SCHEMA for f in t.fields if f.identifier}
    assert {t.primary_key for t in SCHEMA} <= ids
    assert {"cycleid", "informationid", "thawid"} <= ids
    assert "wName" not in ids


# --------------------------------------------------------------------------------------------
# Sanity warnings: never blocking, the row is still sent


def both_paths(record_type: Any, path: Path, **options: Any) -> list[list[tuple[str, str]]]:
    """Each row's (code, severity) from push's path, checked against validate's path."""
    validation, results = run(record_type, path, **options)
    with open_validation(
        record_type, path, orgid=ORGID, options=ValidateOptions(**options)
    ) as validate:
        found = {r.row: r.problems for r in validate.problem_rows()}
    assert found == {r.row: r.problems for r in results if r.problems}
    assert validate.summary.to_dict() == validation.summary.to_dict()
    assert all(r.valid for r in results)
    return [[(p.code, p.severity) for p in r.problems] for r in results]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"周期开始时间": "2023-05-20 08:00:00", "扳机时间": "2023-05-16 20:00:00"}, "cycledate"),
        ({"启动日期": "2023-05-17", "扳机时间": "2023-05-16 20:00:00"}, "startDate"),
        ({"女方年龄": "72"}, "wage"),
        ({"男方年龄": "14.5"}, "mage"),
        ({"操作时间": "2099-01-01 00:00:00"}, "opertiondate"),
        ({"启动日期": "2099-01-01"}, "startDate"),
    ],
)
def test_a_sanity_warning_names_the_field_and_the_row_is_still_valid(
    tmp_path: Path, change: dict[str, str], field: str
) -> None:
    rows = [required_cycle_headers(), required_cycle_headers() | {"周期ID": "CYC002"} | change]
    validation, results = run(CYCLE, write_csv(tmp_path / "c.csv", rows))
    assert not results[0].problems
    [problem] = results[1].problems
    assert (problem.field, problem.severity, results[1].valid) == (field, "warning", True)
    assert validation.summary.valid == 2 and validation.summary.warnings == 1
    assert "仅提示" in problem.message("zh") and "warning only" in problem.message("en")


def test_the_sanity_messages_say_what_was_found(tmp_path: Path) -> None:
    change = {"周期开始时间": "2023-05-20 08:00:00", "扳机时间": "2023-05-16 20:00:00"}
    row = required_cycle_headers() | change | {"女方年龄": "72"}
    _, [result] = run(CYCLE, write_csv(tmp_path / "c.csv", [row]))
    order, age = result.problems
    assert order.code == "date-order" and age.code == "out-of-range"
    assert "2023-05-20 08:00:00" in order.message("en") and "扳机时间" in order.message("zh")
    assert "72" in age.message("en") and "15–60" in age.message("zh")


def test_dates_in_order_or_on_the_same_day_give_no_warning(tmp_path: Path) -> None:
    rows = [
        required_cycle_headers()
        | {"周期ID": f"C{i}", "启动日期": start, "扳机时间": trigger, "周期开始时间": begun}
        for i, (start, trigger, begun) in enumerate(
            [
                ("2023-05-16", "2023-05-16 20:00:00", "2023-05-06 08:00:00"),  # same day
                ("2023-05-06", "", "2023-05-06 08:00:00"),  # no trigger yet
                ("", "2023-05-16 20:00:00", "2023-05-16 20:00:00"),
            ]
        )
    ]
    assert both_paths(CYCLE, write_csv(tmp_path / "c.csv", rows)) == [[], [], []]


def test_newborn_weight_and_length_outside_plausible_ranges(tmp_path: Path) -> None:
    childbirth = SCHEMA.get("childbirth")
    base = {f.name: "1" for f in childbirth.required_fields} | {
        "orgid": ORGID,
        "cycleid": "CYC1",
        "childbirthdate": "2024-02-25 23:37:59",
        "newborn1Weight": "3.2",
        "newborn1Legth": "50",
    }
    rows = [
        base | {"childbirthid": "B1"},
        base | {"childbirthid": "B2", "newborn1Weight": "12"},
        base | {"childbirthid": "B3", "newborn1Legth": "0.5", "newborn2Weight": "0.1"},
    ]
    warnings = both_paths(childbirth, write_csv(tmp_path / "b.csv", rows))
    assert warnings == [
        [],
        [("out-of-range", "warning")],
        [("out-of-range", "warning")] * 2,
    ]


@pytest.mark.parametrize(
    ("weight", "length", "refused"),
    [
        ("3250", "50", [("newborn1Weight", "g", "3.25", "kg")]),
        ("3.25", "500", [("newborn1Legth", "mm", "50", "cm")]),
        ("300", "200", [("newborn1Weight", "g", "0.3", "kg"), ("newborn1Legth", "mm", "20", "cm")]),
        ("6000", "650", [("newborn1Weight", "g", "6", "kg"), ("newborn1Legth", "mm", "65", "cm")]),
        ("3333.5", "49.5", [("newborn1Weight", "g", "3.3335", "kg")]),
    ],
)
def test_a_newborn_s_weight_in_grams_or_length_in_mm_is_refused_naming_the_converted_value(
    tmp_path: Path, weight: str, length: str, refused: list[tuple[str, str, str, str]]
) -> None:
    rows = childbirth_rows("新生儿1体重（kg）", ["3.1", weight])
    rows[1]["新生儿1身长"] = length
    path = write_csv(tmp_path / "b.csv", rows)
    _, results = run(CHILDBIRTH, path)
    assert [r.valid for r in results] == [True, False]
    problems = results[1].problems
    assert [(p.code, p.severity) for p in problems] == [("wrong-unit-value", "error")] * len(
        refused
    )
    assert [
        (p.field, p.params["unit"], p.params["converted"], p.params["wanted"]) for p in problems
    ] == refused
    field, unit, converted, wanted = refused[0]
    value = weight if field == "newborn1Weight" else length
    label = CHILDBIRTH.field(field).label
    assert problems[0].message("zh") == (
        f"“{label}”({field}) 的值 {value} 看来是以 {unit} 为单位（即 {converted} {wanted}）；"
        f"平台要求 {wanted}，请改为 {converted}。"
    )
    assert f"{value} seems to be in {unit} ({converted} {wanted})" in problems[0].message("en")
    with open_validation(CHILDBIRTH, path, orgid=ORGID) as validate:
        assert [(r.row, r.problems) for r in validate.problem_rows()] == [(3, problems)]
        assert validate.summary.invalid == 1


def test_a_spreadsheet_s_weight_in_grams_is_refused_among_many_in_kg(tmp_path: Path) -> None:
    # Number cells, and enough rows for the whole-column checks to meet it among good ones.
    workbook = openpyxl.Workbook()
    rows = childbirth_rows("新生儿1体重（kg）", ["3.1"] * 300)
    workbook.active.append(list(rows[0]))
    for row in rows:
        workbook.active.append(
            [float(v) if v.replace(".", "").isdigit() else v for v in row.values()]
        )
    workbook.active.cell(250, 8).value = 2980.0
    workbook.save(tmp_path / "b.xlsx")
    _, results = run(CHILDBIRTH, tmp_path / "b.xlsx")
    assert [(r.row, codes(r.problems)) for r in results if r.problems] == [
        (250, [(250, "newborn1Weight", "wrong-unit-value")])
    ]
    assert results[248].problems[0].params["converted"] == "2.98"


@pytest.mark.parametrize(
    ("weight", "length"), [("7", "50"), ("6001", "50"), ("3.2", "70"), ("3.2", "651")]
)
def test_a_value_out_of_range_but_in_no_smaller_unit_s_range_is_only_a_warning(
    tmp_path: Path, weight: str, length: str
) -> None:
    rows = childbirth_rows("新生儿1体重", [weight])
    rows[0]["新生儿1身长"] = length
    assert both_paths(CHILDBIRTH, write_csv(tmp_path / "b.csv", rows)) == [
        [("out-of-range", "warning")]
    ]


def test_blank_cells_cleared_with_blank_clears_are_not_out_of_range(tmp_path: Path) -> None:
    rows = [required_cycle_headers() | {"女方年龄": "", "男方年龄": "0", "启动日期": ""}]
    assert both_paths(CYCLE, write_csv(tmp_path / "c.csv", rows), blank_clears=True) == [[]]
    assert both_paths(CYCLE, write_csv(tmp_path / "c.csv", rows)) == [[("out-of-range", "warning")]]


def test_excel_wrappers_and_error_values_in_a_csv_column(tmp_path: Path) -> None:
    rows = [
        required_cycle_headers() | {"周期ID": f"C{i}", "档案信息ID": f'="000{i}"'} for i in range(3)
    ]
    rows[2]["档案信息ID"] = "#N/A"
    _, results = run(CYCLE, write_csv(tmp_path / "c.csv", rows))
    assert [r.data.get("informationid") for r in results[:2]] == ["0000", "0001"]
    assert [p.code for p in results[2].problems] == ["spreadsheet-error-value"]


def test_a_header_with_a_bracketed_remark_still_matches(tmp_path: Path) -> None:
    row = required_cycle_headers() | {"女方年龄(岁)": "33", "周期号（院内）": "Z1"}
    validation, [result] = run(CYCLE, write_csv(tmp_path / "c.csv", [row]))
    assert validation.file_problems == []
    assert (result.data["wage"], result.data["cycleno"]) == (33, "Z1")


def _xlsx_with_cells(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """An xlsx written by hand, each cell's XML as given (formulas with or without their
    result), the way a program that does not calculate writes one. Header cells are text."""
    import zipfile
    from xml.sax.saxutils import escape

    from openpyxl.utils import get_column_letter

    def row_xml(number: int, cells: list[str]) -> str:
        return f'<row r="{number}">' + "".join(cells) + "</row>"

    header_cells = [
        f'<c r="{get_column_letter(i + 1)}1" t="inlineStr"><is><t>{escape(h)}</t></is></c>'
        for i, h in enumerate(header)
    ]
    body = [row_xml(1, header_cells)]
    for number, cells in enumerate(rows, 2):
        body.append(row_xml(number, [c.format(r=number) for c in cells]))
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    relationships = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml'
            '.worksheet+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" Type="{relationships}/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{relationships}"><sheets>'
            '<sheet name="周期" sheetId="1" r:id="rId7"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{package}"><Relationship Id="rId7" Type="{relationships}/'
            'worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{main}"><sheetData>{"".join(body)}</sheetData></worksheet>',
        )
    return path


def _text_cells(row: dict[str, str], number_columns: int) -> list[str]:
    from openpyxl.utils import get_column_letter

    return [
        f'<c r="{get_column_letter(i + 1)}{{r}}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(row.values())
    ][:number_columns]


def test_a_formula_the_file_keeps_no_result_of_is_refused_not_read_blank(
    tmp_path: Path,
) -> None:
    """A file from a program that does not calculate: Excel shows the formula's value, but
    the file holds none. Read blank, 女方年龄 would be sent as "leave unchanged"."""
    from openpyxl.utils import get_column_letter

    base = required_cycle_headers()
    header = [*base, "女方年龄", "启动日期", "病历号"]
    age, start, record = (get_column_letter(len(base) + i) for i in (1, 2, 3))
    rows = []
    for index, (age_xml, start_xml, record_xml) in enumerate(
        [
            # No result at all; openpyxl's empty <v />; a date formula without one.
            (f'<c r="{age}{{r}}"><f>30+2</f></c>', "", ""),
            (f'<c r="{age}{{r}}"><f>30+2</f><v /></c>', "", ""),
            ("", f'<c r="{start}{{r}}" s="0"><f>DATE(2023,5,6)</f></c>', ""),
            # Saved results: a number, and a text formula whose result is "".
            (f'<c r="{age}{{r}}"><f>30+2</f><v>32</v></c>', "", ""),
            ("", "", f'<c r="{record}{{r}}" t="str"><f>IF(1,"","x")</f><v></v></c>'),
        ]
    ):
        cells = _text_cells(base | {"周期ID": f"C{index}"}, len(base))
        rows.append([*cells, age_xml, start_xml, record_xml])
    path = _xlsx_with_cells(tmp_path / "cycles.xlsx", header, rows)

    _, results = run(CYCLE, path)
    assert [codes(r.problems) for r in results] == [
        [(2, "wage", "formula-without-value")],
        [(3, "wage", "formula-without-value")],
        [(4, "startDate", "formula-without-value")],
        [],
        [],
    ]
    assert results[3].data["wage"] == 32
    assert "medrecNo" not in results[4].data  # blank: left as the platform has it
    message = results[0].problems[0].message("en")
    assert "formula" in message and "save it" in message
    # validate's path finds the same.
    with open_validation(CYCLE, path, orgid=ORGID, options=ValidateOptions()) as validate:
        assert [p.row for r in validate.problem_rows() for p in r.problems] == [2, 3, 4]


def test_rows_of_formulas_without_results_below_the_last_value_are_refused_not_lost(
    tmp_path: Path,
) -> None:
    """calamine's range ends at the last row holding a value: the formula-only rows under it
    were left out, and the file said "all valid"."""
    from openpyxl.utils import get_column_letter

    base = required_cycle_headers()
    formulas = [
        f'<c r="{get_column_letter(i + 1)}{{r}}"><f>Data!A{{r}}</f></c>' for i in range(len(base))
    ]
    path = _xlsx_with_cells(
        tmp_path / "c.xlsx", list(base), [_text_cells(base, len(base)), formulas, formulas]
    )

    _, results = run(CYCLE, path)

    assert [(r.row, r.valid) for r in results] == [(2, True), (3, False), (4, False)]
    assert {p.code for p in results[1].problems} == {"formula-without-value"}


def test_a_sheet_member_named_in_another_case_is_scanned(tmp_path: Path) -> None:
    """Part names are case-insensitive: the relationship says sheet1.xml, the member is
    Sheet1.xml. calamine reads it; the scan for formulas found nothing."""
    import zipfile

    from openpyxl.utils import get_column_letter

    base = required_cycle_headers()
    cells = _text_cells(base, len(base))
    age = f'<c r="{get_column_letter(len(base) + 1)}{{r}}"><f>30+2</f></c>'
    written = _xlsx_with_cells(tmp_path / "w.xlsx", [*base, "女方年龄"], [[*cells, age]])
    path = tmp_path / "case.xlsx"
    with zipfile.ZipFile(written) as source, zipfile.ZipFile(path, "w") as target:
        for member in source.namelist():
            name = member.replace("sheet1.xml", "Sheet1.xml")
            target.writestr(name, source.read(member))

    _, [result] = run(CYCLE, path)

    assert codes(result.problems) == [(2, "wage", "formula-without-value")]


def test_the_header_repeated_mid_file_is_not_sent_as_a_record(tmp_path: Path) -> None:
    row = required_cycle_headers()
    first = write_csv(tmp_path / "a.csv", [row])
    text = first.read_text(encoding="utf-8")
    path = tmp_path / "joined.csv"
    path.write_text(text + text.replace("CYC001", "CYC002"), encoding="utf-8")

    validation, results = run(CYCLE, path)

    assert [r.data["cycleid"] for r in results] == ["CYC001", "CYC002"]
    assert all(r.valid for r in results)
    assert "header-rows-skipped" in {n.code for n in validation.summary.notices}


def test_formulas_without_results_in_cells_that_name_no_place_are_mentioned(
    tmp_path: Path,
) -> None:
    base = required_cycle_headers()
    cells = _text_cells(base, len(base))
    # The r attribute is optional: such a cell cannot be placed, so it can only be mentioned.
    path = _xlsx_with_cells(
        tmp_path / "c.xlsx", [*base, "女方年龄"], [[*cells, "<c><f>1+1</f></c>"]]
    )
    validation, _ = run(CYCLE, path)
    [notice] = [n for n in validation.summary.notices if n.code == "formulas-without-values"]
    assert notice.params == {"count": 1}
    assert "Excel" in notice.message("en")


def test_a_row_whose_columns_shifted_is_refused_not_sent(tmp_path: Path) -> None:
    """An unquoted comma in an address: the woman's name lands in 女方证件号码, her ID number
    in 男方姓名. Before, the row was sent like that."""
    path = tmp_path / "info.csv"
    path.write_text(
        "档案信息ID,病历号,女方现住址,女方姓名,女方证件号码,男方姓名\n"
        "INF001,M1,文三路1号,王芳,330101199001011238,李强\n"
        "INF002,M2,杭州市西湖区,文三路2号,陈静,330101199203034569,张伟\n"
        "INF003,M3,拱墅区,1号楼,周敏,33010119890404567X,\n",  # no man: empty at the end
        encoding="utf-8",
    )
    _, results = run(INFORMATION, path)
    assert [r.valid for r in results] == [True, False, False]
    assert results[1].problems[0].code == "row-columns-shifted"
    assert results[2].problems[0].code == "row-columns-shifted"
    assert "comma" in results[1].problems[0].message("en")
    with open_validation(INFORMATION, path, orgid=ORGID, options=ValidateOptions()) as validate:
        assert {r.row for r in validate.problem_rows()} == {3, 4}


def test_an_id_number_without_a_digit_is_refused(tmp_path: Path) -> None:
    rows = [
        {"档案信息ID": "INF1", "病历号": "M1", "女方姓名": "王芳", "女方证件号码": "陈静"},
        {
            "档案信息ID": "INF2",
            "病历号": "M2",
            "女方姓名": "王芳",
            "女方证件号码": "南字第1234567号",
        },
    ]
    rows.append(
        {"档案信息ID": "INF3", "病历号": "M3", "女方姓名": "王芳", "女方证件号码": "PASSPORT"}
    )
    _, results = run(INFORMATION, write_csv(tmp_path / "i.csv", rows))
    assert codes(results[0].problems) == [(2, "wIdcode", "id-number-without-digits")]
    assert results[1].valid and results[1].data["wIdcode"] == "南字第1234567号"
    assert codes(results[2].problems) == [(4, "wIdcode", "id-number-without-digits")]
    # A column of letters and digits only takes validate's whole-column path: the same.
    clean = [
        {"档案信息ID": f"I{n}", "病历号": "M", "女方姓名": "王芳", "女方证件号码": "E12345678"}
        for n in range(5)
    ]
    clean[3]["女方证件号码"] = "PASSPORT"
    path = write_csv(tmp_path / "j.csv", clean)
    with open_validation(INFORMATION, path, orgid=ORGID, options=ValidateOptions()) as validate:
        found = [p.code for r in validate.problem_rows() for p in r.problems]
    assert found == ["id-number-without-digits"]


def test_what_exporters_wrap_around_a_value_is_taken_off(tmp_path: Path) -> None:
    """A leading ' or ` makes Excel keep a value as text; NULL is a database tool's empty
    cell. Before, 'INF002 and NULL were sent as the record's ID and name."""
    rows = [
        {
            "档案信息ID": "'INF1",
            "病历号": "'007",
            "女方姓名": "王芳",
            "女方证件号码": "'330101199001011238",
        },
        {
            "档案信息ID": "`INF2",
            "病历号": "M2",
            "女方姓名": "王芳",
            "男方姓名": "NULL",
            "操作人员姓名": "null",
        },
        {"档案信息ID": "NULL", "病历号": "M3", "女方姓名": "王芳"},
        {"档案信息ID": "INF4", "病历号": "M4", "女方姓名": "Null", "男方姓名": "O'Neil"},
    ]
    _, results = run(INFORMATION, write_csv(tmp_path / "i.csv", rows))
    assert results[0].data["informationid"] == "INF1"
    assert results[0].data["wIdcode"] == "330101199001011238"
    assert results[0].data["medicalid"] == "007"
    assert results[1].data["informationid"] == "INF2"
    assert "fName" not in results[1].data and "opertionname" not in results[1].data
    assert codes(results[2].problems) == [(4, "informationid", "required-missing")]
    assert codes(results[3].problems) == []
    assert results[3].data["fName"] == "O'Neil" and "wName" not in results[3].data


def test_a_leading_mark_stays_in_names_and_addresses(tmp_path: Path) -> None:
    rows = [
        {"档案信息ID": "INF1", "病历号": "M1", "女方姓名": "'t Hooft", "女方现住址": "'杭州'路1号"},
        {"档案信息ID": "INF2", "病历号": "M2", "女方姓名": "王芳", "男方姓名": "'"},
    ]
    _, results = run(INFORMATION, write_csv(tmp_path / "i.csv", rows))
    assert results[0].data["wName"] == "'t Hooft"
    assert results[0].data["wCurrentaddress"] == "'杭州'路1号"
    assert results[1].data["fName"] == "'"


def test_grades_and_old_id_numbers_are_not_taken_for_codes_that_lost_zeros(
    tmp_path: Path,
) -> None:
    import openpyxl

    base = required_cycle_headers()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([*base, "病历号"])
    # A column of grades: 4AB, 3BB, 5AA are text, a grade 2 a number. Nothing lost.
    for index, grade in enumerate(["4AB", "3BB", "5AA", 2, "4BB"]):
        sheet.append([*(base | {"周期ID": f"C{index}"}).values(), grade])
    workbook.save(tmp_path / "grades.xlsx")
    _, results = run(CYCLE, tmp_path / "grades.xlsx")
    assert [codes(r.problems) for r in results] == [[]] * 5
    assert results[3].data["medrecNo"] == "2"

    information = tmp_path / "info.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["档案信息ID", "病历号", "女方姓名", "女方证件号码"])
    for index, number in enumerate(
        ["330101199001011238", "330101199203034569", "33010119890404567X", 330101890404567]
    ):
        sheet.append([f"INF{index}", f"M{index}", "王芳", number])
    workbook.save(information)
    _, results = run(INFORMATION, information)
    assert [codes(r.problems) for r in results] == [[]] * 4
    assert results[3].data["wIdcode"] == "330101890404567"


def test_rows_of_only_spaces_are_blank_rows(tmp_path: Path) -> None:
    import openpyxl

    row = required_cycle_headers()
    csv_path = tmp_path / "c.csv"
    csv_path.write_text(
        ",".join(row) + "\n" + ",".join(row.values()) + "\n \u00a0, ,\u3000\n\t\n",
        encoding="utf-8",
    )
    _, results = run(CYCLE, csv_path)
    assert [r.row for r in results] == [2]

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(row))
    sheet.append(list(row.values()))
    sheet.append([" ", "\u00a0", None, "\u3000"])
    workbook.save(tmp_path / "c.xlsx")
    _, results = run(CYCLE, tmp_path / "c.xlsx")
    assert [r.row for r in results] == [2]


def test_a_no_break_space_inside_an_id_in_a_web_page_is_refused(tmp_path: Path) -> None:
    """Excel keeps &nbsp; as a character of its own; read as a plain space, CYC 002 would be
    sent as a new cycle beside CYC002, where a CSV or xlsx with it is refused."""
    row = required_cycle_headers()
    cells = "".join(f"<th>{h}</th>" for h in row)
    page = f"<html><body><table><tr>{cells}</tr>"
    for key in ("CYC&nbsp;002", "&nbsp;CYC003&nbsp;"):
        values = row | {"周期ID": key}
        page += "<tr>" + "".join(f"<td>{v}</td>" for v in values.values()) + "</tr>"
    path = tmp_path / "cycles.xls"
    path.write_text(page + "</table></body></html>", encoding="utf-8")
    _, results = run(CYCLE, path)
    assert codes(results[0].problems) == [(2, "cycleid", "id-look-alike-character")]
    assert results[1].valid and results[1].primary_key == "CYC003"


def test_an_error_value_in_an_xlsx_is_refused_not_read_blank(tmp_path: Path) -> None:
    """calamine hands an error cell over as "": read blank, an optional field was left out,
    and with --blank-clears cleared on the platform."""
    from openpyxl.utils import get_column_letter

    base = required_cycle_headers()
    header = [*base, "女方年龄"]
    age = get_column_letter(len(base) + 1)
    rows = [
        [
            *_text_cells(base | {"周期ID": "C0"}, len(base)),
            f'<c r="{age}{{r}}" t="e"><f>1/0</f><v>#DIV/0!</v></c>',
        ],
        [
            *_text_cells(base | {"周期ID": "C1"}, len(base)),
            f'<c r="{age}{{r}}" t="e"><v>#N/A</v></c>',
        ],
        [*_text_cells(base | {"周期ID": "C2"}, len(base)), f'<c r="{age}{{r}}"><v>31</v></c>'],
    ]
    path = _xlsx_with_cells(tmp_path / "cycles.xlsx", header, rows)
    _, results = run(CYCLE, path, blank_clears=True)
    assert [codes(r.problems) for r in results] == [
        [(2, "wage", "spreadsheet-error-value")],
        [(3, "wage", "spreadsheet-error-value")],
        [],
    ]
    assert [r.problems[0].value for r in results[:2]] == ["#DIV/0!", "#N/A"]
    assert results[2].data["wage"] == 31


# Written by LibreOffice Calc from an xlsx whose rows 2–6 hold =NA(), =1/0, =SQRT(-1),
# a failed VLOOKUP and an unknown function, in optional fields, and whose row 9 is hidden.
LIBREOFFICE_ERRORS = Path(__file__).parent / "files" / "cycles_error_values"
ERROR_CELLS = [
    (2, "acyesisname", "#N/A"),
    (3, "mage", "#DIV/0!"),
    (4, "opertiondate", {"xls": "#VALUE!", "ods": "Err:502"}),
    (5, "cancelcause", "#N/A"),
    (6, "medrecNo", "#NAME?"),
]


@pytest.mark.parametrize("suffix", ["xls", "ods"])
def test_an_error_value_in_a_legacy_xls_or_an_ods_is_refused_not_read_blank(
    suffix: str,
) -> None:
    """python-calamine reads an error cell of these formats as empty too: the optional field
    was left out, and with --blank-clears cleared, while the clerk saw #N/A."""
    _, results = run(CYCLE, LIBREOFFICE_ERRORS.with_suffix(f".{suffix}"), blank_clears=True)
    refused = [(p.row, p.field, p.value) for r in results for p in r.problems]
    expected = [
        (row, field, value if isinstance(value, str) else value[suffix])
        for row, field, value in ERROR_CELLS
    ]
    assert refused == expected
    assert {p.code for r in results for p in r.problems} == {"spreadsheet-error-value"}
    assert [r.row for r in results if r.valid] == [7, 8, 9, 10, 11]


def test_hidden_rows_of_an_ods_are_named_in_a_notice() -> None:
    validation, _ = run(CYCLE, LIBREOFFICE_ERRORS.with_suffix(".ods"))
    [notice] = [n for n in validation.summary.notices if n.code == "hidden-rows-read"]
    assert (notice.row, notice.params) == (9, {"count": 1, "rows": "9"})


def test_xls_error_cells_that_cannot_be_placed_are_mentioned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where xlrd cannot read a file calamine reads, the error values it was to place are
    at least said to be there."""
    import xlrd

    def fails(*args: object, **kwargs: object) -> None:
        raise xlrd.XLRDError("Unsupported format, or corrupt file")

    monkeypatch.setattr(xlrd, "open_workbook", fails)
    validation, _ = run(CYCLE, LIBREOFFICE_ERRORS.with_suffix(".xls"))
    [notice] = [n for n in validation.summary.notices if n.code == "error-values-unplaced"]
    assert notice.params == {"count": 5}


# Written by LibreOffice Calc: 档案信息ID formatted 000000, 女方年龄 000, 病历号 "ZJ"0000 and
# 操作人员代码 00000000, over numbers.
LIBREOFFICE_ZEROS = Path(__file__).parent / "files" / "cycles_leading_zeros"
SHOWN_WITH_ZEROS = [
    {"informationid": "000101", "wage": 31, "medrecNo": "ZJ0101", "opertioncode": "00009521"},
    {"informationid": "000102", "wage": 32, "medrecNo": "ZJ0102", "opertioncode": "00009522"},
    {"informationid": "000103", "wage": 33, "medrecNo": "ZJ0103", "opertioncode": "00009523"},
]


def _shown(results: list[Any], fields: list[str]) -> list[dict[str, Any]]:
    assert [codes(r.problems) for r in results] == [[]] * len(results)
    return [{name: r.data[name] for name in fields} for r in results]


@pytest.mark.parametrize("suffix", ["xls", "ods"])
def test_numbers_a_format_shows_with_leading_zeros_are_read_as_shown(suffix: str) -> None:
    """A clerk keeps a code's zeros by formatting its column 000000: the sheet shows 000101,
    the file holds 101, which was sent and named another patient's file."""
    _, results = run(CYCLE, LIBREOFFICE_ZEROS.with_suffix(f".{suffix}"))
    assert _shown(results, list(SHOWN_WITH_ZEROS[0])) == SHOWN_WITH_ZEROS
    # A date beside them is not touched.
    assert [r.data["cycledate"][:10] for r in results] == [f"2023-05-0{day}" for day in (1, 2, 3)]


def test_an_ods_with_its_number_styles_in_the_sheet_and_a_hidden_row_keeps_its_zeros() -> None:
    """Another writer may keep the number styles among content.xml's automatic styles: the
    pre-check stopped at the hidden row's mark, in the same stretch of the file, before it
    saw them, and 000101 was sent as 101."""
    path = LIBREOFFICE_ZEROS.parent / "cycles_leading_zeros_styles_in_content.ods"
    validation, results = run(CYCLE, path)
    assert _shown(results, list(SHOWN_WITH_ZEROS[0])) == SHOWN_WITH_ZEROS
    assert [n.params for n in validation.summary.notices if n.code == "hidden-rows-read"] == [
        {"count": 1, "rows": "3"}
    ]


def test_hidden_rows_alone_of_an_ods_are_named_without_walking_its_cells() -> None:
    validation, results = run(CYCLE, LIBREOFFICE_ZEROS.parent / "cycles_hidden_row.ods")
    assert [r.row for r in results] == [2, 3, 4, 5, 6, 7]
    [notice] = [n for n in validation.summary.notices if n.code == "hidden-rows-read"]
    assert (notice.row, notice.params) == (4, {"count": 1, "rows": "4"})


@pytest.mark.parametrize("name", ["cycles_hidden_row.xls", "cycles_error_values.xls"])
def test_hidden_rows_of_a_legacy_xls_are_named_in_a_notice(name: str) -> None:
    validation, results = run(CYCLE, LIBREOFFICE_ZEROS.parent / name)
    hidden = 4 if name == "cycles_hidden_row.xls" else 9
    assert hidden in [r.row for r in results]
    [notice] = [n for n in validation.summary.notices if n.code == "hidden-rows-read"]
    assert (notice.row, notice.params) == (hidden, {"count": 1, "rows": str(hidden)})


def test_numbers_an_xlsx_format_shows_with_leading_zeros_are_read_as_shown(
    tmp_path: Path,
) -> None:
    row = required_cycle_headers()
    header = [*row, "女方年龄", "病历号", "操作人员代码", "男方年龄"]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    formats = {"档案信息ID": "000000", "女方年龄": "000", "病历号": '[$-804]"ZJ"0000'}
    formats |= {"操作人员代码": "0.00", "男方年龄": "#,##0"}  # not padding: left as they are
    for index in range(3):
        values = row | {"周期ID": f"C{index}", "档案信息ID": 101 + index, "女方年龄": 31}
        sheet.append(list((values | {"病历号": 7, "操作人员代码": 9521, "男方年龄": 40}).values()))
        for column, name in enumerate(header, 1):
            if name in formats:
                sheet.cell(index + 2, column).number_format = formats[name]
    sheet.cell(4, header.index("档案信息ID") + 1).value = 1234567  # wider than the format
    workbook.save(tmp_path / "c.xlsx")
    _, results = run(CYCLE, tmp_path / "c.xlsx")
    assert _shown(results, ["informationid", "wage", "medrecNo", "opertioncode", "mage"]) == [
        {
            "informationid": "000101",
            "wage": 31,
            "medrecNo": "ZJ0007",
            "opertioncode": "9521",
            "mage": 40,
        },
        {
            "informationid": "000102",
            "wage": 31,
            "medrecNo": "ZJ0007",
            "opertioncode": "9521",
            "mage": 40,
        },
        {
            "informationid": "1234567",
            "wage": 31,
            "medrecNo": "ZJ0007",
            "opertioncode": "9521",
            "mage": 40,
        },
    ]


def test_cells_merged_over_rows_of_an_ods_fill_the_rows_they_cover() -> None:
    """python-calamine gives no merged ranges for an ods: a patient's ID merged over her
    cycles' rows was "required but empty" below its first row, and an age sent blank."""
    validation, results = run(CYCLE, Path(__file__).parent / "files" / "cycles_merged.ods")
    assert _shown(results, ["informationid", "wage"]) == [
        {"informationid": "INF001", "wage": 31},
        {"informationid": "INF001", "wage": 32},
        {"informationid": "INF001", "wage": 33},
        {"informationid": "INF004", "wage": 34},
        {"informationid": "INF005", "wage": 34},
        {"informationid": "INF006", "wage": 34},
    ]
    [notice] = [n for n in validation.summary.notices if n.code == "merged-cells-filled"]
    assert (notice.row, notice.params) == (4, {"count": 2})


def test_an_xls_formula_s_empty_result_in_a_date_column_is_blank_not_midnight() -> None:
    """=IF(D5="";"";D5+12) copied down into empty rows: LibreOffice saves the empty result
    of a date-formatted formula as 0, which calamine reads as 00:00:00; the sheet shows the
    rows blank, and they were refused as rows missing every required field."""
    _, results = run(CYCLE, Path(__file__).parent / "files" / "cycles_empty_formulas.xls")
    assert [(r.row, r.valid) for r in results] == [(2, True), (3, True), (4, True)]
    assert [r.data["triggerdate"] for r in results] == [
        "2023-05-13 00:00:00",
        "2023-05-14 00:00:00",
        "2023-05-15 00:00:00",
    ]


def test_an_xls_formula_s_text_result_saved_as_0_is_refused_not_sent_as_0() -> None:
    """周期ID ="CYC"&TEXT(ROW(),"00000") copied down (a shared formula) and 拟行助孕方案
    ="IVF"&"-ET": LibreOffice keeps a text result in an xls as the number 0, and every row was
    sent with the cycle ID "0" (the later ones refused as duplicates of the first) while the
    sheet shows CYC00002…. 周期次数 =ROW()-ROW() is a number: its 0 is the value."""
    _, results = run(CYCLE, Path(__file__).parent / "files" / "cycles_text_formulas.xls")
    assert [codes(r.problems) for r in results] == [
        [(2, "cycleid", "formula-without-value"), (2, "ppap", "formula-without-value")],
        [(3, "cycleid", "formula-without-value")],
        [(4, "cycleid", "formula-without-value")],
    ]
    assert [r.data.get("ordernumber") for r in results] == [0, 0, 0]
    assert "0" not in [r.data.get("ppap") for r in results]


def test_an_ods_true_or_false_is_read_as_the_boolean_the_sheet_shows_not_as_1_or_0() -> None:
    """是否供精 TRUE / FALSE, an xlsx's booleans saved as ods by LibreOffice (=TRUE(), =FALSE(),
    kept as the numbers 1 and 0): FALSE was refused as the code 0, which the sheet does not
    show, where the same cells of the xlsx are sent as 1 (是) and 2 (否)."""
    _, results = run(
        SCHEMA.get("transplant"), Path(__file__).parent / "files" / "transplant_booleans.ods"
    )
    assert [(r.row, r.valid, r.data.get("spermdonation")) for r in results] == [
        (2, True, 1),
        (3, True, 2),
    ]


def test_an_ods_date_time_shown_as_a_time_of_day_is_read_as_the_moment_it_holds() -> None:
    """操作时间 2023-07-01 07:05:09 in a cell formatted HH:MM:SS: an ods keeps it as a time
    (PT1082599H05M08.999999519S), which was refused as no date-time, where the same cell of
    the xlsx is sent. A time of day alone (row 3) holds no date: still refused."""
    _, results = run(CYCLE, Path(__file__).parent / "files" / "cycles_time_format.ods")
    assert [(r.row, r.data.get("opertiondate")) for r in results] == [
        (2, "2023-07-01 07:05:09"),
        (3, None),
    ]
    assert codes(results[1].problems) == [(3, "opertiondate", "bad-datetime")]


def test_a_header_over_two_rows_under_a_merged_label_names_its_columns(tmp_path: Path) -> None:
    """年龄 merged over two columns, 女方 and 男方 below it, the other labels merged down over
    both rows: read as one row, the ages were never sent (no column name) and the row of
    labels was refused as a record missing every field."""
    base = required_cycle_headers()
    width = len(base)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([*base, "年龄", None])
    sheet.append([None] * width + ["女方", "男方"])
    sheet.append([*base.values(), 31, 40])
    for column in range(1, width + 1):
        sheet.merge_cells(start_row=1, start_column=column, end_row=2, end_column=column)
    sheet.merge_cells(start_row=1, start_column=width + 1, end_row=1, end_column=width + 2)
    workbook.save(tmp_path / "two_rows.xlsx")

    validation, results = run(CYCLE, tmp_path / "two_rows.xlsx")

    assert [(r.row, r.valid) for r in results] == [(3, True)]
    assert (results[0].data["wage"], results[0].data["mage"]) == (31, 40)
    [notice] = [n for n in validation.summary.notices if n.code == "header-two-rows"]
    assert notice.params == {"next": 2, "columns": ("女方年龄", "男方年龄")}


def cycle_csv_lines(rows: int) -> list[str]:
    base = required_cycle_headers() | {"不孕原因": "男方"}
    lines = [",".join(base)]
    for index in range(rows):
        lines.append(",".join((base | {"周期ID": f"CYC{index:05d}"}).values()))
    return lines


def test_a_value_opening_a_quote_never_closed_refuses_its_row_and_names_the_lines_it_took(
    tmp_path: Path,
) -> None:
    """An exporter that quotes nothing writes 不孕原因 "左侧输卵管积水 as it is: the quote opens a
    cell that runs to the end of the file. The 15 rows below were read as that cell's text:
    the run said every row was valid, sent 5 of 20, and stored the other 15 patients' rows
    inside one field."""
    lines = cycle_csv_lines(20)
    lines[5] = lines[5].replace(",男方", ',"左侧输卵管积水')
    path = tmp_path / "c.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    _, results = run(CYCLE, path)

    assert [(r.row, r.valid) for r in results] == [
        (2, True),
        (3, True),
        (4, True),
        (5, True),
        (6, False),
    ]
    [problem] = results[-1].problems
    assert problem.code == "csv-quote-unclosed"
    named = {name: problem.params[name] for name in ("column", "first", "last", "lines")}
    assert named == {"column": "不孕原因", "first": 7, "last": 21, "lines": 15}
    assert "第 7–21 行" in problem.message("zh")


def test_a_quote_left_open_until_a_later_quote_refuses_the_row_it_ends_in(tmp_path: Path) -> None:
    """The quote opened in row 4 closes at the next quote, in line 8: lines 5-8 are row 4's."""
    lines = cycle_csv_lines(8)
    lines[3] = lines[3].replace(",男方", ',"男方')
    lines[7] = lines[7].replace(",男方", ',"男方"')
    path = tmp_path / "c.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    _, results = run(CYCLE, path)

    assert [(r.row, r.valid) for r in results] == [(2, True), (3, True), (4, False), (5, True)]
    assert [p.code for p in results[2].problems] == ["csv-quote-unclosed"]
    assert results[2].problems[0].params["lines"] == 4


def test_a_cell_written_over_several_lines_is_no_quote_left_open(tmp_path: Path) -> None:
    lines = cycle_csv_lines(3)
    lines[2] = lines[2].replace(",男方", ',"男方,\n少弱精，\n左侧输卵管积水,右侧通畅,47,XY,+21"')
    path = tmp_path / "c.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    _, results = run(CYCLE, path)

    assert [(r.row, r.valid) for r in results] == [(2, True), (3, True), (4, True)]
    assert results[1].data["acyesisname"] == "男方,\n少弱精，\n左侧输卵管积水,右侧通畅,47,XY,+21"


def two_row_header_rows() -> list[list[Any]]:
    base = required_cycle_headers()
    return [
        [*base, "年龄", ""],
        [""] * len(base) + ["女方", "男方"],
        [*base.values(), "31", "40"],
    ]


def test_a_header_over_two_rows_whose_merge_was_lost_names_its_columns(tmp_path: Path) -> None:
    """The same header saved as CSV, or unmerged by hand: 年龄 stands in its first column
    only, the next header cell blank."""
    rows = two_row_header_rows()
    path = tmp_path / "two_rows.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    unmerged = openpyxl.Workbook()
    for row in rows:
        unmerged.active.append([cell if cell != "" else None for cell in row])
    unmerged.save(tmp_path / "two_rows.xlsx")

    for source in (path, tmp_path / "two_rows.xlsx"):
        validation, results = run(CYCLE, source)

        assert [(r.row, r.valid) for r in results] == [(3, True)], source
        assert (results[0].data["wage"], results[0].data["mage"]) == (31, 40)
        [notice] = [n for n in validation.summary.notices if n.code == "header-two-rows"]
        assert notice.params == {"next": 2, "columns": ("女方年龄", "男方年龄")}


def test_a_header_over_two_rows_of_an_ods_names_its_columns() -> None:
    """LibreOffice keeps the merge in the ods, but calamine tells no merges of an ods: 年龄
    is read in its first column, the covered one blank."""
    validation, results = run(CYCLE, Path(__file__).parent / "files" / "cycles_two_row_header.ods")
    assert [(r.row, r.valid) for r in results] == [(3, True), (4, True)]
    assert [(r.data["wage"], r.data["mage"]) for r in results] == [(31, 40), (29, 33)]
    [notice] = [n for n in validation.summary.notices if n.code == "header-two-rows"]
    assert notice.params == {"next": 2, "columns": ("女方年龄", "男方年龄")}


def test_a_row_under_a_header_with_blank_cells_is_data_unless_it_names_columns(
    tmp_path: Path,
) -> None:
    """Blank header cells (a trailing comma) over a first row holding values only there: the
    row names no field joined to the label before it, so it is a record, refused as one."""
    base = required_cycle_headers()
    path = tmp_path / "c.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [[*base, "备注", ""], [""] * len(base) + ["女方", "男方"], [*base.values(), "", ""]]
        )

    validation, results = run(CYCLE, path)

    assert [(r.row, r.valid) for r in results] == [(2, False), (3, True)]
    assert not [n for n in validation.summary.notices if n.code == "header-two-rows"]


def test_hidden_rows_are_read_and_named_in_a_notice(tmp_path: Path) -> None:
    import openpyxl

    row = required_cycle_headers()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(row))
    for index in range(4):
        sheet.append(list((row | {"周期ID": f"C{index}"}).values()))
    sheet.row_dimensions[3].hidden = True  # as a filter leaves it
    sheet.row_dimensions[5].hidden = True
    workbook.save(tmp_path / "c.xlsx")
    validation, results = run(CYCLE, tmp_path / "c.xlsx")
    assert [r.row for r in results if r.valid] == [2, 3, 4, 5]
    [notice] = [n for n in validation.summary.notices if n.code == "hidden-rows-read"]
    assert (notice.row, notice.params) == (3, {"count": 2, "rows": "3, 5"})
    assert "hidden" in notice.message("en")


# --------------------------------------------------------------------------------------------
# Fields whose codes the platform's text fixes: 临床妊娠 1是2否


def result_rows(values: list[str], header: str = "临床妊娠") -> list[dict[str, str]]:
    return [
        {"治疗结果ID": f"RES{i:05d}", "周期ID": f"CYC{i:05d}", header: value}
        for i, value in enumerate(values)
    ]


def test_a_yes_no_field_takes_its_codes_and_their_labels(tmp_path: Path) -> None:
    values = ["1", "2", "是", "否", " 否 ", "1-是", "2：否", "", "１"]
    path = write_csv(tmp_path / "r.csv", result_rows(values))
    validation, results = run(RESULT, path)
    assert validation.file_problems == []
    assert all(r.valid and not r.problems for r in results)
    assert [r.data.get("clinicalP") for r in results] == [1, 2, 1, 2, 2, 1, 2, None, 1]


@pytest.mark.parametrize("value", ["0", "3", "9", "-1", "Y", "N", "有"])
def test_a_yes_no_field_refuses_any_other_value(tmp_path: Path, value: str) -> None:
    # 0 for "no" is what many hospital systems write; the platform's code for no is 2.
    path = write_csv(tmp_path / "r.csv", result_rows(["1", value, "2"]))
    _, results = run(RESULT, path)
    assert [r.valid for r in results] == [True, False, True]
    [problem] = results[1].problems
    assert (problem.code, problem.field, problem.value) == ("unknown-code", "clinicalP", value)
    assert "1-是, 2-否" in problem.message("zh")
    assert "clinicalP" not in results[1].data
    with open_validation(RESULT, path, orgid=ORGID) as validate:
        assert [r.row for r in validate.problem_rows()] == [3]


def test_yes_no_columns_of_a_long_file_are_checked_a_column_at_a_time(tmp_path: Path) -> None:
    # Enough rows for whole batches, read through the column's cache of distinct values.
    values = ["1", "2", "是", "否", ""] * 400
    values[1234] = "0"
    path = write_csv(tmp_path / "r.csv", result_rows(values, "是否减胎 1是2否"))
    _, results = run(RESULT, path)
    refused = [r.row for r in results if not r.valid]
    assert refused == [1236]
    expected = {"1": 1, "是": 1, "2": 2, "否": 2}
    assert [r.data.get("pregnancyred") for r in results if r.valid] == [
        expected.get(v) for i, v in enumerate(values) if i != 1234
    ]
    with open_validation(RESULT, path, orgid=ORGID) as validate:
        assert [r.row for r in validate.problem_rows()] == [1236]
        assert validate.summary.invalid == 1


def test_true_and_false_in_a_yes_no_field_are_its_yes_and_no(tmp_path: Path) -> None:
    # JSON booleans, and the words as a CSV or a program's text writes them, also in a column
    # long enough for its cache of distinct values.
    values: list[Any] = [True, False, "true", "FALSE", " True ", None] * 50
    biopsy = {"周期ID": "C1", "活检时间": "2024-05-14 10:00:00", "活检方法": 1, "活检时期": 2}
    biopsy |= {"活检类别": 1}
    lines = [
        json.dumps(biopsy | {"活检信息ID": f"B{i}", "检测到DNA": value})
        for i, value in enumerate(values)
    ]
    path = tmp_path / "biopsy.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, results = run(SCHEMA.get("biopsy"), path)
    assert all(r.valid and not r.problems for r in results)
    assert [r.data.get("isdna") for r in results[:6]] == [1, 2, 1, 2, 1, None]
    csv_rows = result_rows(["true", "False", "TRUE", "是", "2"], "是否HGG阳性 1是2否")
    _, results = run(RESULT, write_csv(tmp_path / "r.csv", csv_rows))
    assert [r.data.get("hcgpositive") for r in results] == [1, 2, 1, 1, 2]


def test_a_boolean_in_a_field_whose_codes_are_not_yes_and_no_is_refused(tmp_path: Path) -> None:
    rows = [{"分娩信息ID": "B1", "分娩胎数": True}, {"分娩信息ID": "B2", "分娩胎数": "false"}]
    path = tmp_path / "births.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    _, results = run(CHILDBIRTH, path)
    refused = [p for r in results for p in r.problems if p.field == "childbirthnum"]
    assert [(p.code, p.value) for p in refused] == [
        ("unknown-code", True),
        ("unknown-code", "false"),
    ]
    assert "“true”不在字典中。可选：0-其他, 1-单胎, 2-双胎, 3-三胎" in refused[0].message("zh")


def test_a_spreadsheet_yes_no_column_is_checked_too(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(["实验结果ID", "周期ID", "是否全胚冷冻"])
    for i, value in enumerate([1, 2.0, 0, "否", None]):
        workbook.active.append([f"ER{i}", f"CYC{i}", value])
    path = tmp_path / "e.xlsx"
    workbook.save(path)
    _, results = run(SCHEMA.get("eresult"), path)
    assert [r.data.get("allfreeze") for r in results] == [1, 2, None, 2, None]
    assert [(r.row, p.code) for r in results for p in r.problems] == [(4, "unknown-code")]


# --------------------------------------------------------------------------------------------
# A unit in a header's brackets: 新生儿1体重(g) is not the platform's 新生儿1体重（kg）


def childbirth_rows(weight_header: str, weights: list[str], **more: str) -> list[dict[str, str]]:
    return [
        {
            "分娩信息ID": f"CHB{i}",
            "周期ID": f"CYC{i}",
            "分娩时间": "2023-05-06 08:00:00",
            "分娩方式": "1",
            "新生儿1是否死亡": "2",
            "新生儿1身长": "50",
            "新生儿1性别": "1",
            weight_header: weight,
            "孕周": "39",
        }
        | more
        for i, weight in enumerate(weights)
    ]


@pytest.mark.parametrize(
    ("header", "unit"),
    [
        ("新生儿1体重(g)", "g"),
        ("新生儿1体重（克）", "g"),
        ("新生儿1体重(单位:g)", "g"),
        ("新生儿1体重(斤)", "斤"),
        ("newborn1Weight(mg)", "mg"),
    ],
)
def test_a_column_in_another_unit_than_the_platform_s_stops_the_file(
    tmp_path: Path, header: str, unit: str
) -> None:
    path = write_csv(tmp_path / "c.csv", childbirth_rows(header, ["3200", "2900"]))
    validation, results = run(CHILDBIRTH, path)
    [problem] = validation.file_problems
    assert (problem.code, problem.field, problem.severity) == (
        "wrong-unit-column",
        "newborn1Weight",
        "error",
    )
    assert (problem.params["column"], problem.params["number"]) == (header, 8)
    assert (problem.params["unit"], problem.params["wanted"]) == (unit, "kg")
    message = problem.message("zh")
    assert f"“{header}”的单位是 {unit}，平台要求“新生儿1体重”(newborn1Weight) 用 kg" in message
    # The column is not read as kg, and the required field is not also called missing.
    assert not any(r.valid for r in results)
    assert all("newborn1Weight" not in r.data for r in results)
    with open_validation(CHILDBIRTH, path, orgid=ORGID) as validate:
        assert list(validate.problem_rows()) == []
        assert (validate.summary.valid, validate.summary.invalid) == (0, 2)


def test_an_optional_column_in_another_unit_stops_the_file_too(tmp_path: Path) -> None:
    # Leaving the column out would send the rows without a weight the file does hold.
    rows = childbirth_rows("新生儿1体重", ["3.2"], **{"新生儿2身长(mm)": "480"})
    validation, [result] = run(CHILDBIRTH, write_csv(tmp_path / "c.csv", rows))
    assert codes(validation.file_problems) == [(None, "newborn2Legth", "wrong-unit-column")]
    assert validation.file_problems[0].params["wanted"] == "cm"
    assert not result.valid


@pytest.mark.parametrize(
    "header",
    [
        "新生儿1体重",
        "新生儿1体重（kg）",
        "新生儿1体重(KG)",
        "新生儿1体重(公斤)",
        "新生儿1体重(单位：千克)",
    ],
)
def test_a_column_in_the_platform_s_unit_is_read(tmp_path: Path, header: str) -> None:
    path = write_csv(tmp_path / "c.csv", childbirth_rows(header, ["3.2", "2.9"]))
    validation, results = run(CHILDBIRTH, path)
    assert validation.file_problems == []
    assert [r.data["newborn1Weight"] for r in results] == [3.2, 2.9]
    assert all(r.valid and not r.problems for r in results)


def test_a_mark_before_an_id_or_a_date_is_taken_off_whatever_follows(tmp_path: Path) -> None:
    rows = [
        {
            "档案信息ID": "'QA",
            "病历号": "M1",
            "女方姓名": "王芳",
            "女方出生日期": "'1990/01/02",
            "操作时间": "'2024-01-02 08:00:00",
        },
        {"档案信息ID": "`XY", "病历号": "M2", "女方姓名": "王芳"},
    ]
    _, results = run(INFORMATION, write_csv(tmp_path / "i.csv", rows))
    assert [codes(r.problems) for r in results] == [[], []]
    assert results[0].data["informationid"] == "QA"
    assert results[0].data["wBirthday"] == "1990-01-02"
    assert results[0].data["opertiondate"] == "2024-01-02 08:00:00"
    assert results[1].data["informationid"] == "XY"


@pytest.mark.parametrize("suffix", [".json", ".xlsx"])
def test_an_id_number_ending_in_000_is_judged_by_its_check_digit_alone_where_it_kept_its_digits(
    tmp_path: Path, suffix: str
) -> None:
    """JSON, or a text cell of an xlsx, holds the number as typed: a wrong check digit is the
    usual warning there, not a number a spreadsheet rounded."""
    rows = list(fake_rows(INFORMATION, 2, orgid=ORGID))
    rows[0]["wIdcode"] = "330102198503128000"  # check digit wrong
    rows[1]["wIdcode"] = "330101199001011000"  # check digit right
    path = tmp_path / f"information{suffix}"
    write_rows(path, INFORMATION, rows)
    _, results = run(INFORMATION, path)
    first_row = 1 if suffix == ".json" else 2  # a JSON array counts records from 1
    assert [codes(r.problems) for r in results] == [
        [(first_row, "wIdcode", "idcard-checksum")],
        [],
    ]


def test_an_xls_with_nothing_calamine_misreads_is_not_read_a_second_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every xls LibreOffice writes holds, in another stream, bytes that looked like a formula
    giving 0: each was read again by xlrd, twice the time for a 60,000-row file."""
    import xlrd

    opened: list[object] = []
    monkeypatch.setattr(xlrd, "open_workbook", lambda *args, **kwargs: opened.append(args))
    _, results = run(SCHEMA.get("ovum"), real_sample("ovum.xls"))
    assert len(results) == 25
    assert opened == []


def test_numbers_shown_with_zeros_in_cells_that_name_no_place_are_mentioned(
    tmp_path: Path,
) -> None:
    """r is optional on an xlsx cell: where the scan cannot tell which cell it is, the zeros
    are lost, and said to be."""
    import re
    import zipfile

    row = required_cycle_headers()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(row))
    sheet.append(list((row | {"档案信息ID": 101}).values()))
    sheet.cell(2, list(row).index("档案信息ID") + 1).number_format = "000000"
    workbook.save(tmp_path / "placed.xlsx")
    with (
        zipfile.ZipFile(tmp_path / "placed.xlsx") as source,
        zipfile.ZipFile(tmp_path / "unplaced.xlsx", "w") as target,
    ):
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'(<c\b[^>]*?) r="[A-Z]+[0-9]+"', rb"\1", data)
            target.writestr(item, data)
    validation, _ = run(CYCLE, tmp_path / "unplaced.xlsx")
    [notice] = [n for n in validation.summary.notices if n.code == "padded-numbers-unplaced"]
    assert notice.params == {"count": 1}
