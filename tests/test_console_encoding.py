"""Consoles that cannot write every character: a zh_CN.GBK server, a Windows task whose output
goes to a file in the ANSI code page (cp936), a latin-1 locale. The command's work and its
exit code are what they are on a UTF-8 console; only a mark it cannot show is stood in for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SAMPLES


def artreport(*args: str, encoding: str) -> subprocess.CompletedProcess[bytes]:
    # PYTHONIOENCODING is what Python's streams are opened with, as the locale or the Windows
    # code page would open them; the bytes are decoded by each test, in that encoding.
    environment = {**os.environ, "PYTHONIOENCODING": encoding}
    environment.pop("PYTHONUTF8", None)
    return subprocess.run(
        [sys.executable, "-m", "artreport", *args],
        env=environment,
        capture_output=True,
        timeout=120,
    )


def test_a_push_on_a_gbk_console_ends_with_its_summary_not_a_traceback() -> None:
    """✓ is not in GBK: the push's rows were all accepted, then its last line ended the run on
    a UnicodeEncodeError, exit 1, as if rows had been refused."""
    pushed = artreport("push", "cycle", str(SAMPLES / "cycles.xlsx"), "--sandbox", encoding="gbk")
    out, err = pushed.stdout.decode("gbk"), pushed.stderr.decode("gbk")
    assert pushed.returncode == 0, err
    assert "Traceback" not in err and "已启动内置演练平台" in err
    assert out.rstrip().endswith("√ 全部 40 行已被平台接收。")


def test_a_gbk_console_shows_the_failure_mark_of_a_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "周期.csv"
    said = artreport("validate", "cycle", str(missing), encoding="gbk")
    assert said.returncode == 2
    # Python's own stderr wrote "\u2717" for the mark it could not show.
    assert said.stderr.decode("gbk").startswith(f"× 找不到文件 {missing}")


def test_a_latin1_console_gets_the_problems_in_english_and_question_marks_for_the_rest() -> None:
    checked = artreport(
        "--lang",
        "en",
        "validate",
        "cycle",
        str(SAMPLES / "cycles_with_mistakes.xlsx"),
        encoding="latin-1",
    )
    out = checked.stdout.decode("latin-1")
    assert checked.returncode == 1, checked.stderr.decode("latin-1")
    assert "Traceback" not in checked.stderr.decode("latin-1")
    assert out.startswith("???? (cycle) - ")  # 周期信息, and the dash
    assert "Required field empty" in out and "Duplicate primary key" in out


def test_json_on_a_latin1_console_keeps_every_chinese_character() -> None:
    """JSON is for a program to read back: a "?" in place of a character would be a changed
    value, so the text is escaped instead."""
    checked = artreport(
        "validate",
        "cycle",
        str(SAMPLES / "cycles_with_mistakes.xlsx"),
        "--json",
        encoding="latin-1",
    )
    assert checked.returncode == 1
    summary = json.loads(checked.stdout.decode("latin-1"))
    messages = [problem["message"] for problem in summary["first_problems"]]
    assert "“方案”(artplan) 为必填项，但为空。" in messages


def test_json_on_a_utf8_console_is_written_as_text() -> None:
    checked = artreport(
        "validate",
        "cycle",
        str(SAMPLES / "cycles_with_mistakes.xlsx"),
        "--json",
        encoding="utf-8",
    )
    assert "为必填项" in checked.stdout.decode("utf-8")
