"""``--help`` pages in the user's language: Chinese by default, English with ``--lang en``,
``$ARTREPORT_LANG`` or the config file's ``lang``, as every other message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.cells import cell_len
from typer.testing import CliRunner

from artreport.cli import app
from artreport.messages import catalogue, translate
from artreport.sandbox import DEFAULT_PORT

runner = CliRunner()


def command_paths(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command the CLI registers, ``()`` for artreport itself, groups' commands too."""
    paths = [path]
    for name, command in getattr(group, "commands", {}).items():
        paths.extend(command_paths(command, (*path, name)))
    return paths


COMMANDS = command_paths(typer.main.get_command(app))


def command_of(path: tuple[str, ...]) -> Any:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def help_page(*args: str, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def unwrapped(text: str) -> str:
    return "".join(text.split())


def test_every_command_is_found() -> None:
    assert {("push",), ("sync",), ("sandbox",), ("sandbox", "dump"), ()} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "artreport")
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_help_page_is_in_the_language_asked_for(path: tuple[str, ...], lang: str) -> None:
    args = ["--lang", "en"] if lang == "en" else []
    page = help_page(*args, *path, "--help")
    other = "en" if lang == "zh" else "zh"
    assert page.startswith(translate("help-usage", lang) + " ".join(("artreport", *path)))
    assert translate("help-heading-options", lang) in page
    assert translate("help-heading-options", other) not in page
    command = command_of(path)
    texts = [command.help] + [param.help for param in command.params if param.help]
    assert all(text.startswith("help-") for text in texts), texts
    for code in [*texts, "help-help"]:
        assert unwrapped(catalogue()[code][lang]) in unwrapped(page), code
        if catalogue()[code][other] != catalogue()[code][lang]:
            assert unwrapped(catalogue()[code][other]) not in unwrapped(page), code
    assert "help-" not in page


def test_a_command_list_says_each_command_in_the_language() -> None:
    page = help_page("--help")
    assert "命令：" in page
    assert "push      校验导出文件，并上报其中有效的行。" in page
    page = help_page("--lang", "en", "--help")
    assert "Commands:" in page
    assert "push      Validate an export and upload its valid rows." in page


def test_click_s_own_words_are_said_in_chinese() -> None:
    page = help_page("history", "--help")
    assert "参数：" not in page  # history takes none
    assert "[默认：20; x>=1]" in page
    assert "显示本说明并退出。" in page
    assert "[必填]" in help_page("push", "--help")
    assert "Usage" not in page and "Options" not in page and "default" not in page


def test_the_language_of_the_environment_applies_to_the_help() -> None:
    page = help_page("push", "--help", env={"ARTREPORT_LANG": "en"})
    assert "Rows per request (default 200)." in page


def test_the_language_of_the_config_file_applies_to_the_help(tmp_path: Path) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text("lang: en\n", encoding="utf-8")
    assert "Options:" in help_page("--config", str(config), "--help")
    assert "Options:" in help_page("--config", str(config), "push", "--help")


def test_lang_en_typed_after_the_command_gives_the_english_help() -> None:
    # As a clerk types it: the console script moves --lang before the command.
    finished = subprocess.run(
        [sys.executable, "-m", "artreport", "push", "--help", "--lang", "en"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    assert "Rows per request (default 200)." in finished.stdout


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "artreport")
def test_chinese_help_fits_the_terminal(path: tuple[str, ...]) -> None:
    # A Chinese character takes two columns: wrapped by characters, as Click counts, a line
    # would run past the edge of the terminal and break in the middle of the next column.
    result = runner.invoke(app, [*path, "--help"], terminal_width=80)
    assert max(cell_len(line) for line in result.output.splitlines()) <= 80


def test_a_line_does_not_start_with_a_comma_nor_end_with_an_opening_bracket() -> None:
    from artreport.cli.helptext import _wrap

    lines = _wrap("甲乙丙丁，戊（己庚）", 8)
    assert lines == ["甲乙丙", "丁，戊", "（己庚）"]
    assert _wrap("Rows per request (default 200).", 20) == ["Rows per request", "(default 200)."]


def test_the_dump_s_port_is_said_as_the_sandbox_s_default() -> None:
    # The catalogue cannot read the constant: a changed default must change the text too.
    for lang in ("zh", "en"):
        assert str(DEFAULT_PORT) in translate("help-sandbox-dump-port", lang)
