"""The ledger: recorded migrations, unchanged-row detection per platform and orgid, a chunk
committed whole or not at all (even under SIGKILL), run history and status."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from artreport.config import Config
from artreport.errors import ConfigError
from artreport.ledger import Ledger, default_path
from artreport.ledger.migrations import MIGRATIONS
from tests.conftest import ReadOnlyRun

SANDBOX = "http://127.0.0.1:8765"
PRODUCTION = "https://art.example.gov.cn"
ORGID = "330100001"


def body(key: str, version: int = 1) -> bytes:
    return f'{{"cycleid":"{key}","orgid":"{ORGID}","v":{version}}}'.encode()


def rows(keys: range, version: int = 1) -> list[tuple[str, bytes]]:
    return [(f"C{n:06d}", body(f"C{n:06d}", version)) for n in keys]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    with Ledger.open(path) as opened:
        yield opened


def applied_migrations(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT name, applied_at FROM _migrations ORDER BY name").fetchall()


def test_default_path_is_in_the_state_directory(isolated_environment: Path) -> None:
    assert default_path(Config()) == isolated_environment / "ledger.sqlite3"


def test_migrations_are_applied_once_and_recorded(path: Path) -> None:
    with Ledger.open(path) as ledger:
        run = ledger.start_run("artreport push cycle c.xlsx", SANDBOX, ORGID)
        ledger.record_accepted(run, "cycle", rows(range(3)))
    first = applied_migrations(path)
    assert [name for name, _ in first] == sorted(fn.__name__ for fn in MIGRATIONS)

    with Ledger.open(path) as ledger:
        assert ledger.accepted_keys("cycle", SANDBOX, ORGID) == {"C000000", "C000001", "C000002"}
    assert applied_migrations(path) == first


def test_ledger_file_is_in_wal_mode(path: Path) -> None:
    Ledger.open(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_new_ledger_file_is_owner_only(path: Path) -> None:
    with Ledger.open(path) as ledger:
        ledger.start_run("artreport push cycle c.xlsx", SANDBOX, ORGID)
        for name in (path, path.with_name(path.name + "-wal")):
            assert stat.S_IMODE(name.stat().st_mode) == 0o600, name


@pytest.mark.parametrize("read_only", [False, True])
def test_a_file_that_is_not_a_ledger_is_reported_by_path(path: Path, read_only: bool) -> None:
    path.write_bytes(b"not a database, just an export someone saved here" * 100)
    with pytest.raises(ConfigError) as caught:
        Ledger.open(path, read_only=read_only)
    assert caught.value.code == "ledger-damaged"
    assert caught.value.params["path"] == str(path)
    assert "Move it aside and run again" in caught.value.message("en")


def folder_contents(folder: Path) -> dict[str, bytes]:
    return {entry.name: entry.read_bytes() for entry in folder.iterdir()}


def test_a_ledger_opened_read_only_is_read_and_never_written(path: Path) -> None:
    with Ledger.open(path) as ledger:
        run = ledger.start_run("artreport push cycle c.xlsx", SANDBOX, ORGID)
        ledger.record_accepted(run, "cycle", rows(range(3)))
    before = folder_contents(path.parent)

    with Ledger.open(path, read_only=True) as ledger:
        assert [r.id for r in ledger.history()] == [run]
        assert len(ledger.accepted_keys("cycle", SANDBOX, ORGID)) == 3
        # SQLite itself refuses: the connection was opened read-only.
        with pytest.raises(ConfigError) as caught:
            ledger.start_run("artreport push cycle d.xlsx", SANDBOX, ORGID)
        with pytest.raises(ConfigError):
            ledger.mark_interrupted_runs()
    assert caught.value.code != "ledger-damaged"
    assert "Move it aside" not in caught.value.message("en")
    # SQLite may leave an empty -wal and its -shm for the next writer; the ledger is as it was.
    after = folder_contents(path.parent)
    assert after[path.name] == before[path.name]
    assert after.get(path.name + "-wal", b"") == b""


def test_a_ledger_opened_read_only_is_never_created(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Ledger.open(path, read_only=True)
    assert caught.value.code == "ledger-unusable"
    assert list(path.parent.iterdir()) == []


OPEN_FOR_WRITING = textwrap.dedent(
    """
    import json, sys
    from artreport.errors import ConfigError
    from artreport.ledger import Ledger

    try:
        Ledger.open(sys.argv[1])
    except ConfigError as error:
        print(json.dumps({"code": error.code, "en": error.message("en")}))
    """
)


def test_a_ledger_on_a_read_only_file_system_is_not_called_damaged(
    on_read_only_home: ReadOnlyRun,
) -> None:
    """Moving the file aside would lose what it knows, and is no help: the folder says no."""
    path = default_path(Config())
    with Ledger.open(path) as ledger:
        ledger.start_run("artreport push cycle c.xlsx", SANDBOX, ORGID)
    result = on_read_only_home(sys.executable, "-c", OPEN_FOR_WRITING, str(path))
    assert result.returncode == 0, result.stderr
    error = json.loads(result.stdout)
    assert error["code"] == "ledger-read-only"
    assert f"the folder {path.parent} is on a read-only file system" in error["en"]
    assert "do not move it aside" in error["en"]


def test_every_row_of_a_chunk_keeps_its_own_key_and_hash(ledger: Ledger) -> None:
    keys = ["周期-1", 'C"2', "C\\3", "C 4", "0005", "C6\n", "C7😀"] + [f"K{n}" for n in range(300)]
    run = ledger.start_run("artreport push cycle c.xlsx", SANDBOX, ORGID)
    ledger.record_accepted(run, "cycle", [(key, body(key, 3)) for key in keys])

    assert ledger.accepted_keys("cycle", SANDBOX, ORGID) == set(keys)
    unchanged = ledger.unchanged("cycle", SANDBOX, ORGID)
    assert all(unchanged(key, body(key, 3)) for key in keys)
    assert not any(unchanged(key, body(key, 2)) for key in keys)
    assert not unchanged(keys[0], body(keys[1], 3))


def test_unchanged_is_true_only_for_the_last_accepted_version(ledger: Ledger) -> None:
    run = ledger.start_run("artreport push cycle c.xlsx", SANDBOX, ORGID)
    ledger.record_accepted(run, "cycle", [("C1", body("C1", 1)), ("C2", body("C2", 1))])
    ledger.record_accepted(run, "cycle", [("C2", body("C2", 2))])

    unchanged = ledger.unchanged("cycle", SANDBOX, ORGID)
    assert unchanged("C1", body("C1", 1))
    assert not unchanged("C1", body("C1", 2))
    assert unchanged("C2", body("C2", 2))
    assert not unchanged("C2", body("C2", 1)), "a superseded version counts as changed"
    assert not unchanged("C3", body("C3", 1)), "a key never sent counts as changed"
    # The same body under another key is another row.
    assert not unchanged("C9", body("C1", 1))


@pytest.mark.parametrize(
    ("record_type", "platform", "orgid"),
    [("cycle", PRODUCTION, ORGID), ("cycle", SANDBOX, "330100002"), ("ovum", SANDBOX, ORGID)],
)
def test_rows_accepted_elsewhere_are_not_known(
    ledger: Ledger, record_type: str, platform: str, orgid: str
) -> None:
    run = ledger.start_run("artreport push cycle c.xlsx", SANDBOX, ORGID)
    ledger.record_accepted(run, "cycle", rows(range(5)))

    assert not ledger.unchanged(record_type, platform, orgid)("C000001", body("C000001"))
    assert ledger.accepted_keys(record_type, platform, orgid) == set()
    assert ledger.unchanged("cycle", SANDBOX, ORGID)("C000001", body("C000001"))


def test_rows_are_recorded_against_the_platform_of_their_run(ledger: Ledger) -> None:
    rehearsal = ledger.start_run("artreport push cycle c.xlsx", SANDBOX, ORGID)
    ledger.record_accepted(rehearsal, "cycle", rows(range(2)))
    ledger.finish_run(rehearsal, exit_code=0, counts={})
    real = ledger.start_run("artreport push cycle c.xlsx", PRODUCTION, ORGID)
    ledger.record_accepted(real, "cycle", rows(range(1, 4)))

    assert ledger.accepted_keys("cycle", SANDBOX, ORGID) == {"C000000", "C000001"}
    assert ledger.accepted_keys("cycle", PRODUCTION, ORGID) == {"C000001", "C000002", "C000003"}


def test_a_failing_chunk_records_none_of_its_rows(ledger: Ledger) -> None:
    run = ledger.start_run("artreport push cycle c.xlsx", SANDBOX, ORGID)
    ledger.record_accepted(run, "cycle", rows(range(3)))

    def chunk_that_breaks() -> Iterator[tuple[str, bytes]]:
        yield from rows(range(3, 6))
        raise RuntimeError("the process dies here")

    with pytest.raises(RuntimeError):
        ledger.record_accepted(run, "cycle", chunk_that_breaks())
    assert ledger.accepted_keys("cycle", SANDBOX, ORGID) == {"C000000", "C000001", "C000002"}
    # The connection is usable again: the failed chunk did not leave a transaction open.
    ledger.record_accepted(run, "cycle", rows(range(3, 4)))
    assert len(ledger.accepted_keys("cycle", SANDBOX, ORGID)) == 4


def test_a_reader_sees_only_committed_chunks_while_a_chunk_is_being_written(path: Path) -> None:
    seen_mid_chunk: list[set[str]] = []
    with Ledger.open(path) as writer, Ledger.open(path) as reader:
        run = writer.start_run("artreport push cycle c.xlsx", SANDBOX, ORGID)
        writer.record_accepted(run, "cycle", rows(range(0, 3)))

        def second_chunk() -> Iterator[tuple[str, bytes]]:
            yield from rows(range(3, 5))
            seen_mid_chunk.append(reader.accepted_keys("cycle", SANDBOX, ORGID))
            yield from rows(range(5, 6))

        writer.record_accepted(run, "cycle", second_chunk())
        after = reader.accepted_keys("cycle", SANDBOX, ORGID)
    assert seen_mid_chunk == [{"C000000", "C000001", "C000002"}]
    assert after == {f"C{n:06d}" for n in range(6)}


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from artreport.ledger import Ledger

    path, chunks, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ledger = Ledger.open(path)
    run = ledger.start_run("artreport push cycle c.xlsx", sys.argv[4], sys.argv[5])

    def chunk(number, stall):
        for n in range(number * size, (number + 1) * size):
            key = f"C{n:06d}"
            yield key, key.encode()
            if stall and n == number * size + size // 2:
                # Half of this chunk is written, uncommitted: the parent kills us now.
                print("mid-chunk", flush=True)
                time.sleep(60)

    for number in range(chunks + 1):
        ledger.record_accepted(run, "cycle", chunk(number, stall=number == chunks))
    """
)


def test_a_killed_run_leaves_exactly_the_committed_chunks(path: Path) -> None:
    chunks, size = 3, 50
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path), str(chunks), str(size), SANDBOX, ORGID],
        stdout=subprocess.PIPE,
        text=True,
    )
    # Should the child never reach the stall, the watchdog ends the wait and the test fails.
    watchdog = threading.Timer(30, child.kill)
    watchdog.start()
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "mid-chunk\n"
    finally:
        child.kill()  # SIGKILL on POSIX, TerminateProcess on Windows: no cleanup runs
        child.wait()
        watchdog.cancel()

    with Ledger.open(path) as ledger:
        keys = ledger.accepted_keys("cycle", SANDBOX, ORGID)
        assert keys == {f"C{n:06d}" for n in range(chunks * size)}
        unchanged = ledger.unchanged("cycle", SANDBOX, ORGID)
        assert all(unchanged(key, key.encode()) for key in keys)
        assert [run.status for run in ledger.history()] == ["running"]


def test_history_lists_the_last_runs_newest_first(ledger: Ledger) -> None:
    for n in range(5):
        run = ledger.start_run(f"artreport push cycle c{n}.xlsx", SANDBOX, ORGID)
        ledger.finish_run(run, exit_code=n % 2, counts={"rows_read": n, "accepted": n})

    runs = ledger.history(last=3)

    assert [r.command for r in runs] == [f"artreport push cycle c{n}.xlsx" for n in (4, 3, 2)]
    assert [r.counts for r in runs] == [{"rows_read": n, "accepted": n} for n in (4, 3, 2)]
    assert [r.exit_code for r in runs] == [0, 1, 0]
    assert all(r.status == "finished" and (r.ended_at or "") >= r.started_at for r in runs)


def test_a_run_records_its_inputs(ledger: Ledger) -> None:
    run = ledger.start_run(
        "artreport sync 导出",
        SANDBOX,
        ORGID,
        record_types=["information", "cycle"],
        files=["导出/病历.xlsx", "导出/周期.csv"],
    )

    (record,) = ledger.history()
    assert record.to_dict() == {
        "id": run,
        "command": "artreport sync 导出",
        "platform": SANDBOX,
        "orgid": ORGID,
        "started_at": record.started_at,
        "ended_at": None,
        "record_types": ["information", "cycle"],
        "files": ["导出/病历.xlsx", "导出/周期.csv"],
        "counts": None,
        "exit_code": None,
        "status": "running",
    }


def test_a_run_left_running_is_marked_interrupted_when_the_next_starts(path: Path) -> None:
    with Ledger.open(path) as killed:
        killed.start_run("artreport sync exports", SANDBOX, ORGID)
    with Ledger.open(path) as ledger:
        current = ledger.start_run("artreport sync exports", SANDBOX, ORGID)
        assert [(r.id, r.status) for r in ledger.history()] == [
            (current, "running"),
            (current - 1, "interrupted"),
        ]
        ledger.finish_run(current, exit_code=143, counts={}, status="interrupted")
        ledger.start_run("artreport sync exports", SANDBOX, ORGID)
        assert [r.status for r in ledger.history()] == ["running", "interrupted", "interrupted"]
        assert ledger.history()[1].exit_code == 143


def test_mark_interrupted_runs_closes_a_killed_run_without_starting_one(ledger: Ledger) -> None:
    ledger.start_run("artreport sync exports", SANDBOX, ORGID)

    assert ledger.mark_interrupted_runs() == 1
    assert [r.status for r in ledger.history()] == ["interrupted"]


def test_status_counts_accepted_rows_per_record_type(ledger: Ledger) -> None:
    run = ledger.start_run("artreport sync exports", SANDBOX, ORGID)
    ledger.record_accepted(run, "ovum", rows(range(2)))
    ledger.record_accepted(run, "cycle", rows(range(4)))
    ledger.record_accepted(run, "cycle", rows(range(2, 6), version=2))
    elsewhere = ledger.start_run("artreport sync exports", PRODUCTION, ORGID)
    ledger.record_accepted(elsewhere, "cycle", rows(range(100)))

    status = ledger.status(SANDBOX, ORGID)

    assert [(s.record_type, s.rows_accepted) for s in status] == [("cycle", 6), ("ovum", 2)]
    started = ledger.history()[-1].started_at
    assert all(s.last_accepted_at >= started for s in status)
    assert ledger.status(SANDBOX, "330100002") == []


def test_last_row_count_is_that_of_the_latest_earlier_run(ledger: Ledger) -> None:
    assert ledger.last_row_count("cycle", SANDBOX, ORGID) is None
    first = ledger.start_run("artreport sync exports", SANDBOX, ORGID)
    ledger.record_row_count(first, "cycle", 10_000)
    ledger.record_row_count(first, "ovum", 30_000)
    other_platform = ledger.start_run("artreport sync exports", PRODUCTION, ORGID)
    ledger.record_row_count(other_platform, "cycle", 7)
    current = ledger.start_run("artreport sync exports", SANDBOX, ORGID)
    ledger.record_row_count(current, "cycle", 4_000)

    assert ledger.last_row_count("cycle", SANDBOX, ORGID) == 4_000
    assert ledger.last_row_count("cycle", SANDBOX, ORGID, before_run=current) == 10_000
    assert ledger.last_row_count("ovum", SANDBOX, ORGID, before_run=current) == 30_000
    assert ledger.last_row_count("cycle", PRODUCTION, ORGID) == 7
    assert ledger.last_row_count("cycle", SANDBOX, "330100002") is None
