"""Mistyped command lines: Click's usage errors, worded in the user's language."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artreport.cli import app

runner = CliRunner()


def usage_error(*args: str, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["push"], "错误：缺少参数 TYPE。"),
        (["push", "cycle"], "错误：缺少参数 FILE。"),
        (["pish"], "错误：没有 pish 这个命令。是不是要用 push？"),
        (["push", "cycle", "x.csv", "--chunk"], "没有 --chunk 这个选项。是不是要用 --chunk-size？"),
        (["push", "cycle", "x.csv", "--chunk-size", "abc"], "--chunk-size 的值 'abc' 不是整数。"),
        (["push", "cycle", "x.csv", "--concurrency", "99"], "--concurrency 的值 99 超出范围"),
        (["push", "cycle", "x.csv", "--wait", "-1"], "--wait 的值 -1.0 超出范围（x>=0）。"),
        (["push", "cycle", "x.csv", "--chunk-size"], "选项 --chunk-size 后面需要一个值。"),
        (["push", "cycle", "x.csv", "--json=yes"], "选项 --json 后面不能带值。"),
        (["sandbox", "--ttl", "soon"], "--ttl 的值 'soon' 不是数字。"),
        (["sandbox", "bogus"], "没有 bogus 这个命令。"),
        (["history", "--last", "0"], "--last 的值 0 超出范围（x>=1）。"),
        (["--config", "artreport.yaml"], "错误：缺少命令，例如 validate、push 或 sync。"),
    ],
)
def test_a_usage_error_is_said_in_chinese_by_default(args: list[str], said: str) -> None:
    output = usage_error(*args)
    assert said in output
    assert "Error" not in output and "Usage" not in output


def test_the_command_typed_alone_shows_the_help_not_an_error() -> None:
    result = runner.invoke(app, [])
    # Click from 8.2 on exits 2 here, older Click 0: either way the help, as no_args_is_help asks.
    assert result.exit_code in (0, 2)
    assert result.output.startswith("用法：artreport [OPTIONS] COMMAND [ARGS]...")
    assert "validate" in result.output and "sync" in result.output
    assert "错误" not in result.output and "命令用法有误" not in result.output


@pytest.mark.parametrize("command", ["validate", "push"])
def test_the_sheet_option_says_which_sheet_is_read_without_it(command: str) -> None:
    # "the first" sent a clerk with a notes sheet first to --sheet, which was not needed.
    result = runner.invoke(app, ["--lang", "en", command, "--help"])
    assert result.exit_code == 0
    said = " ".join(result.output.split())  # as wrapped to the terminal's width
    assert "default: the first visible one, or else the one whose header names" in said
    result = runner.invoke(app, [command, "--help"])
    said = "".join(result.output.split())
    assert "默认：第一个可见的工作表；没有时，取表头含有该记录类型必填列的那一个" in said


def test_the_usage_line_and_where_to_find_help_come_first() -> None:
    lines = usage_error("push", "cycle").splitlines()
    assert lines[:2] == [
        "用法：artreport push [OPTIONS] {TYPE} {FILE}",
        "查看说明：artreport push --help",
    ]


def test_a_file_name_split_at_its_space_is_explained() -> None:
    # 5月 周期.xlsx typed without quotes: the shell makes two arguments of it.
    output = usage_error("validate", "cycle", "5月", "周期.xlsx")
    assert "多余的参数：周期.xlsx。" in output
    assert "引号" in output


def test_lang_en_gives_the_english_words() -> None:
    output = usage_error("--lang", "en", "push", "cycle")
    assert "Usage: artreport push [OPTIONS] {TYPE} {FILE}" in output
    assert "Try 'artreport push --help' for help." in output
    assert "Error: Missing argument FILE." in output


def test_the_language_of_the_environment_applies_before_any_command_runs() -> None:
    output = usage_error("pish", env={"ARTREPORT_LANG": "en"})
    assert "Error: No such command: pish. Did you mean push?" in output


def test_the_language_of_the_config_file_applies(tmp_path: Path) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text("lang: en\n", encoding="utf-8")
    output = usage_error("--config", str(config), "push", "cycle", "x.csv", "--bogus")
    assert "Error: No such option: --bogus." in output


def test_a_config_file_that_cannot_be_read_leaves_the_words_chinese(tmp_path: Path) -> None:
    output = usage_error("--config", str(tmp_path / "missing.yaml"), "push")
    assert "错误：缺少参数 TYPE。" in output


def run_artreport(*args: str) -> subprocess.CompletedProcess[str]:
    # As a clerk meets it: the console script, not the test runner, prints it.
    return subprocess.run(
        [sys.executable, "-m", "artreport", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def test_a_usage_error_from_the_installed_command_is_worded_too() -> None:
    finished = run_artreport("push", "cycle")
    assert finished.returncode == 2
    assert "错误：缺少参数 FILE。" in finished.stderr
    assert finished.stdout == ""


def test_lang_en_typed_last_still_words_the_error_in_english() -> None:
    finished = run_artreport("push", "cycle", "--lang", "en")
    assert finished.returncode == 2
    assert "Error: Missing argument FILE." in finished.stderr
