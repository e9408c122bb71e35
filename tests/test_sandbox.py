"""The sandbox platform over real HTTP on 127.0.0.1: every endpoint, every answer code, the
update rules, all-or-nothing batches, every fault, and the inspection endpoints."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from artreport.errors import InputError, UsageError
from artreport.sandbox import DEMO_ORG, Faults, Sandbox, read_rows, token_for
from artreport.schema import RecordType, load_schema

# A leaked socket, thread or database connection is a bug of stop(): make it fail the test.
pytestmark = pytest.mark.filterwarnings(
    "error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning"
)

ORGID, KEY = DEMO_ORG
HEADERS = {"orgid": ORGID, "token": token_for(ORGID, KEY)}
SCHEMA = load_schema()
CYCLE = SCHEMA.get("cycle")
INFORMATION = SCHEMA.get("information")
OK = {"msg": "请求成功", "code": 0}
SAMPLE = {
    "string": "x",
    "integer": 1,
    "number": 1.5,
    "date": "2024-01-02",
    "datetime": "2024-01-02 03:04:05",
}


def minimal_row(record_type: RecordType, key: str = "K1", **changes: Any) -> dict[str, Any]:
    """A valid row with the required fields, one of each one-of group, and the fields that
    its delete needs (``cycleid`` is optional on an insemination insert but not on delete)."""
    row = {f.name: SAMPLE[f.type] for f in record_type.required_fields}
    row.update((group[0], "x") for group in record_type.one_of_required)
    row.update((name, "x") for name in record_type.delete_params if record_type.has_field(name))
    row.update({record_type.primary_key: key, "orgid": ORGID})
    row.update(changes)
    return row


def optional_field(record_type: RecordType, field_type: str) -> str:
    return next(f.name for f in record_type.fields if f.type == field_type and not f.required)


def delete_params(record_type: RecordType, row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in record_type.delete_params}


@contextlib.contextmanager
def serving(**options: Any) -> Iterator[tuple[Sandbox, httpx.Client]]:
    with (
        Sandbox(**options) as sandbox,
        httpx.Client(base_url=sandbox.base_url, timeout=5) as client,
    ):
        yield sandbox, client


def login(client: httpx.Client, orgid: str = ORGID, key: str = KEY) -> dict[str, Any]:
    body = {"key": key, "orgid": orgid, "token": token_for(orgid, key)}
    answer: dict[str, Any] = client.post("/art/login", json=body).json()
    return answer


def insert(
    client: httpx.Client,
    record_type: RecordType,
    rows: Any,
    headers: dict[str, str] = HEADERS,
) -> dict[str, Any]:
    answer = client.post(f"/art/{record_type.resource}/batchInsert", json=rows, headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def delete(
    client: httpx.Client,
    record_type: RecordType,
    params: dict[str, Any],
    headers: dict[str, str] = HEADERS,
) -> dict[str, Any]:
    answer = client.get(f"/art/{record_type.resource}/delete", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=5) as http:
        yield http


@pytest.fixture
def session(client: httpx.Client) -> httpx.Client:
    assert login(client) == {**OK, "data": {}}
    return client


# -- login ------------------------------------------------------------------------------------


def test_login_succeeds_and_is_counted(sandbox: Sandbox, client: httpx.Client) -> None:
    assert login(client) == {"msg": "请求成功", "code": 0, "data": {}}
    assert sandbox.stats()["logins"] == 1


@pytest.mark.parametrize(
    ("body", "code", "msg"),
    [
        ({"orgid": ORGID, "token": HEADERS["token"]}, 40007, "缺少请求参数，请检查"),
        ({"key": KEY, "token": HEADERS["token"]}, 40007, "缺少请求参数，请检查"),
        ({"key": KEY, "orgid": ORGID}, 40007, "缺少请求参数，请检查"),
        ({"key": "", "orgid": ORGID, "token": HEADERS["token"]}, 40007, "缺少请求参数，请检查"),
        ("not an object", 40007, "缺少请求参数，请检查"),
        (
            {"key": KEY, "orgid": "ZJ0000000", "token": token_for("ZJ0000000", KEY)},
            40004,
            "机构不存在或已停用",
        ),
        (
            {"key": "wrong", "orgid": ORGID, "token": token_for(ORGID, "wrong")},
            40002,
            "校验失败，请检查校验码",
        ),
        (
            {"key": KEY, "orgid": ORGID, "token": HEADERS["token"].lower()},
            40002,
            "校验失败，请检查校验码",
        ),
    ],
    ids=[
        "no-key",
        "no-orgid",
        "no-token",
        "empty-key",
        "not-object",
        "unknown-org",
        "wrong-key",
        "lower-case-token",
    ],
)
def test_login_refusals(
    sandbox: Sandbox, client: httpx.Client, body: Any, code: int, msg: str
) -> None:
    answer = client.post("/art/login", json=body)
    assert answer.status_code == 200
    assert answer.json() == {"msg": msg, "code": code, "data": None}
    assert sandbox.stats()["logins"] == 0


def test_login_body_that_is_not_json_lacks_its_parameters(client: httpx.Client) -> None:
    assert client.post("/art/login", content=b"{oops").json()["code"] == 40007


def test_disabled_organisation_is_refused_everywhere(
    sandbox: Sandbox, session: httpx.Client
) -> None:
    sandbox.disable_org(ORGID)
    assert insert(session, CYCLE, [minimal_row(CYCLE)])["code"] == 40004
    assert login(session)["code"] == 40004


# -- authentication of every other call, in the platform's order ------------------------------

AUTH_CASES = [
    ({}, False, 40001),
    ({"orgid": ORGID}, True, 40001),
    ({"token": HEADERS["token"]}, True, 40001),
    ({"orgid": "", "token": HEADERS["token"]}, True, 40001),
    # Organisation before token: an unknown orgid with a bad token is 40004.
    ({"orgid": "ZJ0000000", "token": "BAD"}, True, 40004),
    # Token before login: a bad token without a login is 40002, not 40003.
    ({"orgid": ORGID, "token": "BAD"}, False, 40002),
    ({"orgid": ORGID, "token": "BAD"}, True, 40002),
    (HEADERS, False, 40003),
]


@pytest.mark.parametrize("endpoint", ["batchInsert", "delete"])
@pytest.mark.parametrize(("headers", "logged_in", "code"), AUTH_CASES)
def test_calls_are_authenticated_in_order(
    client: httpx.Client,
    endpoint: str,
    headers: dict[str, str],
    logged_in: bool,
    code: int,
) -> None:
    if logged_in:
        assert login(client)["code"] == 0
    row = minimal_row(CYCLE)
    if endpoint == "batchInsert":
        answer = insert(client, CYCLE, [row], headers=headers)
    else:
        answer = delete(client, CYCLE, delete_params(CYCLE, row), headers=headers)
    messages = {
        40001: "验证字段不可为空，请检查请求头",
        40002: "校验失败，请检查校验码",
        40003: "验签已过期或未登录",
        40004: "机构不存在或已停用",
    }
    assert answer == {"msg": messages[code], "code": code, "data": None}


def test_login_expires_after_its_ttl() -> None:
    with serving(ttl=0.3) as (_, client):
        assert login(client)["code"] == 0
        assert insert(client, CYCLE, [minimal_row(CYCLE)])["code"] == 0
        time.sleep(0.4)
        assert insert(client, CYCLE, [minimal_row(CYCLE)])["code"] == 40003
        assert login(client)["code"] == 0
        assert insert(client, CYCLE, [minimal_row(CYCLE)])["code"] == 0


# -- every record type: insert, delete ---------------------------------------------------------


@pytest.mark.parametrize("record_type", list(SCHEMA), ids=lambda t: t.name)
def test_every_type_inserts_and_deletes(
    sandbox: Sandbox, session: httpx.Client, record_type: RecordType
) -> None:
    row = minimal_row(record_type)
    assert insert(session, record_type, [row]) == {**OK, "data": 1}
    assert sandbox.rows(record_type.name) == [row]
    params = delete_params(record_type, row)
    for name in record_type.delete_params:
        partial = {k: v for k, v in params.items() if k != name}
        assert delete(session, record_type, partial)["code"] == 40007, name
        assert delete(session, record_type, {**partial, name: ""})["code"] == 40007, name
    assert delete(session, record_type, params) == {**OK, "data": 1}
    assert sandbox.rows(record_type.name) == []
    not_found = {"msg": "数据不存在", "code": 40006, "data": None}
    assert delete(session, record_type, params) == not_found


def test_every_endpoint_of_the_spec_is_served(sandbox: Sandbox, session: httpx.Client) -> None:
    for record_type in SCHEMA:
        row = minimal_row(record_type)
        insert(session, record_type, [row])
        delete(session, record_type, delete_params(record_type, row))
    endpoints = sandbox.stats()["endpoints"]
    assert len(SCHEMA) == 15
    assert len(endpoints) == 31  # login + a batchInsert and a delete per record type
    assert all(path.startswith("/art/") for path in endpoints)


def test_delete_orgid_must_match_the_header(session: httpx.Client) -> None:
    row = minimal_row(CYCLE)
    insert(session, CYCLE, [row])
    answer = delete(session, CYCLE, {**delete_params(CYCLE, row), "orgid": "ZJ0000000"})
    assert answer == {"msg": "验证字段与机构信息不对应", "code": 40009, "data": None}


def test_delete_needs_every_parameter_to_match_the_record(
    sandbox: Sandbox, session: httpx.Client
) -> None:
    ovum = SCHEMA.get("ovum")
    row = minimal_row(ovum, cycleid="C1")
    insert(session, ovum, [row])
    assert delete(session, ovum, {**delete_params(ovum, row), "cycleid": "C2"})["code"] == 40006
    assert sandbox.rows("ovum") == [row]


def test_organisations_keep_their_records_apart() -> None:
    other, other_key = "ZJ3301002", "other-key"
    other_headers = {"orgid": other, "token": token_for(other, other_key)}
    with serving(orgs={ORGID: KEY, other: other_key}) as (sandbox, client):
        login(client)
        login(client, other, other_key)
        insert(client, CYCLE, [minimal_row(CYCLE, "SAME", artplan="ours")])
        insert(client, CYCLE, [minimal_row(CYCLE, "THEIRS", orgid=other)], headers=other_headers)
        theirs = minimal_row(CYCLE, "SAME", orgid=other, artplan="theirs")
        assert insert(client, CYCLE, [theirs], headers=other_headers)["data"] == 1
        assert [r["artplan"] for r in sandbox.rows("cycle")] == ["ours", "x", "theirs"]
        only_theirs = {**delete_params(CYCLE, theirs), "cycleid": "THEIRS", "orgid": ORGID}
        assert delete(client, CYCLE, only_theirs)["code"] == 40006
        answer = delete(client, CYCLE, delete_params(CYCLE, theirs), headers=other_headers)
        assert answer["data"] == 1
        assert [r["artplan"] for r in sandbox.rows("cycle")] == ["ours", "x"]


# -- batchInsert checks ------------------------------------------------------------------------


def test_row_orgid_must_match_the_header(sandbox: Sandbox, session: httpx.Client) -> None:
    answer = insert(session, CYCLE, [minimal_row(CYCLE, orgid="ZJ0000000")])
    assert answer == {"msg": "验证字段与机构信息不对应", "code": 40009, "data": None}
    assert sandbox.rows("cycle") == []


@pytest.mark.parametrize("how", ["missing", "empty", "null"])
@pytest.mark.parametrize("field", [f.name for f in CYCLE.required_fields])
def test_required_fields_must_be_filled(session: httpx.Client, field: str, how: str) -> None:
    row = minimal_row(CYCLE)
    if how == "missing":
        del row[field]
    else:
        row[field] = "" if how == "empty" else None
    # An empty or absent orgid too is a missing parameter, not a mismatch (40009).
    answer = insert(session, CYCLE, [row])
    assert answer == {"msg": "缺少请求参数，请检查", "code": 40007, "data": None}


@pytest.mark.parametrize(
    ("names", "code"),
    [
        ({}, 40008),
        ({"fName": "", "wName": None}, 40008),
        ({"wName": "王某"}, 0),
        ({"fName": "张某", "wName": ""}, 0),
    ],
)
def test_information_needs_a_name(session: httpx.Client, names: dict[str, Any], code: int) -> None:
    row = minimal_row(INFORMATION)
    for name in ("fName", "wName"):
        row.pop(name, None)
    answer = insert(session, INFORMATION, [{**row, **names}])
    assert answer["code"] == code
    if code:
        assert answer["msg"] == "男女双方姓名不可同时为空"


TYPE_CASES = [
    ("string", "abc", True),
    ("string", "", True),
    ("string", 1, False),
    ("string", True, False),
    ("string", ["abc"], False),
    ("integer", 0, True),
    ("integer", -(2**31), True),
    ("integer", 2**31 - 1, True),
    ("integer", 2**31, False),
    ("integer", True, False),
    ("integer", 1.0, False),
    ("integer", "1", False),
    ("integer", "", False),
    ("integer", [1], False),
    ("number", 0, True),
    ("number", 12, True),
    ("number", 36.5, True),
    ("number", "36.5", False),
    ("number", False, False),
    ("date", "2024-02-29", True),
    ("date", "", True),
    ("date", "2023-02-29", False),
    ("date", "2024/01/01", False),
    ("date", "2024-1-1", False),
    ("date", "2024-01-01 00:00:00", False),
    ("date", "２０２４-01-01", False),
    ("date", "2024-01-01\n2024-01-02", False),
    ("date", 20240101, False),
    ("date", ["2024-01-01"], False),
    ("date", {"date": "2024-01-01"}, False),
    ("datetime", "2024-01-01 23:59:59", True),
    ("datetime", "", True),
    ("datetime", "2024-01-01", False),
    ("datetime", "2024-01-01T00:00:00", False),
    ("datetime", "2020/01/01 00:00:00", False),
    ("datetime", "2024-01-01 24:00:00", False),
    ("datetime", "2024-01-01 00:00:00.000", False),
    ("datetime", "2024-01-01 00:00:00\n2024-01-01 00:00:00", False),
]


@pytest.mark.parametrize(("field_type", "value", "accepted"), TYPE_CASES)
def test_json_types_and_formats_are_exact(
    sandbox: Sandbox, session: httpx.Client, field_type: str, value: Any, accepted: bool
) -> None:
    field = optional_field(CYCLE, field_type)
    answer = insert(session, CYCLE, [minimal_row(CYCLE, **{field: value})])
    if accepted:
        assert answer == {**OK, "data": 1}
        assert sandbox.rows("cycle")[0][field] == value
    else:
        assert answer["code"] == 500
        assert field in answer["msg"]
        assert sandbox.rows("cycle") == []


def test_a_bad_date_is_caught_beside_dates_accepted_before(
    sandbox: Sandbox, session: httpx.Client
) -> None:
    field = optional_field(CYCLE, "date")
    assert insert(session, CYCLE, [minimal_row(CYCLE, "K1", **{field: "2024-01-31"})])["code"] == 0
    rows = [
        minimal_row(CYCLE, "K2", **{field: "2024-01-31"}),
        minimal_row(CYCLE, "K3", **{field: "2024-02-30"}),
    ]
    answer = insert(session, CYCLE, rows)
    assert answer["code"] == 500
    assert field in answer["msg"]
    assert [row["cycleid"] for row in sandbox.rows("cycle")] == ["K1"]


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        (b'{"cycleid": "K1"}', "请求体必须是由 JSON 对象组成的数组"),
        (b"[{oops", "请求体必须是由 JSON 对象组成的数组"),
        (b'[{"mage": NaN}]', "请求体必须是由 JSON 对象组成的数组"),
        ('[{"artplan": "长方案"}]'.encode("gb18030"), "请求体必须是由 JSON 对象组成的数组"),
        (b"[1]", "数组元素必须是 JSON 对象"),
    ],
    ids=["object", "broken", "nan", "not-utf8", "not-objects"],
)
def test_body_must_be_a_json_array_of_objects(
    sandbox: Sandbox, session: httpx.Client, body: bytes, msg: str
) -> None:
    answer = session.post(
        f"/art/{CYCLE.resource}/batchInsert", content=body, headers=HEADERS
    ).json()
    assert answer == {"msg": msg, "code": 500, "data": None}
    assert sandbox.stats()["rejected_batches"] == 1


def test_empty_batch_affects_nothing(session: httpx.Client) -> None:
    assert insert(session, CYCLE, []) == {**OK, "data": 0}


# -- update rules ------------------------------------------------------------------------------


def test_upsert_keeps_missing_and_null_fields_and_overwrites_with_0_and_empty(
    sandbox: Sandbox, session: httpx.Client
) -> None:
    string, integer, number, date, datetime = (
        optional_field(CYCLE, t) for t in ("string", "integer", "number", "date", "datetime")
    )
    first = minimal_row(
        CYCLE,
        **{
            string: "kept",
            integer: 7,
            number: 3.5,
            date: "2024-05-06",
            datetime: "2024-05-06 07:08:09",
        },
    )
    assert insert(session, CYCLE, [first])["data"] == 1
    update = minimal_row(CYCLE, **{integer: 0, number: 0, date: "", datetime: None})
    update.pop(string, None)
    assert insert(session, CYCLE, [update]) == {**OK, "data": 1}
    (stored,) = sandbox.rows("cycle")
    assert stored[string] == "kept"  # missing: kept
    assert stored[datetime] == "2024-05-06 07:08:09"  # null: kept
    assert stored[integer] == 0  # 0: overwritten
    assert stored[number] == 0
    assert stored[date] == ""  # "": overwritten
    assert insert(session, CYCLE, [minimal_row(CYCLE, **{string: ""})])["data"] == 1
    assert sandbox.rows("cycle")[0][string] == ""


def test_data_counts_inserted_and_updated_rows(sandbox: Sandbox, session: httpx.Client) -> None:
    insert(session, CYCLE, [minimal_row(CYCLE, "A")])
    batch = [minimal_row(CYCLE, "A"), minimal_row(CYCLE, "B"), minimal_row(CYCLE, "C")]
    assert insert(session, CYCLE, batch) == {**OK, "data": 3}
    assert [r["cycleid"] for r in sandbox.rows("cycle")] == ["A", "B", "C"]


def test_rows_of_one_batch_apply_in_order(sandbox: Sandbox, session: httpx.Client) -> None:
    string, integer = optional_field(CYCLE, "string"), optional_field(CYCLE, "integer")
    batch = [minimal_row(CYCLE, **{string: "first"}), minimal_row(CYCLE, **{integer: 3})]
    assert insert(session, CYCLE, batch) == {**OK, "data": 2}
    assert sandbox.rows("cycle") == [minimal_row(CYCLE, **{string: "first", integer: 3})]


def test_unknown_fields_are_ignored_but_counted(sandbox: Sandbox, session: httpx.Client) -> None:
    row = minimal_row(CYCLE)
    assert insert(session, CYCLE, [{**row, "programme": "x", "freeze": 1}])["code"] == 0
    assert insert(session, CYCLE, [{**row, "programme": "y"}])["code"] == 0
    assert sandbox.rows("cycle") == [row]
    assert sandbox.stats()["unknown_fields"] == {"cycle": {"programme": 2, "freeze": 1}}


# -- all or nothing ----------------------------------------------------------------------------


def test_one_bad_row_rejects_the_whole_batch_without_naming_it(
    sandbox: Sandbox, session: httpx.Client
) -> None:
    integer = optional_field(CYCLE, "integer")
    batch = [minimal_row(CYCLE, "A"), minimal_row(CYCLE, "B"), minimal_row(CYCLE, "C")]
    batch[2][integer] = "3"
    answer = insert(session, CYCLE, batch)
    assert answer == {"msg": f"字段 {integer} 应为 32 位整数", "code": 500, "data": None}
    batch[1]["artplan"] = ""
    assert insert(session, CYCLE, batch)["msg"] == "缺少请求参数，请检查"
    assert sandbox.rows("cycle") == []
    assert sandbox.stats()["rejected_batches"] == 2


def test_name_bad_row_says_which_row() -> None:
    integer = optional_field(CYCLE, "integer")
    with serving(name_bad_row=True) as (sandbox, client):
        login(client)
        batch = [minimal_row(CYCLE, "A"), minimal_row(CYCLE, "B"), minimal_row(CYCLE, "C")]
        batch[2][integer] = "3"
        assert insert(client, CYCLE, batch)["msg"] == f"第 3 行：字段 {integer} 应为 32 位整数"
        batch[1]["artplan"] = ""
        answer = insert(client, CYCLE, batch)
        assert answer == {"msg": "第 2 行：缺少必填字段 artplan", "code": 40007, "data": None}
        assert sandbox.rows("cycle") == []


# -- faults ------------------------------------------------------------------------------------


def test_fail_every_answers_a_gateway_page_without_processing() -> None:
    with serving(faults=Faults(fail_every=3)) as (sandbox, client):
        assert login(client)["code"] == 0  # request 1
        assert insert(client, CYCLE, [minimal_row(CYCLE, "A")])["code"] == 0  # 2
        failed = client.post(
            f"/art/{CYCLE.resource}/batchInsert", json=[minimal_row(CYCLE, "B")], headers=HEADERS
        )  # 3
        assert failed.status_code == 503
        assert failed.headers["content-type"].startswith("text/html")
        assert "<html>" in failed.text
        assert insert(client, CYCLE, [minimal_row(CYCLE, "C")])["code"] == 0  # 4
        assert [r["cycleid"] for r in sandbox.rows("cycle")] == ["A", "C"]
        assert sandbox.stats()["faults"] == {"drop": 0, "lose": 0, "fail": 1, "too_large": 0}


def test_drop_every_closes_the_connection_unanswered() -> None:
    with serving(faults=Faults(drop_every=2)) as (sandbox, client):
        assert login(client)["code"] == 0  # request 1
        with pytest.raises(httpx.RemoteProtocolError):
            insert(client, CYCLE, [minimal_row(CYCLE, "A")])  # 2
        assert insert(client, CYCLE, [minimal_row(CYCLE, "B")])["code"] == 0  # 3, reconnected
        assert [r["cycleid"] for r in sandbox.rows("cycle")] == ["B"]
        assert sandbox.stats()["faults"] == {"drop": 1, "lose": 0, "fail": 0, "too_large": 0}


def test_lose_every_carries_out_the_request_and_closes_the_connection_unanswered() -> None:
    with serving(faults=Faults(lose_every=2)) as (sandbox, client):
        assert login(client)["code"] == 0  # request 1
        with pytest.raises(httpx.RemoteProtocolError):
            insert(client, CYCLE, [minimal_row(CYCLE, "A")])  # 2: stored, answer lost
        assert insert(client, CYCLE, [minimal_row(CYCLE, "B")])["code"] == 0  # 3, reconnected
        assert [r["cycleid"] for r in sandbox.rows("cycle")] == ["A", "B"]
        assert sandbox.stats()["faults"] == {"drop": 0, "lose": 1, "fail": 0, "too_large": 0}


def test_max_body_answers_a_gateway_page_to_a_larger_body() -> None:
    small, large = [minimal_row(CYCLE, "A")], [minimal_row(CYCLE, key) for key in "BCDEFGHIJK"]
    limit = len(json.dumps(small).encode()) + 100
    with serving(faults=Faults(max_body=limit)) as (sandbox, client):
        assert login(client)["code"] == 0
        refused = client.post(f"/art/{CYCLE.resource}/batchInsert", json=large, headers=HEADERS)
        assert refused.status_code == 413
        assert refused.headers["content-type"].startswith("text/html")
        assert "413 Request Entity Too Large" in refused.text
        assert insert(client, CYCLE, small)["code"] == 0  # same connection, under the limit
        assert [r["cycleid"] for r in sandbox.rows("cycle")] == ["A"]
        assert sandbox.stats()["faults"] == {"drop": 0, "lose": 0, "fail": 0, "too_large": 1}


def test_expire_after_ends_a_login_after_n_requests() -> None:
    with serving(faults=Faults(expire_after=2)) as (_, client):
        assert login(client)["code"] == 0
        assert insert(client, CYCLE, [minimal_row(CYCLE)])["code"] == 0
        assert insert(client, CYCLE, [minimal_row(CYCLE)])["code"] == 0
        assert insert(client, CYCLE, [minimal_row(CYCLE)])["code"] == 40003
        assert insert(client, CYCLE, [minimal_row(CYCLE)])["code"] == 40003
        assert login(client)["code"] == 0
        assert insert(client, CYCLE, [minimal_row(CYCLE)])["code"] == 0


def test_latency_delays_every_answer() -> None:
    with serving(faults=Faults(latency=0.3)) as (_, client):
        started = time.monotonic()
        assert login(client)["code"] == 0
        assert time.monotonic() - started >= 0.3


def test_success_code_changes_only_successes() -> None:
    with serving(faults=Faults(success_code=200)) as (_, client):
        assert insert(client, CYCLE, [minimal_row(CYCLE)])["code"] == 40003
        assert login(client) == {"msg": "请求成功", "code": 200, "data": {}}
        assert insert(client, CYCLE, [minimal_row(CYCLE)]) == {
            "msg": "请求成功",
            "code": 200,
            "data": 1,
        }


def test_reject_prefix_rejects_the_batch_holding_such_a_key() -> None:
    with serving(faults=Faults(reject_prefix="BAD")) as (sandbox, client):
        login(client)
        answer = insert(client, CYCLE, [minimal_row(CYCLE, "OK1"), minimal_row(CYCLE, "BAD1")])
        assert answer == {"msg": "数据未通过平台业务规则校验", "code": 500, "data": None}
        assert insert(client, CYCLE, [minimal_row(CYCLE, "OK2")])["code"] == 0
        assert [r["cycleid"] for r in sandbox.rows("cycle")] == ["OK2"]
        assert sandbox.stats()["rejected_batches"] == 1


def test_faults_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="fail_every"):
        Faults(fail_every=-1)


def test_faults_are_counted_deterministically_across_threads() -> None:
    with serving(faults=Faults(fail_every=4)) as (sandbox, _):

        def knock() -> None:
            with httpx.Client(base_url=sandbox.base_url, timeout=5) as own:
                for _ in range(10):
                    own.post("/art/login", json={})

        threads = [threading.Thread(target=knock) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = sandbox.stats()
    assert stats["requests"] == 40
    assert stats["faults"]["fail"] == 10


# -- inspection and routing --------------------------------------------------------------------


def test_stats_count_requests_per_endpoint_in_order(
    sandbox: Sandbox, session: httpx.Client
) -> None:
    row = minimal_row(CYCLE)
    insert(session, CYCLE, [row])
    delete(session, CYCLE, delete_params(CYCLE, row))
    assert session.get("/art/nowhere").status_code == 404
    assert session.get(f"/art/{CYCLE.resource}/batchInsert").status_code == 404
    stats = sandbox.stats()
    assert stats["log"] == [
        ("POST", "/art/login"),
        ("POST", "/art/aCyclerecord/batchInsert"),
        ("GET", "/art/aCyclerecord/delete"),
        ("GET", "/art/nowhere"),
        ("GET", "/art/aCyclerecord/batchInsert"),
    ]
    assert stats["requests"] == 5
    assert stats["endpoints"] == {
        "/art/login": 1,
        "/art/aCyclerecord/batchInsert": 2,
        "/art/aCyclerecord/delete": 1,
        "/art/nowhere": 1,
    }
    over_http = session.get("/_sandbox/stats").json()
    assert over_http == {**stats, "log": [list(entry) for entry in stats["log"]]}
    assert sandbox.stats()["requests"] == 5  # looking does not count


def test_rows_endpoint(sandbox: Sandbox, session: httpx.Client) -> None:
    row = minimal_row(CYCLE)
    insert(session, CYCLE, [row])
    assert session.get("/_sandbox/rows/cycle").json() == [row]
    assert session.get("/_sandbox/rows/周期信息").json() == [row]
    assert session.get("/_sandbox/rows/nonsense").status_code == 404
    assert session.get("/_sandbox/elsewhere").status_code == 404


def test_chunked_body_is_read(sandbox: Sandbox, session: httpx.Client) -> None:
    body = httpx.Request("POST", "/", json=[minimal_row(CYCLE)]).content

    def chunks() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    answer = session.post(f"/art/{CYCLE.resource}/batchInsert", content=chunks(), headers=HEADERS)
    assert answer.json() == {**OK, "data": 1}
    assert session.get("/_sandbox/rows/cycle").json() == [minimal_row(CYCLE)]


def test_unreadable_content_length_is_a_bad_request(sandbox: Sandbox) -> None:
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"POST /art/login HTTP/1.1\r\nHost: x\r\nContent-Length: nine\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")


def test_expect_100_continue_is_answered_before_the_body(sandbox: Sandbox) -> None:
    # What curl does with a large body: it waits for "100 Continue" before sending it.
    body = json.dumps({"orgid": ORGID, "key": KEY, "token": token_for(ORGID, KEY)}).encode()
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            b"POST /art/login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        assert raw.recv(100).startswith(b"HTTP/1.1 100")
        raw.sendall(body)
        answer = raw.recv(1000)
    assert answer.startswith(b"HTTP/1.1 200")
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {**OK, "data": {}}


# -- lifecycle and storage ---------------------------------------------------------------------


def test_file_database_outlives_the_sandbox(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    row = minimal_row(CYCLE)
    field = optional_field(CYCLE, "string")
    updated = {**row, field: "later"}
    with serving(db=db) as (_, client):
        login(client)
        insert(client, CYCLE, [row])
        assert read_rows(db, "cycle") == [row]  # readable while the sandbox runs
        insert(client, CYCLE, [{**minimal_row(CYCLE), field: "later"}])
    assert read_rows(db, "cycle") == [updated]
    # It holds whatever was rehearsed with, real exports included.
    assert {path.stat().st_mode & 0o777 for path in tmp_path.glob("sandbox.db*")} == {0o600}
    with Sandbox(db=db) as again:
        assert again.rows("cycle") == [updated]
    assert read_rows(db, "cycle") == [updated]


def test_read_rows_refuses_a_missing_or_foreign_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="sandbox-db-not-found"):
        read_rows(tmp_path / "absent.db", "cycle")
    (tmp_path / "text.db").write_text("not a database")
    with pytest.raises(InputError, match="sandbox-db-unreadable"):
        read_rows(tmp_path / "text.db", "cycle")


def test_stop_ends_kept_alive_connections_and_threads() -> None:
    # Threads other tests left behind may end meanwhile: compare sets, not counts.
    before = set(threading.enumerate())
    sandbox = Sandbox().start()
    with httpx.Client(base_url=sandbox.base_url, timeout=5) as client:
        assert login(client)["code"] == 0  # the connection stays open
        started = time.monotonic()
        sandbox.stop()
        assert time.monotonic() - started < 1
        assert set(threading.enumerate()) - before == set()
        with pytest.raises(httpx.TransportError):
            login(client)
    sandbox.stop()  # twice is harmless
    assert sandbox.stats()["logins"] == 1


def test_busy_port_is_a_usage_error(sandbox: Sandbox) -> None:
    port = int(sandbox.base_url.rsplit(":", 1)[1])
    with pytest.raises(UsageError, match="sandbox-cannot-listen"):
        Sandbox(port=port).start()


def test_default_organisation_is_the_demo_one(sandbox: Sandbox, client: httpx.Client) -> None:
    assert DEMO_ORG[0] == "ZJ3301001"
    assert login(client)["code"] == 0
    with pytest.raises(RuntimeError):
        Sandbox().rows("cycle")
