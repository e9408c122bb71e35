"""Unattended runs against the sandbox: only changed rows, resume after a kill, clean stops,
sync order, the lock, and what the log may hold."""

from __future__ import annotations

import csv
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from artreport.cli import app
from artreport.client.session import make_token
from artreport.config import Config
from artreport.fakedata import fake_rows, write_rows
from artreport.ledger import Ledger, default_path
from artreport.runs import exclusive
from artreport.sandbox import Faults, Sandbox
from artreport.schema import load_schema
from artreport.state import state_dir
from artreport.sync import FileCheck, cross_file_problems, find_exports

ORGID = "ZJ3301001"
KEY = "nightly-test-key"
SCHEMA = load_schema()
CYCLE = SCHEMA.get("cycle")
INFORMATION = SCHEMA.get("information")
runner = CliRunner()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox({ORGID: KEY}) as running:
        yield running


def environment(sandbox: Sandbox) -> dict[str, str]:
    return {"ARTREPORT_BASE_URL": sandbox.base_url, "ARTREPORT_ORGID": ORGID, "ARTREPORT_KEY": KEY}


def cycles(tmp_path: Path, count: int, name: str = "cycles.csv", **changes: Any) -> Path:
    rows = list(fake_rows(CYCLE, count, orgid=ORGID))
    for index, change in changes.get("rows", {}).items():
        rows[index].update(change)
    path = tmp_path / name
    write_rows(path, CYCLE, rows)
    return path


def push_json(sandbox: Sandbox, *arguments: str) -> dict[str, Any]:
    result = runner.invoke(app, ["push", "cycle", *arguments, "--json"], env=environment(sandbox))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def ledger_keys(sandbox: Sandbox, record_type: str = "cycle") -> set[str]:
    config = Config(base_url=sandbox.base_url, orgid=ORGID)
    with Ledger.open(default_path(config)) as ledger:
        return ledger.accepted_keys(record_type, sandbox.base_url, ORGID)


def stored_keys(sandbox: Sandbox) -> list[str]:
    return [row["cycleid"] for row in sandbox.rows("cycle")]


def test_changed_only_sends_nothing_unchanged_and_exactly_what_changed(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    path = cycles(tmp_path, 10_000)
    assert push_json(sandbox, str(path))["accepted"] == 10_000
    again = push_json(sandbox, str(path), "--changed-only")
    assert (again["sent"], again["skipped_unchanged"]) == (0, 10_000)
    said = runner.invoke(
        app,
        ["--lang", "en", "push", "cycle", str(path), "--changed-only"],
        env=environment(sandbox),
    )
    assert "Nothing to send" in said.stdout and "All 0" not in said.stdout
    changed = {i: {"ordernumber": 7} for i in range(0, 10_000, 1000)}
    edited = cycles(tmp_path, 10_000, "edited.csv", rows=changed)
    third = push_json(sandbox, str(edited), "--changed-only")
    assert (third["sent"], third["accepted"], third["skipped_unchanged"]) == (10, 10, 9_990)
    stored = {row["cycleid"]: row["ordernumber"] for row in sandbox.rows("cycle")}
    assert all(stored[f"CYC{i + 1:08d}"] == 7 for i in changed)
    assert push_json(sandbox, str(edited))["sent"] == 10_000  # --full is the default


def test_changed_only_knows_rows_saved_in_another_format(tmp_path: Path, sandbox: Sandbox) -> None:
    """A whole number is a double in a workbook (35.0) and digits in a CSV (35): the clerk who
    fixed the night's CSV in Excel and pushed it by hand as xlsx sent every row again, and the
    next night's CSV sent every row once more."""
    rows = list(fake_rows(CYCLE, 50, orgid=ORGID))
    write_rows(tmp_path / "cycles.csv", CYCLE, rows)
    write_rows(tmp_path / "cycles.xlsx", CYCLE, rows)
    assert push_json(sandbox, str(tmp_path / "cycles.csv"))["accepted"] == 50
    again = push_json(sandbox, str(tmp_path / "cycles.xlsx"), "--changed-only")
    assert (again["sent"], again["skipped_unchanged"]) == (0, 50)


def test_changed_only_knows_rows_whose_columns_moved(tmp_path: Path, sandbox: Sandbox) -> None:
    path = cycles(tmp_path, 600)
    assert push_json(sandbox, str(path))["accepted"] == 600
    with path.open(encoding="utf-8-sig", newline="") as source:
        table = [row[::-1] for row in csv.reader(source)]
    # One invalid row: the rows of its batch are sent one by one, not as a clean batch.
    ordernumber = table[0].index(CYCLE.field("ordernumber").label)
    table[300][ordernumber] = "not a number"
    moved = tmp_path / "moved.csv"
    with moved.open("w", encoding="utf-8-sig", newline="") as target:
        csv.writer(target).writerows(table)
    result = runner.invoke(
        app,
        ["push", "cycle", str(moved), "--changed-only", "--json"],
        env=environment(sandbox),
    )
    summary = json.loads(result.stdout)
    assert (summary["invalid"], summary["sent"], summary["skipped_unchanged"]) == (1, 0, 599)


def _start_push(
    sandbox: Sandbox, path: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, **environment(sandbox), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "artreport", "push", "cycle", str(path), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_rows(sandbox: Sandbox, at_least: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while len(sandbox.rows("cycle")) < at_least:
        assert process.poll() is None, "the push ended before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_push_killed_midway_resumes_with_every_row_stored_once(tmp_path: Path) -> None:
    path = cycles(tmp_path, 3_000)
    with Sandbox({ORGID: KEY}, faults=Faults(latency=0.1)) as sandbox:
        process = _start_push(sandbox, path)
        _wait_for_rows(sandbox, 600, process)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        assert 600 <= len(stored_keys(sandbox)) < 3_000
        resumed = push_json(sandbox, str(path), "--changed-only")
        assert resumed["skipped_unchanged"] >= 400  # what the killed run had recorded
        keys = stored_keys(sandbox)
        assert len(keys) == len(set(keys)) == 3_000
        assert ledger_keys(sandbox) == set(keys)


def test_sigterm_stops_after_the_chunk_in_flight_with_report_and_ledger(tmp_path: Path) -> None:
    path = cycles(tmp_path, 3_000)
    report = tmp_path / "report.csv"
    with Sandbox({ORGID: KEY}, faults=Faults(latency=0.1)) as sandbox:
        process = _start_push(sandbox, path, "--report", str(report))
        _wait_for_rows(sandbox, 400, process)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
        assert process.returncode == 143, err.decode()
        assert b"Traceback" not in err
        stored = set(stored_keys(sandbox))
        assert ledger_keys(sandbox) == stored  # nothing accepted went unrecorded
        assert report.exists() and report.read_text(encoding="utf-8-sig").count("\n") >= 2
        with Ledger.open(default_path(Config(base_url=sandbox.base_url, orgid=ORGID))) as ledger:
            [run] = ledger.history(1)
        assert (run.status, run.exit_code) == ("interrupted", 143)


def _last_run(sandbox: Sandbox) -> Any:
    with Ledger.open(default_path(Config(base_url=sandbox.base_url, orgid=ORGID))) as ledger:
        [run] = ledger.history(1)
    return run


def _not_sent_rows(report: Path) -> set[int]:
    with report.open(encoding="utf-8-sig", newline="") as handle:
        return {int(r["row"]) for r in csv.DictReader(handle) if r["code"].startswith("not-")}


def test_sigterm_while_a_login_is_retried_ends_the_push_at_once_with_everything_written(
    tmp_path: Path,
) -> None:
    path = cycles(tmp_path, 500)
    report = tmp_path / "report.csv"
    config = tmp_path / "artreport.yaml"
    # Without the stop reaching the client, these retries would go on for about a minute.
    config.write_text("retries: 8\nretry_max_seconds: 600\n", encoding="utf-8")
    with Sandbox({ORGID: KEY}, faults=Faults(fail_every=1)) as sandbox:
        process = _start_push(
            sandbox, path, "--json", "--report", str(report), env={"ARTREPORT_CONFIG": str(config)}
        )
        while sandbox.stats()["requests"] < 2:  # retrying the login
            assert process.poll() is None, process.communicate()[1].decode()
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        requests_at_signal = sandbox.stats()["requests"]
        out, err = process.communicate(timeout=10)
        assert process.returncode == 143, err.decode()
        assert sandbox.stats()["requests"] <= requests_at_signal + 1  # one was on the wire
        run = _last_run(sandbox)
    summary = json.loads(out)
    assert (summary["stopped_by"], summary["exit_code"], summary["not_sent"]) == (
        "SIGTERM",
        143,
        500,
    )
    assert summary["report"] == str(report)
    assert "stopped_message" not in summary  # a signal, not an error, stopped it
    assert _not_sent_rows(report) == set(range(2, 502))
    assert (run.status, run.exit_code) == ("interrupted", 143)
    assert run.counts == summary


def test_sigterm_while_a_sync_retries_ends_it_at_once_with_its_summary(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 50))
    ovum = SCHEMA.get("ovum")
    write_rows(folder / "ovum.csv", ovum, fake_rows(ovum, 30))
    summary = tmp_path / "summary.json"
    config = tmp_path / "artreport.yaml"
    config.write_text("retries: 8\nretry_max_seconds: 600\n", encoding="utf-8")
    with Sandbox({ORGID: KEY}, faults=Faults(fail_every=1)) as sandbox:
        command = ["sync", str(folder), "--summary-json", str(summary)]
        process = subprocess.Popen(
            [sys.executable, "-m", "artreport", *command],
            env={**os.environ, **environment(sandbox), "ARTREPORT_CONFIG": str(config)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        while sandbox.stats()["requests"] < 2:  # retrying the login
            assert process.poll() is None, process.communicate()[1].decode()
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        requests_at_signal = sandbox.stats()["requests"]
        _out, err = process.communicate(timeout=10)
        assert process.returncode == 143, err.decode()
        assert sandbox.stats()["requests"] <= requests_at_signal + 1  # one was on the wire
    written = json.loads(summary.read_text(encoding="utf-8"))
    assert (written["exit_code"], written["totals"]["not_sent"]) == (143, 80)
    # The file the signal kept the run from: said so, with its own report, not "exit 1".
    unreached = written["files"][1]
    assert unreached["exit_code"] == 143 and "SIGTERM" in unreached["error"]
    report = Path(unreached["report"]).read_text(encoding="utf-8-sig")
    assert "sync-not-sent-signal" in report


def test_a_second_ctrl_c_still_writes_the_summary_the_report_and_the_ledger(
    tmp_path: Path,
) -> None:
    path = cycles(tmp_path, 3_000)
    report = tmp_path / "report.csv"
    with Sandbox({ORGID: KEY}, faults=Faults(latency=0.5)) as sandbox:
        process = _start_push(sandbox, path, "--json", "--report", str(report))
        _wait_for_rows(sandbox, 200, process)
        process.send_signal(signal.SIGINT)
        time.sleep(0.05)  # while the request in flight is still waited for
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 130, err.decode()
        stored = len(stored_keys(sandbox))
        run = _last_run(sandbox)
    summary = json.loads(out)
    assert (summary["stopped_by"], summary["exit_code"]) == ("SIGINT", 130)
    assert summary["accepted"] == stored < 3_000
    assert len(_not_sent_rows(report)) >= 1
    assert (run.status, run.exit_code, run.counts["accepted"]) == ("interrupted", 130, stored)


def test_an_interrupted_push_says_by_which_signal_and_logs_its_counts_as_json(
    tmp_path: Path,
) -> None:
    path = cycles(tmp_path, 3_000)
    report = tmp_path / "report.csv"
    with Sandbox({ORGID: KEY}, faults=Faults(latency=0.1)) as sandbox:
        process = _start_push(sandbox, path, "--report", str(report), env={"ARTREPORT_LANG": "en"})
        _wait_for_rows(sandbox, 400, process)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
        assert process.returncode == 143, err.decode()
    said = re.search(r"Stopped by SIGTERM .*from row (\d+) on", err.decode())
    assert said, err.decode()
    with report.open(encoding="utf-8-sig", newline="") as handle:
        first_unread = [
            r["row"] for r in csv.DictReader(handle) if r["code"] == "not-read-after-stop"
        ]
    assert first_unread == [said.group(1)]
    [log] = (state_dir(Config()) / "logs").glob("*.log")
    [line] = [line for line in log.read_text(encoding="utf-8").splitlines() if "exit code" in line]
    counts = json.loads(line.split(" counts ", 1)[1])
    assert (counts["exit_code"], counts["stopped_by"]) == (143, "SIGTERM")
    assert counts["report"] == str(report)


def test_a_run_that_exits_2_is_recorded_as_finished_not_interrupted(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]", encoding="utf-8")
    for path in (tmp_path / "nofile.csv", empty):
        result = runner.invoke(app, ["push", "cycle", str(path)], env=environment(sandbox))
        assert result.exit_code == 2, result.output
        run = _last_run(sandbox)
        assert (run.command, run.status, run.exit_code) == (f"push cycle {path}", "finished", 2)
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 2))
    # Refused only once the run has started, when sync makes its client.
    not_a_platform = {**environment(sandbox), "ARTREPORT_BASE_URL": "ftp://127.0.0.1"}
    result = runner.invoke(app, ["sync", str(folder)], env=not_a_platform)
    assert result.exit_code == 2, result.output
    run = _last_run(sandbox)
    assert (run.command, run.status, run.exit_code) == (f"sync {folder}", "finished", 2)


def test_sync_pushes_all_15_types_in_dependency_order(tmp_path: Path, sandbox: Sandbox) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    for record_type in reversed(list(SCHEMA)):
        write_rows(folder / f"{record_type.name}_2024.csv", record_type, fake_rows(record_type, 5))
    (folder / "~$cycle_2024.xlsx").write_bytes(b"an Excel lock file")
    result = runner.invoke(app, ["sync", str(folder)], env=environment(sandbox))
    assert result.exit_code == 0, result.output
    inserts = [path for method, path in sandbox.stats()["log"] if path.endswith("/batchInsert")]
    order = [path.split("/")[2] for path in inserts]
    assert order == [t.resource for t in SCHEMA]  # the schema's order is the dependency order
    assert order[:2] == ["aInformationrecord", "aCyclerecord"]


def test_sync_warns_about_a_cycle_whose_patient_file_is_unknown(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(
        folder / "information.csv",
        SCHEMA.get("information"),
        fake_rows(SCHEMA.get("information"), 3),
    )
    rows = list(fake_rows(CYCLE, 3))
    rows[1]["informationid"] = "INF-NOBODY"
    write_rows(folder / "cycle.csv", CYCLE, rows)
    result = runner.invoke(app, ["--lang", "en", "sync", str(folder)], env=environment(sandbox))
    assert result.exit_code == 0, result.output
    assert "INF-NOBODY" in result.output and "refer" in result.output
    # The report holds that warning alone: it is no failure report.
    assert "Report (warnings only, no errors): " in result.output
    assert "Failure report" not in result.output
    strict = runner.invoke(
        app, ["sync", str(folder), "--strict", "--full"], env=environment(sandbox)
    )
    assert strict.exit_code == 1


def test_an_unknown_reference_is_said_with_the_record_types_label() -> None:
    check = FileCheck(
        "cycle", Path("cycle.csv"), references={"informationid": {"INF-X": [(3, "CYC1")]}}
    )
    [problem] = cross_file_problems([check], {}, False, SCHEMA)[("cycle", Path("cycle.csv"))]
    assert problem.message("zh") == (
        "第 3 行“档案信息ID”(informationid) 的值“INF-X”"
        "在本次文件和已上报的档案信息(information)记录中都找不到。"
    )
    assert "already sent information (档案信息) records" in problem.message("en")


def test_a_reference_to_an_invalid_row_of_the_run_names_that_row(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """A cycle's patient file was on row 3 of the patient export, refused there; the cycle's
    warning said the ID was in none of the run's files, and the clerk, finding it, was lost."""
    folder = tmp_path / "exports"
    folder.mkdir()
    patients = list(fake_rows(INFORMATION, 3, orgid=ORGID))
    patients[1]["wBirthday"] = "not a date"
    write_rows(folder / "information.csv", INFORMATION, patients)
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 3, orgid=ORGID))

    result = runner.invoke(app, ["sync", str(folder), "--json"], env=environment(sandbox))

    assert result.exit_code == 1, result.output
    [warning] = json.loads(result.stdout)["warnings"]
    assert warning.startswith("cycle.csv: 引用了 1 个既没有上报过、本次也不会上报的记录")
    cycle = json.loads(result.stdout)["files"][1]
    with open(cycle["report"], encoding="utf-8-sig", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["row"], row["code"]) == ("3", "cross-file-unknown-reference")
    assert row["value"] == patients[1]["informationid"]
    assert (
        "档案信息(information)记录在 information.csv 第 3 行，但那一行无效，没有上报"
        in row["message"]
    )
    english = runner.invoke(
        app, ["--lang", "en", "sync", str(folder)], env=environment(sandbox)
    ).output
    assert "record on row 3 of information.csv, but that row is invalid" in english


def test_a_strict_sync_that_sends_nothing_lists_every_row_of_every_file(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    information = SCHEMA.get("information")
    write_rows(folder / "information.csv", information, fake_rows(information, 3))
    rows = list(fake_rows(CYCLE, 4))
    rows[1]["informationid"] = "INF-NOBODY"
    rows[2]["cycledate"] = "not a date"
    write_rows(folder / "cycle.csv", CYCLE, rows)
    reports = tmp_path / "reports"
    result = runner.invoke(
        app,
        ["sync", str(folder), "--strict", "--full", "--report-dir", str(reports), "--json"],
        env=environment(sandbox),
    )
    assert result.exit_code == 1, result.output
    totals = json.loads(result.stdout)["totals"]
    assert (totals["rows_read"], totals["invalid"], totals["not_sent"]) == (7, 1, 6)
    assert sandbox.rows("cycle") == [] and sandbox.rows("information") == []

    def codes(name: str) -> list[tuple[str, str]]:
        with open(reports / name, encoding="utf-8-sig", newline="") as handle:
            return [(r["row"], r["code"]) for r in csv.DictReader(handle)]

    assert codes("information-information.csv") == [
        (str(row), "not-sent-strict") for row in (2, 3, 4)
    ]
    cycle_codes = codes("cycle-cycle.csv")
    assert ("3", "cross-file-unknown-reference") in cycle_codes
    assert ("4", "not-sent-strict") not in cycle_codes  # invalid: listed for its own problem
    assert {row for row, code in cycle_codes if code == "not-sent-strict"} == {"2", "3", "5"}


def test_a_strict_sync_names_the_files_whose_references_stopped_it(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Every file's line said "rows refer to unknown records": the clerk looked for them in
    the patient files too, which had none."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "information.csv", INFORMATION, fake_rows(INFORMATION, 2, orgid=ORGID))
    rows = list(fake_rows(CYCLE, 3, orgid=ORGID))
    rows[1]["informationid"] = "INF-NOBODY"
    rows[2]["informationid"] = "INF-NOBODY-EITHER"
    write_rows(folder / "cycle.csv", CYCLE, rows)
    arguments = ["sync", str(folder), "--strict", "--full"]

    result = runner.invoke(app, ["--lang", "en", *arguments, "--json"], env=environment(sandbox))

    information, cycle = json.loads(result.stdout)["files"]
    assert information["error"] == (
        "Not sent: rows of cycle.csv refer to unknown records (--strict),"
        " so no file of this sync was sent."
    )
    assert cycle["error"].startswith("Not sent: this file refers to 2 unknown record(s)")
    with open(information["report"], encoding="utf-8-sig", newline="") as handle:
        messages = {r["message"] for r in csv.DictReader(handle)}
    assert messages == {information["error"]}
    shown = runner.invoke(app, arguments, env=environment(sandbox)).output.splitlines()
    [line] = [line for line in shown if "档案信息 information.csv" in line]
    assert "未上报：本次同步中 cycle.csv 引用了未知记录（--strict）" in line
    [line] = [line for line in shown if "周期信息 cycle.csv" in line]
    assert "未上报：本文件引用了 2 个未知记录（--strict）" in line


def test_a_strict_sync_leaves_an_older_exports_rows_to_the_newer_export_too(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """With --strict, last night's export, every record of it in tonight's too, was counted as
    not sent and its invalid row reported again, as if no newer file held them."""
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = list(fake_rows(INFORMATION, 3, orgid=ORGID))
    older, newer = folder / "information_0630.csv", folder / "information_0701.csv"
    write_rows(older, INFORMATION, [rows[0], rows[1] | {"wBirthday": "not a date"}, rows[2]])
    write_rows(newer, INFORMATION, rows)
    os.utime(older, (time.time() - 86_400, time.time() - 86_400))
    cycles = list(fake_rows(CYCLE, 3, orgid=ORGID))
    cycles[2]["informationid"] = "INF-NOBODY"
    write_rows(folder / "cycle.csv", CYCLE, cycles)

    result = runner.invoke(
        app,
        ["--lang", "en", "sync", str(folder), "--strict", "--full", "--json"],
        env=environment(sandbox),
    )

    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    files = {Path(f["file"]).name: f for f in summary["files"]}
    counts = ("invalid", "superseded", "not_sent", "report")
    assert [files[older.name][key] for key in counts] == [0, 3, 0, None]
    [notice] = files[older.name]["notices"]
    assert notice["code"] == "sync-rows-superseded" and newer.name in notice["message"]
    assert [files[newer.name][key] for key in counts[:3]] == [0, 0, 3]
    totals = summary["totals"]
    assert [totals[key] for key in ("rows_read", *counts[:3])] == [9, 0, 3, 6]


def test_sync_names_the_files_it_does_not_take(tmp_path: Path, sandbox: Sandbox) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 2))
    write_rows(folder / "randomfile.csv", CYCLE, fake_rows(CYCLE, 2))
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    result = runner.invoke(
        app, ["--lang", "en", "sync", str(folder), "--json"], env=environment(sandbox)
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ignored_files"] == [str(folder / "randomfile.csv")]
    assert "randomfile.csv" in result.stderr and "notes.pdf" not in result.stderr


def test_sync_knows_a_file_by_the_clerks_name_for_its_type(tmp_path: Path) -> None:
    # A trial's month folder: these two were ignored, warned about as unknown.
    names = ["供精_202406.csv", "自精_202406.csv", "妊娠结局_202406.xlsx", "复苏明细_06.csv"]
    names += ["复苏_06.csv", "HIS_zq_0630.csv"]
    for name in names:
        (tmp_path / name).write_bytes(b"")

    # The config's own patterns may name the type as the commands do.
    found = find_exports(tmp_path, SCHEMA, {"周期": ["HIS_zq_*.csv"]})

    assert {t: [p.name for p in paths] for t, paths in found.items()} == {
        "supplier": ["供精_202406.csv"],
        "selfsemen": ["自精_202406.csv"],
        "result": ["妊娠结局_202406.xlsx"],
        "thawdet": ["复苏明细_06.csv"],
        "thaw": ["复苏_06.csv"],
        "cycle": ["HIS_zq_0630.csv"],
    }


def test_sync_patterns_add_to_a_types_own_names(tmp_path: Path) -> None:
    # config.example.yaml promises patterns "beside its own names": the night the clerk
    # drops a hand export among the HIS files, it is sent, not ignored.
    for name in ["HIS_zq_0630.csv", "cycle_manual.xlsx", "HIS_yz_0630.xlsx"]:
        (tmp_path / name).write_bytes(b"")

    found = find_exports(tmp_path, SCHEMA, {"cycle": ["HIS_zq_*.csv"], "移植": ["HIS_yz_*"]})

    assert {t: [p.name for p in paths] for t, paths in found.items()} == {
        "cycle": ["HIS_zq_0630.csv", "cycle_manual.xlsx"],
        "transplant": ["HIS_yz_0630.xlsx"],
    }


def test_sync_refuses_outputs_it_cannot_write_before_sending_anything(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 2))
    a_file = tmp_path / "a-file"
    a_file.write_text("", encoding="utf-8")
    for extra in (
        ["--summary-json", str(tmp_path)],
        ["--report-dir", str(folder)],
        ["--report-dir", str(a_file / "reports")],
    ):
        result = runner.invoke(
            app, ["--lang", "en", "sync", str(folder), *extra], env=environment(sandbox)
        )
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "state directory" not in result.output
    assert sandbox.rows("cycle") == []
    # A summary's missing folder is made, as the README's crontab line expects.
    summary = tmp_path / "log" / "artreport" / "last.json"
    result = runner.invoke(
        app, ["sync", str(folder), "--summary-json", str(summary)], env=environment(sandbox)
    )
    assert result.exit_code == 0, result.output
    assert json.loads(summary.read_text(encoding="utf-8"))["totals"]["accepted"] == 2


def _summaries_read_while_pushing(
    monkeypatch: pytest.MonkeyPatch, summary: Path
) -> list[dict[str, Any]]:
    """The summary file as a monitor would read it as each file's push begins."""
    from artreport.upload import job

    during: list[dict[str, Any]] = []
    push_one = job.push_one

    def reading_the_summary(*args: Any, **kwargs: Any) -> Any:
        during.append(json.loads(summary.read_text(encoding="utf-8")))
        return push_one(*args, **kwargs)

    monkeypatch.setattr(job, "push_one", reading_the_summary)
    return during


def test_the_summary_says_no_outcome_while_the_run_has_none(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed outright (kill -9, the OOM killer) writes no summary: until the run ends,
    the file must not still hold last night's exit code 0 for the morning's monitor."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 2))
    summary = tmp_path / "last.json"
    last_night = {"directory": str(folder), "exit_code": 0, "totals": {"accepted": 9}}
    summary.write_text(json.dumps(last_night), encoding="utf-8")
    during = _summaries_read_while_pushing(monkeypatch, summary)
    result = runner.invoke(
        app,
        ["--lang", "en", "sync", str(folder), "--summary-json", str(summary)],
        env=environment(sandbox),
    )
    assert result.exit_code == 0, result.output
    assert during[0]["exit_code"] is None
    assert during[0]["error"].startswith("The sync has not finished, or was killed")
    assert json.loads(summary.read_text(encoding="utf-8"))["exit_code"] == 0


def test_a_second_sync_exits_5_naming_the_holder_or_waits(tmp_path: Path, sandbox: Sandbox) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 5))
    directory = state_dir(Config())
    # The first sync, holding the run lock as long as the test needs it to.
    with exclusive(directory, "sync /data/exports", None):
        started = time.monotonic()
        result = runner.invoke(app, ["--lang", "en", "sync", str(folder)], env=environment(sandbox))
        assert result.exit_code == 5
        assert "sync /data/exports" in result.output and f"pid {os.getpid()}" in result.output
        assert time.monotonic() - started < 5
        waited = runner.invoke(
            app, ["--lang", "en", "sync", str(folder), "--wait", "0.5"], env=environment(sandbox)
        )
        assert waited.exit_code == 5 and time.monotonic() - started >= 0.5
        assert "after waiting 0.5 s" in waited.output and "Use --wait" not in waited.output
        assert sandbox.stats()["requests"] == 0
    assert runner.invoke(app, ["sync", str(folder)], env=environment(sandbox)).exit_code == 0


def test_a_sync_that_cannot_start_still_writes_its_summary_file(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 5))
    summary = tmp_path / "summary.json"
    summary.write_text('{"exit_code": 0, "note": "last night"}', encoding="utf-8")
    with exclusive(state_dir(Config()), "sync /data/exports", None):
        result = runner.invoke(
            app,
            ["--lang", "en", "sync", str(folder), "--summary-json", str(summary)],
            env=environment(sandbox),
        )
    assert result.exit_code == 5
    written = json.loads(summary.read_text(encoding="utf-8"))
    assert written["exit_code"] == 5 and "sync /data/exports" in written["error"]
    assert written["files"] == [] and "note" not in written


@pytest.mark.parametrize("blocked", ["logs", "artreport.lock.json"])
def test_a_state_folder_the_run_cannot_write_in_is_a_clean_exit_2(
    tmp_path: Path, sandbox: Sandbox, blocked: str
) -> None:
    """cron running as another user than the one who made the state folder: its logs/ (or the
    lock's holder file) cannot be written. That was an internal error, last night's summary
    file left in place, and a run recorded with no exit code. (Root writes through
    permissions, so the test puts a folder where a file belongs, and a file for a folder.)"""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 5, orgid=ORGID))
    state = state_dir(Config())
    if blocked == "logs":
        (state / "logs").write_text("not a folder", encoding="utf-8")
    else:
        (state / blocked).mkdir()
    summary = tmp_path / "summary.json"
    summary.write_text('{"exit_code": 0, "note": "last night"}', encoding="utf-8")

    result = runner.invoke(
        app,
        ["--lang", "en", "sync", str(folder), "--summary-json", str(summary)],
        env=environment(sandbox),
    )

    assert result.exit_code == 2, result.output
    assert "Internal error" not in result.output and "state directory" in result.output
    if blocked == "logs":  # mkdir says "File exists", which reads as if all were well
        assert "Not a directory" in result.output and "File exists" not in result.output
    written = json.loads(summary.read_text(encoding="utf-8"))
    assert written["exit_code"] == 2 and "state directory" in written["error"]
    assert not any(path.endswith("/batchInsert") for path in sandbox.stats()["endpoints"])
    with Ledger.open(default_path(Config())) as ledger:
        assert all(run.status == "finished" and run.exit_code == 2 for run in ledger.history())


def test_sync_says_on_screen_why_a_file_was_not_sent(tmp_path: Path, sandbox: Sandbox) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 5))
    result = runner.invoke(
        app,
        ["--lang", "en", "sync", str(folder)],
        env=environment(sandbox) | {"ARTREPORT_KEY": "wrong"},
    )
    assert result.exit_code == 3
    assert "The platform rejected the credentials" in result.output


def test_a_shrunken_export_is_a_warning_in_the_summary_file_too(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    folder, summary = a_night_of_100_cycles(tmp_path, sandbox)
    assert_the_next_night_of_10_is_warned_of(folder, summary, sandbox)


def a_night_of_100_cycles(
    tmp_path: Path, sandbox: Sandbox, *beside: tuple[str, int]
) -> tuple[Path, Path]:
    """The exports folder and summary file after a sync of a 100-row cycle.csv, and of the
    ``beside`` exports (name, rows) made newer than it."""
    folder = tmp_path / "exports"
    folder.mkdir()
    summary = tmp_path / "summary.json"
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 100))
    os.utime(folder / "cycle.csv", ns=(0, 0))
    for name, rows in beside:
        write_rows(folder / name, CYCLE, fake_rows(CYCLE, rows))
    assert sync_warnings(folder, summary, sandbox) == []
    return folder, summary


def assert_the_next_night_of_10_is_warned_of(folder: Path, summary: Path, sandbox: Sandbox) -> None:
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 10))
    warnings = sync_warnings(folder, summary, sandbox)
    assert any("has 10 rows, 100 last time" in warning for warning in warnings), warnings


def sync_warnings(folder: Path, summary: Path, sandbox: Sandbox) -> list[str]:
    result = runner.invoke(
        app,
        ["--lang", "en", "sync", str(folder), "--summary-json", str(summary)],
        env=environment(sandbox),
    )
    assert result.exit_code == 0, result.output
    warnings = json.loads(summary.read_text(encoding="utf-8"))["warnings"]
    # Only the row counts' warnings: these exports' cycles refer to patient files never sent.
    return [warning for warning in warnings if "last time" in warning]


def test_a_smaller_export_beside_the_nightly_one_does_not_hide_a_truncated_export(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """A night with two exports of a type recorded the rows of whichever was sent last
    (a 5-row correction beside the full export): the next night's truncated export was
    measured against 5 rows, and not warned of."""
    folder, summary = a_night_of_100_cycles(tmp_path, sandbox, ("cycle_fix.csv", 5))
    (folder / "cycle_fix.csv").unlink()
    assert_the_next_night_of_10_is_warned_of(folder, summary, sandbox)


def test_a_clerks_push_in_the_evening_does_not_hide_the_nights_truncated_export(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    folder, summary = a_night_of_100_cycles(tmp_path, sandbox)
    push_json(sandbox, str(cycles(tmp_path, 3, name="correction.csv")))
    assert_the_next_night_of_10_is_warned_of(folder, summary, sandbox)


def test_a_night_whose_export_could_not_be_read_is_no_measure_for_the_next(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    folder, summary = a_night_of_100_cycles(tmp_path, sandbox)
    (folder / "cycle.csv").unlink()
    (folder / "cycle.xlsx").write_bytes(b"not a workbook")
    result = runner.invoke(app, ["sync", str(folder)], env=environment(sandbox))
    assert result.exit_code == 2, result.output
    (folder / "cycle.xlsx").unlink()
    assert_the_next_night_of_10_is_warned_of(folder, summary, sandbox)


def test_a_row_count_the_ledger_cannot_record_leaves_the_sync_to_send(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row counts are recorded before anything is sent: a ledger refusing that write
    leaves it to the pushes' own recording, which says what was and was not accepted."""
    from artreport.errors import LedgerError

    def refuse(*arguments: object) -> None:
        raise LedgerError("ledger-unusable", path="ledger.sqlite3", reason="disk full")

    monkeypatch.setattr(Ledger, "record_row_count", refuse)
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 20))
    result = runner.invoke(app, ["sync", str(folder)], env=environment(sandbox))
    assert result.exit_code == 0, result.output
    assert len(sandbox.rows("cycle")) == 20


def test_two_copies_of_an_export_count_each_record_once_the_next_night(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    summary = tmp_path / "summary.json"
    for name in ("cycle_1.csv", "cycle_2.csv", "cycle_3.csv"):
        write_rows(folder / name, CYCLE, fake_rows(CYCLE, 100))
    assert sync_warnings(folder, summary, sandbox) == []
    for name in ("cycle_1.csv", "cycle_2.csv"):
        (folder / name).unlink()
    assert sync_warnings(folder, summary, sandbox) == []


@pytest.mark.parametrize(
    ("config_text", "mode", "warned"),
    [
        ("chunksize: 50\n", 0o600, "chunksize"),
        # doctor fails on it; the morning's reader of the summary must see it too.
        (f"key: {KEY}\n", 0o644, "chmod 600"),
    ],
    ids=["misspelt-setting", "key-file-others-can-read"],
)
def test_a_config_warning_is_in_the_summary_file_too(
    tmp_path: Path, sandbox: Sandbox, config_text: str, mode: int, warned: str
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 5, orgid=ORGID))
    config = tmp_path / "artreport.yaml"
    config.write_text(config_text, encoding="utf-8")
    config.chmod(mode)
    summary = tmp_path / "summary.json"
    result = runner.invoke(
        app,
        [
            "--lang",
            "en",
            "--config",
            str(config),
            "sync",
            str(folder),
            "--summary-json",
            str(summary),
        ],
        env=environment(sandbox),
    )
    assert result.exit_code == 0, result.output
    warnings = json.loads(summary.read_text(encoding="utf-8"))["warnings"]
    assert any(warned in warning for warning in warnings), warnings


def test_a_waiting_run_starts_once_the_lock_is_free(tmp_path: Path, sandbox: Sandbox) -> None:
    import threading

    path = cycles(tmp_path, 5)
    directory = state_dir(Config())
    released = threading.Event()

    def hold() -> None:
        with exclusive(directory, "push cycle other.csv", None):
            released.wait(0.5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    result = runner.invoke(
        app, ["push", "cycle", str(path), "--wait", "10"], env=environment(sandbox)
    )
    holder.join()
    assert result.exit_code == 0, result.output


def test_the_log_holds_no_key_token_name_or_id_number(tmp_path: Path, sandbox: Sandbox) -> None:
    information = SCHEMA.get("information")
    rows = list(fake_rows(information, 20))
    rows[4]["fIdcode"] = "110105194912310021"  # a bad check digit: warned about
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "information.csv", information, rows)
    result = runner.invoke(app, ["sync", str(folder)], env=environment(sandbox))
    assert result.exit_code == 0, result.output
    logs = list((state_dir(Config()) / "logs").glob("*.log"))
    assert logs
    text = "".join(log.read_text(encoding="utf-8") for log in logs)
    assert KEY not in text and make_token(ORGID, KEY) not in text
    for row in rows:
        for field in ("fName", "wName"):
            assert not row.get(field) or row[field] not in text
    assert not re.search(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])", text)


def test_each_files_log_line_names_its_report(tmp_path: Path, sandbox: Sandbox) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = list(fake_rows(CYCLE, 5))
    rows[2]["cycleid"] = ""  # refused: no record ID
    write_rows(folder / "cycle.csv", CYCLE, rows)
    result = runner.invoke(app, ["sync", str(folder)], env=environment(sandbox))
    assert result.exit_code == 1, result.output
    [log] = (state_dir(Config()) / "logs").glob("*.log")
    [line] = [line for line in log.read_text(encoding="utf-8").splitlines() if " cycle " in line]
    counts = json.loads(line.split(": ", 1)[1])
    assert counts["invalid"] == 1
    assert counts["report"] and Path(counts["report"]).is_file()


def test_sync_says_what_the_reader_did_for_each_file(tmp_path: Path, sandbox: Sandbox) -> None:
    """A workbook read from its second sheet, or a title row skipped: validate and push said
    so, sync (the night's run) did not."""
    import openpyxl

    folder = tmp_path / "exports"
    folder.mkdir()
    information = SCHEMA.get("information")
    write_rows(folder / "information.csv", information, fake_rows(information, 3, orgid=ORGID))
    path = folder / "cycle.xlsx"
    write_rows(path, CYCLE, fake_rows(CYCLE, 3, orgid=ORGID))
    workbook = openpyxl.load_workbook(path)
    workbook.worksheets[0].title = "周期"
    workbook.create_sheet("说明", 0).append(["本文件由医院系统导出"])
    workbook.save(path)
    result = runner.invoke(
        app, ["--lang", "en", "sync", str(folder), "--json"], env=environment(sandbox)
    )
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["files"][1]
    assert [n["code"] for n in entry["notices"]] == ["sheet-chosen-by-header"]
    assert "周期" in entry["notices"][0]["message"]
    shown = runner.invoke(app, ["--lang", "en", "sync", str(folder)], env=environment(sandbox))
    assert "周期" in shown.output and "说明" in shown.output
    assert "cycle (周期信息)" in shown.output  # in English, the type's own name leads


def test_two_exports_of_a_type_in_one_folder_the_newer_one_wins(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Last night's export beside tonight's, the same cycles in both: sent in name order, the
    older file put yesterday's values back over today's, and each night both were sent again."""
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = list(fake_rows(CYCLE, 6, orgid=ORGID))
    older, newer = folder / "周期_new_0630.csv", folder / "cycle_0701.csv"
    write_rows(older, CYCLE, [row | {"ppap": "yesterday"} for row in rows[:4]])
    write_rows(newer, CYCLE, [row | {"ppap": "today"} for row in rows[2:]])
    os.utime(older, (time.time() - 86_400, time.time() - 86_400))

    first = runner.invoke(
        app, ["--lang", "en", "sync", str(folder), "--json"], env=environment(sandbox)
    )

    assert first.exit_code == 0, first.output
    stored = {row["cycleid"]: row["ppap"] for row in sandbox.rows("cycle")}
    assert stored == {
        row["cycleid"]: "yesterday" if i < 2 else "today" for i, row in enumerate(rows)
    }
    files = {Path(f["file"]).name: f for f in json.loads(first.stdout)["files"]}
    assert (files[older.name]["accepted"], files[older.name]["superseded"]) == (2, 2)
    assert (files[newer.name]["accepted"], files[newer.name]["superseded"]) == (4, 0)
    [notice] = files[older.name]["notices"]
    assert newer.name in notice["message"] and "2 row(s)" in notice["message"]

    again = runner.invoke(app, ["sync", str(folder), "--json"], env=environment(sandbox))
    assert json.loads(again.stdout)["totals"]["sent"] == 0


def test_the_total_line_counts_the_rows_left_to_newer_exports(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The total line left out the rows a newer export replaced: read 8, sent 6 and nothing
    else, two rows unaccounted for."""
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = list(fake_rows(CYCLE, 6, orgid=ORGID))
    older, newer = folder / "cycle_0630.csv", folder / "cycle_0701.csv"
    write_rows(older, CYCLE, rows[:4])
    write_rows(newer, CYCLE, rows[2:])
    os.utime(older, (time.time() - 86_400, time.time() - 86_400))

    result = runner.invoke(app, ["--lang", "en", "sync", str(folder)], env=environment(sandbox))

    assert result.exit_code == 0, result.output
    [total] = [line for line in result.output.splitlines() if line.startswith("Total:")]
    assert total.startswith(
        "Total: 8 rows read, 6 sent, 6 accepted, 0 skipped, 2 left to newer exports, 0 invalid,"
    )


def test_an_older_exports_bad_rows_give_way_to_the_newer_export(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Last night's export, with rows the clerk has since corrected, beside tonight's: its
    invalid rows were counted invalid, reported to the clerk and made the run exit 1, every
    night, although tonight's file sent the same records; and the records its rows refer to,
    none of them sent, were warned of as unknown."""
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = list(fake_rows(CYCLE, 6, orgid=ORGID))
    older, newer = folder / "cycle_0630.csv", folder / "cycle_0701.csv"
    broken = [dict(row) for row in rows]
    broken[1]["ordernumber"] = "abc"  # corrected tonight
    broken[5]["cycledate"] = "2023-02-30 08:00:00"  # a record tonight's lacks: still refused
    write_rows(older, CYCLE, broken)
    write_rows(newer, CYCLE, rows[:5])
    os.utime(older, (time.time() - 86_400, time.time() - 86_400))

    result = runner.invoke(
        app, ["--lang", "en", "sync", str(folder), "--json"], env=environment(sandbox)
    )

    files = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    assert (files[older.name]["invalid"], files[older.name]["superseded"]) == (1, 5)
    assert files[newer.name]["accepted"] == 5
    report = Path(files[older.name]["report"]).read_text(encoding="utf-8-sig")
    assert "ordernumber" not in report and "cycledate" in report
    assert result.exit_code == 1  # the one bad row tonight's file does not replace

    write_rows(older, CYCLE, broken[:5])
    os.utime(older, (time.time() - 86_400, time.time() - 86_400))
    quiet = runner.invoke(app, ["--lang", "en", "sync", str(folder)], env=environment(sandbox))
    assert quiet.exit_code == 0, quiet.output
    # Tonight's file refers to records never sent (a warning); last night's rows are not sent.
    assert f"{newer.name}: refers to" in quiet.output
    assert f"{older.name}: refers to" not in quiet.output


def test_a_file_of_another_organisation_stops_only_itself(tmp_path: Path, sandbox: Sandbox) -> None:
    """A referral's file in the export folder, every row another hospital's: the run stopped
    there, and tonight's valid files were not sent."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle_a_referral.csv", CYCLE, fake_rows(CYCLE, 3, orgid="ZJ3302999"))
    write_rows(folder / "cycle_b_tonight.csv", CYCLE, fake_rows(CYCLE, 4, orgid=ORGID, start=10))
    result = runner.invoke(app, ["sync", str(folder), "--json"], env=environment(sandbox))
    assert result.exit_code == 2, result.output
    files = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    assert files["cycle_a_referral.csv"]["exit_code"] == 2
    assert (
        files["cycle_b_tonight.csv"]["exit_code"],
        files["cycle_b_tonight.csv"]["accepted"],
    ) == (0, 4)
    assert len(sandbox.rows("cycle")) == 4


def test_sync_with_blank_clears_clears_what_the_export_no_longer_holds(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """A cron job had no way to clear a value: sync took no --blank-clears."""
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = list(fake_rows(CYCLE, 4, orgid=ORGID))
    for row in rows:
        row["ppap"] = "IVF"
    write_rows(folder / "cycle.csv", CYCLE, rows)
    assert runner.invoke(app, ["sync", str(folder)], env=environment(sandbox)).exit_code == 0
    rows[1]["ppap"] = None
    write_rows(folder / "cycle.csv", CYCLE, rows)
    kept = runner.invoke(app, ["sync", str(folder)], env=environment(sandbox))
    assert kept.exit_code == 0, kept.output
    assert [row.get("ppap") for row in sandbox.rows("cycle")] == ["IVF"] * 4
    cleared = runner.invoke(app, ["sync", str(folder), "--blank-clears"], env=environment(sandbox))
    assert cleared.exit_code == 0, cleared.output
    assert [row.get("ppap") for row in sandbox.rows("cycle")] == ["IVF", "", "IVF", "IVF"]


def test_sync_of_a_folder_that_does_not_exist_says_so(tmp_path: Path, sandbox: Sandbox) -> None:
    result = runner.invoke(
        app, ["--lang", "en", "sync", str(tmp_path / "exprots")], env=environment(sandbox)
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_a_night_without_exports_is_in_the_history(tmp_path: Path, sandbox: Sandbox) -> None:
    """The nights the hospital's export failed (no folder, nothing in it) are the ones the
    operator looks for in the history; they were not there."""
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder in (tmp_path / "missing", empty):
        result = runner.invoke(app, ["sync", str(folder)], env=environment(sandbox))
        assert result.exit_code == 2, result.output
    history = runner.invoke(app, ["history", "--json"], env=environment(sandbox))
    runs = json.loads(history.stdout)
    assert [(run["command"], run["exit_code"], run["status"]) for run in runs] == [
        (f"sync {empty}", 2, "finished"),
        (f"sync {tmp_path / 'missing'}", 2, "finished"),
    ]


def test_files_left_unsent_have_the_keys_of_a_sent_file_and_the_stopping_code(
    tmp_path: Path,
) -> None:
    """The platform stops answering while the first file is sent: the files after it had only
    some of the keys (a script reading "accepted" failed) and exit code 1, the clerk's."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "information.csv", INFORMATION, fake_rows(INFORMATION, 5, orgid=ORGID))
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 5, orgid=ORGID))
    with Sandbox({ORGID: KEY}, faults=Faults(fail_every=1)) as failing:
        config = tmp_path / "artreport.yaml"
        config.write_text("retries: 1\nretry_max_seconds: 2\n", encoding="utf-8")
        result = runner.invoke(
            app,
            ["--config", str(config), "sync", str(folder), "--json"],
            env=environment(failing),
        )
    assert result.exit_code == 4, result.output
    first, second = json.loads(result.stdout)["files"]
    assert set(second) >= set(first) - {"notices"}
    assert (second["exit_code"], second["accepted"], second["not_sent"]) == (4, 0, 5)


def test_two_exports_of_one_name_in_a_sync_keep_a_report_each(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """cycle.csv and cycle.xlsx both report to cycle-cycle.csv: the second emptied the
    first's, and both entries named it."""
    folder = tmp_path / "exports"
    folder.mkdir()
    for suffix in ("csv", "xlsx"):
        # Other records in each: a record in both would be the newer file's alone.
        rows = list(fake_rows(CYCLE, 3, orgid=ORGID, start=len(suffix) * 10))
        rows[1]["ordernumber"] = "abc"
        write_rows(folder / f"cycle.{suffix}", CYCLE, rows)
    for strict in ([], ["--strict"]):  # sent, and not sent: the two ways a report is written
        result = runner.invoke(
            app, ["sync", str(folder), "--json", "--full", *strict], env=environment(sandbox)
        )
        reports = [entry["report"] for entry in json.loads(result.stdout)["files"]]
        assert len(set(reports)) == 2 and all(Path(report).exists() for report in reports)


def test_a_report_folder_holds_only_tonights_report_of_each_export(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """With --report-dir, last night's report of an export stayed when tonight's file had no
    problems, and tonight's problems went to `-2` beside it: the clerk read a day-old report."""
    folder = tmp_path / "exports"
    folder.mkdir()
    reports = tmp_path / "reports"
    reports.mkdir()
    # The clerk's own file, not a report, where the report of a file of that name would go.
    mine = reports / "information-information.csv"
    mine.write_text("my notes\n", encoding="utf-8")
    information = SCHEMA.get("information")
    report = reports / "information-information-2.csv"

    def night(bad_rows: list[int]) -> dict[str, Any]:
        rows = list(fake_rows(information, 6, orgid=ORGID))
        for index in bad_rows:
            rows[index]["wBirthday"] = "not a date"
        write_rows(folder / "information.csv", information, rows)
        result = runner.invoke(
            app,
            ["sync", str(folder), "--full", "--report-dir", str(reports), "--json"],
            env=environment(sandbox),
        )
        return json.loads(result.stdout)

    first = night([1, 2])
    assert first["exit_code"] == 1 and first["files"][0]["report"] == str(report)
    second = night([4])
    assert second["files"][0]["report"] == str(report)
    with open(report, encoding="utf-8-sig", newline="") as handle:
        assert [r["row"] for r in csv.DictReader(handle)] == ["6"]
    third = night([])
    assert third["exit_code"] == 0
    assert sorted(p.name for p in reports.iterdir()) == [mine.name]
    assert mine.read_text(encoding="utf-8") == "my notes\n"


def test_sync_totals_add_up_when_the_platform_counts_a_chunk_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of a chunk the platform counted short are neither accepted, rejected, invalid nor
    not sent: the total line and --json totals lost them."""
    from artreport.sandbox import platform as sandbox_platform

    original = sandbox_platform.Platform._batch_insert

    def short(self: Any, rules: Any, request: Any) -> int:
        return original(self, rules, request) - 1

    monkeypatch.setattr(sandbox_platform.Platform, "_batch_insert", short)
    folder = tmp_path / "exports"
    folder.mkdir()
    cycles(folder, 30)
    with Sandbox({ORGID: KEY}) as sandbox:
        result = runner.invoke(app, ["sync", str(folder), "--json"], env=environment(sandbox))
        line = runner.invoke(app, ["--lang", "en", "sync", str(folder)], env=environment(sandbox))
    summary = json.loads(result.stdout)
    assert summary["exit_code"] == 1
    totals = summary["totals"]
    parts = ("invalid", "accepted", "rejected", "stored_fewer", "skipped_unchanged", "superseded")
    assert totals["rows_read"] == sum(totals[k] for k in (*parts, "not_sent")) == 30
    assert totals["stored_fewer"] == 30
    assert "30 unconfirmed (stored short)" in line.output


def test_an_older_exports_valid_row_gives_way_to_the_newer_exports_invalid_one(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Tonight's export holds a cycle refused for a bad value; last night's, beside it, held
    it valid: that older version was sent, putting back values tonight's export no longer has
    ("sent from the newest file only", the README says)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = list(fake_rows(CYCLE, 3, orgid=ORGID))
    older, newer = folder / "cycle_0630.csv", folder / "cycle_0701.csv"
    write_rows(older, CYCLE, [row | {"ppap": "yesterday"} for row in rows])
    write_rows(newer, CYCLE, [rows[0] | {"ppap": "today", "cycledate": "not a date"}])
    os.utime(older, (time.time() - 86_400, time.time() - 86_400))
    result = runner.invoke(app, ["sync", str(folder), "--json"], env=environment(sandbox))
    assert result.exit_code == 1, result.output
    assert sorted(stored_keys(sandbox)) == sorted(row["cycleid"] for row in rows[1:])
    files = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    assert (files[older.name]["accepted"], files[older.name]["superseded"]) == (2, 1)
    assert files[newer.name]["invalid"] == 1


def test_a_night_without_exports_names_its_log_and_the_configs_warnings_in_the_summary(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The summary file of a night whose export folder was empty said "log": null though the
    run wrote a log, and left out the config's warnings (a misspelt setting)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    config = tmp_path / "artreport.yaml"
    config.write_text("chunksize: 100\n", encoding="utf-8")
    summary_file = tmp_path / "last.json"
    result = runner.invoke(
        app,
        ["--config", str(config), "sync", str(empty), "--summary-json", str(summary_file)],
        env=environment(sandbox),
    )
    assert result.exit_code == 2, result.output
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["log"] is not None and Path(summary["log"]).is_file()
    assert any("chunksize" in warning for warning in summary["warnings"])


def test_the_summary_file_gives_a_stable_error_code_beside_the_worded_error(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``error`` is worded for people in the run's language; a monitor script matches the
    code, as it does ``--json``'s ``error``, whatever language the run speaks."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 2, orgid=ORGID))
    summary = tmp_path / "last.json"
    with exclusive(state_dir(Config()), "sync /data/exports", None):
        result = runner.invoke(
            app, ["sync", str(folder), "--summary-json", str(summary)], env=environment(sandbox)
        )
    assert result.exit_code == 5
    written = json.loads(summary.read_text(encoding="utf-8"))
    assert (written["exit_code"], written["error_code"]) == (5, "run-locked")

    during = _summaries_read_while_pushing(monkeypatch, summary)
    result = runner.invoke(
        app,
        ["sync", str(folder), "--summary-json", str(summary)],
        env=environment(sandbox) | {"ARTREPORT_KEY": "wrong"},
    )
    assert result.exit_code == 3
    assert during[0]["error_code"] == "sync-summary-unfinished"
    written = json.loads(summary.read_text(encoding="utf-8"))
    assert written["error_code"] is None
    [file] = written["files"]
    assert file["error_code"] == "client-auth-bad-key" and file["error"]

    result = runner.invoke(
        app, ["sync", str(folder), "--summary-json", str(summary)], env=environment(sandbox)
    )
    assert result.exit_code == 0
    assert json.loads(summary.read_text(encoding="utf-8"))["error_code"] is None


def test_the_lock_message_gives_the_holders_start_as_history_does(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It showed ``2026-11-27T21:39:38+00:00``, UTC and ISO, where history shows the same run
    at ``2026-11-28 05:39``: the operator looking for the hung run could not match them."""
    from artreport.runs import HOLDER_FILE

    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 1))
    directory = state_dir(Config())
    monkeypatch.setenv("TZ", "CST-8")  # POSIX for UTC+8, with or without a zone database
    time.tzset()
    try:
        with exclusive(directory, "sync /data/exports", None):
            holder = json.loads((directory / HOLDER_FILE).read_text(encoding="utf-8"))
            holder["started"] = "2026-11-27T21:39:38+00:00"
            (directory / HOLDER_FILE).write_text(json.dumps(holder), encoding="utf-8")
            result = runner.invoke(
                app, ["--lang", "en", "sync", str(folder)], env=environment(sandbox)
            )
    finally:
        monkeypatch.undo()
        time.tzset()
    assert result.exit_code == 5
    assert "since 2026-11-28 05:39" in result.output, result.output


def test_every_form_of_the_summary_says_when_its_run_began(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A night no run wrote the file (cron not running, an option mistyped in the crontab)
    leaves the night before's: its start time, in every form, is what tells the monitor."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_rows(folder / "cycle.csv", CYCLE, fake_rows(CYCLE, 2, orgid=ORGID))
    summary = tmp_path / "last.json"
    command = ["sync", str(folder), "--summary-json", str(summary)]

    def started(written: dict[str, Any]) -> datetime.datetime:
        when = datetime.datetime.fromisoformat(written["started_at"])
        assert when.tzinfo is not None  # a monitor in another zone reads it right
        return when

    before = datetime.datetime.now().astimezone().replace(microsecond=0)
    with exclusive(state_dir(Config()), "sync /data/exports", None):
        locked = runner.invoke(app, command, env=environment(sandbox))
    assert locked.exit_code == 5
    assert started(json.loads(summary.read_text(encoding="utf-8"))) >= before

    during = _summaries_read_while_pushing(monkeypatch, summary)
    again = datetime.datetime.now().astimezone().replace(microsecond=0)
    finished = runner.invoke(app, command, env=environment(sandbox))
    assert finished.exit_code == 0, finished.output
    final = json.loads(summary.read_text(encoding="utf-8"))
    assert started(during[0]) == started(final) >= again
    assert started(final) <= datetime.datetime.now().astimezone()
