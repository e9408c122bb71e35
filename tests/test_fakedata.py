"""Synthetic records (artreport.fakedata) and the samples made from them."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from artreport.cli import app
from artreport.fakedata import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    fake_rows,
    headers_for,
    id_check_character,
    write_rows,
)
from artreport.schema import Field, RecordType, load_schema
from artreport.schema.loader import load_schema_from
from tests.conftest import SAMPLES

SCHEMA = load_schema()
TYPES = [t.name for t in SCHEMA]
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "date": (date,),
    "datetime": (datetime,),
}
# Index 1 of the case-linked records: (type, its primary key, how it points at its parent).
CHILDREN = [
    ("cycle", "informationid", "information"),
    *((t.name, "cycleid", "cycle") for t in SCHEMA if t.has_field("cycleid") and t.name != "cycle"),
    ("thawdet", "thawid", "thaw"),
]


def rows(name: str, count: int = 60, **options: Any) -> list[dict[str, Any]]:
    return list(fake_rows(SCHEMA.get(name), count, **options))


def id_fields(record_type: RecordType) -> list[str]:
    return [f.name for f in record_type.fields if f.pii == "idcard"]


def resident_id_is_valid(number: str) -> bool:
    # Written out again, not imported: the test must not share a mistake with the code.
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number, weights, strict=False))
    birth = datetime.strptime(number[6:14], "%Y%m%d").date()  # raises if impossible
    return "10X98765432"[total % 11] == number[17] and date(1900, 1, 1) < birth < date.today()


# --------------------------------------------------------------------------------------------
# Rows


@pytest.mark.parametrize("name", TYPES)
def test_rows_fill_every_required_field_with_a_value_of_the_schema_type(name: str) -> None:
    record_type = SCHEMA.get(name)
    for row in rows(name, 300, seed=5):
        assert set(row) <= {f.name for f in record_type.fields}
        for field in record_type.required_fields:
            assert row.get(field.name) not in (None, ""), (field.name, row)
        for group in record_type.one_of_required:
            assert any(row.get(n) for n in group), (group, row)
        for key, value in row.items():
            field = record_type.field(key)
            assert isinstance(value, PYTHON_TYPES[field.type]), (key, value)
            assert not isinstance(value, bool)
            if field.type == "date":
                assert not isinstance(value, datetime), key
            if field.type == "datetime":
                assert value.microsecond == 0 and value.tzinfo is None, key
            if field.type == "integer":
                # Counts, codes, weeks of pregnancy, semen densities: all small and ≥ 0.
                assert 0 <= value <= 200, (key, value)
            if field.dict:
                assert 1 <= value <= 6, (key, value)
            if field.codes:
                assert value in dict(field.codes), (key, value)
        assert row["orgid"] == "ZJ3301001"


def test_a_field_given_codes_in_its_file_gets_only_those(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        "name: t\nlabel: 测试\nresource: aTest\nprimary_key: tid\ndelete_params: [tid]\n"
        "fields:\n"
        "  - {name: tid, label: 测试ID, type: string, required: true}\n"
        "  - {name: grade, label: 胚胎等级, type: integer, required: true, "
        "codes: {1: 优, 2: 良, 4: 差}}\n",
        encoding="utf-8",
    )
    record_type = load_schema_from(tmp_path).get("t")
    assert {row["grade"] for row in fake_rows(record_type, 200)} == {1, 2, 4}


def test_most_optional_fields_are_filled() -> None:
    cells = filled = 0
    for record_type in SCHEMA:
        optional = [f.name for f in record_type.fields if not f.required]
        generated = rows(record_type.name, 200)
        in_type = sum(1 for row in generated for n in optional if n in row)
        # Some fields are filled only when the case calls for them (a cancelled cycle, twins,
        # an unqualified donor), so a type may fall well below the overall share.
        assert in_type >= 0.35 * len(optional) * len(generated), record_type.name
        cells += len(optional) * len(generated)
        filled += in_type
    assert filled >= 0.7 * cells


@pytest.mark.parametrize("name", [t.name for t in SCHEMA if id_fields(t)])
def test_id_numbers_are_valid_and_match_birthday_and_sex(name: str) -> None:
    record_type = SCHEMA.get(name)
    for row in rows(name, 300, seed=9):
        for key in id_fields(record_type):
            if key not in row:
                continue
            number = row[key]
            assert resident_id_is_valid(number), (key, number)
            if record_type.has_field(key[0] + "Birthday") and key[0] + "Birthday" in row:
                assert number[6:14] == f"{row[key[0] + 'Birthday']:%Y%m%d}"
            is_woman = key.startswith("w")
            assert int(number[16]) % 2 == (0 if is_woman else 1), (key, number)


def test_id_check_character_follows_gb_11643() -> None:
    assert id_check_character("11010519491231002") == "X"  # the standard's own example


def test_information_rows_have_patients_names_ages_and_id_types() -> None:
    for row in rows("information"):
        assert 2 <= len(row["wName"]) <= 3 and 2 <= len(row["fName"]) <= 3
        assert row.get("wIdtype", 1) == 1 and row.get("fIdtype", 1) == 1
        for key in ("wHouseadress", "fCurrentaddress"):
            assert key not in row or row[key].startswith("浙江省")


@pytest.mark.parametrize(("child", "reference", "parent"), CHILDREN)
def test_records_of_the_same_index_refer_to_each_other(
    child: str, reference: str, parent: str
) -> None:
    parent_type = SCHEMA.get(parent)
    parents = rows(parent, 40, seed=2)
    children = rows(child, 40, seed=2)
    keys = [p[parent_type.primary_key] for p in parents]
    assert keys[:2] == [f"{keys[0][:3]}00000001", f"{keys[0][:3]}00000002"]
    # A reference that is optional may be left blank; one that is there must hold.
    linked = [(i, c[reference]) for i, c in enumerate(children) if reference in c]
    assert len(linked) > 30
    for index, value in linked:
        assert value == keys[index]


def test_the_documented_ids() -> None:
    (information,) = rows("information", 1)
    (cycle,) = rows("cycle", 1)
    (ovum,) = rows("ovum", 1)
    (thaw,) = rows("thaw", 1)
    (thawdet,) = rows("thawdet", 1)
    assert information["informationid"] == "INF00000001" == cycle["informationid"]
    assert cycle["cycleid"] == "CYC00000001" == ovum["cycleid"]
    assert ovum["ovumid"].startswith("OVU")
    assert thaw["thawid"] == "THW00000001" == thawdet["thawid"]


def test_a_case_agrees_with_itself_across_types() -> None:
    information = rows("information", 50)
    cycles = rows("cycle", 50)
    later = {name: rows(name, 50) for name in ("ovum", "transplant", "childbirth", "thaw")}
    for i, (person, cycle) in enumerate(zip(information, cycles, strict=True)):
        assert cycle.get("medrecNo", person["medicalid"]) == person["medicalid"]
        if "wage" in cycle and "wBirthday" in person:
            years = (cycle["cycledate"].date() - person["wBirthday"]).days / 365.25
            assert int(years) - 1 <= cycle["wage"] <= int(years) and 20 <= cycle["wage"] <= 45
        assert person.get("opertiondate", cycle["cycledate"]) <= cycle["cycledate"]
        transfer = later["transplant"][i]["transplantdate"]
        timeline = [
            cycle["cycledate"],
            cycle.get("triggerdate", cycle["cycledate"]),
            later["ovum"][i]["ovumdate"],
            transfer,
            later["childbirth"][i]["childbirthdate"],
        ]
        assert timeline == sorted(timeline), timeline
        assert transfer < later["thaw"][i]["thawdate"]


def test_rows_are_deterministic_per_seed_and_cases_do_not_depend_on_start() -> None:
    assert rows("cycle", 20, seed=1) == rows("cycle", 20, seed=1)
    assert rows("cycle", 20, seed=1) != rows("cycle", 20, seed=2)
    (seventh,) = rows("cycle", 1, seed=1, start=7)
    assert seventh["cycleid"] == "CYC00000007"
    assert seventh["cycledate"] == rows("cycle", 10, seed=1)[6]["cycledate"]


def test_a_type_added_to_the_schema_needs_no_code() -> None:
    followup = RecordType(
        name="followup",
        label="随访信息",
        resource="aFollowuprecord",
        primary_key="followupid",
        delete_params=("followupid", "orgid", "cycleid"),
        fields=(
            Field("followupid", "随访ID", "string", required=True),
            Field("cycleid", "周期ID", "string", required=True),
            Field("orgid", "机构ID", "string", required=True),
            Field("visitdate", "随访日期", "date", required=True),
            Field("visittype", "随访方式(字典项)", "integer", required=True, dict=True),
            Field("phone", "联系电话", "string", pii="phone"),
            Field("checkcode", "核对人员代码", "string"),
            Field("checkname", "核对人员姓名", "string"),
        ),
    )
    generated = list(fake_rows(followup, 40))
    assert generated[0]["followupid"] == "FOL00000001"
    assert generated[0]["cycleid"] == "CYC00000001"
    assert all(isinstance(r["visitdate"], date) and 1 <= r["visittype"] <= 6 for r in generated)
    assert all(re.fullmatch(r"1\d{10}", r["phone"]) for r in generated if "phone" in r)
    staff = {
        (r["checkcode"], r["checkname"])
        for r in generated
        if {"checkcode", "checkname"} <= r.keys()
    }
    # A code always comes with the same name: the pair is one member of staff.
    assert len({code for code, _ in staff}) == len(staff)


def test_orgid_is_the_one_given() -> None:
    assert {r["orgid"] for r in rows("ovum", 20, orgid="ZJ3302009")} == {"ZJ3302009"}


@pytest.mark.parametrize("name", TYPES)
def test_primary_keys_are_unique(name: str) -> None:
    key = SCHEMA.get(name).primary_key
    # For selfsemen the key is a resident ID number: cross a block of birthdays too.
    generated = rows(name, 3000, start=7000)
    assert len({r[key] for r in generated}) == len(generated)


# --------------------------------------------------------------------------------------------
# Files


def expected_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    return "" if value is None else str(value)


def test_label_headers_name_their_fields() -> None:
    for record_type in SCHEMA:
        headers = headers_for(record_type)
        assert [record_type.match_header(h) for h in headers] == list(record_type.fields)
    cycle = headers_for(SCHEMA.get("cycle"))
    assert {"周期ID", "周期开始时间", "并发症(感染)", "不孕原因类别"} <= set(cycle)
    assert headers_for(SCHEMA.get("cycle"), "name")[:2] == ["acyesisname", "acyesisnameMx"]


def test_xlsx_has_date_cells_and_text_ids(tmp_path: Path) -> None:
    information = SCHEMA.get("information")
    generated = rows("information", 30)
    path = tmp_path / "information.xlsx"
    assert write_rows(path, information, generated) == 30
    sheet = load_workbook(path).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header == headers_for(information)
    column = {information.match_header(h).name: i for i, h in enumerate(header)}
    for row, cells in zip(generated, sheet.iter_rows(min_row=2), strict=True):
        for name, value in row.items():
            cell = cells[column[name]]
            field = information.field(name)
            if field.type == "date":
                assert cell.is_date and cell.number_format == DATE_FORMAT
                assert cell.value.date() == value
            elif field.type == "datetime":
                assert cell.is_date and cell.number_format == DATETIME_FORMAT
                assert cell.value == value
            elif field.type == "string":
                assert cell.data_type == "s" and cell.value == value, name
            else:
                assert cell.value == value
    ids = [cells[column["wIdcode"]].value for cells in sheet.iter_rows(min_row=2)]
    assert all(isinstance(v, str) and len(v) == 18 for v in ids if v is not None)


@pytest.mark.parametrize(
    ("encoding", "bom"), [("gb18030", b""), ("utf-8-sig", b"\xef\xbb\xbf"), ("utf-8", b"")]
)
def test_csv_in_each_encoding(tmp_path: Path, encoding: str, bom: bytes) -> None:
    ovum = SCHEMA.get("ovum")
    generated = rows("ovum", 25)
    path = tmp_path / "ovum.csv"
    write_rows(path, ovum, generated, encoding=encoding)
    raw = path.read_bytes()
    assert raw.startswith(bom) and not raw[len(bom) :].startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 26 and raw.count(b"\n") == 26
    text = raw.decode("utf-8-sig" if bom else encoding)
    header, *body = list(csv.reader(io.StringIO(text)))
    assert header == headers_for(ovum)
    names = [f.name for f in ovum.fields]
    assert body == [[expected_text(row.get(n)) for n in names] for row in generated]


def test_json_and_json_lines(tmp_path: Path) -> None:
    eresult = SCHEMA.get("eresult")
    generated = rows("eresult", 12)
    write_rows(tmp_path / "e.json", eresult, generated, headers="name")
    array = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert array == [
        {k: expected_text(v) if isinstance(v, date) else v for k, v in r.items()} for r in generated
    ]
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r["opertiondate"])
        for r in array
        if "opertiondate" in r
    )
    write_rows(tmp_path / "e.jsonl", eresult, generated)
    lines = (tmp_path / "e.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 12
    assert set(json.loads(lines[0])) <= set(headers_for(eresult))


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.txt"):
        write_rows(tmp_path / "x.txt", SCHEMA.get("cycle"), [])


# --------------------------------------------------------------------------------------------
# Samples


@pytest.fixture(scope="module")
def make_samples() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_committed_samples_are_what_the_script_writes(
    make_samples: ModuleType, tmp_path: Path
) -> None:
    for path in make_samples.write_samples(tmp_path):
        committed = SAMPLES / path.name
        assert committed.read_bytes() == path.read_bytes(), (
            f"samples/{path.name} is stale: run python samples/make_samples.py"
        )


def test_mistakes_are_exactly_the_listed_cells(make_samples: ModuleType) -> None:
    cycle = SCHEMA.get("cycle")
    clean = list(fake_rows(cycle, make_samples.MISTAKES_ROWS, seed=make_samples.SEED))
    mistaken = list(make_samples.mistaken_rows())
    changed = {
        (index + 2, name)
        for index, (good, bad) in enumerate(zip(clean, mistaken, strict=True))
        for name in good.keys() | bad.keys()
        if good.get(name) != bad.get(name)
    }
    listed = [(m.row, m.field) for m in make_samples.MISTAKES]
    assert changed == set(listed)
    assert len({row for row, _ in listed}) == len(listed)  # one mistake a row


def test_readme_table_lists_the_mistakes(make_samples: ModuleType) -> None:
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\|\s*(\d+)\s*\|\s*`?(\w+)`?\s*\|", readme, flags=re.MULTILINE)
    assert [(int(row), field) for row, field in table] == [
        (m.row, m.field) for m in make_samples.MISTAKES
    ]


def validate(record_type: str, path: Path, report: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["validate", record_type, str(path), "--report", str(report), "--json"],
        env={"ARTREPORT_ORGID": "ZJ3301001"},
    )
    summary: dict[str, Any] = json.loads(result.stdout)
    summary["exit"] = result.exit_code
    return summary


@pytest.mark.parametrize(
    ("record_type", "file"),
    [
        ("information", "information.xlsx"),
        ("cycle", "cycles.xlsx"),
        ("ovum", "ovum.csv"),
        ("transplant", "transplant.xlsx"),
        ("eresult", "eresult.json"),
        ("childbirth", "childbirth.xlsx"),
    ],
)
def test_every_sample_is_valid(record_type: str, file: str, tmp_path: Path) -> None:
    summary = validate(record_type, SAMPLES / file, tmp_path / "report.csv")
    assert (summary["exit"], summary["invalid"], summary["warnings"]) == (0, 0, 0), summary
    assert summary["rows_read"] >= 20


def test_validate_reports_exactly_the_sample_mistakes(
    make_samples: ModuleType, tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    summary = validate("cycle", SAMPLES / make_samples.MISTAKES_FILE, report)
    assert summary["exit"] == 1
    with report.open(encoding="utf-8-sig", newline="") as stream:
        found = [(int(r["row"]), r["field"]) for r in csv.DictReader(stream)]
    assert found == [(m.row, m.field) for m in make_samples.MISTAKES]
