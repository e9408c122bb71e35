"""``artreport history`` and ``artreport status``: runs newest first with their counts and
status, accepted rows per record type for the configured platform and orgid only, and nothing
created when there is no ledger yet."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artreport.cli import app
from artreport.cli.history_cmd import _duration
from artreport.config import Config
from artreport.ledger import Ledger, RunRecord, default_path
from artreport.schema import load_schema
from tests.conftest import ReadOnlyRun

PRODUCTION = "https://art.example.gov.cn"
SANDBOX = "http://127.0.0.1:8765"
ORGID = "330100001"
OTHER_ORGID = "330100002"
CONFIGURED = {"ARTREPORT_BASE_URL": PRODUCTION, "ARTREPORT_ORGID": ORGID}

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["--lang", "en", *args], env=env)
    return result.exit_code, result.output


def rows(prefix: str, keys: range, version: int = 1) -> list[tuple[str, bytes]]:
    return [
        (f"{prefix}{n:04d}", f'{{"id":"{prefix}{n:04d}","v":{version}}}'.encode()) for n in keys
    ]


def local_minutes(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


@pytest.fixture(autouse=True)
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local zone eight hours from UTC, so that a time printed in UTC cannot pass for local."""
    if not hasattr(time, "tzset"):
        yield
        return
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def ledger_path() -> Path:
    return default_path(Config())


@pytest.fixture
def seeded(ledger_path: Path) -> list[RunRecord]:
    """Five runs; returns them as the ledger has them, newest first."""
    with Ledger.open(ledger_path) as ledger:
        first = ledger.start_run(
            "artreport push cycle cycle[old].xlsx", PRODUCTION, ORGID, record_types=["cycle"]
        )
        ledger.record_accepted(first, "cycle", rows("C", range(3)))
        ledger.finish_run(
            first,
            exit_code=0,
            counts={
                "rows_read": 3,
                "invalid": 0,
                "sent": 3,
                "accepted": 3,
                "rejected": 0,
                "skipped_unchanged": 0,
                "problems_by_code": {},
            },
        )

        rehearsal = ledger.start_run(
            "artreport push transplant t.csv", SANDBOX, ORGID, record_types=["transplant"]
        )
        ledger.record_accepted(rehearsal, "transplant", rows("T", range(5)))
        ledger.finish_run(rehearsal, exit_code=0, counts={"rows_read": 5, "sent": 5, "accepted": 5})

        # Killed mid-way: still "running" until the next run starts.
        killed = ledger.start_run(
            "artreport push cycle killed.xlsx", PRODUCTION, ORGID, record_types=["cycle"]
        )
        ledger.record_accepted(killed, "cycle", rows("C", range(2)))  # a resend: no new row
        ledger.record_accepted(killed, "cycle", rows("C", range(3, 5), version=2))

        other = ledger.start_run(
            "artreport sync exports", PRODUCTION, OTHER_ORGID, record_types=["ovum", "cycle"]
        )
        ledger.record_accepted(other, "ovum", rows("O", range(4)))
        ledger.record_accepted(other, "cycle", rows("X", range(7)))
        ledger.finish_run(
            other,
            exit_code=1,
            counts={
                "rows_read": 10,
                "invalid": 6,
                "sent": 4,
                "accepted": 4,
                "rejected": 0,
                "skipped_unchanged": 0,
            },
        )

        ledger.start_run(
            "artreport push cycle live.xlsx", PRODUCTION, ORGID, record_types=["cycle"]
        )
        return ledger.history(20)


def table_rows(output: str) -> list[list[str]]:
    """The body rows of the rich table in ``output``, each as its stripped cells. Off a
    terminal (as here) a row must be one line: a folded row would fail the callers' checks."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if "│" in line
    ]


HISTORY_COLUMNS = [
    "id",
    "started",
    "duration",
    "command",
    "types",
    "read",
    "invalid",
    "sent",
    "accepted",
    "rejected",
    "skipped",
    "exit",
    "status",
]


def history_rows(output: str) -> list[dict[str, str]]:
    parsed = [dict(zip(HISTORY_COLUMNS, cells, strict=True)) for cells in table_rows(output)]
    assert parsed, output
    return parsed


def test_history_lists_runs_newest_first_with_counts_and_status(seeded: list[RunRecord]) -> None:
    code, output = invoke("history")
    assert code == 0, output
    shown = history_rows(output)
    assert [r["id"] for r in shown] == [str(r.id) for r in seeded]
    assert [r["command"] for r in shown] == [
        "artreport push cycle live.xlsx",
        "artreport sync exports",
        "artreport push cycle killed.xlsx",
        "artreport push transplant t.csv",
        "artreport push cycle cycle[old].xlsx",
    ]
    live, other, killed, rehearsal, first = shown
    assert (live["exit"], live["duration"]) == ("", "")
    assert [r["status"] for r in shown] == [
        "running",
        "finished",
        "interrupted",
        "finished",
        "finished",
    ]
    assert (first["read"], first["sent"], first["skipped"], first["exit"]) == ("3", "3", "0", "0")
    # Keys a run's counts lack stay blank, never 0.
    assert (rehearsal["read"], rehearsal["invalid"], rehearsal["rejected"]) == ("5", "", "")
    assert (other["types"], other["invalid"], other["exit"]) == ("ovum, cycle", "6", "1")
    assert (killed["exit"], killed["duration"], killed["read"]) == ("", "", "")
    assert first["duration"] == "0:00"
    assert [r["started"] for r in shown] == [local_minutes(r.started_at) for r in seeded]


def test_history_last_shows_only_the_newest_runs(seeded: list[RunRecord]) -> None:
    code, output = invoke("history", "--last", "2")
    assert code == 0, output
    assert [r["id"] for r in history_rows(output)] == [str(r.id) for r in seeded[:2]]


def test_history_last_must_be_positive(seeded: list[RunRecord]) -> None:
    code, _ = invoke("history", "--last", "0")
    assert code == 2


def test_history_json_is_the_ledgers_runs(seeded: list[RunRecord]) -> None:
    code, output = invoke("history", "--json")
    assert code == 0, output
    assert json.loads(output) == [r.to_dict() for r in seeded]

    code, output = invoke("history", "--json", "--last", "1")
    assert json.loads(output) == [seeded[0].to_dict()]


def test_history_in_chinese_names_the_interrupted_run(seeded: list[RunRecord]) -> None:
    result = runner.invoke(app, ["history"])
    assert result.exit_code == 0, result.output
    (killed,) = [line for line in result.output.splitlines() if "killed.xlsx" in line]
    assert "中断" in killed


def test_status_counts_rows_accepted_for_the_configured_platform_and_orgid(
    seeded: list[RunRecord], ledger_path: Path
) -> None:
    with Ledger.open(ledger_path) as ledger:
        (cycle,) = ledger.status(PRODUCTION, ORGID)
    code, output = invoke("status", env=CONFIGURED)
    assert code == 0, output
    schema = list(load_schema())
    shown = table_rows(output)
    assert [cells[:2] for cells in shown] == [[t.name, t.label] for t in schema]
    counts = {cells[0]: (cells[2], cells[3]) for cells in shown}
    # Three rows from the first run, two new keys from the killed one; its resends count once.
    assert counts["cycle"] == ("5", local_minutes(cycle.last_accepted_at))
    # The sandbox's transplants and the other orgid's ovum rows are not this platform's.
    assert counts["transplant"] == ("0", "—")
    assert counts["ovum"] == ("0", "—")
    assert "artreport itself sent" in output


def test_status_json_per_record_type(seeded: list[RunRecord]) -> None:
    code, output = invoke("status", "--json", env={**CONFIGURED, "ARTREPORT_BASE_URL": SANDBOX})
    assert code == 0, output
    payload = json.loads(output)
    assert (payload["platform"], payload["orgid"]) == (SANDBOX, ORGID)
    by_type = {t["record_type"]: t for t in payload["record_types"]}
    assert [t["record_type"] for t in payload["record_types"]] == [t.name for t in load_schema()]
    assert by_type["transplant"]["rows_accepted"] == 5
    assert by_type["transplant"]["last_accepted_at"] is not None
    assert by_type["cycle"] == {
        "record_type": "cycle",
        "label": by_type["cycle"]["label"],
        "rows_accepted": 0,
        "last_accepted_at": None,
    }


def test_status_for_another_orgid_counts_only_its_rows(seeded: list[RunRecord]) -> None:
    code, output = invoke("status", "--json", env={**CONFIGURED, "ARTREPORT_ORGID": OTHER_ORGID})
    assert code == 0, output
    accepted = {
        t["record_type"]: t["rows_accepted"]
        for t in json.loads(output)["record_types"]
        if t["rows_accepted"]
    }
    assert accepted == {"ovum": 4, "cycle": 7}


def test_status_without_platform_or_orgid_says_what_is_missing(seeded: list[RunRecord]) -> None:
    code, output = invoke("status", env={"ARTREPORT_ORGID": ORGID})
    assert code == 2
    assert "base_url" in output
    assert "orgid" not in output.split("Missing settings:")[1].split(".")[0]


def test_status_with_nothing_sent_to_this_platform(seeded: list[RunRecord]) -> None:
    code, output = invoke("status", env={**CONFIGURED, "ARTREPORT_BASE_URL": "https://elsewhere"})
    assert code == 0, output
    assert "Nothing sent yet" in output
    assert "https://elsewhere" in output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("history",), "No runs yet"),
        (("status",), "Nothing sent yet"),
    ],
)
def test_without_a_ledger_a_friendly_line_and_no_file(
    isolated_environment: Path, args: tuple[str, ...], expected: str
) -> None:
    code, output = invoke(*args, env=CONFIGURED)
    assert code == 0, output
    assert expected in output
    assert list(isolated_environment.iterdir()) == []


def test_without_a_ledger_json_is_empty_and_no_file(isolated_environment: Path) -> None:
    code, output = invoke("history", "--json")
    assert (code, json.loads(output)) == (0, [])
    code, output = invoke("status", "--json", env=CONFIGURED)
    assert code == 0, output
    assert {t["rows_accepted"] for t in json.loads(output)["record_types"]} == {0}
    assert list(isolated_environment.iterdir()) == []


#: A run killed outright after a chunk was accepted: its commits stay in the -wal, read through
#: the -shm it leaves, never checkpointed into the ledger file.
KILLED_RUN = textwrap.dedent(
    """
    import os, sys
    from artreport.ledger import Ledger

    ledger = Ledger.open(sys.argv[1])
    run = ledger.start_run("artreport push cycle killed-late.xlsx", sys.argv[2], sys.argv[3])
    ledger.record_accepted(run, "cycle", [("C0100", b"{}"), ("C0101", b"{}")])
    os._exit(0)  # as if killed: nothing closes the ledger
    """
)


@pytest.mark.parametrize("left", ["closed", "killed"])
def test_history_and_status_read_a_ledger_on_a_read_only_file_system(
    seeded: list[RunRecord], ledger_path: Path, on_read_only_home: ReadOnlyRun, left: str
) -> None:
    """Both only read, so a state folder on a read-only disk is no reason to fail, still less
    to advise moving the ledger aside. Closed, the ledger is one file, and SQLite cannot make
    the -shm it reads a WAL ledger through; a killed run leaves one, and its last commits."""
    commands = [run.command for run in seeded]
    accepted = 5
    if left == "killed":
        subprocess.run(
            [sys.executable, "-c", KILLED_RUN, str(ledger_path), PRODUCTION, ORGID],
            check=True,
            timeout=60,
        )
        assert ledger_path.with_name(ledger_path.name + "-shm").exists()
        commands.insert(0, "artreport push cycle killed-late.xlsx")
        accepted += 2
    artreport = (sys.executable, "-m", "artreport", "--lang", "en")

    shown = on_read_only_home(*artreport, "history", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [run["command"] for run in json.loads(shown.stdout)] == commands

    shown = on_read_only_home(*artreport, "history")
    assert shown.returncode == 0, shown.stderr
    assert [row["command"] for row in history_rows(shown.stdout)] == commands

    shown = on_read_only_home(*artreport, "status", "--json", env=CONFIGURED)
    assert shown.returncode == 0, shown.stderr
    by_type = {t["record_type"]: t for t in json.loads(shown.stdout)["record_types"]}
    assert by_type["cycle"]["rows_accepted"] == accepted


def test_a_damaged_ledger_is_still_the_one_to_move_aside(ledger_path: Path) -> None:
    ledger_path.write_bytes(b"an export someone saved over the ledger" * 200)
    code, output = invoke("history")
    assert code == 2
    assert f"The upload ledger {ledger_path} is damaged" in output
    assert "Move it aside and run again" in output


def test_duration_reads_hours_minutes_seconds(seeded: list[RunRecord]) -> None:
    run = replace(seeded[1], started_at="2024-05-06T23:59:00+00:00")
    assert _duration(replace(run, ended_at="2024-05-07T01:02:03+00:00")) == "1:03:03"
    assert _duration(replace(run, ended_at="2024-05-06T23:59:45+00:00")) == "0:45"
    # A clock stepped back during the run.
    assert _duration(replace(run, ended_at="2024-05-06T23:58:00+00:00")) == "0:00"
