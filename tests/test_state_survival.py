"""What artreport keeps between runs survives a rollback of artreport itself, a write cut
short and two runs at once: the next run reads it or says plainly what to do, never tracebacks
on it, misreads it or writes into what it does not understand."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import artreport
from artreport.cli import app
from artreport.client.session import SessionCache, make_token
from artreport.config import Config
from artreport.fakedata import fake_rows, write_rows
from artreport.ledger import Ledger, default_path
from artreport.ledger.migrations import m001_initial
from artreport.sandbox import Sandbox
from artreport.schema import load_schema
from artreport.state import replace_file

ORGID = "ZJ3301001"
KEY = "state-survival-key"
CYCLE = load_schema().get("cycle")

runner = CliRunner()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox({ORGID: KEY}) as running:
        yield running


def invoke(sandbox: Sandbox, *args: str) -> tuple[int, str]:
    env = {"ARTREPORT_BASE_URL": sandbox.base_url, "ARTREPORT_ORGID": ORGID, "ARTREPORT_KEY": KEY}
    result = runner.invoke(app, ["--lang", "en", *args], env=env)
    return result.exit_code, result.output


def folder_contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def newer_ledger(isolated_environment: Path, sandbox: Sandbox) -> Path:
    """A ledger this version made, then migrated by a newer artreport (9.0.0) that IT has
    since rolled back from."""
    path = default_path(Config())
    with Ledger.open(path) as ledger:
        run = ledger.start_run("artreport push cycle c.xlsx", sandbox.base_url, ORGID)
        ledger.record_accepted(run, "cycle", [("C1", b"{}")])
        ledger.finish_run(run, exit_code=0, counts={})
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE accepted ADD COLUMN body_version INTEGER")
        columns = {column for (_, column, *_) in db.execute("PRAGMA table_info(_migrations)")}
        if "artreport_version" not in columns:  # as the newer version's m002 adds it
            db.execute("ALTER TABLE _migrations ADD COLUMN artreport_version TEXT")
        db.execute(
            "INSERT INTO _migrations (name, applied_at, artreport_version)"
            " VALUES ('m003_body_versions', '2027-01-01T00:00:00+00:00', '9.0.0')"
        )
    db.close()
    return path


@pytest.mark.parametrize(
    "command",
    [
        ("push", "cycle", "{export}"),
        ("push", "cycle", "{export}", "--changed-only"),
        ("sync", "{folder}"),
        ("delete", "cycle", "--id", "C1", "--yes"),
        ("history",),
        ("status",),
    ],
)
def test_a_ledger_of_a_newer_artreport_is_refused_and_left_as_it_is(
    newer_ledger: Path, sandbox: Sandbox, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """An older artreport wrote into it (and answered --changed-only from a schema it does
    not know); history and status read it as if they knew what it meant."""
    folder = tmp_path / "exports"
    folder.mkdir()
    export = folder / "cycle.csv"
    write_rows(export, CYCLE, fake_rows(CYCLE, 3, seed=7, orgid=ORGID))
    before = folder_contents(newer_ledger.parent)

    args = [part.format(export=export, folder=folder) for part in command]
    code, output = invoke(sandbox, *args)

    assert code == 2, output
    assert f"The upload ledger {newer_ledger} was upgraded by a newer artreport, 9.0.0" in output
    assert "Install artreport 9.0.0 or later again" in output
    assert "Traceback" not in output
    assert sandbox.stats()["endpoints"] == {}
    after = folder_contents(newer_ledger.parent)
    assert {name: after.get(name) for name in before} == before
    assert not any(name.endswith("-wal") and after[name] for name in after)


def test_a_ledger_of_a_newer_artreport_that_did_not_say_its_version(
    isolated_environment: Path, sandbox: Sandbox
) -> None:
    """A ledger whose unknown migration names no version: the message still says to install
    the newer artreport again, in both languages."""
    path = default_path(Config())
    Ledger.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m900_x', '2027-01-01')")
    db.close()
    code, output = invoke(sandbox, "history")
    assert code == 2
    assert "was upgraded by a newer version of artreport (m900_x)" in output
    assert "Install the newer artreport you had upgraded to again" in output


def test_each_migration_records_the_version_that_applied_it(isolated_environment: Path) -> None:
    """What an older version refusing the ledger names as the version to install again."""
    path = default_path(Config())
    Ledger.open(path).close()
    with sqlite3.connect(path) as db:
        versions = {v for (v,) in db.execute("SELECT artreport_version FROM _migrations")}
    db.close()
    assert versions == {artreport.__version__}


def _limited_files(size: int) -> None:
    """In the child: no file may grow beyond ``size`` bytes, as on a disk that is full."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def _sync(
    sandbox: Sandbox, state: Path, *arguments: str, file_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ARTREPORT_HOME": str(state),
        "ARTREPORT_BASE_URL": sandbox.base_url,
        "ARTREPORT_ORGID": ORGID,
        "ARTREPORT_KEY": KEY,
    }
    return subprocess.run(
        [sys.executable, "-m", "artreport", "--lang", "en", "sync", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=None if file_limit is None else (lambda: _limited_files(file_limit)),
    )


def test_a_summary_the_disk_cannot_hold_leaves_no_half_file(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The summary was written in place: a full disk left the first part of it, which a
    monitor could not read as JSON, in place of the night before's. Now it is written whole or
    not at all, and the night before's is gone, so that it is not read as tonight's."""
    exports = tmp_path / "exports"
    exports.mkdir()
    write_rows(exports / "cycle.csv", CYCLE, fake_rows(CYCLE, 3, seed=7, orgid=ORGID))
    # Files of no record type, each named in the summary: a summary far larger than the
    # ledger, so that the disk has room for the one and not the other.
    for number in range(1500):
        (exports / f"unrelated-{number:05d}-{'x' * 120}.csv").write_text("a,b\n1,2\n")
    summary = tmp_path / "monitor" / "last.json"
    state = tmp_path / "state"
    first = _sync(sandbox, state, str(exports), "--summary-json", str(summary))
    assert first.returncode == 0, first.stderr
    assert len(summary.read_bytes()) > 200_000
    summary.chmod(0o640)  # as IT set it for the monitor's group

    cut = _sync(sandbox, state, str(exports), "--summary-json", str(summary), file_limit=150_000)

    assert cut.returncode == 2, cut.stdout + cut.stderr
    assert f"Cannot write the sync summary {summary}" in cut.stdout + cut.stderr
    assert "Traceback" not in cut.stderr
    assert not summary.exists()
    assert list(summary.parent.iterdir()) == []  # no temporary file left either

    again = _sync(sandbox, state, str(exports), "--summary-json", str(summary))
    assert again.returncode == 0, again.stderr
    assert json.loads(summary.read_bytes())["exit_code"] == 0


def test_a_summary_keeps_its_permissions_and_its_link(tmp_path: Path, sandbox: Sandbox) -> None:
    """Written whole through a temporary file, the summary keeps what IT set on it: its mode
    (a monitor's group reads it) and the link naming it stays a link."""
    exports = tmp_path / "exports"
    exports.mkdir()
    write_rows(exports / "cycle.csv", CYCLE, fake_rows(CYCLE, 3, seed=7, orgid=ORGID))
    kept = tmp_path / "kept" / "last.json"
    kept.parent.mkdir()
    kept.write_text("{}")
    kept.chmod(0o640)
    link = tmp_path / "last.json"
    link.symlink_to(kept)

    result = _sync(sandbox, tmp_path / "state", str(exports), "--summary-json", str(link))

    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert json.loads(kept.read_bytes())["exit_code"] == 0
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert sorted(p.name for p in kept.parent.iterdir()) == ["last.json"]


def test_doctor_names_a_ledger_of_a_newer_artreport(newer_ledger: Path, tmp_path: Path) -> None:
    """Every run stopped on it while doctor said the state folder was fine."""
    config = tmp_path / "artreport.yaml"
    config.write_text(f"base_url: http://127.0.0.1:9\norgid: {ORGID}\n", encoding="utf-8")
    config.chmod(0o600)
    before = folder_contents(newer_ledger.parent)
    result = runner.invoke(app, ["--lang", "en", "--config", str(config), "doctor", "--json"])
    [check] = [c for c in json.loads(result.output)["checks"] if c["name"] == "state-dir"]
    assert check["status"] == "failed"
    assert check["code"] == "ledger-newer" and check["params"]["needed"] == "9.0.0"
    assert result.exit_code == 1
    after = folder_contents(newer_ledger.parent)
    assert {name: after.get(name) for name in before} == before


def test_doctor_leaves_an_older_ledger_to_the_next_run(
    isolated_environment: Path, tmp_path: Path
) -> None:
    """doctor holds no run lock, so it must not bring a ledger up to date (write to it)."""
    path = default_path(Config())
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:  # as the version before m002 left it
        db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        m001_initial(db)
        db.execute("INSERT INTO _migrations VALUES ('m001_initial', '2025-01-01T00:00:00+00:00')")
    db.close()
    before = folder_contents(path.parent)
    config = tmp_path / "artreport.yaml"
    config.write_text(f"base_url: http://127.0.0.1:9\norgid: {ORGID}\n", encoding="utf-8")
    config.chmod(0o600)
    result = runner.invoke(app, ["--lang", "en", "--config", str(config), "doctor", "--json"])
    [check] = [c for c in json.loads(result.output)["checks"] if c["name"] == "state-dir"]
    assert check["status"] == "ok"
    after = folder_contents(path.parent)
    assert {name: after.get(name) for name in before} == before

    # The next run brings it up to date, marking only what it applied with its version.
    Ledger.open(path).close()
    with sqlite3.connect(path) as db:
        marked = dict(db.execute("SELECT name, artreport_version FROM _migrations"))
    db.close()
    assert marked == {"m001_initial": None, "m002_migration_versions": artreport.__version__}


def test_a_summary_in_a_folder_this_account_may_not_write_in_is_written_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IT made the file writable for the cron account in a folder it may not write in
    (/var/log): no temporary file can be made beside it, and it is written in place, as
    before, rather than not at all. Root writes through permissions, so the folder's refusal
    is played by os.open."""
    summary = tmp_path / "last.json"
    summary.write_text('{"night": 1}', encoding="utf-8")
    opened = os.open

    def refusing_new_files(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return opened(path, flags, mode)

    monkeypatch.setattr(os, "open", refusing_new_files)
    replace_file(summary, b'{"night": 2}')
    assert json.loads(summary.read_bytes()) == {"night": 2}
    with pytest.raises(PermissionError):
        replace_file(tmp_path / "new.json", b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.json"]


@pytest.mark.parametrize("left", [b"", b'{"format": 1, "base_url": "http', b"\0" * 286])
def test_a_login_cache_cut_short_means_logging_in_again(
    isolated_environment: Path, sandbox: Sandbox, left: bytes
) -> None:
    """A cache file a power cut left empty, cut short or full of zeros is no login: the next
    command logs in again and writes it whole, owner-only, whatever mode the old one had."""
    assert invoke(sandbox, "login")[0] == 0
    [cached] = (isolated_environment / "sessions").iterdir()
    cached.write_bytes(left)
    cached.chmod(0o644)

    code, output = invoke(sandbox, "login")

    assert code == 0, output
    assert sandbox.stats()["logins"] == 2
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    cache = SessionCache(cached.parent)
    assert cache.load(sandbox.base_url, ORGID, make_token(ORGID, KEY)) is not None
