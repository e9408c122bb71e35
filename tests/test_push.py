"""Pushing over real HTTP to the sandbox on 127.0.0.1: every row lands or is reported."""

from __future__ import annotations

import contextlib
import csv
import functools
import itertools
import json
import multiprocessing
import os
import signal
import socket
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from artreport.cli import app
from artreport.client import PlatformClient
from artreport.client.answers import Answer, Outcome
from artreport.config import Config
from artreport.errors import InputError
from artreport.fakedata import fake_rows, write_rows
from artreport.privacy import mask_in_text
from artreport.report import ReportWriter
from artreport.sandbox import Faults, Sandbox
from artreport.schema import load_schema
from artreport.sync import LedgerReferences
from artreport.upload import Chunk, PushOptions, PushStopped, platform_sender, push_file
from artreport.upload.produce import ChildSource, open_source
from artreport.validation import ValidateOptions, open_validation
from artreport.validation.runner import SHOWN_PROBLEMS

ORGID = "ZJ3301001"
KEY = "sandbox-test-key-9f3a"
CYCLE = load_schema().get("cycle")
runner = CliRunner()


def cycle_file(tmp_path: Path, count: int, name: str = "cycles.csv", **changes: Any) -> Path:
    rows = list(fake_rows(CYCLE, count, orgid=ORGID))
    for row in rows:
        row.update(changes)
    path = tmp_path / name
    write_rows(path, CYCLE, rows)
    return path


@pytest.fixture
def sandbox_factory() -> Iterator[Any]:
    started: list[Sandbox] = []

    def start(faults: Faults | None = None, **options: Any) -> Sandbox:
        sandbox = Sandbox({ORGID: KEY}, faults=faults, **options).start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


def config_for(sandbox: Sandbox, **settings: Any) -> Config:
    return Config(base_url=sandbox.base_url, orgid=ORGID, key=KEY, **settings)


def push(
    sandbox: Sandbox,
    path: Path,
    report: Path,
    *,
    concurrency: int = 1,
    chunk_size: int = 200,
    in_child: bool | None = None,
):
    config = config_for(sandbox, retries=8, concurrency=concurrency)
    with (
        PlatformClient(config, sleep=lambda seconds: None) as client,
        ReportWriter(report) as writer,
    ):
        return push_file(
            CYCLE,
            path,
            send=platform_sender(client, CYCLE.resource),
            report=writer,
            orgid=ORGID,
            options=PushOptions(
                chunk_size=chunk_size, concurrency=concurrency, validate_in_child=in_child
            ),
        )


def report_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def stored_keys(sandbox: Sandbox) -> list[str]:
    return sorted(row["cycleid"] for row in sandbox.rows("cycle"))


@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_row_lands_while_sessions_keep_expiring(
    tmp_path: Path, sandbox_factory: Any, concurrency: int
) -> None:
    sandbox = sandbox_factory(Faults(expire_after=3))
    path = cycle_file(tmp_path, 2000)
    summary = push(sandbox, path, tmp_path / "r.csv", concurrency=concurrency)
    assert (summary.accepted, summary.rejected, summary.not_sent) == (2000, 0, 0)
    assert len(stored_keys(sandbox)) == 2000
    assert sandbox.stats()["logins"] > 3  # it really had to log in again


def test_every_row_lands_exactly_once_through_503s_and_dropped_connections(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    sandbox = sandbox_factory(Faults(fail_every=3, drop_every=5))
    path = cycle_file(tmp_path, 2000)
    summary = push(sandbox, path, tmp_path / "r.csv", concurrency=2)
    keys = stored_keys(sandbox)
    assert keys == sorted(set(keys)) and len(keys) == 2000
    assert (summary.accepted, summary.rejected, summary.not_sent) == (2000, 0, 0)
    faults = sandbox.stats()["faults"]
    assert faults["fail"] > 0 and faults["drop"] > 0


def test_every_row_lands_once_when_answers_are_lost_after_the_platform_stored_the_rows(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    sandbox = sandbox_factory(Faults(lose_every=3))
    path = cycle_file(tmp_path, 2000)
    summary = push(sandbox, path, tmp_path / "r.csv", concurrency=2)
    assert (summary.accepted, summary.rejected, summary.not_sent) == (2000, 0, 0)
    # Each lost answer's chunk was sent again and stored again over itself: no row twice,
    # and the platform's counts of the answers that arrived add up to the file.
    keys = stored_keys(sandbox)
    assert len(keys) == len(set(keys)) == 2000
    assert summary.platform_affected == 2000
    lost = sandbox.stats()["faults"]["lose"]
    assert lost > 0
    # 10 chunks, each counted once; the copies sent again (not the logins) counted apart.
    assert summary.requests == 10
    assert 0 < summary.resent <= lost


def test_rows_refused_by_an_unknown_rule_are_isolated_and_reported(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    sandbox = sandbox_factory(Faults(reject_prefix="BAD"))
    rows = list(fake_rows(CYCLE, 600, orgid=ORGID))
    bad_rows = {7, 250, 251, 599}  # positions; file rows are position + 2
    for position in bad_rows:
        rows[position]["cycleid"] = f"BAD{position}"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    report = tmp_path / "report.csv"
    summary = push(sandbox, path, report)
    assert summary.accepted == 600 - len(bad_rows)
    assert summary.rejected == len(bad_rows)
    entries = report_rows(report)
    assert sorted(int(e["row"]) for e in entries) == sorted(p + 2 for p in bad_rows)
    assert {e["primary_key"] for e in entries} == {f"BAD{p}" for p in bad_rows}
    assert all(e["code"] == "platform-rejected" and "500" in e["message"] for e in entries)
    assert not set(stored_keys(sandbox)) & {f"BAD{p}" for p in bad_rows}


def test_a_row_the_servers_framework_fails_on_is_isolated_not_the_run_stopped(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    """HTTP 500 with Spring's own error, not the envelope, for a batch holding one row its
    database cannot take. It used to be retried and then called unreachable: the rest of the
    file was not sent, the same chunk failed again the next night, and nothing after it ever
    got through."""
    sandbox = sandbox_factory(Faults(crash_prefix="LONG"))
    rows = list(fake_rows(CYCLE, 500, orgid=ORGID))
    rows[123]["cycleid"] = "LONG123"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    report = tmp_path / "report.csv"
    summary = push(sandbox, path, report)
    assert (summary.accepted, summary.rejected, summary.not_sent) == (499, 1, 0)
    assert summary.rejected_by_code == {500: 1}
    [entry] = report_rows(report)
    assert (entry["row"], entry["primary_key"]) == ("125", "LONG123")
    assert "Data too long for column" in entry["message"]
    assert len(stored_keys(sandbox)) == 499


def test_springs_error_under_http_200_is_the_framework_failing_on_a_row(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spring's error attributes, status 500 in the body, sent with HTTP 200 by an exception
    handler that sets no status. Taken for a page of something in the platform's place, the
    run stopped at the first chunk holding such a row (exit 4, "check base_url")."""
    from artreport.sandbox import platform as sandbox_platform

    handle = sandbox_platform.Platform.handle

    def with_status_200(self: Any, request: Any) -> Any:
        _, body = handle(self, request)
        return 200, body

    monkeypatch.setattr(sandbox_platform.Platform, "handle", with_status_200)
    sandbox = sandbox_factory(Faults(crash_prefix="LONG"))
    rows = list(fake_rows(CYCLE, 100, orgid=ORGID))
    rows[12]["cycleid"] = "LONG12"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    report = tmp_path / "report.csv"
    summary = push(sandbox, path, report, chunk_size=50)
    assert (summary.accepted, summary.rejected, summary.not_sent) == (99, 1, 0)
    [entry] = report_rows(report)
    assert (entry["row"], entry["primary_key"]) == ("14", "LONG12")
    assert "(status 500)" in entry["message"] and "Data too long" in entry["message"]
    assert len(stored_keys(sandbox)) == 99


def test_spring_security_refusing_a_data_call_is_no_wrong_address(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP 401 with Spring Security's JSON, after the login at the same address was
    accepted, was said to be "not the platform: check base_url" (exit 4)."""
    body = {
        "timestamp": "2024-05-06T02:00:00.000+00:00",
        "status": 401,
        "error": "Unauthorized",
        "message": "Full authentication is required to access this resource",
        "path": f"/art/{CYCLE.resource}/batchInsert",
    }
    platform_answering(monkeypatch, "/batchInsert", (401, json.dumps(body).encode()))
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, 30)
    result = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path)], env=cli_env(sandbox))
    assert result.exit_code == 3, result.output
    assert "not authorised (code 401: HTTP 401 Unauthorized" in result.output
    assert "Full authentication is required" in result.output
    assert "base_url" not in result.output
    assert sandbox.stats()["logins"] == 1


def test_a_platform_failing_on_every_row_stops_the_run_without_bisecting_it_all(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    sandbox = sandbox_factory(Faults(crash_prefix="CYC"))  # every key: every batch fails
    report = tmp_path / "report.csv"
    with pytest.raises(PushStopped) as stopped:
        push(sandbox, cycle_file(tmp_path, 1000), report)
    summary = stopped.value.summary
    assert stopped.value.error.code == "client-server-failing"
    assert (summary.accepted, summary.rejected, summary.not_sent) == (0, 0, 1000)
    # The first chunk to its single rows (399 parts, the first with its retries), not the
    # file's 1,000 rows one by one.
    requests = sandbox.stats()["endpoints"][f"/art/{CYCLE.resource}/batchInsert"]
    assert requests < 420
    assert {e["code"] for e in report_rows(report)} == {"not-sent-unreachable"}


def test_a_gateway_size_limit_splits_chunks_and_reports_only_a_row_too_large_alone(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    # Full rows are about 700 bytes: chunks of 200 and 100 rows are refused, 50 pass.
    sandbox = sandbox_factory(Faults(max_body=40_000))
    rows = list(fake_rows(CYCLE, 600, orgid=ORGID))
    rows[321]["complication6"] = "很长的说明" * 3000  # 45,000 bytes of UTF-8 in one cell
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    report = tmp_path / "report.csv"
    summary = push(sandbox, path, report)
    assert (summary.accepted, summary.rejected, summary.not_sent) == (599, 1, 0)
    assert summary.rejected_by_code == {413: 1}
    assert summary.extra_requests > 0
    [entry] = report_rows(report)
    assert (entry["row"], entry["primary_key"]) == ("323", rows[321]["cycleid"])
    assert "413" in entry["message"]
    # Said as what the clerk can do about it, with the row's size, not the gateway's words.
    assert "缩短" in entry["message"] and "Request Entity" not in entry["message"]
    assert len(stored_keys(sandbox)) == 599


def test_a_gateway_limit_below_one_row_stops_the_run_as_the_platforms_fault(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    """Every row refused alone for its size, nothing taken: no row is at fault, and the clerk
    cannot fix a gateway. It was 200 "rejected" rows and exit 1, the clerk's code."""
    sandbox = sandbox_factory(Faults(max_body=300))  # a full row is about 700 bytes
    report = tmp_path / "report.csv"
    with pytest.raises(PushStopped) as stopped:
        push(sandbox, cycle_file(tmp_path, 40), report)
    summary = stopped.value.summary
    assert stopped.value.error.code == "client-gateway-too-small"
    assert stopped.value.error.exit_code == 4
    assert "client_max_body_size" in stopped.value.error.message("zh")
    assert (summary.accepted, summary.rejected, summary.not_sent) == (0, 0, 40)
    assert {e["code"] for e in report_rows(report)} == {"not-sent-unreachable"}
    assert stored_keys(sandbox) == []


def test_after_a_gateway_size_limit_later_chunks_are_made_to_fit(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    # 20 chunks of 200 full rows (about 140 kB each) against a 100 kB limit.
    sandbox = sandbox_factory(Faults(max_body=100_000))
    summary = push(sandbox, cycle_file(tmp_path, 4000), tmp_path / "r.csv")
    assert (summary.accepted, summary.rejected) == (4000, 0)
    # Only the chunks already on their way when the first refusal comes back are refused
    # (four per connection); each costs two more requests for its halves.
    refused = sandbox.stats()["faults"]["too_large"]
    assert 1 <= refused <= 4
    assert summary.extra_requests == 2 * refused


def test_one_bad_row_in_a_200_row_chunk_costs_at_most_16_extra_requests(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    sandbox = sandbox_factory(Faults(reject_prefix="BAD"))
    rows = list(fake_rows(CYCLE, 200, orgid=ORGID))
    rows[123]["cycleid"] = "BAD123"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    summary = push(sandbox, path, tmp_path / "r.csv")
    assert summary.rejected == 1 and summary.accepted == 199
    assert 1 <= summary.extra_requests <= 16


def test_rows_refused_alike_are_each_reported_and_good_rows_among_them_land(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    """Two rows of three refused with one same message, in small chunks: every good row is
    tried and lands, every bad row is reported. (A guard that stopped the run after a few rows
    refused alike stopped such runs with good rows unsent.)"""
    sandbox = sandbox_factory(Faults(reject_prefix="BAD"))
    rows = list(fake_rows(CYCLE, 48, orgid=ORGID))
    for position in range(48):
        if position % 3 != 2:
            rows[position]["cycleid"] = f"BAD{position}"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    summary = push(sandbox, path, tmp_path / "r.csv", chunk_size=24)
    assert (summary.accepted, summary.rejected, summary.not_sent) == (16, 32, 0)


@pytest.mark.parametrize("chunk_size", [1, 4, 8])
def test_small_chunks_of_rows_the_server_fails_on_do_not_stop_the_run(
    tmp_path: Path, sandbox_factory: Any, chunk_size: int
) -> None:
    sandbox = sandbox_factory(Faults(crash_prefix="BAD"))
    rows = list(fake_rows(CYCLE, 28, orgid=ORGID))
    for position in range(8):  # the first chunk, or two, fails throughout
        rows[position]["cycleid"] = f"BAD{position}"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    summary = push(sandbox, path, tmp_path / "r.csv", chunk_size=chunk_size)
    assert (summary.accepted, summary.rejected, summary.not_sent) == (20, 8, 0)


def test_a_run_of_rows_the_server_fails_on_is_reported_not_taken_for_the_platform(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    # Twenty rows in a row that the framework fails on: the rest of their chunk lands.
    sandbox = sandbox_factory(Faults(crash_prefix="BAD"))
    rows = list(fake_rows(CYCLE, 200, orgid=ORGID))
    for position in range(20):
        rows[position]["cycleid"] = f"BAD{position}"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    summary = push(sandbox, path, tmp_path / "r.csv")
    assert (summary.accepted, summary.rejected, summary.not_sent) == (180, 20, 0)


def test_rows_refused_each_for_its_own_fault_are_all_reported(tmp_path: Path) -> None:
    # Messages naming each row's fault differ: each row is worth its line in the report.
    def send(chunk: Chunk, **_: Any) -> Answer:
        return Answer(500, f"周期 {chunk.keys[0]} 的档案不存在", None, Outcome.DATA)

    report = tmp_path / "report.csv"
    with ReportWriter(report) as writer:
        summary = push_file(CYCLE, cycle_file(tmp_path, 40), send=send, report=writer, orgid=ORGID)
    assert (summary.accepted, summary.rejected, summary.not_sent) == (0, 40, 0)
    assert len(report_rows(report)) == 40


def test_blank_optional_cells_leave_stored_values_untouched(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    sandbox = sandbox_factory()
    assert not CYCLE.field("opertionname").required and not CYCLE.field("cancelcause").required
    first = cycle_file(tmp_path, 5, "first.csv", opertionname="李明", cancelcause=3)
    assert push(sandbox, first, tmp_path / "r1.csv").accepted == 5
    second = cycle_file(tmp_path, 5, "second.csv", opertionname="", cancelcause="", ordernumber=9)
    assert push(sandbox, second, tmp_path / "r2.csv").accepted == 5
    for row in sandbox.rows("cycle"):
        assert (row["opertionname"], row["cancelcause"], row["ordernumber"]) == ("李明", 3, 9)


def without_column(path: Path, label: str) -> Path:
    with open(path, encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    drop = table[0].index(label)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([c for i, c in enumerate(row) if i != drop] for row in table)
    return path


@pytest.mark.parametrize("in_child", [False, True], ids=["here", "in-child"])
@pytest.mark.parametrize("orgid_column", ["partly blank", "absent"])
def test_what_lands_is_exactly_what_validation_made_of_each_row(
    tmp_path: Path, sandbox_factory: Any, orgid_column: str, in_child: bool
) -> None:
    sandbox = sandbox_factory()
    rows = list(fake_rows(CYCLE, 450, orgid=ORGID))
    for row in rows[::3]:
        row["orgid"] = ""  # filled from the config
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    if orgid_column == "absent":
        without_column(path, CYCLE.field("orgid").label)
    assert push(sandbox, path, tmp_path / "r.csv", in_child=in_child).accepted == 450
    with open_validation(CYCLE, path, orgid=ORGID) as validation:
        expected = {result.primary_key: result.data for result in validation.rows()}
    assert {row["cycleid"]: row for row in sandbox.rows("cycle")} == expected
    assert all(row["orgid"] == ORGID for row in expected.values())


def test_an_xls_formula_s_text_result_saved_as_0_never_lands_as_0(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    """LibreOffice keeps a formula's text result (周期ID ="CYC"&TEXT(…)) in an xls as 0: the
    first row landed as cycle "0", which the sheet does not show anywhere."""
    sandbox = sandbox_factory()
    path = Path(__file__).parent / "files" / "cycles_text_formulas.xls"
    summary = push(sandbox, path, tmp_path / "r.csv")
    assert (summary.accepted, stored_keys(sandbox)) == (0, [])
    assert {row["field"] for row in report_rows(tmp_path / "r.csv")} == {"cycleid", "ppap"}


def test_a_spreadsheet_s_arithmetic_noise_lands_as_the_number_the_sheet_shows(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    """Formula results as LibreOffice's xls (and Excel's xlsx) keep them, to the last of a
    double's digits: 不孕年龄 =0.1*3 and 周期号 =1.1*3 landed as 0.30000000000000004 and
    "3.3000000000000003" where the sheet shows 0.3 and 3.3."""
    sandbox = sandbox_factory()
    path = Path(__file__).parent / "files" / "cycles_formula_noise.xls"
    assert push(sandbox, path, tmp_path / "r.csv").accepted == 2
    stored = {row["cycleid"]: row for row in sandbox.rows("cycle")}
    first, second = stored["CYC00001"], stored["CYC00002"]
    assert (first["wInfertilityyear"], first["wage"], first["cycleno"]) == (0.3, 36.3, "3.3")
    assert (second["wInfertilityyear"], second["cycleno"]) == (2.5, "12.35")
    assert second["wage"] == 33.3333333333333  # =100/3, to the 15 digits a spreadsheet shows


def test_validating_in_a_child_process_changes_nothing_but_the_process(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    rows = list(fake_rows(CYCLE, 700, orgid=ORGID))
    rows[3]["cycledate"] = "2023-02-30 08:00:00"  # invalid: never sent
    rows[600]["ordernumber"] = "abc"
    rows[650]["cycleid"] = rows[10]["cycleid"]  # a duplicate key
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write("合计,700 条\r\n")  # a footer: skipped with a notice
    outcomes = []
    for in_child in (False, True):
        summary = push(sandbox_factory(), path, tmp_path / f"{in_child}.csv", in_child=in_child)
        outcomes.append(
            (
                {k: v for k, v in summary.to_dict().items() if k != "elapsed_seconds"},
                summary.notices,
                report_rows(tmp_path / f"{in_child}.csv"),
            )
        )
    here, in_child_outcome = outcomes
    assert in_child_outcome == here
    assert here[0]["invalid"] == 3 and here[0]["accepted"] == 697
    assert [notice.code for notice in here[1]] == ["footer-row-skipped"]


@pytest.mark.parametrize("in_child", [False, True], ids=["here", "in-child"])
def test_the_summary_keeps_only_the_first_problems_for_the_screen(
    tmp_path: Path, sandbox_factory: Any, in_child: bool
) -> None:
    """The report takes every problem as it comes; the summary, which lives to the end of a
    push of a million rows, only the first of them, as validate shows them."""
    rows = list(fake_rows(CYCLE, 1000, orgid=ORGID))
    for row in rows[::37]:  # a few in each batch, never twenty in one
        row["ordernumber"] = "abc"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    summary = push(sandbox_factory(), path, tmp_path / "r.csv", in_child=in_child)
    reported = [(int(r["row"]), r["field"], r["code"]) for r in report_rows(tmp_path / "r.csv")]
    assert len(reported) == summary.invalid == 28
    shown = [(p.row, p.field, p.code) for p in summary.first_problems]
    assert shown == reported[:SHOWN_PROBLEMS]
    assert summary.file_problems == []


@pytest.mark.parametrize("in_child", [False, True], ids=["here", "in-child"])
def test_a_file_that_cannot_be_read_through_fails_alike_in_a_child(
    tmp_path: Path, sandbox_factory: Any, in_child: bool
) -> None:
    path = cycle_file(tmp_path, 1500)
    with open(path, "ab") as handle:
        handle.write("CYC9,王五\r\n".encode("gb18030"))  # not UTF-8, far into a UTF-8 file
    sandbox = sandbox_factory()
    with pytest.raises(PushStopped) as caught:
        push(sandbox, path, tmp_path / "r.csv", in_child=in_child)
    assert caught.value.error.code == "input-encoding"
    # What was read before the bad bytes is sent and counted, and the report says where the
    # reading stopped, so a re-export is the only thing left to do.
    summary = caught.value.summary
    assert summary.accepted == summary.rows_read == len(stored_keys(sandbox)) > 0
    assert summary.stopped_by == "input-encoding" and summary.exit_code == 2
    [problem] = report_rows(tmp_path / "r.csv")
    assert problem["code"] == "not-read-input-error"
    assert int(problem["row"]) == summary.rows_read + 2  # the header is row 1
    assert "1502" in problem["message"]


@pytest.mark.parametrize("in_child", [False, True])
def test_a_json_row_with_half_a_character_is_refused_and_the_rest_is_sent(
    tmp_path: Path, sandbox_factory: Any, in_child: bool
) -> None:
    """A lone \\ud800 in a JSON record could not be encoded: the push died mid-file as an
    internal error, 14,400 rows taken, no summary, no report, the rest listed nowhere."""
    rows = list(fake_rows(CYCLE, 1500, orgid=ORGID))
    text = json.dumps(rows, ensure_ascii=False, default=str)
    text = text.replace(f'"{rows[1200]["cycleid"]}"', f'"{rows[1200]["cycleid"]}\\ud800"', 1)
    path = tmp_path / "cycles.json"
    path.write_text(text, encoding="utf-8")
    sandbox = sandbox_factory()
    summary = push(sandbox, path, tmp_path / "r.csv", in_child=in_child)
    assert (summary.accepted, summary.invalid, summary.exit_code) == (1499, 1, 1)
    [problem] = report_rows(tmp_path / "r.csv")
    assert (problem["row"], problem["code"]) == ("1201", "json-half-character")


def test_an_unforeseen_failure_mid_file_still_ends_with_the_summary_and_the_report(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever breaks while the file is read and checked, rows may be taken already: the push
    ends as for a file that breaks off, the rest listed, not as an internal error."""
    from artreport.upload import produce

    original = produce._BatchEncoder.bodies
    calls = 0

    def failing(self: Any, batch: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")
        return original(self, batch)

    monkeypatch.setattr(produce._BatchEncoder, "bodies", failing)
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, 3000)
    with pytest.raises(PushStopped) as caught:
        push(sandbox, path, tmp_path / "r.csv", in_child=False)
    assert caught.value.error.code == "input-reading-failed"
    summary = caught.value.summary
    assert summary.accepted == summary.rows_read == len(stored_keys(sandbox)) > 0
    [problem] = report_rows(tmp_path / "r.csv")
    assert problem["code"] == "not-read-input-error"


def test_a_validating_process_that_fails_is_an_input_error_naming_its_last_words() -> None:
    """It was a RuntimeError: an internal error, the push's summary and report lost."""
    receiving, sending = multiprocessing.Pipe(duplex=False)
    trace = "Traceback (most recent call last):\nUnicodeEncodeError: surrogates not allowed\n"
    sending.send(("crash", trace))
    source = ChildSource(receiving, None, "cycles.json")
    with pytest.raises(InputError) as caught:
        next(source.batches())
    assert caught.value.code == "input-reading-failed"
    assert "UnicodeEncodeError: surrogates not allowed" in caught.value.message("en")


def test_the_last_words_of_a_failed_validating_process_hide_the_values_they_quote() -> None:
    receiving, sending = multiprocessing.Pipe(duplex=False)
    trace = (
        "Traceback (most recent call last):\n"
        "ValueError: invalid literal for int() with base 10: '王丽华 330106199001011234'\n"
    )
    sending.send(("crash", trace))
    source = ChildSource(receiving, None, "cycles.json")
    with pytest.raises(InputError) as caught:
        next(source.batches())
    message = caught.value.message("en")
    assert "ValueError: invalid literal for int() with base 10: '***'" in message
    assert "王丽华" not in message and "1990" not in message


@pytest.mark.skipif(sys.platform != "linux", reason="a pipe's size is set only on Linux")
def test_the_validating_process_runs_batches_ahead_of_a_busy_sender(tmp_path: Path) -> None:
    # While the sending side is busy (recording a chunk in the ledger, waiting for a request
    # slot), validation goes on: more than a few batches wait in the pipe, not one.
    import fcntl
    import termios

    path = cycle_file(tmp_path, 3000)
    with open_source(CYCLE, path, orgid=ORGID, options=ValidateOptions(), in_child=True) as source:
        assert isinstance(source, ChildSource)
        waiting = 0
        deadline = time.monotonic() + 20
        while waiting < 500_000 and time.monotonic() < deadline:
            time.sleep(0.05)
            ready = fcntl.ioctl(source.fileno(), termios.FIONREAD, b"\0\0\0\0")
            waiting = int.from_bytes(ready, sys.byteorder)
        assert waiting >= 500_000
        assert sum(batch.read for batch in source.batches()) == 3000


ABANDONED_SOURCE = """
import os, sys, time
from artreport.schema import load_schema
from artreport.upload.produce import open_source
from artreport.validation import ValidateOptions

with open_source(load_schema().get("cycle"), sys.argv[1], orgid=None,
                 options=ValidateOptions(), in_child=True) as source:
    print(source._process.pid, flush=True)
    time.sleep(60)  # reads nothing: the child fills the pipe and waits; then we are killed
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_validating_process_ends_when_the_push_is_killed_outright(tmp_path: Path) -> None:
    import subprocess

    path = cycle_file(tmp_path, 20_000)  # more than the pipe holds
    pushing = subprocess.Popen(
        [sys.executable, "-c", ABANDONED_SOURCE, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert pushing.stdout is not None
        child = int(pushing.stdout.readline())
        time.sleep(1.0)  # the child has filled the pipe and blocks writing to it
        pushing.send_signal(signal.SIGKILL)  # the OOM killer, systemd after its timeout
        pushing.wait(10)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            state = Path(f"/proc/{child}/stat").read_text().split(") ")[-1][0]
            if state == "Z":
                break  # ended; only its parent's reaping is left (init does it)
            time.sleep(0.1)
        else:
            assert not Path(f"/proc/{child}").exists(), "the validating process is left behind"
    finally:
        pushing.kill()
        with contextlib.suppress(ProcessLookupError, NameError):
            os.kill(child, signal.SIGKILL)


def error_of_validating_process(method: str, target: Any, path: str) -> InputError:
    """The error of a push whose validating process runs ``target`` and dies."""
    context = multiprocessing.get_context(method)
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=target)
    process.start()
    sending.close()
    source = ChildSource(receiving, process, path)
    with pytest.raises(InputError) as caught:
        source.open()
    source.close()
    return caught.value


def test_a_validating_process_that_dies_is_an_input_error_naming_the_file() -> None:
    error = error_of_validating_process("spawn", functools.partial(os._exit, 3), "damaged.xls")
    assert error.code == "input-reader-crashed"
    assert error.params == {"path": "damaged.xls", "exit_code": 3}


def test_a_validating_process_killed_outright_is_not_blamed_on_the_file() -> None:
    """The out-of-memory killer's SIGKILL had been worded "the file may be damaged": the
    clerk would export it again in vain."""
    killed = error_of_validating_process(
        "fork", lambda: os.kill(os.getpid(), signal.SIGKILL), "cycles.csv"
    )
    assert killed.code == "input-reader-killed"
    assert "内存" in killed.message("zh") and "memory" in killed.message("en")


@pytest.mark.parametrize("count", [450, 4000])
def test_a_refused_login_stops_the_run_and_lists_every_row_as_not_sent(
    tmp_path: Path, sandbox_factory: Any, count: int
) -> None:
    # 4000 rows are many batches: the file is still read to its end, to list every row,
    # though the refusal comes while it is being read.
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, count)
    config = Config(base_url=sandbox.base_url, orgid=ORGID, key="wrong-key")
    with (
        PlatformClient(config, sleep=lambda s: None) as client,
        ReportWriter(tmp_path / "r.csv") as writer,
        pytest.raises(PushStopped) as stopped,
    ):
        push_file(
            CYCLE, path, send=platform_sender(client, CYCLE.resource), report=writer, orgid=ORGID
        )
    assert stopped.value.error.exit_code == 3
    assert stopped.value.summary.not_sent == count
    assert stopped.value.summary.sent == 0
    assert stopped.value.summary.stopped_at_row is None
    # Every row for the reason the run stopped, though most were halted before the chunk
    # that met the refusal was settled.
    assert [row["code"] for row in report_rows(tmp_path / "r.csv")] == ["not-sent-auth"] * count
    assert sandbox.rows("cycle") == []


# --- the command line ---------------------------------------------------------------------


def cli_env(sandbox: Sandbox | None, key: str = KEY, base_url: str | None = None) -> dict[str, str]:
    return {
        "ARTREPORT_BASE_URL": base_url or (sandbox.base_url if sandbox else ""),
        "ARTREPORT_ORGID": ORGID,
        "ARTREPORT_KEY": key,
    }


def test_cli_push_ends_with_a_summary_and_exit_0(tmp_path: Path, sandbox_factory: Any) -> None:
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, 300)
    result = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path)], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert "300 accepted" in result.output
    assert len(stored_keys(sandbox)) == 300


def test_cli_push_of_rows_with_warnings_alone_names_no_failure_report(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, 30)
    with open(path, encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([[*table[0], "院内备注"], *([*r, "x"] for r in table[1:])])
    result = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path)], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert "Report (warnings only, no errors): " in result.output
    assert "Failure report" not in result.output


def test_cli_push_of_a_web_page_named_xls_as_hospital_systems_export(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    sandbox = sandbox_factory()
    rows = list(fake_rows(CYCLE, 30, orgid=ORGID))
    names = [f.name for f in CYCLE.fields]
    header = "".join(f"<th>{CYCLE.field(name).label}</th>" for name in names)
    body = "".join(
        "<tr>" + "".join(f"<td>{row.get(name) or '&nbsp;'}</td>" for name in names) + "</tr>\n"
        for row in rows
    )
    page = f'<html><head><meta charset="gbk"></head><body><table><tr>{header}</tr>\n{body}'
    path = tmp_path / "周期导出.xls"
    path.write_bytes((page + "</table></body></html>").encode("gbk"))

    result = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path)], env=cli_env(sandbox))

    assert result.exit_code == 0, result.output
    assert "holds html; it was read as html" in result.output
    stored = {row["cycleid"]: row for row in sandbox.rows("cycle")}
    assert sorted(stored) == sorted(row["cycleid"] for row in rows)
    first = rows[0]
    for name in ("acyesisnameMx", "cycleno"):  # Chinese text (GBK page), a code of digits
        assert stored[first["cycleid"]][name] == first[name]


def test_cli_push_says_how_many_requests_it_sent_again(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    sandbox = sandbox_factory(Faults(lose_every=2))  # request 1 logs in; 2 and 4 are lost
    path = cycle_file(tmp_path, 300)
    result = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path)], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert "2 request(s) were sent again" in result.output
    assert "All 300 rows" in result.output
    assert len(stored_keys(sandbox)) == 300


def test_cli_push_json_and_report_on_rejections(tmp_path: Path, sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(Faults(reject_prefix="BAD"))
    rows = list(fake_rows(CYCLE, 50, orgid=ORGID))
    rows[10]["cycleid"] = "BAD10"
    rows[20]["ordernumber"] = "abc"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    report = tmp_path / "failures.xlsx"
    result = runner.invoke(
        app, ["push", "cycle", str(path), "--json", "--report", str(report)], env=cli_env(sandbox)
    )
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert (payload["accepted"], payload["rejected"], payload["invalid"]) == (48, 1, 1)
    assert payload["report"] == str(report) and report.exists()
    said = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path)], env=cli_env(sandbox))
    assert "Rejected by the platform, by code" in said.output


def test_cli_push_shows_the_files_warnings_and_first_problems_as_validate_does(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    """push printed only counts by code: the clerk had to open the report to learn which rows
    failed, or that a column was ignored."""
    sandbox = sandbox_factory()
    rows = list(fake_rows(CYCLE, 30, orgid=ORGID))
    rows[4]["ordernumber"] = "王秀英"  # a name in a number column: masked on the screen
    rows[9]["artplan"] = ""
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    with open(path, encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([[*table[0], "院内备注"], *([*r, "x"] for r in table[1:])])

    pushed = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path)], env=cli_env(sandbox))
    checked = runner.invoke(app, ["--lang", "en", "validate", "cycle", str(path)])

    assert pushed.exit_code == checked.exit_code == 1, pushed.output
    assert "! 1 column(s) not recognised and ignored: 院内备注" in pushed.stdout

    def first_problems(output: str) -> list[str]:
        lines = output.splitlines()
        start = lines.index("First 2 problems (of 2)")
        return lines[start : start + 7]

    shown = first_problems(pushed.stdout)
    assert shown == first_problems(checked.stdout)
    assert "│   6 │" in shown[4] and "ordernumber" in shown[4] and "'王*'" in shown[4]
    assert "│  11 │" in shown[5] and "artplan" in shown[5]
    assert "秀英" not in pushed.output
    assert len(stored_keys(sandbox)) == 28


def test_cli_push_shows_the_rows_the_platform_refused_with_its_words(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    """push printed only "platform 500 │ 2": which rows, and why, were in the report alone.
    A server's error may quote the row's values: those are masked, the column's name not."""
    sandbox = sandbox_factory(Faults(reject_prefix="BAD", crash_prefix="LONG"))
    rows = list(fake_rows(CYCLE, 30, orgid=ORGID))
    rows[3]["cycleid"] = "BAD3"
    rows[20]["cycleid"] = "LONG20"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    result = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path)], env=cli_env(sandbox))
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    start = lines.index("First 2 rows the platform refused (of 2)")
    shown = lines[start + 4 : start + 6]
    assert "│   5 │ BAD3" in shown[0] and "数据未通过平台业务规则校验" in shown[0]
    assert "│  22 │ LONG20" in shown[1] and "Data too long for column 'cycleid'" in shown[1]
    chinese = runner.invoke(app, ["push", "cycle", str(path)], env=cli_env(sandbox))
    assert "平台代码 500" in chinese.stdout and "platform 500" not in chinese.stdout


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            "Duplicate entry '王秀英-330106199001011234' for key 'uk_name_id'",
            "Duplicate entry '***' for key 'uk_name_id'",
        ),
        ("身份证号330106199001011234格式错误", "身份证号3301************34格式错误"),
        ("联系电话13812345678重复", "联系电话1381*****78重复"),
        ("数据未通过平台业务规则校验", "数据未通过平台业务规则校验"),
        # A value shaped like a name of the database's own (a passport number) is still a
        # value: it was kept, and the text between two quoted stretches masked instead.
        (
            "Duplicate entry 'E12345678' for key 'PRIMARY'",
            "Duplicate entry '***' for key 'PRIMARY'",
        ),
        ('invalid value "WANGLIHUA" for column "wName"', 'invalid value "***" for column "wName"'),
        ("Key (wname)=(王丽华) already exists", "Key (wname)=(***) already exists"),
        ("女方姓名“王丽华”重复", "女方姓名“***”重复"),
        # A server's framework printing the row it failed on (Lombok's toString), unquoted.
        (
            "插入失败: AInformationrecord(informationid=I1, wName=王丽华, "
            "wIdcode=33010619900101123X, wCurrentaddress=浙江省杭州市西湖区文三路1号)",
            "插入失败: AInformationrecord(informationid=I1, wName=***, "
            "wIdcode=***, wCurrentaddress=***)",
        ),
        (
            "提交失败女方姓名：王丽华，女方证件号码：33010619900101123X",
            "提交失败女方姓名：***，女方证件号码：***",
        ),
    ],
)
def test_a_platforms_message_on_the_screen_hides_the_values_it_quotes(
    message: str, shown: str
) -> None:
    assert mask_in_text(message) == shown


@pytest.mark.parametrize("command", ["push", "validate"])
def test_json_output_names_the_error_that_stopped_the_command(
    tmp_path: Path, sandbox_factory: Any, command: str
) -> None:
    sandbox = sandbox_factory()
    missing = tmp_path / "nofile.csv"
    result = runner.invoke(
        app, ["--lang", "en", command, "cycle", str(missing), "--json"], env=cli_env(sandbox)
    )
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert (payload["error"], payload["exit_code"]) == ("input-not-found", 2)
    assert str(missing) in payload["message"]


def test_cli_wrong_key_exits_3(tmp_path: Path, sandbox_factory: Any) -> None:
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, 10)
    result = runner.invoke(app, ["push", "cycle", str(path)], env=cli_env(sandbox, key="nope"))
    assert result.exit_code == 3, result.output
    # The key came from ARTREPORT_KEY: the message must not send the operator to the file only.
    assert "ARTREPORT_KEY" in result.output


@pytest.mark.parametrize("command", ["push", "validate"])
def test_debug_adds_a_traceback_and_changes_neither_exit_code_nor_json(
    tmp_path: Path, sandbox_factory: Any, command: str
) -> None:
    """An operator adds --debug to the cron line to look into a failure: the exit code (2 for
    a missing file) and the --json object must stay what the monitor reads."""
    missing = tmp_path / "nofile.csv"
    result = runner.invoke(
        app,
        ["--lang", "en", "--debug", command, "cycle", str(missing), "--json"],
        env=cli_env(sandbox_factory()),
    )
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"] == "input-not-found"
    assert "Traceback (most recent call last)" in result.stderr


def test_debug_keeps_exit_3_for_a_wrong_key(tmp_path: Path, sandbox_factory: Any) -> None:
    path = cycle_file(tmp_path, 10)
    result = runner.invoke(
        app, ["--debug", "push", "cycle", str(path)], env=cli_env(sandbox_factory(), key="nope")
    )
    assert result.exit_code == 3, result.output
    assert "nope" not in result.output


def test_a_file_wholly_of_another_organisation_is_a_config_error(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    """orgid mistyped in the config: every row was refused as naming another organisation,
    and the run exited 1, which sends the clerk to fix 40 rows instead of IT to the config."""
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, 10)
    env = cli_env(sandbox) | {"ARTREPORT_ORGID": "ZJ9999999"}
    result = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path)], env=env)
    assert result.exit_code == 2, result.output
    assert "All 10 rows of this file name another organisation" in result.output
    assert sandbox.rows("cycle") == []

    rows = list(fake_rows(CYCLE, 10, orgid=ORGID))
    rows[3]["orgid"] = "ZJ3301002"  # one row's slip: that row is the clerk's to fix
    write_rows(path, CYCLE, rows)
    one = runner.invoke(app, ["push", "cycle", str(path)], env=cli_env(sandbox))
    assert one.exit_code == 1, one.output
    assert len(sandbox.rows("cycle")) == 9


def test_validate_says_of_a_file_wholly_of_another_organisation_what_push_says(
    tmp_path: Path,
) -> None:
    """validate, the check before sending, exited 1 with a row table where push exits 2 and
    names the config's orgid."""
    path = cycle_file(tmp_path, 10)
    env = {"ARTREPORT_ORGID": "ZJ9999999"}
    result = runner.invoke(app, ["--lang", "en", "validate", "cycle", str(path)], env=env)
    assert result.exit_code == 2, result.output
    assert "All 10 rows of this file name another organisation" in result.output
    as_json = runner.invoke(app, ["validate", "cycle", str(path), "--json"], env=env)
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["of_another_organisation"] is True


def test_cli_closed_port_exits_4_within_a_minute(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "artreport.yaml"
    config.write_text("retries: 2\nretry_max_seconds: 5\ntimeout: 5\n", encoding="utf-8")
    path = cycle_file(tmp_path, 10)
    started = time.monotonic()
    result = runner.invoke(
        app,
        ["--config", str(config), "push", "cycle", str(path)],
        env=cli_env(None, base_url=f"http://127.0.0.1:{port}"),
    )
    assert result.exit_code == 4, result.output
    assert time.monotonic() - started < 60
    # Said in the message's language, not as the network library names it.
    assert "连接被拒绝" in result.output
    assert "ConnectError" not in result.output and "Connection refused" not in result.output


def test_cli_push_warns_of_rows_that_refer_to_records_artreport_never_sent(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    """Transfers naming cycles that exist nowhere were accepted with no word: only sync looked
    at what rows refer to."""
    sandbox = sandbox_factory()
    information = load_schema().get("information")
    patients = tmp_path / "information.csv"
    write_rows(patients, information, fake_rows(information, 5, orgid=ORGID))
    rows = list(fake_rows(CYCLE, 5, orgid=ORGID))
    rows[3]["informationid"] = "INF-NOBODY"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    push_cycles = ["--lang", "en", "push", "cycle", str(path)]

    # No patient file sent yet: told once, not of each ID, which may have been sent otherwise.
    first = runner.invoke(app, push_cycles, env=cli_env(sandbox))
    assert first.exit_code == 0, first.output
    assert first.output.count("artreport has sent no information (档案信息) records") == 1
    assert "INF-NOBODY" not in first.output
    rehearsed = runner.invoke(app, [*push_cycles, "--sandbox"])  # an empty platform each time
    assert "has sent no" not in rehearsed.output
    sent = runner.invoke(app, ["push", "information", str(patients)], env=cli_env(sandbox))
    assert sent.exit_code == 0, sent.output

    shown = runner.invoke(app, push_cycles, env=cli_env(sandbox))
    as_json = runner.invoke(app, [*push_cycles, "--json"], env=cli_env(sandbox))

    assert shown.exit_code == as_json.exit_code == 0, shown.output
    assert "This file refers to 1 record(s) that artreport has not sent" in shown.output
    assert "Row 5: '档案信息ID' (informationid) value 'INF-NOBODY'" in shown.output
    summary = json.loads(as_json.stdout)
    assert summary["problems_by_code"] == {"cross-file-unknown-reference": 1}
    assert (summary["warnings"], summary["references_unchecked"]) == (1, [])
    [warning] = report_rows(Path(summary["report"]))
    assert (warning["row"], warning["value"], warning["severity"]) == ("5", "INF-NOBODY", "warning")
    assert warning["primary_key"] == rows[3]["cycleid"]
    assert len(stored_keys(sandbox)) == 5


@pytest.mark.parametrize("in_child", [False, True], ids=["here", "in-child"])
def test_a_push_names_each_unknown_record_at_the_first_valid_row_referring_to_it(
    tmp_path: Path, in_child: bool
) -> None:
    insemination = load_schema().get("insemination")
    rows = list(fake_rows(insemination, 40, orgid=ORGID))
    known = {row["cycleid"] for row in rows if "cycleid" in row}
    rows[5]["cycleid"] = rows[30]["cycleid"] = "CYC-NOBODY"
    rows[20]["cycleid"] = "CYC-NOBODY-EITHER"
    rows[21]["cycleid"] = ""  # refers to nothing
    rows[2] |= {"cycleid": "CYC-OF-AN-INVALID-ROW", "inseminationid": ""}  # not sent
    path = tmp_path / "insemination.csv"
    write_rows(path, insemination, rows)
    references = LedgerReferences(
        insemination, load_schema(), lambda target: known if target == "cycle" else set()
    )
    with ReportWriter(tmp_path / "report.csv") as writer:
        summary = push_file(
            insemination,
            path,
            send=None,
            report=writer,
            orgid=ORGID,
            options=PushOptions(validate_in_child=in_child),
            references=references,
        )
    assert [(p.row, p.value) for p in summary.reference_problems] == [
        (7, "CYC-NOBODY"),
        (22, "CYC-NOBODY-EITHER"),
    ]
    assert summary.references_unchecked == [] and summary.invalid == 1


def test_a_push_lists_so_many_unknown_records_and_says_there_are_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large export of cycles sent before artreport was used would hold a warning a row, in
    memory and in the report."""
    monkeypatch.setattr("artreport.sync.LISTED_UNKNOWN", 2)
    path = cycle_file(tmp_path, 6)
    references = LedgerReferences(CYCLE, load_schema(), lambda target: {"INF-SENT"})
    with ReportWriter(tmp_path / "report.csv") as writer:
        summary = push_file(
            CYCLE, path, send=None, report=writer, orgid=ORGID, references=references
        )
    assert [problem.row for problem in summary.reference_problems] == [2, 3]
    [notice] = summary.notices
    assert notice.code == "cross-file-references-many"
    assert "more than 2 information (档案信息) records" in notice.message("en")


def test_cli_push_does_not_send_a_newborn_weight_in_grams(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    childbirth = load_schema().get("childbirth")
    sandbox = sandbox_factory()
    rows = list(fake_rows(childbirth, 3, orgid=ORGID))
    rows[1]["newborn1Weight"] = 3250  # grams where the platform takes kg
    path = tmp_path / "births.csv"
    write_rows(path, childbirth, rows)
    result = runner.invoke(
        app, ["--lang", "en", "push", "childbirth", str(path)], env=cli_env(sandbox)
    )
    assert result.exit_code == 1, result.output
    assert "3250 seems to be in g (3.25 kg)" in result.output
    stored = sorted(row["childbirthid"] for row in sandbox.rows("childbirth"))
    assert stored == sorted(rows[i]["childbirthid"] for i in (0, 2))


def test_cli_push_shows_a_word_of_the_config_s_code_tables_unmasked(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    sandbox = sandbox_factory()
    rows = list(fake_rows(CYCLE, 3, orgid=ORGID))
    rows[1]["ordernumber"] = "促排中"  # a label of tstatus's table, in a number column
    rows[2]["ordernumber"] = "王秀英"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    config = tmp_path / "artreport.yaml"
    config.write_text("dictionaries:\n  tstatus: {1: 促排中, 2: 已完成}\n", encoding="utf-8")
    result = runner.invoke(
        app, ["--config", str(config), "push", "cycle", str(path)], env=cli_env(sandbox)
    )
    assert result.exit_code == 1, result.output
    assert "“促排中”" in result.output
    assert "“王*”" in result.output and "秀英" not in result.output


def test_cli_dry_run_sends_nothing(tmp_path: Path, sandbox_factory: Any) -> None:
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, 30)
    result = runner.invoke(app, ["push", "cycle", str(path), "--dry-run"], env=cli_env(sandbox))
    assert result.exit_code == 0, result.output
    assert sandbox.stats()["requests"] == 0


def test_cli_push_to_the_embedded_sandbox(tmp_path: Path) -> None:
    path = cycle_file(tmp_path, 40, "cycles.xlsx")
    result = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path), "--sandbox"])
    assert result.exit_code == 0, result.output
    assert "40 accepted" in result.output


def test_a_rehearsal_on_the_embedded_sandbox_leaves_no_rows_in_the_ledger(
    tmp_path: Path, isolated_environment: Path
) -> None:
    """Each rehearsal's sandbox, on a port of its own and gone when the push ends, got every
    accepted row in the ledger, kept there for good and never read again: a clerk rehearsing
    a large export every week grew the ledger by its size each time."""
    import sqlite3

    path = cycle_file(tmp_path, 40)
    for _ in range(2):
        result = runner.invoke(app, ["--lang", "en", "push", "cycle", str(path), "--sandbox"])
        assert result.exit_code == 0, result.output
        assert "40 accepted" in result.output

    ledger = sqlite3.connect(isolated_environment / "ledger.sqlite3")
    try:
        assert ledger.execute("SELECT count(*) FROM accepted").fetchone() == (0,)
        # The rehearsals are still runs of the history.
        assert ledger.execute("SELECT count(*) FROM runs").fetchone() == (2,)
    finally:
        ledger.close()


def test_the_key_and_token_appear_in_no_output_or_report(
    tmp_path: Path, sandbox_factory: Any, isolated_environment: Path
) -> None:
    from artreport.client.session import make_token

    sandbox = sandbox_factory(Faults(reject_prefix="BAD", expire_after=2, fail_every=4))
    rows = list(fake_rows(CYCLE, 30, orgid=ORGID))
    rows[3]["cycleid"] = "BAD3"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    report = tmp_path / "report.csv"
    outputs = []
    for arguments in (
        ["push", "cycle", str(path), "--report", str(report)],
        ["login"],
        ["--debug", "push", "cycle", str(path), "--json"],
    ):
        result = runner.invoke(app, arguments, env=cli_env(sandbox))
        outputs.append(result.output)
    written = [report.read_text(encoding="utf-8-sig")]
    written += [
        p.read_text(errors="replace") for p in isolated_environment.rglob("*") if p.is_file()
    ]
    token = make_token(ORGID, KEY)
    for text in outputs + written:
        assert KEY not in text
        assert token not in text and token.lower() not in text


@pytest.mark.parametrize("password", ["Pa55-word", "Pa55/word", "Pa55#word"])
def test_a_password_in_base_url_is_neither_recorded_nor_shown(
    tmp_path: Path, sandbox_factory: Any, isolated_environment: Path, password: str
) -> None:
    # A "/" or "#" makes an address httpx cannot read at all, and the message quotes it.
    sandbox = sandbox_factory()
    base_url = sandbox.base_url.replace("://", f"://clerk:{password}@")
    exports = tmp_path / "exports"
    exports.mkdir()
    path = exports / "cycles.csv"
    write_rows(path, CYCLE, list(fake_rows(CYCLE, 3, orgid=ORGID)))
    outputs = []
    for arguments in (
        ["push", "cycle", str(path)],
        ["push", "cycle", str(path), "--dry-run"],
        ["sync", str(exports)],
        ["status"],
        ["status", "--json"],
        ["history"],
        ["doctor"],
    ):
        result = runner.invoke(app, arguments, env=cli_env(sandbox, base_url=base_url))
        outputs.append(result.output)
    written = [
        p.read_text(errors="replace") for p in isolated_environment.rglob("*") if p.is_file()
    ]
    for text in outputs + written:
        assert password not in text
    assert sandbox.stats()["requests"] == 0


def test_the_run_log_masks_an_id_or_mobile_number_in_a_file_named_after_its_patient(
    tmp_path: Path, sandbox_factory: Any, isolated_environment: Path
) -> None:
    sandbox = sandbox_factory()
    numbers = ("13912345678", "330106900101123", "33010619900101123X")
    paths = []
    for number in numbers:
        paths.append(tmp_path / f"王丽华_{number}.csv")
        write_rows(paths[-1], CYCLE, list(fake_rows(CYCLE, 2, orgid=ORGID)))
        result = runner.invoke(app, ["push", "cycle", str(paths[-1])], env=cli_env(sandbox))
        assert result.exit_code == 0, result.output
    logs = sorted((isolated_environment / "logs").glob("run-*.log"))
    text = "".join(log.read_text(encoding="utf-8") for log in logs)
    assert text.count("王丽华_") >= len(numbers)  # the file is still named, its number masked
    for number in numbers:
        assert number not in text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_note_of_who_holds_the_run_lock_is_owner_only(tmp_path: Path) -> None:
    from artreport.runs import HOLDER_FILE, exclusive

    previous = os.umask(0)
    try:
        with exclusive(tmp_path, "push cycle 王丽华_13912345678.xlsx", None):
            mode = stat.S_IMODE((tmp_path / HOLDER_FILE).stat().st_mode)
    finally:
        os.umask(previous)
    assert mode == 0o600


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_every_file_and_folder_of_the_state_folder_is_owner_only_whatever_the_umask(
    tmp_path: Path, sandbox_factory: Any, isolated_environment: Path
) -> None:
    sandbox = sandbox_factory(Faults(reject_prefix="BAD"))
    rows = list(fake_rows(CYCLE, 5, orgid=ORGID))
    rows[1]["cycleid"] = "BAD1"
    rows[2]["startDate"] = "not a date"
    exports = tmp_path / "exports"
    exports.mkdir()
    write_rows(exports / "cycles.csv", CYCLE, rows)
    previous = os.umask(0)
    try:
        for arguments in (
            ["validate", "cycle", str(exports / "cycles.csv")],
            ["push", "cycle", str(exports / "cycles.csv")],
            ["sync", str(exports), "--full"],
        ):
            runner.invoke(app, arguments, env=cli_env(sandbox))
    finally:
        os.umask(previous)
    found = {
        p.relative_to(isolated_environment).as_posix(): p for p in isolated_environment.rglob("*")
    }
    assert any(name.startswith("logs/run-") for name in found)
    assert any(name.startswith("reports/sync-") for name in found)
    for name, path in found.items():
        if name == "artreport.lock":
            assert path.stat().st_size == 0  # the lock holds nothing
            continue
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, name


@pytest.mark.parametrize(
    ("chunk_size", "chunk_bytes"), [(200, 2_000_000), (70, 2_000_000), (200, 9_000), (200, 1)]
)
def test_chunks_keep_file_order_and_both_limits(
    tmp_path: Path, chunk_size: int, chunk_bytes: int
) -> None:
    path = cycle_file(tmp_path, 1234)
    chunks: list[Chunk] = []

    def send(chunk: Chunk) -> Answer:
        chunks.append(chunk)
        return Answer(0, "ok", len(chunk), Outcome.SUCCESS)

    options = PushOptions(chunk_size=chunk_size, chunk_bytes=chunk_bytes)
    with ReportWriter(tmp_path / "r.csv") as report:
        summary = push_file(CYCLE, path, send=send, report=report, orgid=ORGID, options=options)
    assert summary.accepted == 1234
    assert [row for chunk in chunks for row in chunk.rows] == list(range(2, 1236))
    for chunk in chunks:
        assert len(chunk) <= chunk_size
        assert len(chunk) == 1 or len(chunk.body()) <= chunk_bytes
        assert json.loads(chunk.body())  # the brackets and commas make one JSON array
    for chunk, following in itertools.pairwise(chunks):  # only the last may be short
        next_size = len(chunk.body()) + 1 + len(following.bodies[0])
        assert len(chunk) == chunk_size or next_size > chunk_bytes


def push_in_tens(path: Path, sandbox: Any) -> Any:
    """``push --json`` of a cycle export in chunks of 10 rows, in English."""
    return runner.invoke(
        app,
        ["--lang", "en", "push", "cycle", str(path), "--chunk-size", "10", "--json"],
        env=cli_env(sandbox),
    )


def push_recording(tmp_path: Path, path: Path, send: Any, recorded: list[int]) -> Any:
    """Push through ``send``, the rows the ledger would record put in ``recorded``."""
    with ReportWriter(tmp_path / "r.csv") as report:
        return push_file(
            CYCLE,
            path,
            send=send,
            report=report,
            orgid=ORGID,
            on_accepted=lambda chunk: recorded.extend(chunk.rows),
        )


def test_a_chunk_the_platform_counts_short_stays_out_of_the_ledger(tmp_path: Path) -> None:
    """Success, but "stored 198" for 200 rows: which two it left is unknown, so the chunk is
    not recorded as accepted, and --changed-only sends it again next time. Its rows are in
    the report, and the exit code says so: they were in neither place, under a ✓ and exit 0."""
    path = cycle_file(tmp_path, 600)
    recorded: list[int] = []

    def send(chunk: Chunk, **_: Any) -> Answer:
        short = chunk.rows[0] == 202  # the second chunk
        return Answer(0, "ok", len(chunk) - 2 if short else len(chunk), Outcome.SUCCESS)

    summary = push_recording(tmp_path, path, send, recorded)
    assert (summary.accepted, summary.platform_affected, summary.stored_fewer) == (400, 598, 200)
    assert summary.to_dict()["stored_fewer"] == 200
    assert recorded == list(range(2, 202)) + list(range(402, 602))
    assert summary.exit_code == 1
    entries = report_rows(tmp_path / "r.csv")
    assert [int(e["row"]) for e in entries] == list(range(202, 402))
    assert {e["code"] for e in entries} == {"platform-stored-fewer"}
    assert "198" in entries[0]["message"]


def test_a_resent_chunk_counted_short_is_not_taken_as_stored(tmp_path: Path) -> None:
    """The first copy was lost before the platform read it; the resend stored 9 of 10 and said
    so. A resent chunk's count was not looked at: the ledger took all ten, and --changed-only
    never sent the missing row again."""
    path = cycle_file(tmp_path, 10)
    recorded: list[int] = []

    def send(chunk: Chunk, **_: Any) -> Answer:
        return Answer(0, "ok", len(chunk) - 1, Outcome.SUCCESS, attempts=2, lost_answers=1)

    summary = push_recording(tmp_path, path, send, recorded)
    assert (summary.accepted, summary.stored_fewer, summary.exit_code) == (0, 10, 1)
    assert recorded == []


def platform_counting(monkeypatch: pytest.MonkeyPatch, count: Any) -> None:
    """The sandbox stores each batch as ever, and answers with ``count(rows stored)`` as
    its ``data``: what a Java platform's database layer hands back in its place."""
    from artreport.sandbox import platform as sandbox_platform

    batch_insert = sandbox_platform.Platform._batch_insert

    def answered(self: Any, rules: Any, request: Any) -> Any:
        return count(batch_insert(self, rules, request))

    monkeypatch.setattr(sandbox_platform.Platform, "_batch_insert", answered)


@pytest.mark.parametrize(
    "count",
    [
        lambda n: -2147482646,  # MyBatis's batch executor: done, count unknown
        lambda n: -2,  # JDBC's Statement.SUCCESS_NO_INFO
        lambda n: True,  # MyBatis-Plus's saveBatch
        lambda n: None,
        lambda n: str(n),  # a String in Java
        lambda n: float(n),  # a Double
        lambda n: 2 * n,  # MySQL's ON DUPLICATE KEY UPDATE counts an updated row twice
        lambda n: [1] * n,
        lambda n: {"count": n},
    ],
    ids=["mybatis-batch", "no-info", "true", "null", "text", "double", "twice", "list", "object"],
)
def test_a_success_whose_data_is_no_short_count_takes_every_row(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, count: Any
) -> None:
    """A negative count was taken for a count of fewer rows than were sent: a whole upload the
    platform had stored was reported row by row as "stored fewer", kept out of the ledger,
    and exit 1, every night."""
    platform_counting(monkeypatch, count)
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, 30)
    result = runner.invoke(
        app, ["push", "cycle", str(path), "--chunk-size", "10", "--json"], env=cli_env(sandbox)
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["stored_fewer"]) == (30, 0)
    assert summary["platform_affected"] >= 30
    assert len(stored_keys(sandbox)) == 30


@pytest.mark.parametrize(
    "count", [lambda n: str(n - 1), lambda n: float(n - 1)], ids=["text", "double"]
)
def test_a_short_count_in_another_json_type_is_still_short(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, count: Any
) -> None:
    platform_counting(monkeypatch, count)
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, 30)
    result = push_in_tens(path, sandbox)
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["stored_fewer"], summary["platform_affected"]) == (
        0,
        30,
        27,
    )


def platform_answering(
    monkeypatch: pytest.MonkeyPatch, path_end: str, answer: tuple[int, bytes]
) -> None:
    """The sandbox answers requests whose path ends so with ``answer`` (status, body), and
    every other one as ever."""
    from artreport.sandbox import platform as sandbox_platform

    handle = sandbox_platform.Platform.handle

    def answered(self: Any, request: Any) -> Any:
        return answer if request.path.endswith(path_end) else handle(self, request)

    monkeypatch.setattr(sandbox_platform.Platform, "handle", answered)


#: What a Java platform built on RuoYi answers, in the spec's own envelope, when its security
#: layer refuses the caller.
RUOYI_REFUSALS = {
    401: "请求访问：/art/aCyclerecord/batchInsert，认证失败，无法访问系统资源",
    403: "没有权限，请联系管理员授权",
}


@pytest.mark.parametrize("status", [200, 401])
@pytest.mark.parametrize("code", [401, 403])
def test_a_platform_refusing_the_caller_in_its_envelope_stops_the_run_as_credentials(
    tmp_path: Path,
    sandbox_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    status: int,
) -> None:
    """Code 401 or 403 was taken for a verdict on the rows: the chunk was split down to single
    rows (119 requests for 60 rows), then the run stopped blaming the platform's database
    (exit 4), or, for a smaller chunk, every row was reported refused (exit 1)."""
    body = json.dumps({"msg": RUOYI_REFUSALS[code], "code": code}, ensure_ascii=False)
    platform_answering(monkeypatch, "/batchInsert", (status, body.encode()))
    sandbox = sandbox_factory()
    path = cycle_file(tmp_path, 60)
    for lang, said in (("en", "refused the request as not authorised"), ("zh", "未授权")):
        result = runner.invoke(
            app,
            ["--lang", lang, "push", "cycle", str(path), "--chunk-size", "30"],
            env=cli_env(sandbox),
        )
        assert result.exit_code == 3, result.output
        assert said in result.output and f"{code}" in result.output
        assert "Traceback" not in result.output
    endpoints = sandbox.stats()["endpoints"]
    assert endpoints[f"/art/{CYCLE.resource}/batchInsert"] == 2  # one per run, none split
    assert stored_keys(sandbox) == []


def test_an_envelope_whose_numbers_are_all_doubles_is_the_platforms_answer(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Java gateway relaying the platform's answers through Gson writes ``"code": 0.0``.
    That was no envelope: every answer was "not the platform's", retried, and the run stopped
    (exit 4) with the rows it had stored reported as not confirmed."""
    from artreport.sandbox import platform as sandbox_platform

    def as_gson_writes_it(code: int, msg: str, data: Any = None) -> bytes:
        number = float(data) if isinstance(data, int) else data
        answer = {"msg": msg, "code": float(code), "data": number}
        return json.dumps(answer, ensure_ascii=False).encode()

    monkeypatch.setattr(sandbox_platform, "envelope", as_gson_writes_it)
    sandbox = sandbox_factory(Faults(reject_prefix="BAD", expire_after=2))
    rows = list(fake_rows(CYCLE, 40, orgid=ORGID))
    rows[5]["cycleid"] = "BAD5"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    result = push_in_tens(path, sandbox)
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["rejected"], summary["stored_fewer"]) == (39, 1, 0)
    assert len(stored_keys(sandbox)) == 39
    assert sandbox.stats()["logins"] > 1  # 40003.0 is the login expiring


def test_a_utf8_answer_declared_latin1_as_spring_declares_it_is_read_in_utf8(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spring's StringHttpMessageConverter labels the JSON it writes ISO-8859-1 by default.
    Read so, the platform's Chinese reason for a refused row reached the screen and the
    report as mojibake."""
    from artreport.sandbox import server as sandbox_server

    monkeypatch.setattr(sandbox_server, "_JSON", "application/json;charset=ISO-8859-1")
    sandbox = sandbox_factory(Faults(reject_prefix="BAD"))
    rows = list(fake_rows(CYCLE, 5, orgid=ORGID))
    rows[2]["cycleid"] = "BAD2"
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    report = tmp_path / "report.csv"
    summary = push(sandbox, path, report)
    assert (summary.accepted, summary.rejected) == (4, 1)
    [entry] = report_rows(report)
    assert "数据未通过平台业务规则校验" in entry["message"]  # the sandbox's words for it


def test_a_utf8_answer_labelled_gbk_as_jackson_labels_it_is_read_in_utf8(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spring's Jackson converter, told to produce ``charset=GBK``, says so and writes UTF-8.
    GB18030 reads most UTF-8 without an error: the reason reached the report as 鍛ㄦ湡ID…"""
    from artreport.sandbox import server as sandbox_server

    monkeypatch.setattr(sandbox_server, "_JSON", "application/json;charset=GBK")
    refusal = {"msg": "周期ID已存在于其他机构", "code": 500, "data": None}
    body = json.dumps(refusal, ensure_ascii=False).encode()
    platform_answering(monkeypatch, "/batchInsert", (200, body))
    sandbox = sandbox_factory()
    report = tmp_path / "report.csv"
    summary = push(sandbox, cycle_file(tmp_path, 3), report)
    assert summary.rejected == 3
    assert all("周期ID已存在于其他机构" in entry["message"] for entry in report_rows(report))


def test_duplicate_data_answered_to_a_resend_after_a_lost_answer_is_taken_as_stored(
    tmp_path: Path,
) -> None:
    """A platform that answers 40005 to keys it holds: the first copy was stored and its
    answer lost, the resend was told "duplicate". The rows were reported as refused, kept out
    of the ledger, and sent again (and refused again) every night."""
    path = cycle_file(tmp_path, 30)
    recorded: list[int] = []

    def send(chunk: Chunk, **_: Any) -> Answer:
        return Answer(
            40005, "已存在重复数据，请检查", None, Outcome.DATA, attempts=2, lost_answers=1
        )

    summary = push_recording(tmp_path, path, send, recorded)
    assert (summary.accepted, summary.rejected, summary.duplicates_after_loss) == (30, 0, 30)
    assert summary.exit_code == 0
    assert recorded == list(range(2, 32))


def test_rows_sent_whose_answers_were_all_lost_are_reported_unconfirmed(tmp_path: Path) -> None:
    """The report said "Not sent: the platform could not be reached" of rows the platform had
    stored four times over."""
    path = cycle_file(tmp_path, 30)
    from artreport.errors import UnreachableError

    def send(chunk: Chunk, **_: Any) -> Answer:
        lost = chunk.rows[0] == 2  # the first chunk went out; the others never got through
        raise UnreachableError(
            "client-unreachable", url="u", attempts=3, seconds=1, reason="r", may_have_arrived=lost
        )

    with ReportWriter(tmp_path / "r.csv", "en") as report, pytest.raises(PushStopped) as stopped:
        push_file(
            CYCLE, path, send=send, report=report, orgid=ORGID, options=PushOptions(chunk_size=10)
        )
    assert stopped.value.summary.not_sent == 30
    entries = report_rows(tmp_path / "r.csv")
    unconfirmed = [int(e["row"]) for e in entries if e["message"].startswith("Not confirmed")]
    assert unconfirmed == list(range(2, 12))
    assert all(e["code"] == "not-sent-unreachable" for e in entries)


def test_duplicate_data_to_a_first_copy_is_the_rows_refusal(tmp_path: Path) -> None:
    path = cycle_file(tmp_path, 4)

    def send(chunk: Chunk, **_: Any) -> Answer:
        return Answer(40005, "已存在重复数据，请检查", None, Outcome.DATA)

    with ReportWriter(tmp_path / "r.csv") as report:
        summary = push_file(CYCLE, path, send=send, report=report, orgid=ORGID)
    assert (summary.accepted, summary.rejected, summary.duplicates_after_loss) == (0, 4, 0)


@pytest.mark.parametrize(("outcome", "code"), [(Outcome.SERVER_FAILED, 500), (Outcome.DATA, 500)])
def test_the_message_that_stops_a_run_hides_the_values_the_server_quotes(
    tmp_path: Path, outcome: Outcome, code: int
) -> None:
    """It goes to the screen, --json, sync's summary file and the log."""
    path = cycle_file(tmp_path, 200)
    words = "Duplicate entry '330101199001011238' for key 'uk_idcode'"

    def send(chunk: Chunk, **_: Any) -> Answer:
        return Answer(code, words, None, outcome)

    with ReportWriter(tmp_path / "r.csv") as report, pytest.raises(PushStopped) as stopped:
        push_file(CYCLE, path, send=send, report=report, orgid=ORGID)
    for lang in ("zh", "en"):
        message = stopped.value.error.message(lang)
        assert "for key 'uk_idcode'" in message
        assert "330101199001011238" not in message and "'***'" in message


@pytest.mark.parametrize(
    ("code", "message", "stops"),
    [
        (500, "业务错误：HikariPool-1 - Connection is not available", True),
        (-1, "系统异常", True),
        (40007, "缺少必填参数", False),  # the platform's verdict on rows: the file's
    ],
)
def test_one_same_failure_of_the_platform_for_every_row_stops_the_run(
    tmp_path: Path, code: int, message: str, stops: bool
) -> None:
    """The platform's database down: every batch answered code 500 "business error". Each
    row was then sent alone, 2 requests a row, and every one reported to the clerk to fix."""
    path = cycle_file(tmp_path, 1000)
    requests = 0

    def send(chunk: Chunk, **_: Any) -> Answer:
        nonlocal requests
        requests += 1
        return Answer(code, message, None, Outcome.DATA)

    with ReportWriter(tmp_path / "r.csv") as report:
        if stops:
            with pytest.raises(PushStopped) as stopped:
                push_file(CYCLE, path, send=send, report=report, orgid=ORGID)
            assert stopped.value.error.code == "client-platform-failing"
            assert stopped.value.error.exit_code == 4
            assert message in stopped.value.error.message("zh")
            assert stopped.value.summary.not_sent == 1000
            assert requests < 420  # the first chunk to its single rows, not the whole file
        else:
            summary = push_file(CYCLE, path, send=send, report=report, orgid=ORGID)
            assert (summary.rejected, summary.exit_code) == (1000, 1)


def test_a_default_report_name_another_run_took_gets_another(tmp_path: Path) -> None:
    """Two runs of one command within a second name the same default report, and both write
    only once they meet a problem: the second emptied the first's, and history pointed both
    runs at the second's rows. Also when both are running at once."""
    from artreport.validation import Problem

    path = tmp_path / "push-cycle-20261127-120000.csv"
    with (
        ReportWriter(path, "en", always=False, fresh=True) as first,
        ReportWriter(path, "en", always=False, fresh=True) as second,
    ):
        first.add(Problem("required-missing", row=2, field="cycleid"))
        second.add(Problem("required-missing", row=9, field="cycleid"))
        third = ReportWriter(path, "en", fresh=True)
        with third:
            pass
    assert [Path(w.written_path or "").name for w in (first, second, third)] == [
        "push-cycle-20261127-120000.csv",
        "push-cycle-20261127-120000-2.csv",
        "push-cycle-20261127-120000-3.csv",
    ]
    assert "\n2,," in first.path.read_text(encoding="utf-8-sig")
    assert "\n9,," in second.path.read_text(encoding="utf-8-sig")


def test_a_report_that_cannot_be_written_stops_the_run_with_what_was_accepted_recorded(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    """The disk fills while the report is written: the run ended in an internal error in the
    middle of the upload, with no summary, and chunks the platform had accepted missing from
    the ledger. Now nothing more is sent (it could not be accounted for), the chunks in flight
    are settled and recorded, and the run stops with the report's error (exit 2)."""

    class FillingDisk:
        def __init__(self) -> None:
            self.added = 0

        def add(self, problem: Any) -> None:
            self.added += 1
            if self.added > 3:
                raise InputError("report-unwritable", path="report.csv", reason="No space left")

    sandbox = sandbox_factory(Faults(reject_prefix="BAD"))
    rows = list(fake_rows(CYCLE, 1000, orgid=ORGID))
    for index in range(100, 1000, 100):
        rows[index]["cycleid"] = f"BAD{index}"  # a refusal in every chunk from the first on
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, rows)
    recorded: list[int] = []
    config = config_for(sandbox, retries=2)
    with (
        PlatformClient(config, sleep=lambda seconds: None) as client,
        pytest.raises(PushStopped) as stopped,
    ):
        push_file(
            CYCLE,
            path,
            send=platform_sender(client, CYCLE.resource),
            report=FillingDisk(),
            orgid=ORGID,
            options=PushOptions(chunk_size=100),
            on_accepted=lambda chunk: recorded.extend(chunk.rows),
        )
    summary = stopped.value.summary
    assert stopped.value.error.code == "report-unwritable"
    assert summary.exit_code == 2
    assert len(recorded) == summary.accepted == len(sandbox.rows("cycle"))
    assert summary.accepted + summary.rejected + summary.not_sent == 1000
    assert summary.not_sent > 0
