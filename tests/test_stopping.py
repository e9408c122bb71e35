"""Stops from outside, as the operator's system delivers them: a closed SSH session's SIGHUP,
a run started under nohup, a Ctrl-C during delete."""

from __future__ import annotations

import csv
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from artreport.config import Config
from artreport.fakedata import fake_rows, write_rows
from artreport.ledger import Ledger, default_path
from artreport.sandbox import Faults, Sandbox
from artreport.schema import load_schema

ORGID = "ZJ3301001"
KEY = "stopping-test-key"
CYCLE = load_schema().get("cycle")

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")


def _environment(sandbox: Sandbox) -> dict[str, str]:
    return {
        **os.environ,
        "ARTREPORT_BASE_URL": sandbox.base_url,
        "ARTREPORT_ORGID": ORGID,
        "ARTREPORT_KEY": KEY,
        "ARTREPORT_LANG": "en",
    }


def _cycles(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "cycles.csv"
    write_rows(path, CYCLE, fake_rows(CYCLE, count, orgid=ORGID))
    return path


def _wait_for_rows(sandbox: Sandbox, at_least: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while len(sandbox.rows("cycle")) < at_least:
        assert process.poll() is None, "the push ended before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _stored_keys(sandbox: Sandbox) -> set[str]:
    return {row["cycleid"] for row in sandbox.rows("cycle")}


def _ledger(sandbox: Sandbox) -> Ledger:
    return Ledger.open(default_path(Config(base_url=sandbox.base_url, orgid=ORGID)))


def _ledger_keys(sandbox: Sandbox) -> set[str]:
    with _ledger(sandbox) as ledger:
        return ledger.accepted_keys("cycle", sandbox.base_url, ORGID)


def _last_run(sandbox: Sandbox) -> Any:
    with _ledger(sandbox) as ledger:
        [run] = ledger.history(1)
    return run


def _not_sent_rows(report: Path) -> set[int]:
    with report.open(encoding="utf-8-sig", newline="") as handle:
        return {int(r["row"]) for r in csv.DictReader(handle) if r["code"].startswith("not-")}


def test_a_closed_ssh_session_stops_a_push_with_everything_written(tmp_path: Path) -> None:
    """Its SIGHUP killed the push outright: the chunk in flight accepted but not in the
    ledger, no report, the run left "running" in history; the summary's write to the gone
    terminal then failed (EIO) with a traceback."""
    path = _cycles(tmp_path, 3_000)
    report = tmp_path / "report.csv"
    leader, terminal = pty.openpty()
    with Sandbox({ORGID: KEY}, faults=Faults(latency=0.2)) as sandbox:
        process = subprocess.Popen(
            [sys.executable, "-m", "artreport", "push", "cycle", str(path), *("--report", report)],
            env=_environment(sandbox),
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=terminal,
        )
        os.close(terminal)
        try:
            _wait_for_rows(sandbox, 400, process)
            os.close(leader)  # the session is gone: writes to its terminal now fail
            leader = -1
            process.send_signal(signal.SIGHUP)
            assert process.wait(timeout=30) == 129
        finally:
            if leader >= 0:
                os.close(leader)
            if process.poll() is None:
                process.kill()
        stored = _stored_keys(sandbox)
        assert _ledger_keys(sandbox) == stored  # nothing accepted went unrecorded
        run = _last_run(sandbox)
    assert 400 <= len(stored) < 3_000
    assert (run.status, run.exit_code, run.counts["stopped_by"]) == ("interrupted", 129, "SIGHUP")
    # Rows 2… were sent in order: the first not sent is the one after the last stored.
    assert min(_not_sent_rows(report)) == len(stored) + 2


def test_a_push_started_under_nohup_goes_on_when_the_session_closes(tmp_path: Path) -> None:
    path = _cycles(tmp_path, 1_000)
    with Sandbox({ORGID: KEY}, faults=Faults(latency=0.05)) as sandbox:
        process = subprocess.Popen(
            [sys.executable, "-m", "artreport", "push", "cycle", str(path), "--json"],
            env=_environment(sandbox),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
        )
        _wait_for_rows(sandbox, 200, process)
        process.send_signal(signal.SIGHUP)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
    assert json.loads(out)["accepted"] == 1_000


@pytest.mark.parametrize(
    ("signal_number", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_a_delete_stopped_midway_lists_what_it_deleted_and_forgets_it_in_the_ledger(
    tmp_path: Path, signal_number: int, exit_code: int
) -> None:
    """Ctrl-C ended a delete --from-file with "Interrupted." and SIGTERM killed it: the deletes
    done were not listed, and the one in flight, carried out by the platform, stayed in the
    ledger as accepted, so push --changed-only never sent that record again."""
    path = _cycles(tmp_path, 30)
    with Sandbox({ORGID: KEY}, faults=Faults(latency=0.2)) as sandbox:
        environment = _environment(sandbox)
        pushed = subprocess.run(
            [sys.executable, "-m", "artreport", "push", "cycle", str(path)],
            env=environment,
            capture_output=True,
            timeout=60,
        )
        assert pushed.returncode == 0, pushed.stderr.decode()
        delete = ["delete", "cycle", "--from-file", str(path), "--yes", "--json"]
        process = subprocess.Popen(
            [sys.executable, "-m", "artreport", *delete],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while len(sandbox.rows("cycle")) > 27:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal_number)
        out, err = process.communicate(timeout=30)
        assert process.returncode == exit_code, err.decode()
        stored = _stored_keys(sandbox)
        assert _ledger_keys(sandbox) == stored
    assert b"Traceback" not in err
    answer = json.loads(out)
    assert answer["deleted"] == 30 - len(stored) >= 3
    assert answer["not_attempted"] == len(stored)
    assert answer["exit_code"] == exit_code


def test_a_push_started_with_stdout_and_stderr_closed_sends_and_exits_as_usual(
    tmp_path: Path,
) -> None:
    """``>&- 2>&-`` in a crontab line: Python leaves sys.stdout None, and the push failed at
    its first print (exit 1; with stderr open, exit 2 and "Internal error")."""
    path = _cycles(tmp_path, 300)
    report = tmp_path / "report.csv"
    with Sandbox({ORGID: KEY}) as sandbox:
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "artreport",
                "push",
                "cycle",
                str(path),
                "--report",
                str(report),
            ],
            env=_environment(sandbox),
            stdin=subprocess.DEVNULL,
            preexec_fn=lambda: (os.close(1), os.close(2)),
            timeout=60,
        )
        assert process.returncode == 0
        assert len(_stored_keys(sandbox)) == 300
        run = _last_run(sandbox)
    assert (run.status, run.exit_code) == ("finished", 0)
    # Only the report's header: nothing meant for stderr landed in it.
    assert report.read_text(encoding="utf-8-sig").count("\n") == 1


def test_a_push_whose_output_reader_has_gone_finishes_with_its_own_exit_code(
    tmp_path: Path,
) -> None:
    """Cron restarted (or ``| head``) while a push's output was piped to it: the next line
    written ended the push at once with exit 1, mid-run."""
    path = _cycles(tmp_path, 2_000)
    with Sandbox({ORGID: KEY}, faults=Faults(latency=0.1)) as sandbox:
        process = subprocess.Popen(
            [sys.executable, "-m", "artreport", "push", "cycle", str(path)],
            env=_environment(sandbox),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdout is not None
        process.stdout.readline()  # "Logging in …": the reader goes
        process.stdout.close()
        assert process.wait(timeout=60) == 0
        assert len(_stored_keys(sandbox)) == 2_000
        run = _last_run(sandbox)
    assert (run.status, run.exit_code, run.counts["accepted"]) == ("finished", 0, 2_000)


def _reading_a_huge_sheet(*args: Any) -> None:
    time.sleep(60)  # the child sends nothing for a long while


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_stop_ends_the_wait_for_a_validating_process_slow_to_its_next_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The push waited in recv() for the child's next batch, which signals do not end: a
    Ctrl-C while calamine read a large workbook's sheet (seconds, a quarter of a minute for
    the largest) was handled only once it had."""
    import threading

    from artreport.report import ReportWriter
    from artreport.upload import produce
    from artreport.upload.pipeline import PushOptions, push_file

    monkeypatch.setattr(produce, "_start_method", lambda: "fork")
    monkeypatch.setattr(produce, "_produce", _reading_a_huge_sheet)
    path = _cycles(tmp_path, 10)
    stop = threading.Event()
    report = tmp_path / "report.csv"
    summaries: list[Any] = []

    def push() -> None:
        with ReportWriter(report, "en") as writer:
            summaries.append(
                push_file(
                    CYCLE,
                    path,
                    send=lambda chunk: pytest.fail("nothing is sent"),  # type: ignore[arg-type,return-value]
                    report=writer,
                    orgid=ORGID,
                    options=PushOptions(validate_in_child=True),
                    stop=stop,
                )
            )

    pushing = threading.Thread(target=push, daemon=True)
    pushing.start()
    time.sleep(0.5)
    stop.set()
    pushing.join(5)
    assert not pushing.is_alive(), "the push waited for the validating process past its stop"
    [summary] = summaries
    assert (summary.rows_read, summary.stopped_at_row) == (0, None)
    with report.open(encoding="utf-8-sig", newline="") as handle:
        assert [r["code"] for r in csv.DictReader(handle)] == ["not-read-after-stop"]
