"""An export that is still being written when artreport reads it: cron starts the nightly run
while the hospital system writes its file. Read then, the file ends inside its last row (a cut
ID or date that passes every check) or grows while it is read.

The tests change the file at a point of the reading they choose, through the code the reading
calls, so that nothing depends on timing."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import artreport.readers
import artreport.sync
import artreport.upload.pipeline
import artreport.upload.produce
from artreport.cli import app
from artreport.errors import InputError
from artreport.fakedata import fake_rows, write_rows
from artreport.readers import open_table
from artreport.readers.csv_reader import CsvTable
from artreport.sandbox import Sandbox
from artreport.schema import load_schema
from artreport.upload.produce import open_source
from artreport.validation import ValidateOptions
from tests.conftest import REPO, SAMPLES
from tests.test_nightly import KEY, ORGID, environment

SCHEMA = load_schema()
CYCLE = SCHEMA.get("cycle")
runner = CliRunner()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox({ORGID: KEY}) as running:
        yield running


def cycles(path: Path, count: int) -> list[dict[str, Any]]:
    rows = list(fake_rows(CYCLE, count, orgid=ORGID))
    write_rows(path, CYCLE, rows)
    return rows


def appending(path: Path, data: bytes) -> Callable[[], None]:
    def append() -> None:
        with path.open("ab") as file:
            file.write(data)

    return append


def touching(path: Path) -> Callable[[], None]:
    """A rewrite of the same length: only the modification time tells it."""

    def touch() -> None:
        status = path.stat()
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))

    return touch


def copied(source: Path, folder: Path) -> Path:
    return Path(shutil.copy(source, folder / source.name))


def html_table(path: Path) -> Path:
    rows = "".join(f"<tr><td>C{n}</td><td>{ORGID}</td></tr>" for n in range(5))
    page = f"<html><body><table><tr><th>周期ID</th><th>机构ID</th></tr>{rows}</table></body></html>"
    path.write_text(page, encoding="utf-8")
    return path


def json_lines(path: Path) -> Path:
    path.write_text("".join(json.dumps({"cycleid": f"C{n}"}) + "\n" for n in range(5)))
    return path


FILES: dict[str, Callable[[Path], Path]] = {
    "csv": lambda folder: copied(SAMPLES / "ovum.csv", folder),
    "xlsx": lambda folder: copied(SAMPLES / "cycles.xlsx", folder),
    "xls": lambda folder: copied(REPO / "tests/files/cycles_hidden_row.xls", folder),
    "ods": lambda folder: copied(REPO / "tests/files/cycles_hidden_row.ods", folder),
    "json": lambda folder: copied(SAMPLES / "eresult.json", folder),
    "jsonl": lambda folder: json_lines(folder / "cycles.jsonl"),
    "html": lambda folder: html_table(folder / "cycles.xls"),
}


@pytest.mark.parametrize("kind", sorted(FILES))
@pytest.mark.parametrize("change", ["grows", "rewritten"])
def test_a_file_that_changes_while_it_is_read_is_an_input_error(
    tmp_path: Path, kind: str, change: str
) -> None:
    path = FILES[kind](tmp_path)
    with open_table(path) as table:
        (appending(path, b"\n") if change == "grows" else touching(path))()
        with pytest.raises(InputError) as raised:
            list(table.rows())
    assert raised.value.code == "input-changed-while-read"
    assert raised.value.exit_code == 2
    assert "still being written" in raised.value.message("en")
    assert "导出还没有写完" in raised.value.message("zh")


@pytest.mark.parametrize("kind", sorted(FILES))
def test_a_file_left_alone_reads_to_its_end(tmp_path: Path, kind: str) -> None:
    path = FILES[kind](tmp_path)
    with open_table(path) as table:
        assert list(table.rows())


def test_the_last_row_is_not_handed_on_before_the_file_is_found_unchanged(tmp_path: Path) -> None:
    """A file still being written ends inside its last row: that row, and no other, may be
    cut, so the rows before it are handed on as they are read, and it only once the file is
    found unchanged at the end."""
    path = tmp_path / "cycles.csv"
    cycles(path, 3)
    with open_table(path) as table:
        rows = table.rows()
        first = [number for number, _ in (next(rows), next(rows))]
        appending(path, b"CYC")()
        with pytest.raises(InputError, match="input-changed-while-read"):
            next(rows)
    assert first == [2, 3]


def test_an_export_replaced_by_a_rename_while_read_is_read_whole_as_it_was(
    tmp_path: Path,
) -> None:
    """An exporter that writes a new file and renames it over the old leaves the old one,
    complete, to whoever has it open: nothing changed in what was read."""
    path = tmp_path / "cycles.csv"
    old = cycles(path, 3)
    newer = tmp_path / "new.csv"
    cycles(newer, 5)
    with open_table(path) as table:
        os.replace(newer, path)
        read = list(table.rows())
    assert [cells[table.headers.index("周期ID")] for _, cells in read] == [
        row["cycleid"] for row in old
    ]


def test_a_workbook_cut_by_its_writer_while_opened_is_told_changed_not_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copied(SAMPLES / "cycles.xlsx", tmp_path)
    opening = artreport.readers.open_spreadsheet

    def cut_then_open(*args: Any, **kwargs: Any) -> Any:
        os.truncate(path, 3000)  # the exporter starts writing it anew
        return opening(*args, **kwargs)

    monkeypatch.setattr(artreport.readers, "open_spreadsheet", cut_then_open)
    with pytest.raises(InputError) as raised:
        open_table(path)
    assert raised.value.code == "input-changed-while-read"


def change_once_when_header_read(monkeypatch: pytest.MonkeyPatch, path: Path, data: bytes) -> None:
    """Append *data* to the CSV file *path* once its header has been read: its rows are read
    after."""
    adopting = CsvTable._adopt_header
    changed: list[bool] = []

    def adopt_header(table: CsvTable, header: Any) -> Any:
        rest = adopting(table, header)
        if table.path == path and not changed:
            changed.append(True)
            appending(path, data)()
        return rest

    monkeypatch.setattr(CsvTable, "_adopt_header", adopt_header)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_validate_of_a_file_being_written_exits_2_saying_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    path = tmp_path / "cycles.csv"
    cycles(path, 5)
    change_once_when_header_read(monkeypatch, path, b"CYC0000")
    result = runner.invoke(app, ["--lang", lang, "validate", "cycle", str(path)])
    assert result.exit_code == 2, result.output
    wanted = "still being written" if lang == "en" else "导出还没有写完"
    assert wanted in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_push_of_a_file_being_written_keeps_what_was_accepted_and_exits_2(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file grows while the first chunk is sent: the rows accepted before the end of the
    reading found it changed stay accepted and in the ledger, the row being written is not
    sent; the run ends on the input error with its summary; once the export is finished, a
    run sends what is left."""
    path = tmp_path / "cycles.csv"
    rows = cycles(path, 2000)  # many chunks of 10: the reading ends long after the first
    late = next(fake_rows(CYCLE, 1, orgid=ORGID, start=5000))
    late_file = tmp_path / "late.csv"
    write_rows(late_file, CYCLE, [late])
    late_line = late_file.read_bytes().split(b"\n", 1)[1]
    sending = artreport.upload.pipeline.send_chunk
    changed: list[bool] = []

    def send_chunk(*args: Any) -> Any:
        if not changed:
            changed.append(True)
            appending(path, late_line)()
        return sending(*args)

    monkeypatch.setattr(artreport.upload.pipeline, "send_chunk", send_chunk)
    command = ["--lang", "en", "push", "cycle", str(path), "--chunk-size", "10", "--json"]
    result = runner.invoke(app, command, env=environment(sandbox))
    assert result.exit_code == 2, result.output
    summary = json.loads(result.stdout)
    assert summary["stopped_by"] == "input-changed-while-read"
    assert "still being written" in summary["stopped_message"]
    # Every row before the one being written when the reading ended, which is not sent.
    accepted = summary["accepted"]
    assert accepted == len(rows)
    assert {row["cycleid"] for row in sandbox.rows("cycle")} == {row["cycleid"] for row in rows}

    monkeypatch.setattr(artreport.upload.pipeline, "send_chunk", sending)
    again = runner.invoke(
        app, [*command, "--changed-only"], env=environment(sandbox), catch_exceptions=False
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["skipped_unchanged"] == accepted
    stored = {row["cycleid"] for row in sandbox.rows("cycle")}
    assert stored == {row["cycleid"] for row in rows} | {late["cycleid"]}


def test_sync_sends_the_other_files_when_one_is_being_written(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for a file cut short: that file fails alone, and the others are sent."""
    _sync_beside_a_file_being_written(
        tmp_path,
        sandbox,
        lambda writing: change_once_when_header_read(monkeypatch, writing, b"CYC0000"),
    )


def _sync_beside_a_file_being_written(
    tmp_path: Path, sandbox: Sandbox, changing: Callable[[Path], None]
) -> None:
    """A sync of a folder of two exports, the cycles' one changed by ``changing`` while it is
    still being written: that file alone fails, the other is sent."""
    folder = tmp_path / "exports"
    folder.mkdir()
    information = SCHEMA.get("information")
    write_rows(folder / "information_2024.csv", information, fake_rows(information, 5))
    writing = folder / "cycle_2024.csv"
    cycles(writing, 5)
    changing(writing)
    summary_path = tmp_path / "last.json"
    command = ["--lang", "en", "sync", str(folder), "--summary-json", str(summary_path)]
    result = runner.invoke(app, command, env=environment(sandbox))
    assert result.exit_code == 2, result.output
    files = {Path(f["file"]).name: f for f in json.loads(summary_path.read_text())["files"]}
    assert "still being written" in files["cycle_2024.csv"]["error"]
    assert files["information_2024.csv"]["accepted"] == 5
    assert sandbox.rows("cycle") == []


def test_a_push_validating_in_a_second_process_is_told_of_the_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large export is read by a second process: the error comes back through the pipe."""
    path = tmp_path / "cycles.csv"
    cycles(path, 5)
    change_once_when_header_read(monkeypatch, path, b"CYC0000")
    # Forked, the second process reads the file through the patched reader.
    monkeypatch.setattr(artreport.upload.produce, "_start_method", lambda: "fork")
    options = ValidateOptions()
    with (
        open_source(CYCLE, path, orgid=ORGID, options=options, in_child=True) as source,
        pytest.raises(InputError) as raised,
    ):
        list(source.batches())
    assert raised.value.code == "input-changed-while-read"


def test_sync_does_not_send_a_file_that_changed_after_it_was_checked(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read whole and unchanged, but the file grew between its check and its push: its
    writer was still at work, pausing, and what was checked across files is not what would
    be sent."""
    checking = artreport.sync.check_file

    def growing_once_checked(writing: Path) -> None:
        def check_file(record_type: Any, path: Path, *args: Any) -> Any:
            found = checking(record_type, path, *args)
            if path == writing:
                appending(writing, b"CYC0000")()
            return found

        monkeypatch.setattr(artreport.sync, "check_file", check_file)

    _sync_beside_a_file_being_written(tmp_path, sandbox, growing_once_checked)
