"""The shipped record-type schema, checked against the platform spec.

``spec_fields.json`` is the machine extraction of the spec's 31 endpoint tables; where it and
the spec text disagree the text wins, and the YAML then deviates from the extraction on purpose:
such deviations are listed in ``DEVIATIONS`` (see ``docs/spec-notes.md``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from artreport.errors import UsageError
from artreport.schema.loader import SchemaFileError, load_schema, load_schema_from
from artreport.schema.model import RecordType, unit_in

SPEC_FIELDS = Path(__file__).resolve().parents[2] / "shared" / "spec" / "spec_fields.json"

CLI_NAMES = [
    "information",
    "cycle",
    "ovum",
    "ejaculation",
    "insemination",
    "eresult",
    "transplant",
    "freeze",
    "thaw",
    "thawdet",
    "biopsy",
    "result",
    "childbirth",
    "supplier",
    "selfsemen",
]

#: Number of fields in the spec text's 15 batchInsert tables (the array row not counted).
TEXT_FIELD_COUNT = 310

#: The extraction's type strings, as the schema spells them.
TYPE_MAP = {
    "string": "string",
    "integer(int32)": "integer",
    "number": "number",
    "string(date-time)": "datetime",
    "date": "date",
    "Date": "date",
    "string(date)": "date",
    "object": "date",  # wBirthday: the text's table says object, the value is a yyyy-MM-dd date
}

#: (record type, field, attribute) -> (value in the YAML, why the spec text overrides the
#: extraction). Empty: every field table of the text agrees with spec_fields.json on name, type
#: and required flag (checked cell by cell; see docs/spec-notes.md).
DEVIATIONS: dict[tuple[str, str, str], tuple[Any, str]] = {}

#: Labels the spec text gives to two fields of one type: the label names neither field.
SHARED_LABELS = {("transplant", "操作人员姓名"): {"checkname", "opertionname"}}

#: Fields holding a patient's or donor's personal data, and its kind. Staff names are not here.
PII = {
    ("information", "fName"): "name",
    ("information", "wName"): "name",
    ("information", "fIdcode"): "idcard",
    ("information", "wIdcode"): "idcard",
    ("information", "fCurrentaddress"): "address",
    ("information", "fHouseadress"): "address",
    ("information", "wCurrentaddress"): "address",
    ("information", "wHouseadress"): "address",
    ("selfsemen", "name"): "name",
    ("selfsemen", "idcard"): "idcard",
}

_CODE_HINT = re.compile(r"\s*(空\s*或)?\s*1是2否$")


@pytest.fixture(scope="module")
def schema():
    return load_schema()


@pytest.fixture(scope="module")
def endpoints() -> dict[str, dict[str, Any]]:
    """The extraction's endpoints by URL."""
    if not SPEC_FIELDS.is_file():
        pytest.skip(f"spec extraction not found at {SPEC_FIELDS} (clone the repo beside shared/)")
    data = json.loads(SPEC_FIELDS.read_text(encoding="utf-8"))
    return {endpoint["url"]: endpoint for endpoint in data}


def _insert(endpoints: dict[str, dict[str, Any]], record_type: RecordType) -> dict[str, Any]:
    return endpoints[f"/art/{record_type.resource}/batchInsert"]


def _expected(record_type: str, field: str, attribute: str, from_spec: Any) -> Any:
    deviation = DEVIATIONS.get((record_type, field, attribute))
    return from_spec if deviation is None else deviation[0]


# --- record types -------------------------------------------------------------------------


def test_fifteen_record_types_under_their_cli_names(schema):
    names = [t.name for t in schema]
    assert len(schema) == 15
    assert sorted(names) == sorted(CLI_NAMES)


def test_each_type_uploads_to_the_batch_insert_resource_its_label_names(schema, endpoints):
    inserts = {
        e["title"]: e["url"] for e in endpoints.values() if e["url"].endswith("/batchInsert")
    }
    assert len(inserts) == 15
    for record_type in schema:
        title = "新增" + record_type.label
        assert title in inserts, f"{record_type.name}: no endpoint titled {title}"
        assert inserts[title] == f"/art/{record_type.resource}/batchInsert", record_type.name


@pytest.mark.parametrize(
    "wanted", ["周期信息", "周期", "aCyclerecord", "cycle", "ACYCLERECORD", " 周期信息 "]
)
def test_get_finds_cycle_by_any_of_its_names(schema, wanted):
    assert schema.get(wanted).name == "cycle"


def test_get_finds_every_type_by_cli_name_label_and_resource(schema):
    for record_type in schema:
        for wanted in (record_type.name, record_type.label, record_type.resource):
            assert schema.get(wanted) is record_type, wanted


@pytest.mark.parametrize("wanted", ["cycles", "周期信息表", "aCyclerecord/batchInsert", ""])
def test_get_rejects_unknown_names(schema, wanted):
    with pytest.raises(UsageError):
        schema.get(wanted)


# --- fields against the extraction ---------------------------------------------------------


@pytest.mark.parametrize("name", CLI_NAMES)
def test_fields_have_the_spec_names_types_and_required_flags(schema, endpoints, name):
    record_type = schema.get(name)
    spec_fields = _insert(endpoints, record_type)["fields"]
    assert {f.name for f in record_type.fields} == {f["name"] for f in spec_fields}
    for spec in spec_fields:
        field = record_type.field(spec["name"])
        assert field.type == _expected(name, field.name, "type", TYPE_MAP[spec["type"]]), (
            f"{name}.{field.name}: spec type {spec['type']}"
        )
        assert field.required is _expected(name, field.name, "required", spec["required"]), (
            f"{name}.{field.name}: spec required={spec['required']}"
        )


@pytest.mark.parametrize("name", CLI_NAMES)
def test_labels_are_the_spec_descriptions(schema, endpoints, name):
    record_type = schema.get(name)
    for spec in _insert(endpoints, record_type)["fields"]:
        label = record_type.field(spec["name"]).label
        # Only white space may differ (a description the text spreads over several lines).
        assert label.split() == spec["desc"].split(), f"{name}.{spec['name']}"


@pytest.mark.parametrize("name", CLI_NAMES)
def test_dictionary_coded_fields_are_flagged(schema, endpoints, name):
    record_type = schema.get(name)
    for spec in _insert(endpoints, record_type)["fields"]:
        field = record_type.field(spec["name"])
        assert field.dict is ("字典项" in spec["desc"]), f"{name}.{field.name}"
        if field.dict:
            assert field.type == "integer", f"{name}.{field.name}: codes are integers"


@pytest.mark.parametrize("name", CLI_NAMES)
def test_fields_whose_codes_the_spec_states_declare_them_and_no_others(schema, endpoints, name):
    record_type = schema.get(name)
    for spec in _insert(endpoints, record_type)["fields"]:
        field = record_type.field(spec["name"])
        if "1是2否" in spec["desc"]:
            stated = {1: "是", 2: "否"}
        elif "(单胎1 双胎2 三胎3 其他0)" in spec["desc"]:
            stated = {1: "单胎", 2: "双胎", 3: "三胎", 0: "其他"}
        else:
            # 新生儿1是否死亡, 是否外供…: the text names no codes, so none are assumed.
            stated = {}
        assert dict(field.codes) == stated, f"{name}.{field.name}"


def test_deviations_are_real_and_explained(schema, endpoints):
    for (name, field_name, attribute), (value, reason) in DEVIATIONS.items():
        record_type = schema.get(name)
        spec = {f["name"]: f for f in _insert(endpoints, record_type)["fields"]}[field_name]
        from_spec = TYPE_MAP[spec["type"]] if attribute == "type" else spec[attribute]
        assert value != from_spec, f"{name}.{field_name}.{attribute} no longer deviates"
        assert getattr(record_type.field(field_name), attribute) == value
        assert reason.strip()


def test_field_count_is_the_texts(schema):
    assert sum(len(t.fields) for t in schema) == TEXT_FIELD_COUNT


def test_extraction_field_count(endpoints):
    inserts = [e for url, e in endpoints.items() if url.endswith("/batchInsert")]
    assert sum(len(e["fields"]) for e in inserts) == TEXT_FIELD_COUNT


# --- keys and deletes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", CLI_NAMES)
def test_delete_params_are_the_delete_endpoints_parameters(schema, endpoints, name):
    record_type = schema.get(name)
    delete = endpoints[f"/art/{record_type.resource}/delete"]
    assert len(record_type.delete_params) == len(set(record_type.delete_params))
    assert set(record_type.delete_params) == {f["name"] for f in delete["fields"]}


@pytest.mark.parametrize("name", CLI_NAMES)
def test_primary_key_is_a_required_field_and_a_delete_parameter(schema, name):
    record_type = schema.get(name)
    assert record_type.has_field(record_type.primary_key)
    assert record_type.field(record_type.primary_key).required
    assert record_type.primary_key in record_type.delete_params
    assert "orgid" in record_type.delete_params


@pytest.mark.parametrize(
    ("words", "name"),
    [
        # a clerk's words for the types (a trial's clerk typed the first three)
        ("供精", "supplier"),
        ("自精", "selfsemen"),
        ("妊娠结局", "result"),
        ("外供", "supplier"),
        ("复苏明细", "thawdet"),
        ("人工授精", "insemination"),
        ("胚胎移植", "transplant"),
        # the label, full-width or spaced as typed
        ("治疗结果信息", "result"),
        (" 自精保存 ", "selfsemen"),
    ],
)
def test_a_type_is_found_by_the_clerks_words(schema, words, name):
    assert schema.get(words).name == name


def test_every_name_of_a_type_finds_that_type_only(schema):
    for record_type in schema:
        for name in record_type.names:
            assert schema.get(name) is record_type, name


def test_a_name_two_types_share_is_a_schema_file_error(tmp_path: Path) -> None:
    for name, alias in (("a", "供精"), ("b", "供 精")):
        (tmp_path / f"{name}.yaml").write_text(
            f"name: {name}\nlabel: 类型{name}\naliases: [{alias}]\nresource: r{name}\n"
            "primary_key: id\ndelete_params: [id]\nfields:\n"
            "  - {name: id, label: ID, type: string, required: true}\n",
            encoding="utf-8",
        )
    with pytest.raises(SchemaFileError, match="供"):
        load_schema_from(tmp_path)


def test_an_unknown_type_is_answered_with_every_type_and_its_chinese_names(schema):
    with pytest.raises(UsageError) as caught:
        schema.get("供卵")
    message = caught.value.message("zh")
    assert "supplier (外供信息/供精)" in message
    assert "selfsemen (自精保存信息/自精)" in message
    assert "cycle (周期信息/治疗周期)" in message  # 周期 is 周期信息 without its 信息
    assert all(t.name in message and t.label in message for t in schema)


def test_self_semen_records_are_keyed_by_id_card_number(schema):
    assert schema.get("selfsemen").primary_key == "idcard"


# --- header matching ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "header", "expected"),
    [
        # full label, as the spec writes it (misprints included)
        ("cycle", "不孕原因类别(字典项)", "acyesistype"),
        ("cycle", "并发症(感染)", "complication1"),
        ("childbirth", "新生儿1身长（cm）", "newborn1Legth"),
        ("transplant", "移槙人员姓名", "transplantname"),
        ("result", "是否妊娠空 或1是2否", "pregnancy"),
        # short label: the part before a bracket
        ("eresult", "可利用胚胎数", "embryonum"),
        ("childbirth", "新生儿1体重", "newborn1Weight"),
        ("ejaculation", "处理前活动精子总数", "tmsbt"),
        # API name in upper case
        ("information", "WBIRTHDAY", "wBirthday"),
        ("result", "BIOCHEMICAL_P", "biochemical_p"),
        ("transplant", "OPERTIONNAME", "opertionname"),
        # aliases
        ("eresult", "threepnnum", "multipnnumber"),
        ("eresult", "是否全胚冷冻", "allfreeze"),
        ("eresult", "IVF受精是否失败", "isivffail"),
        ("transplant", "移植人员姓名", "transplantname"),
        ("transplant", "核对人员姓名", "checkname"),
        ("cycle", "取消原因", "cancelcause"),
        ("result", "是否HCG阳性", "hcgpositive"),
        ("cycle", "启动日期(yyyy-MM-dd)", "startDate"),
        # template decorations: required star, white space, full-width brackets
        ("cycle", "*周期ID", "cycleid"),
        ("cycle", " 周期 开始时间 ", "cycledate"),
        # no match
        ("cycle", "并发症", None),
        ("cycle", "programme", None),
        ("eresult", "onepnnum", None),
    ],
)
def test_headers_find_their_field(schema, name, header, expected):
    field = schema.get(name).match_header(header)
    assert (field and field.name) == expected


@pytest.mark.parametrize("name", CLI_NAMES)
def test_every_label_and_alias_finds_its_own_field(schema, name):
    record_type = schema.get(name)
    for field in record_type.fields:
        for alias in field.aliases:
            assert record_type.match_header(alias) is field, f"{name}.{field.name}: {alias}"
        shared = SHARED_LABELS.get((name, field.label))
        if shared is None:
            assert record_type.match_header(field.label) is field, f"{name}.{field.name}"
        else:
            assert field.name in shared
            assert record_type.match_header(field.label) is None
            assert field.aliases, f"{name}.{field.name} shares its label and needs an alias"


@pytest.mark.parametrize("name", CLI_NAMES)
def test_labels_without_code_hints_find_their_field(schema, name):
    record_type = schema.get(name)
    for field in record_type.fields:
        bare = field.label.removesuffix("(字典项)")
        bare = _CODE_HINT.sub("", bare)
        if bare != field.label:
            assert record_type.match_header(bare) is field, f"{name}.{field.name}: {bare}"


# --- personal data ------------------------------------------------------------------------


def test_personal_data_fields_are_marked(schema):
    marked = {(t.name, f.name): f.pii for t in schema for f in t.fields if f.pii}
    assert marked == PII


def test_staff_names_are_not_personal_data(schema):
    staff = re.compile(
        r"^(assistant|oDoctor|check|opertion|freeze|thaw|transplant|ejaculation)name$"
    )
    for record_type in schema:
        for field in record_type.fields:
            if staff.match(field.name):
                assert field.pii is None, f"{record_type.name}.{field.name}"


# --- fixed codes in a record type's file ----------------------------------------------------


def _type_with_field(folder: Path, field_yaml: str) -> Path:
    (folder / "t.yaml").write_text(
        "name: t\nlabel: 测试\nresource: aTest\nprimary_key: tid\ndelete_params: [tid]\n"
        "fields:\n"
        "  - {name: tid, label: 测试ID, type: string, required: true}\n"
        f"  - {field_yaml}\n",
        encoding="utf-8",
    )
    return folder


def test_a_field_s_codes_are_data_in_its_file(tmp_path: Path) -> None:
    folder = _type_with_field(
        tmp_path, "{name: sex, label: 性别, type: integer, codes: {1: 男, 2: 女}}"
    )
    field = load_schema_from(folder).get("t").field("sex")
    assert field.codes == ((1, "男"), (2, "女"))
    assert not field.dict


@pytest.mark.parametrize(
    "field_yaml",
    [
        "{name: x, type: string, codes: {1: 是}}",  # codes are integers
        "{name: x, type: integer, dict: true, codes: {1: 是}}",  # or the config's table
        "{name: x, type: integer, codes: {}}",
        "{name: x, type: integer, codes: [1, 2]}",
        "{name: x, type: integer, codes: {a: 是}}",
        "{name: x, type: integer, codes: {true: 是}}",
        "{name: x, type: integer, codes: {3000000000: 是}}",
        "{name: x, type: integer, codes: {1: yes, 2: no}}",  # YAML's booleans, not labels
        "{name: x, type: integer, codes: {1: ' '}}",
        "{name: x, type: integer, codes: {1: 是, 2: ' 是'}}",  # one label, two codes
    ],
)
def test_malformed_codes_are_a_schema_file_error(tmp_path: Path, field_yaml: str) -> None:
    with pytest.raises(SchemaFileError):
        load_schema_from(_type_with_field(tmp_path, field_yaml))


# --- units of measure ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("新生儿1体重（kg）", "kg"),
        ("新生儿1体重(公斤)", "kg"),
        ("新生儿1体重(千克)", "kg"),
        ("体重(单位：KG)", "kg"),
        ("体重(g)", "g"),
        ("体重 （ 克 ）", "g"),
        ("身长(mm)", "mm"),
        ("身长(毫米)", "mm"),
        ("身长(厘米)", "cm"),
        ("身长(m)", "m"),
        ("体重(g)(旧系统)", "g"),
        # Spellings a tester's exports used, which were read as kg before.
        ("新生儿1体重(gram)", "g"),
        ("新生儿1体重(Grams)", "g"),
        ("新生儿1体重(公克)", "g"),
        ("新生儿1体重(克数)", "g"),
        ("身长(centimetre)", "cm"),
        ("并发症(感染)", None),
        ("女方年龄(岁)", None),
        ("启动日期(yyyy-MM-dd)", None),
        ("体重", None),
        ("kg", None),
    ],
)
def test_the_unit_a_bracketed_remark_names(text, unit):
    assert unit_in(text) == unit


def test_the_fields_with_a_unit_are_the_newborns_weights_and_lengths(schema):
    units = {(t.name, f.name): f.unit for t in schema for f in t.fields if f.unit}
    assert units == {
        ("childbirth", f"newborn{n}{name}"): unit
        for n in (1, 2, 3)
        for name, unit in (("Weight", "kg"), ("Legth", "cm"))
    }


def _type_with_range(folder: Path, label: str, low: float, high: float) -> Path:
    (folder / "t.yaml").write_text(
        "name: t\nlabel: 测试\nresource: aTest\nprimary_key: tid\ndelete_params: [tid]\n"
        f"sanity: {{ranges: {{w: [{low}, {high}]}}}}\n"
        "fields:\n"
        "  - {name: tid, label: 测试ID, type: string, required: true}\n"
        f"  - {{name: w, label: '{label}', type: number}}\n",
        encoding="utf-8",
    )
    return folder


def test_a_range_that_meets_its_range_in_a_smaller_unit_is_a_schema_file_error(
    tmp_path: Path,
) -> None:
    # 2–5000 kg holds 3000 both as kg and as grams: the value could be called neither.
    with pytest.raises(SchemaFileError, match="g one"):
        load_schema_from(_type_with_range(tmp_path, "体重（kg）", 2, 5000))
    record_type = load_schema_from(_type_with_range(tmp_path, "体重（kg）", 2, 5)).get("t")
    assert record_type.field("w").smaller_units == (("g", 1000),)
    assert load_schema_from(_type_with_range(tmp_path, "体重", 2, 5000)).get("t").ranges
