"""Output that cannot be written: no stdout at all (pythonw.exe, a crontab's ``>&-``), a cron
log on a full disk, a pipe whose reader has gone, no stdin to confirm a delete on. The output
is a log of the work: losing it never stops the work nor changes the exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artreport.sandbox import Sandbox
from tests.conftest import SAMPLES

Completed = subprocess.CompletedProcess[str]

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file descriptors")
ORGID, KEY = "ZJ3301001", "streams-test-key"
TYPES = ("information", "cycle", "transplant")


def artreport(*args: str, closed: tuple[int, ...] = (), **options: Any) -> Completed:
    """The command in a process of its own, started without the descriptors in ``closed``;
    stdout and stderr captured unless ``options`` say otherwise."""

    def close() -> None:
        for descriptor in closed:
            os.close(descriptor)

    streams = {
        name: subprocess.PIPE
        for name in ("stdout", "stderr")
        if int(name == "stderr") + 1 not in closed
    }
    return subprocess.run(
        [sys.executable, "-m", "artreport", *args],
        text=True,
        encoding="utf-8",
        timeout=120,
        preexec_fn=close if closed else None,
        **{**streams, **options},
    )


@pytest.fixture
def nightly(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A config for a running sandbox, and an exports folder of three types' files."""
    exports = tmp_path / "exports"
    exports.mkdir()
    for name in ("information.xlsx", "cycles.xlsx", "transplant.xlsx"):
        (exports / name).write_bytes((SAMPLES / name).read_bytes())
    config = tmp_path / "artreport.yaml"
    with Sandbox({ORGID: KEY}) as sandbox:
        config.write_text(
            f"base_url: {sandbox.base_url}\norgid: {ORGID}\nkey: {KEY}\n", encoding="utf-8"
        )
        config.chmod(0o600)
        yield config, exports


def sent_types(summary: Path) -> list[str]:
    """The record types whose every row the platform accepted, by the run's summary file."""
    written = json.loads(summary.read_text(encoding="utf-8"))
    assert written["exit_code"] == 0, written
    return [
        entry["record_type"]
        for entry in written["files"]
        if entry["accepted"] == entry["rows_read"] > 0
    ]


@POSIX
@pytest.mark.parametrize("closed", [(1,), (2,), (0, 1, 2)])
def test_a_sync_without_stdout_or_stderr_sends_every_file(
    nightly: tuple[Path, Path], tmp_path: Path, closed: tuple[int, ...]
) -> None:
    """Without a stdout (pythonw.exe, >&- in a crontab) the first line printed ended the run
    on an AttributeError, exit 2, before anything was sent."""
    config, exports = nightly
    summary = tmp_path / "summary.json"
    synced = artreport(
        "--config", str(config), "sync", str(exports), "--summary-json", str(summary), closed=closed
    )
    assert synced.returncode == 0, synced.stderr
    assert sent_types(summary) == list(TYPES)


@POSIX
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_sync_whose_log_disk_is_full_sends_every_file(
    nightly: tuple[Path, Path], tmp_path: Path
) -> None:
    """The cron log's disk full: the sync stopped after its first file's line, exit 2."""
    config, exports = nightly
    summary = tmp_path / "summary.json"
    with open("/dev/full", "w") as full:
        synced = artreport(
            *("--lang", "en", "--config", str(config), "sync", str(exports)),
            *("--summary-json", str(summary)),
            stdout=full,
        )
    assert synced.returncode == 0, synced.stderr
    assert "Traceback" not in synced.stderr
    assert "Cannot write to standard output (No space left on device)" in synced.stderr
    assert sent_types(summary) == list(TYPES)


@POSIX
@pytest.mark.parametrize("command", [("schema", "cycle"), ("history",), ("validate", "cycle")])
def test_a_reader_that_has_gone_leaves_the_exit_code_as_it_was(command: tuple[str, ...]) -> None:
    """`artreport schema cycle | head -1`: exit 1 (rows invalid or rejected, to a script), or
    an internal error, once the reader had gone."""
    reading, writing = os.pipe()
    os.close(reading)
    arguments = [*command, str(SAMPLES / "cycles.xlsx")] if command[0] == "validate" else command
    try:
        shown = artreport(*arguments, stdout=writing)
    finally:
        os.close(writing)
    assert (shown.returncode, shown.stderr) == (0, "")


@POSIX
def test_a_delete_without_stdin_asks_for_yes_rather_than_failing() -> None:
    environment = {
        **os.environ,
        "ARTREPORT_BASE_URL": "https://platform.example.invalid/api",
        "ARTREPORT_ORGID": ORGID,
        "ARTREPORT_KEY": KEY,
    }
    deleted = artreport(
        "--lang", "en", "delete", "cycle", "--id", "CYC1", closed=(0,), env=environment
    )
    assert deleted.returncode == 2, deleted.stderr
    assert "--yes" in deleted.stderr and "Internal error" not in deleted.stderr


def test_columns_zero_still_shows_the_output() -> None:
    """Rich took COLUMNS=0 for a console no character fits on: nothing was printed, errors
    included."""
    shown = artreport(
        "--lang", "en", "validate", "cycle", "missing.csv", env={**os.environ, "COLUMNS": "0"}
    )
    assert shown.returncode == 2
    assert "missing.csv" in shown.stderr
