"""The README's Chinese guide for records clerks cannot silently go stale: every
``artreport …`` command it shows is a real command, every ``--option`` it names is an option
of that command (or, named alone, of some command), the commands run as shown parse, and its
table of record types gives each type's real Chinese name and names that resolve to it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from artreport.cli import app
from artreport.schema import load_schema

README = Path(__file__).resolve().parent.parent / "README.md"
HEADING = "## 中文使用说明（录入人员）"


def guide() -> str:
    """The Chinese section: from its heading to the next second-level heading."""
    text = README.read_text(encoding="utf-8")
    assert HEADING in text, f"README.md has no section {HEADING!r}"
    section = text.split(HEADING, 1)[1]
    return section.split("\n## ", 1)[0]


def root() -> Any:
    return typer.main.get_command(app)


def options_of(command: Any) -> set[str]:
    return {name for param in command.params for name in getattr(param, "opts", [])}


def all_options() -> set[str]:
    found = set(options_of(root()))

    def walk(group: Any) -> None:
        for command in getattr(group, "commands", {}).values():
            found.update(options_of(command))
            walk(command)

    walk(root())
    return found


def blocks_and_text() -> tuple[list[str], str]:
    """The lines of the guide's code blocks, and its text outside them."""
    in_block, code, text = False, [], []
    for line in guide().splitlines():
        if line.strip().startswith("```"):
            in_block = not in_block
        elif in_block:
            code.append(line.strip())
        else:
            text.append(line)
    return code, "\n".join(text)


def command_lines() -> list[str]:
    """Each ``artreport …`` the guide shows: lines of its code blocks, and inline code."""
    code, text = blocks_and_text()
    lines = [line for line in code if line.startswith("artreport ")]
    return lines + [c for c in re.findall(r"`([^`\n]+)`", text) if c.startswith("artreport ")]


def split(line: str) -> tuple[list[str], Any, list[str]]:
    """The command path (``["sandbox", "dump"]``), the command, and the words after it."""
    words = shlex.split(line.replace("\\", "/"))[1:]
    command = root()
    path: list[str] = []
    while words and hasattr(command, "commands"):
        word = words[0]
        if word in ("--lang", "--config"):
            words = words[2:]
            continue
        if word.startswith("-"):
            words = words[1:]
            continue
        assert word in command.commands, f"{line!r}: {word!r} is not an artreport command"
        command = command.commands[word]
        path.append(word)
        words = words[1:]
    return path, command, words


def test_the_guide_shows_commands() -> None:
    names = {split(line)[0][0] for line in command_lines() if split(line)[0]}
    assert {"validate", "push", "template", "doctor", "delete", "schema"} <= names


@pytest.mark.parametrize("line", command_lines())
def test_each_command_and_its_options_exist(line: str) -> None:
    path, command, words = split(line)
    assert path, f"{line!r} names no command"
    known = options_of(command) | options_of(root())
    for word in words:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"{line!r}: {word} is no option of {path}"


@pytest.mark.parametrize("line", [ln for ln in command_lines() if "…" not in ln])
def test_each_command_parses(line: str) -> None:
    """The arguments as shown are accepted: making the context parses them, runs nothing."""
    path, command, words = split(line)
    command.make_context(" ".join(["artreport", *path]), list(words), resilient_parsing=False)


def test_each_option_named_alone_exists() -> None:
    named = set(re.findall(r"`(--[a-z][a-z-]*)", blocks_and_text()[1]))
    assert named, "the guide names no option"
    assert named <= all_options(), named - all_options()


def test_the_record_type_table_is_the_schema() -> None:
    rows = re.findall(r"^\| `([a-z]+)` \| (\S+) \| (.+) \|$", guide(), flags=re.M)
    schema = load_schema()
    assert [name for name, _, _ in rows] == [t.name for t in schema]
    for name, label, others in rows:
        record_type = schema.get(name)
        assert label == record_type.label
        for other in others.split("、"):
            assert schema.get(other.strip()) is record_type, other
