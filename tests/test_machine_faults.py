"""A push or sync on a machine that misbehaves: the state folder's disk fills up (the ledger,
the log), a folder belongs to another account. Every row still ends up accepted or listed in
the report, and the user reads a message, not a traceback."""

from __future__ import annotations

import csv
import datetime
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from artreport.config import Config
from artreport.fakedata import fake_rows, write_rows
from artreport.ledger import Ledger, default_path
from artreport.sandbox import Sandbox
from artreport.schema import load_schema
from tests.conftest import AS_AN_ORDINARY_USER, CANNOT_BE_AN_ORDINARY_USER

ORGID = "ZJ3301001"
KEY = "machine-faults-key"
CYCLE = load_schema().get("cycle")
INFORMATION = load_schema().get("information")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox({ORGID: KEY}) as running:
        yield running


def _limited_files(size: int) -> None:
    """In the child: no file may grow beyond ``size`` bytes, as on a disk that is full; the
    write fails (EFBIG) instead of the signal killing the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def _run(
    sandbox: Sandbox, *arguments: str, file_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ARTREPORT_BASE_URL": sandbox.base_url,
        "ARTREPORT_ORGID": ORGID,
        "ARTREPORT_KEY": KEY,
    }
    return subprocess.run(
        [sys.executable, "-m", "artreport", "--lang", "en", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=None if file_limit is None else (lambda: _limited_files(file_limit)),
    )


def _report_rows(report: Path) -> dict[int, str]:
    with report.open(encoding="utf-8-sig", newline="") as handle:
        return {int(r["row"]): r["code"] for r in csv.DictReader(handle) if r["row"]}


def test_a_ledger_that_fills_the_disk_mid_push_stops_it_with_every_row_accounted_for(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The ledger's disk fills while a push records its chunks. The push ended on the
    ledger's error alone: no summary, and the rows not sent were listed nowhere (the report
    held its header only), while the chunks in flight went on being sent. Now the push stops
    as for an unwritable report: what the platform took is counted, the rest is listed as not
    sent, with why, and the exit code is 2."""
    export = tmp_path / "cycles.csv"
    write_rows(export, CYCLE, fake_rows(CYCLE, 300, orgid=ORGID))
    report = tmp_path / "report.csv"

    result = _run(
        sandbox,
        *("push", "cycle", str(export), "--chunk-size", "1", "--report", str(report)),
        file_limit=128 * 1024,
    )

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "ledger" in result.stderr and "Read 300 rows" in result.stdout
    stored = {row["cycleid"] for row in sandbox.rows("cycle")}
    assert 0 < len(stored) < 300
    listed = _report_rows(report)
    # Every row is on the platform or in the report, and none listed that the platform has.
    rows_of = {f"CYC{n:08d}": n + 1 for n in range(1, 301)}
    assert {rows_of[key] for key in stored} | set(listed) == set(range(2, 302))
    assert not {rows_of[key] for key in stored} & set(listed)
    assert set(listed.values()) == {"not-sent-interrupted"}
    with report.open(encoding="utf-8-sig") as handle:
        assert "ledger" in handle.read()
    with Ledger.open(default_path(Config())) as ledger:
        recorded = ledger.accepted_keys("cycle", sandbox.base_url, ORGID)
    assert recorded <= stored  # never ahead of the platform


def test_a_log_on_a_full_disk_leaves_the_push_its_summary_and_exit_code(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The state folder's disk is full when the run's log is written (its file is created,
    not one line fits). Each log line printed a "--- Logging error ---" traceback, and
    closing the log ended the push in "Internal error (OSError)", exit 2 and no summary,
    though every row was accepted and history said exit 0. Now the push ends as it went,
    with one warning that its log could not be written."""
    export = tmp_path / "cycles.csv"
    write_rows(export, CYCLE, fake_rows(CYCLE, 50, orgid=ORGID))
    logs = Path(os.environ["ARTREPORT_HOME"]) / "logs"
    logs.mkdir()
    now = datetime.datetime.now()
    for second in range(60):  # the log of run 1, started within the next minute
        stamp = (now + datetime.timedelta(seconds=second)).strftime("%Y%m%d-%H%M%S")
        (logs / f"run-{stamp}-1.log").symlink_to("/dev/full")

    result = _run(sandbox, "push", "cycle", str(export))

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Logging error" not in result.stderr
    assert "All 50 rows accepted" in result.stdout
    assert result.stderr.count("log file") == 1 and "No space left on device" in result.stderr
    with Ledger.open(default_path(Config())) as ledger:
        [run] = ledger.history(1)
    assert (run.status, run.exit_code) == ("finished", 0)


@pytest.mark.skipif(CANNOT_BE_AN_ORDINARY_USER is not None, reason=str(CANNOT_BE_AN_ORDINARY_USER))
@pytest.mark.parametrize("command", ["history", "status"])
def test_history_in_a_state_folder_another_account_keeps_closed_says_so(
    tmp_path: Path, command: str
) -> None:
    """cron runs as root, whose state folder is its own (0700); a clerk runs history or
    status on it. That was "Internal error (PermissionError)": the look for the ledger failed
    before the ledger's own message could say whose it is."""
    state = tmp_path / "state"
    with Ledger.open(state_dir_ledger(state)):
        pass
    # Closed to the owner as well: a run as root that gives up reading past modes, and a run as
    # an ordinary account, both meet it as a clerk meets root's folder.
    state.chmod(0)
    try:
        result = subprocess.run(
            [*AS_AN_ORDINARY_USER, sys.executable, "-m", "artreport", "--lang", "en", command],
            env={
                **os.environ,
                "ARTREPORT_HOME": str(state),
                "ARTREPORT_BASE_URL": "http://127.0.0.1:9",
                "ARTREPORT_ORGID": ORGID,
            },
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        state.chmod(0o700)

    assert result.returncode == 2, result.stderr
    assert "Internal error" not in result.stderr
    assert "may not use the upload ledger" in result.stderr
    assert "Permission denied" in result.stderr


def state_dir_ledger(state: Path) -> Path:
    state.mkdir(mode=0o700)
    return state / "ledger.sqlite3"


def test_a_sync_whose_disk_fills_keeps_the_files_it_sent_in_its_summary(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The disk fills while a sync lists a later file's problems (here its references to
    records never sent). The sync ended on that error: its summary file said no file was
    sent ("files": [], no totals), though the first file's rows were on the platform. Now that
    file's line says its report could not be written, the others keep theirs, exit 2."""
    exports = tmp_path / "exports"
    exports.mkdir()
    write_rows(exports / "information.csv", INFORMATION, fake_rows(INFORMATION, 50, orgid=ORGID))
    write_rows(exports / "cycle.csv", CYCLE, fake_rows(CYCLE, 3000, orgid=ORGID))
    summary_file = tmp_path / "summary.json"

    result = _run(
        sandbox, "sync", str(exports), "--summary-json", str(summary_file), file_limit=200_000
    )

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    files = {Path(entry["file"]).name: entry for entry in summary["files"]}
    assert files["information.csv"]["accepted"] == 50
    assert files["cycle.csv"]["exit_code"] == 2
    assert "Cannot write the report file" in files["cycle.csv"]["error"]
    assert summary["totals"]["accepted"] == 50 == len(sandbox.rows("information"))
    assert summary["totals"]["rows_read"] == 3050
    assert "Total: " in result.stdout
    with Ledger.open(default_path(Config())) as ledger:
        [run] = ledger.history(1)
    assert (run.exit_code, run.counts["accepted"] if run.counts else None) == (2, 50)


def test_an_annotated_copy_the_disk_has_no_room_for_is_said_without_a_traceback(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The annotated copy does not fit on the disk: the message said so, and then Python
    printed "Exception ignored in ZipFile.__del__" with a traceback, the half-made workbook
    failing again on its way out."""
    rows = list(fake_rows(CYCLE, 3000, orgid=ORGID))
    rows[5]["ordernumber"] = "abc"
    export = tmp_path / "cycles.csv"
    write_rows(export, CYCLE, rows)
    annotated = tmp_path / "annotated.xlsx"

    result = _run(
        sandbox, "validate", "cycle", str(export), "--annotate", str(annotated), file_limit=100_000
    )

    assert result.returncode == 2, result.stderr
    assert "Cannot write the annotated copy" in result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert not annotated.exists()
    assert not list(tmp_path.glob(".annotated.xlsx.*"))


def test_a_push_whose_annotated_copy_does_not_fit_still_says_what_it_sent(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The rows were sent, then the annotated copy did not fit on the disk: the push printed
    only that, not its summary, and history recorded exit 0 for a command that exited 2."""
    rows = list(fake_rows(CYCLE, 1000, orgid=ORGID))
    rows[5]["ordernumber"] = "abc"
    export = tmp_path / "cycles.csv"
    write_rows(export, CYCLE, rows)
    annotated = tmp_path / "annotated.xlsx"

    result = _run(
        sandbox,
        *("push", "cycle", str(export), "--chunk-size", "1000", "--annotate", str(annotated)),
        file_limit=100_000,
    )

    assert result.returncode == 2, result.stderr
    assert "Read 1000 rows: 1 invalid, 999 sent, 999 accepted" in result.stdout
    assert "Cannot write the annotated copy" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(sandbox.rows("cycle")) == 999
    with Ledger.open(default_path(Config())) as ledger:
        [run] = ledger.history(1)
    assert run.exit_code == 2


def test_a_login_the_state_folder_cannot_keep_leaves_the_sync_to_go_on(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The login cache only spares the next run a login: a ``sessions`` that cannot be
    written (a file in its place here, a full disk at night) stopped the whole upload with
    "state directory unusable", exit 2. Now the run goes on, said once; ``artreport login``,
    whose job the cache is, still fails on it."""
    from artreport.state import state_dir

    exports = tmp_path / "exports"
    exports.mkdir()
    write_rows(exports / "information.csv", INFORMATION, fake_rows(INFORMATION, 5, orgid=ORGID))
    write_rows(exports / "cycle.csv", CYCLE, fake_rows(CYCLE, 5, orgid=ORGID))
    state = state_dir(Config())
    state.mkdir(parents=True, exist_ok=True)
    (state / "sessions").write_text("not a folder", encoding="utf-8")
    summary_file = tmp_path / "summary.json"

    result = _run(sandbox, "sync", str(exports), "--summary-json", str(summary_file))

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("the login could not be saved") == 1, result.stderr
    assert "Not a directory" in result.stderr and "state directory" not in result.stderr
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["totals"]["accepted"] == 10 == len(sandbox.rows("cycle")) * 2
    assert "the login could not be saved" in Path(summary["log"]).read_text(encoding="utf-8")
    assert _run(sandbox, "sync", str(exports), "--full").returncode == 0
    assert sandbox.stats()["logins"] == 2  # no cache: the next run logged in again

    login = _run(sandbox, "login")
    assert login.returncode == 2 and "state directory" in login.stderr, login.stderr
    assert "Traceback" not in login.stderr
