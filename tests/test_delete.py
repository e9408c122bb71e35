"""``artreport delete`` against the sandbox: the query parameters each record type needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from artreport.cli import app
from artreport.client.answers import Answer, Outcome
from artreport.errors import UsageError
from artreport.fakedata import fake_rows, write_rows
from artreport.sandbox import Faults, Sandbox
from artreport.schema import load_schema
from artreport.upload.delete import DeleteResult, target_for, targets_from_file

ORGID = "ZJ3301001"
KEY = "delete-test-key"
SCHEMA = load_schema()
runner = CliRunner()


@pytest.fixture
def sandbox() -> Any:
    with Sandbox({ORGID: KEY}) as running:
        yield running


def env(sandbox: Sandbox) -> dict[str, str]:
    return {"ARTREPORT_BASE_URL": sandbox.base_url, "ARTREPORT_ORGID": ORGID, "ARTREPORT_KEY": KEY}


def load(sandbox: Sandbox, tmp_path: Path, type_name: str, count: int) -> list[dict[str, Any]]:
    record_type = SCHEMA.get(type_name)
    rows = list(fake_rows(record_type, count, orgid=ORGID))
    path = tmp_path / f"{type_name}.csv"
    write_rows(path, record_type, rows)
    result = runner.invoke(app, ["push", type_name, str(path)], env=env(sandbox))
    assert result.exit_code == 0, result.output
    return rows


@pytest.mark.parametrize("record_type", list(SCHEMA), ids=lambda t: t.name)
def test_delete_parameters_follow_each_types_table(record_type: Any) -> None:
    target = target_for(record_type, "K1", ORGID, "C1")
    assert set(target.params) == set(record_type.delete_params)
    if "cycleid" in record_type.delete_params and record_type.primary_key != "cycleid":
        with pytest.raises(UsageError):
            target_for(record_type, "K1", ORGID, None)


def test_delete_one_record_with_its_cycle(sandbox: Sandbox, tmp_path: Path) -> None:
    rows = load(sandbox, tmp_path, "ovum", 3)
    result = runner.invoke(
        app,
        ["delete", "ovum", "--id", rows[1]["ovumid"], "--cycleid", rows[1]["cycleid"], "--yes"],
        env=env(sandbox),
    )
    assert result.exit_code == 0, result.output
    assert sorted(r["ovumid"] for r in sandbox.rows("ovum")) == [
        rows[0]["ovumid"],
        rows[2]["ovumid"],
    ]


def test_a_deleted_record_is_sent_again_by_a_changed_only_push(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = load(sandbox, tmp_path, "ovum", 3)
    deleted = rows[1]["ovumid"]
    result = runner.invoke(
        app,
        ["delete", "ovum", "--id", deleted, "--cycleid", rows[1]["cycleid"], "--yes"],
        env=env(sandbox),
    )
    assert result.exit_code == 0, result.output
    again = runner.invoke(
        app,
        ["push", "ovum", str(tmp_path / "ovum.csv"), "--changed-only", "--json"],
        env=env(sandbox),
    )
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert (summary["sent"], summary["skipped_unchanged"]) == (1, 2)
    assert deleted in {r["ovumid"] for r in sandbox.rows("ovum")}


def test_not_found_is_reported_plainly_with_a_nonzero_exit(sandbox: Sandbox) -> None:
    result = runner.invoke(
        app, ["--lang", "en", "delete", "cycle", "--id", "NO-SUCH", "--yes"], env=env(sandbox)
    )
    assert result.exit_code == 1
    assert "No such record" in result.output and "40006" in result.output


def test_delete_many_from_a_file(sandbox: Sandbox, tmp_path: Path) -> None:
    rows = load(sandbox, tmp_path, "transplant", 6)
    listing = tmp_path / "to_delete.csv"
    listing.write_text(
        "移植ID,周期ID\n" + "".join(f"{r['transplantid']},{r['cycleid']}\n" for r in rows[:4]),
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        ["delete", "transplant", "--from-file", str(listing), "--yes", "--json"],
        env=env(sandbox),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == 4
    assert len(sandbox.rows("transplant")) == 2


def test_a_workbook_filled_in_from_the_template_is_read_without_sheet(
    sandbox: Sandbox,
) -> None:
    # The template's own sheet of field notes (字段说明) lists no records: it is no reason to
    # ask which sheet, nor to note on every push which sheet was read.
    path = Path(__file__).parent / "files" / "ovum_from_template.xlsx"
    pushed = runner.invoke(app, ["push", "ovum", str(path)], env=env(sandbox))
    assert pushed.exit_code == 0, pushed.output
    assert "字段说明" not in pushed.output and "工作表" not in pushed.output
    assert sorted((r["ovumid"], r["cycleid"]) for r in sandbox.rows("ovum")) == [
        ("00601", "0001001"),
        ("00602", "0001002"),
    ]

    result = runner.invoke(
        app, ["delete", "ovum", "--from-file", str(path), "--yes", "--json"], env=env(sandbox)
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == 2
    assert sandbox.rows("ovum") == []


@pytest.mark.parametrize("given", [["--id"], ["--cycleid"]])
def test_an_id_and_a_listing_together_delete_nothing(
    sandbox: Sandbox, tmp_path: Path, given: list[str]
) -> None:
    # Which one the clerk meant cannot be known, and a delete cannot be undone: the listing
    # was silently passed over for the --id, or the --cycleid for the listing's.
    rows = load(sandbox, tmp_path, "transplant", 3)
    listing = tmp_path / "to_delete.csv"
    listing.write_text(
        "移植ID,周期ID\n" + "".join(f"{r['transplantid']},{r['cycleid']}\n" for r in rows[:2]),
        encoding="utf-8",
    )
    options = {"--id": rows[2]["transplantid"], "--cycleid": rows[2]["cycleid"]}
    result = runner.invoke(
        app,
        ["--lang", "en", "delete", "transplant", "--from-file", str(listing), "--yes", "--json"]
        + [part for option in given for part in (option, options[option])],
        env=env(sandbox),
    )
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"] == "delete-id-and-file"
    assert "Nothing was deleted." in json.loads(result.stdout)["message"]
    assert len(sandbox.rows("transplant")) == 3


@pytest.mark.parametrize("type_name", ["information", "thawdet", "supplier", "selfsemen"])
def test_a_cycle_id_the_delete_does_not_take_deletes_nothing(
    sandbox: Sandbox, tmp_path: Path, type_name: str
) -> None:
    # These deletes have no cycleid parameter: a clerk's --cycleid would check nothing.
    key = SCHEMA.get(type_name).primary_key
    [row] = load(sandbox, tmp_path, type_name, 1)
    command = ["delete", type_name, "--id", row[key], "--cycleid", "CYC9", "--yes", "--json"]

    result = runner.invoke(app, command, env=env(sandbox))

    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"] == "delete-cycleid-unused"
    assert len(sandbox.rows(type_name)) == 1


def test_a_cycle_id_other_than_the_cycles_own_deletes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    [row] = load(sandbox, tmp_path, "cycle", 1)
    command = ["delete", "cycle", "--id", row["cycleid"], "--yes", "--json", "--cycleid"]

    other = runner.invoke(app, [*command, row["cycleid"] + "9"], env=env(sandbox))

    assert other.exit_code == 2, other.output
    assert json.loads(other.stdout)["error"] == "delete-cycleid-differs"
    assert len(sandbox.rows("cycle")) == 1
    same = runner.invoke(app, [*command, row["cycleid"]], env=env(sandbox))
    assert same.exit_code == 0, same.output
    assert sandbox.rows("cycle") == []


def test_a_listing_on_the_second_sheet_is_read_from_there(tmp_path: Path) -> None:
    # The first sheet lists cycles: its 周期ID and 机构ID are ovum columns too, but not the
    # records to delete.
    workbook = openpyxl.Workbook()
    cycles = workbook.active
    cycles.title = "周期"
    cycles.append(["周期ID", "机构ID", "档案信息ID"])
    cycles.append(["CYC1", ORGID, "INF1"])
    listing = workbook.create_sheet("取卵")
    listing.append(["取卵信息ID", "周期ID"])
    listing.append(["OVU1", "CYC1"])
    path = tmp_path / "to_delete.xlsx"
    workbook.save(path)

    # Deleting cannot be undone: with two sheets, the user says which.
    with pytest.raises(UsageError) as caught:
        list(targets_from_file(SCHEMA.get("ovum"), path, ORGID))
    assert caught.value.code == "delete-file-several-sheets"

    targets = list(targets_from_file(SCHEMA.get("ovum"), path, ORGID, sheet="取卵"))

    assert [(t.row, t.params["ovumid"], t.params["cycleid"]) for t in targets] == [
        (2, "OVU1", "CYC1")
    ]


def test_delete_without_yes_off_a_terminal_refuses(sandbox: Sandbox) -> None:
    result = runner.invoke(app, ["delete", "cycle", "--id", "X"], env=env(sandbox))
    assert result.exit_code == 2
    assert sandbox.stats()["requests"] == 0


def test_a_delete_whose_answer_was_lost_is_reported_done(tmp_path: Path) -> None:
    db = tmp_path / "platform.db"
    with Sandbox({ORGID: KEY}, db=db) as before:
        rows = load(before, tmp_path, "ovum", 2)
    # Request 1 logs in; request 2, the delete, is carried out and its answer lost; the copy
    # sent again finds nothing to delete.
    with Sandbox({ORGID: KEY}, db=db, faults=Faults(lose_every=2)) as sandbox:
        result = runner.invoke(
            app,
            [
                "--lang",
                "en",
                "delete",
                "ovum",
                "--yes",
                "--id",
                rows[0]["ovumid"],
                "--cycleid",
                rows[0]["cycleid"],
            ],
            env=env(sandbox),
        )
        assert sandbox.stats()["faults"]["lose"] == 1
        assert [r["ovumid"] for r in sandbox.rows("ovum")] == [rows[1]["ovumid"]]
    assert result.exit_code == 0, result.output
    assert "1 deleted, 0 not found" in result.output
    assert "answer was lost on the way" in result.output and "check it" in result.output


def test_delete_by_id_reads_an_id_number_as_push_stored_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    selfsemen = SCHEMA.get("selfsemen")
    rows = list(fake_rows(selfsemen, 1, orgid=ORGID))
    rows[0]["idcard"] = "11010519491231002x"  # stored as …002X
    path = tmp_path / "selfsemen.csv"
    write_rows(path, selfsemen, rows)
    pushed = runner.invoke(app, ["push", "selfsemen", str(path)], env=env(sandbox))
    assert pushed.exit_code == 0, pushed.output
    assert [r["idcard"] for r in sandbox.rows("selfsemen")] == ["11010519491231002X"]
    result = runner.invoke(
        app,
        ["delete", "selfsemen", "--id", "110105 19491231 002x", "--yes"],
        env=env(sandbox),
    )
    assert result.exit_code == 0, result.output
    assert sandbox.rows("selfsemen") == []


def test_a_refused_delete_says_so_with_the_platforms_code(tmp_path: Path) -> None:
    """Any answer but success or 40006 used to end in a traceback."""
    with Sandbox({ORGID: KEY}, faults=Faults(reject_prefix="LOCKED")) as sandbox:
        result = runner.invoke(
            app,
            ["--lang", "en", "delete", "cycle", "--id", "LOCKED1", "--yes"],
            env=env(sandbox),
        )
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Deleting LOCKED1 failed (code 500)" in result.output


def test_an_id_that_cannot_be_used_is_named_not_a_traceback(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    by_id = runner.invoke(
        app,
        ["--lang", "en", "delete", "cycle", "--id", "CYC\u200b1", "--yes"],
        env=env(sandbox),
    )
    assert by_id.exit_code == 2, by_id.output
    assert "cannot be used (id-look-alike-character)" in by_id.output
    listing = tmp_path / "ids.csv"
    listing.write_text("周期ID\nCYC1\nCYC\u200b2\n", encoding="utf-8")
    from_file = runner.invoke(
        app,
        ["--lang", "en", "delete", "cycle", "--from-file", str(listing), "--yes"],
        env=env(sandbox),
    )
    assert from_file.exit_code == 2, from_file.output
    assert "row 3: cycleid cannot be used (id-look-alike-character)" in from_file.output


@pytest.mark.parametrize("as_json", [False, True])
def test_a_delete_stopped_part_way_still_reports_what_it_deleted(
    sandbox: Sandbox, tmp_path: Path, as_json: bool
) -> None:
    rows = load(sandbox, tmp_path, "cycle", 3)
    listing = tmp_path / "to_delete.csv"
    listing.write_text("周期ID\n" + "".join(f"{r['cycleid']}\n" for r in rows), encoding="utf-8")
    platform = sandbox._serving().platform
    route = ("GET", f"/art/{SCHEMA.get('cycle').resource}/delete")
    delete = platform._routes[route]

    def delete_then_lose_the_licence(request: Any) -> int:
        answer = delete(request)
        platform.disable_org(ORGID)  # the next request is refused: credentials
        return answer

    platform._routes[route] = delete_then_lose_the_licence
    arguments = ["--lang", "en", "delete", "cycle", "--from-file", str(listing), "--yes"]
    result = runner.invoke(app, arguments + (["--json"] if as_json else []), env=env(sandbox))
    assert result.exit_code == 3, result.output
    assert len(sandbox.rows("cycle")) == 2
    first = rows[0]["cycleid"]
    if as_json:
        payload = json.loads(result.stdout)
        assert (payload["deleted"], payload["not_attempted"]) == (1, 2)
        assert payload["results"][0]["deleted"] and payload["error"]
    else:
        assert f"✓ Deleted {first}" in result.output or first in result.output
        assert "1 deleted" in result.output
        assert "The other 2 were not deleted" in result.output


@pytest.mark.parametrize(
    ("data", "lost", "deleted", "not_found"),
    [
        (1, 0, True, False),
        (None, 0, True, False),  # no count: the success says it
        (0, 0, False, True),  # "success, 0 deleted": a mistyped ID said ✓ Deleted, exit 0
        (0, 1, True, False),  # the copy whose answer was lost deleted it
    ],
)
def test_a_success_that_deleted_nothing_is_not_found(
    data: Any, lost: int, deleted: bool, not_found: bool
) -> None:
    target = target_for(SCHEMA.get("information"), "INF-1", ORGID, None)
    answer = Answer(0, "请求成功", data, Outcome.SUCCESS, attempts=1 + lost, lost_answers=lost)
    result = DeleteResult(target, answer)
    assert (result.deleted, result.not_found) == (deleted, not_found)


@pytest.mark.parametrize(
    ("data", "deleted"),
    [
        ("0", False),  # a String in Java
        (0.0, False),  # a Double
        (False, False),  # MyBatis-Plus's removeById: whether a row went
        ("1", True),
        (-2, True),  # JDBC's SUCCESS_NO_INFO: done, count unknown
        (True, True),
    ],
)
def test_a_count_of_deletions_in_another_json_type_is_read_as_the_count(
    monkeypatch: pytest.MonkeyPatch, data: Any, deleted: bool
) -> None:
    """ "0" and false, "nothing deleted" in a Java platform's words, were said ✓ Deleted."""
    from artreport.sandbox import platform as sandbox_platform

    monkeypatch.setattr(sandbox_platform.Platform, "_delete", lambda self, *_: data)
    arguments = ["--lang", "en", "delete", "cycle", "--id", "CYC1", "--yes"]
    with Sandbox({ORGID: KEY}) as sandbox:
        result = runner.invoke(app, arguments, env=env(sandbox))
    said = "1 deleted, 0 not found" if deleted else "0 deleted, 1 not found"
    assert result.exit_code == (0 if deleted else 1), result.output
    assert said in result.output


def test_a_success_that_deleted_nothing_is_said_so_naming_the_cycle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A platform that answers a delete it could not carry out with success and a count of 0."""
    from artreport.sandbox import platform as sandbox_platform

    monkeypatch.setattr(sandbox_platform.Platform, "_delete", lambda self, *_: 0)
    arguments = ["--lang", "en", "delete", "ovum", "--id", "OV1", "--cycleid", "CY9", "--yes"]
    with Sandbox({ORGID: KEY}) as sandbox:
        result = runner.invoke(app, arguments, env=env(sandbox))
    assert result.exit_code == 1, result.output
    assert "said it deleted 0 records" in result.output and "under cycle CY9" in result.output
    assert "40006" not in result.output and "0 deleted, 1 not found" in result.output


def test_not_found_after_a_refused_first_copy_is_not_found(tmp_path: Path) -> None:
    """A 503 turns a request away, and a 40003 says the platform did not act on it: the copy
    sent again that finds nothing means nothing was there. Only a lost answer (the request
    may have been carried out) makes "not found" read as "deleted by the first copy"."""
    arguments = ["--lang", "en", "delete", "cycle", "--id", "NEVER-EXISTED", "--yes"]
    # Request 1 logs in; request 2, the delete, is answered 503; its copy, 40006.
    with Sandbox({ORGID: KEY}, faults=Faults(fail_every=2)) as sandbox:
        turned_away = runner.invoke(app, arguments, env=env(sandbox))
        assert sandbox.stats()["faults"]["fail"] == 1
    assert turned_away.exit_code == 1, turned_away.output
    assert "0 deleted, 1 not found" in turned_away.output

    # A login kept from a sandbox since restarted at the same address: the delete is answered
    # 40003, the client logs in again and sends it again.
    with Sandbox({ORGID: KEY}) as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        assert runner.invoke(app, ["login"], env=env(first)).exit_code == 0
    with Sandbox({ORGID: KEY}, port=port) as sandbox:
        expired = runner.invoke(app, arguments, env=env(sandbox))
        assert sandbox.stats()["logins"] >= 1
    assert expired.exit_code == 1, expired.output
    assert "0 deleted, 1 not found" in expired.output


def test_a_one_column_listing_on_the_first_sheet_is_the_listing(tmp_path: Path) -> None:
    """The first sheet lists the one record to delete by its ID alone; the second is a full
    export. Read from the export, every record in it was deleted."""
    workbook = openpyxl.Workbook()
    listing = workbook.active
    listing.title = "待删除"
    listing.append(["档案信息ID"])
    listing.append(["D2"])
    export = workbook.create_sheet("全部档案")
    export.append(["档案信息ID", "病历号", "女方姓名", "机构ID"])
    for number in range(1, 5):
        export.append([f"D{number}", f"M{number}", "王芳", ORGID])
    path = tmp_path / "todelete.xlsx"
    workbook.save(path)

    with pytest.raises(UsageError):
        list(targets_from_file(SCHEMA.get("information"), path, ORGID))
    targets = list(targets_from_file(SCHEMA.get("information"), path, ORGID, sheet="待删除"))

    assert [t.params["informationid"] for t in targets] == ["D2"]


def test_a_sheet_naming_the_ids_as_references_is_not_taken_for_the_listing(
    tmp_path: Path,
) -> None:
    """The first sheet lists cycles, whose 档案信息ID column names patient files; the second
    lists the one patient file to delete. Read from the first, every patient file its cycles
    name would be deleted."""
    workbook = openpyxl.Workbook()
    cycles = workbook.active
    cycles.title = "周期"
    cycles.append(["周期ID", "档案信息ID", "机构ID"])
    for number in range(1, 5):
        cycles.append([f"C{number}", f"D{number}", ORGID])
    listing = workbook.create_sheet("待删除档案")
    listing.append(["档案信息ID"])
    listing.append(["D2"])
    path = tmp_path / "mixed.xlsx"
    workbook.save(path)
    with pytest.raises(UsageError) as caught:
        list(targets_from_file(SCHEMA.get("information"), path, ORGID))
    assert "--sheet" in caught.value.message("en")


def test_delete_from_a_workbook_of_several_sheets_needs_the_sheet_named(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["请在第二个表中列出要删除的档案"])
    listing = workbook.create_sheet("待删除")
    listing.append(["档案信息ID"])
    listing.append(["NO-SUCH"])
    path = tmp_path / "todelete.xlsx"
    workbook.save(path)
    arguments = ["--lang", "en", "delete", "information", "--from-file", str(path), "--yes"]
    result = runner.invoke(app, arguments, env=env(sandbox))
    assert result.exit_code == 2, result.output
    assert "--sheet" in result.output
    chosen = runner.invoke(app, [*arguments, "--sheet", "待删除"], env=env(sandbox))
    assert "No such record on the platform: NO-SUCH" in chosen.output, chosen.output


def test_rows_of_a_listing_without_an_id_are_named_not_passed_over(tmp_path: Path) -> None:
    """A listing with gaps (NULL from a database tool, an empty cell) may be the wrong column:
    the clerk is told which rows delete nothing before confirming the rest."""
    path = tmp_path / "todelete.csv"
    path.write_text("档案信息ID,病历号\nD1,M1\nNULL,M2\n\nD4,M4\n ,M6\n", encoding="utf-8")
    notices: list[Any] = []
    targets = list(targets_from_file(SCHEMA.get("information"), path, ORGID, notices))
    assert [t.params["informationid"] for t in targets] == ["D1", "D4"]
    [notice] = [n for n in notices if n.code == "delete-rows-without-id"]
    assert (notice.row, notice.params["count"], notice.params["rows"]) == (3, 2, "3, 6")
    assert "rows 3, 6" in notice.message("en")


def test_an_id_number_or_a_name_given_as_the_record_id_is_masked(sandbox: Sandbox) -> None:
    """Typed into --id or listed in --from-file by mistake, a patient's ID number or name was
    printed whole in the "not found" line and the JSON."""
    for record_id in ("330101199001011238", "张三丰"):
        for as_json in ([], ["--json"]):
            result = runner.invoke(
                app,
                ["delete", "information", "--id", record_id, "--yes", *as_json],
                env=env(sandbox),
            )
            assert result.exit_code == 1, result.output
            assert record_id not in result.output
            assert record_id[-2:] in result.output or "张" in result.output


def test_a_row_below_the_totals_deletes_nothing(tmp_path: Path) -> None:
    """Push refuses a record below a 合计 row; delete took its ID and deleted it, exit 0."""
    path = tmp_path / "todelete.csv"
    path.write_text(
        "周期ID,档案信息ID,方案,周期开始时间\nT1,I1,IVF,2023-05-01\nT2,I2,IVF,2023-05-02\n"
        "合计,,,\nT3,I3,IVF,2023-05-03\n",
        encoding="utf-8",
    )
    notices: list[Any] = []
    targets = list(targets_from_file(SCHEMA.get("cycle"), path, ORGID, notices))
    assert [t.params["cycleid"] for t in targets] == ["T1", "T2"]
    [notice] = [n for n in notices if n.code == "delete-rows-unusable"]
    assert notice.params["rows"] == "5"


def test_a_missing_cycle_id_is_asked_for_by_the_types_name_and_the_files_row(
    tmp_path: Path,
) -> None:
    with pytest.raises(UsageError) as alone:
        target_for(SCHEMA.get("ovum"), "X001", ORGID, None)
    assert "取卵信息 (ovum)" in alone.value.message("en") and "row" not in alone.value.message("en")
    path = tmp_path / "todelete.csv"
    path.write_text("取卵信息ID,周期ID\nO1,C1\nO2,\n", encoding="utf-8")
    with pytest.raises(UsageError) as in_file:
        list(targets_from_file(SCHEMA.get("ovum"), path, ORGID))
    assert "row 3" in in_file.value.message("en")


def at_a_terminal(
    arguments: list[str], answer: bytes, environment: dict[str, str]
) -> tuple[int, str]:
    """Run artreport at a terminal (a pseudo-terminal), type ``answer``, and read all it says."""
    import os
    import pty
    import subprocess
    import sys

    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "artreport", *arguments],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, **environment},
    )
    os.close(secondary)
    os.write(main, answer)
    said = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        said += chunk
    os.close(main)
    return process.wait(timeout=60), said.decode("utf-8", "replace")


@pytest.mark.parametrize("answer", [b"n\n", b"\x04"], ids=["no", "end-of-input"])
def test_at_a_terminal_no_answer_or_no_input_cancels(sandbox: Sandbox, answer: bytes) -> None:
    """Ctrl-D at the question (the input ended) was an internal error (Abort), exit 2."""
    code, said = at_a_terminal(["delete", "cycle", "--id", "CYC1"], answer, env(sandbox))
    assert code == 1, said
    assert "已取消，未删除任何记录。" in said and "内部错误" not in said


# --------------------------------------------------------------------------------------------
# Rows hidden in the sheet: a clerk filters it to show the rows to delete.

FILES = Path(__file__).parent / "files"


def filtered_listing(path: Path, rows: list[dict[str, Any]], hidden: list[int]) -> Path:
    """A 待删除 sheet listing *rows*' freeze records, with the sheet rows *hidden* as a
    filter leaves them."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "待删除"
    sheet.append(["冷冻ID", "周期ID", "备注"])
    for number, row in enumerate(rows, 2):
        reason = "已删除" if number in hidden else "重复录入"
        sheet.append([row["freezeid"], row["cycleid"], reason])
    for number in hidden:
        sheet.row_dimensions[number].hidden = True
    sheet.auto_filter.ref = f"A1:C{len(rows) + 1}"
    workbook.save(path)
    return path


def test_rows_hidden_by_a_filter_are_not_deleted(sandbox: Sandbox, tmp_path: Path) -> None:
    """Every listed record was deleted, the filtered-out ones too, with push's notice that
    spoke of sending them."""
    rows = load(sandbox, tmp_path, "freeze", 6)
    path = filtered_listing(tmp_path / "filtered.xlsx", rows, [2, 4, 5, 7])
    arguments = ["delete", "freeze", "--from-file", str(path), "--yes"]
    result = runner.invoke(app, arguments, env=env(sandbox))
    assert result.exit_code == 0, result.output
    kept = sorted(r["freezeid"] for r in sandbox.rows("freeze"))
    assert kept == sorted(rows[i]["freezeid"] for i in (0, 2, 3, 5))
    assert "第 2, 4, 5, 7 行" in result.output and "不删除这些行的记录" in result.output
    assert "取消隐藏后再运行" in result.output and "上报" not in result.output
    assert "删除 2 条" in result.output


def test_delete_json_names_the_hidden_rows_it_left_out(sandbox: Sandbox, tmp_path: Path) -> None:
    rows = load(sandbox, tmp_path, "freeze", 6)
    path = filtered_listing(tmp_path / "filtered.xlsx", rows, [2, 4, 5, 7])
    arguments = ["--lang", "en", "delete", "freeze", "--from-file", str(path), "--yes", "--json"]
    result = runner.invoke(app, arguments, env=env(sandbox))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["deleted"], payload["hidden_rows"]) == (2, [2, 4, 5, 7])
    assert [(r["row"], r["position"]) for r in payload["results"]] == [(3, 1), (6, 2)]
    [notice] = [n for n in payload["notices"] if n["code"] == "delete-rows-hidden"]
    assert notice["row"] == 2 and "rows 2, 4, 5, 7" in notice["message"]
    assert "not deleted" in notice["message"]
    assert len(sandbox.rows("freeze")) == 4


def test_a_listing_whose_rows_are_all_hidden_deletes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = load(sandbox, tmp_path, "freeze", 2)
    path = filtered_listing(tmp_path / "filtered.xlsx", rows, [2, 3])
    arguments = ["--lang", "en", "delete", "freeze", "--from-file", str(path), "--yes"]
    result = runner.invoke(app, arguments, env=env(sandbox))
    assert result.exit_code == 2, result.output
    assert "are all hidden (rows 2, 3" in result.output and "nothing was deleted" in result.output
    as_json = runner.invoke(app, [*arguments, "--json"], env=env(sandbox))
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["error"] == "delete-file-all-hidden"
    assert len(sandbox.rows("freeze")) == 2


def test_at_a_terminal_the_hidden_rows_are_named_before_the_question(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = load(sandbox, tmp_path, "freeze", 6)
    path = filtered_listing(tmp_path / "filtered.xlsx", rows, [2, 4, 5, 7])
    for as_json in ([], ["--json"]):
        arguments = ["delete", "freeze", "--from-file", str(path), *as_json]
        code, said = at_a_terminal(arguments, b"n\n", env(sandbox))
        assert code == 1, said
        said = said.replace("\r\n", "")  # as the terminal's width wrapped it
        assert said.index("第 2, 4, 5, 7 行") < said.index(
            "确定从平台删除 2 条冷冻信息记录（freeze）吗"
        )
    assert len(sandbox.rows("freeze")) == 6


@pytest.mark.parametrize("suffix", ["xls", "ods"])
def test_a_hidden_row_of_a_libreoffice_listing_deletes_nothing(suffix: str) -> None:
    notices: list[Any] = []
    hidden: list[int] = []
    path = FILES / f"cycles_hidden_row.{suffix}"
    targets = list(targets_from_file(SCHEMA.get("cycle"), path, ORGID, notices, hidden=hidden))
    assert [t.row for t in targets] == [2, 3, 5, 6, 7]
    assert hidden == [4]
    assert [n.code for n in notices if "hidden" in n.code] == ["delete-rows-hidden"]


# --------------------------------------------------------------------------------------------
# What a result says of its record


def test_not_found_under_a_cycle_names_the_cycle(sandbox: Sandbox, tmp_path: Path) -> None:
    """A wrong cycle ID read as "the record does not exist"."""
    rows = load(sandbox, tmp_path, "transplant", 1)
    record = rows[0]["transplantid"]
    arguments = ["delete", "transplant", "--id", record, "--cycleid", "10388699", "--yes"]
    result = runner.invoke(app, arguments, env=env(sandbox))
    assert result.exit_code == 1, result.output
    assert f"平台上没有周期 10388699 下的这条记录：{record}（代码 40006）" in result.output
    assert "请核对记录ID和周期ID" in result.output
    english = runner.invoke(app, ["--lang", "en", *arguments], env=env(sandbox))
    assert f"No such record under cycle 10388699 on the platform: {record}" in english.output
    assert len(sandbox.rows("transplant")) == 1


def test_delete_json_tells_which_record_a_masked_key_is(sandbox: Sandbox, tmp_path: Path) -> None:
    """A self-semen record's key is an ID number, masked in the JSON too."""
    selfsemen = SCHEMA.get("selfsemen")
    rows = list(fake_rows(selfsemen, 2, orgid=ORGID))
    path = tmp_path / "selfsemen.csv"
    write_rows(path, selfsemen, rows)
    assert runner.invoke(app, ["push", "selfsemen", str(path)], env=env(sandbox)).exit_code == 0
    key = rows[1]["idcard"]
    by_id = runner.invoke(
        app, ["delete", "selfsemen", "--id", key, "--yes", "--json"], env=env(sandbox)
    )
    assert by_id.exit_code == 0, by_id.output
    [result] = json.loads(by_id.stdout)["results"]
    assert key not in by_id.stdout
    assert (result["position"], result["row"], result["deleted"]) == (1, None, True)
    listing = tmp_path / "ids.csv"
    listing.write_text(f"身份证号\n{key}\n{rows[0]['idcard']}\n", encoding="utf-8")
    from_file = runner.invoke(
        app,
        ["delete", "selfsemen", "--from-file", str(listing), "--yes", "--json"],
        env=env(sandbox),
    )
    results = json.loads(from_file.stdout)["results"]
    assert [(r["position"], r["row"], r["deleted"]) for r in results] == [
        (1, 2, False),
        (2, 3, True),
    ]
    assert key not in from_file.stdout


def test_a_delete_waits_for_another_run_as_push_and_sync_do(sandbox: Sandbox) -> None:
    """Blocked by the lock, delete advised --wait, which it did not have."""
    from artreport.config import Config
    from artreport.runs import exclusive
    from artreport.state import state_dir

    arguments = ["--lang", "en", "delete", "information", "--id", "INF-1", "--yes"]
    with exclusive(state_dir(Config()), "push cycle cycles.csv", None):
        blocked = runner.invoke(app, arguments, env=env(sandbox))
        assert blocked.exit_code == 5 and "--wait" in blocked.output
        waited = runner.invoke(app, [*arguments, "--wait", "0.2"], env=env(sandbox))
        assert waited.exit_code == 5 and "after waiting" in waited.output
    assert sandbox.stats()["requests"] == 0
    assert runner.invoke(app, [*arguments, "--wait", "5"], env=env(sandbox)).exit_code == 1


def test_the_question_in_english_names_the_type_in_english(sandbox: Sandbox) -> None:
    """It read 'Delete 1 周期信息 record(s) from the platform?'."""
    arguments = ["--lang", "en", "delete", "cycle", "--id", "CYC1"]
    _code, said = at_a_terminal(arguments, b"n\n", env(sandbox))
    assert "Delete 1 cycle (周期信息) record(s) from the platform?" in said.replace("\r\n", "")


def test_a_login_the_state_folder_cannot_keep_is_said_and_the_delete_goes_on(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    from artreport.config import Config
    from artreport.state import state_dir

    rows = load(sandbox, tmp_path, "information", 2)
    state = state_dir(Config())
    for cached in (state / "sessions").iterdir():
        cached.unlink()
    (state / "sessions").rmdir()
    (state / "sessions").write_text("not a folder", encoding="utf-8")
    result = runner.invoke(
        app,
        ["--lang", "en", "delete", "information", "--id", rows[0]["informationid"], "--yes"],
        env=env(sandbox),
    )
    assert result.exit_code == 0, result.output
    assert "the login could not be saved" in result.output
    assert len(sandbox.rows("information")) == 1
