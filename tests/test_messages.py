"""The one message catalogue: every text in both languages, with the same placeholders, and
every message code the program raises or reports present in it."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from artreport.messages import catalogue, translate
from artreport.validation import problems
from artreport.validation.problems import TITLE_PREFIX, problem_title

PACKAGE = Path(__file__).resolve().parents[1] / "artreport"


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(catalogue()))
def test_every_message_exists_in_chinese_and_english_with_the_same_placeholders(
    code: str,
) -> None:
    entry = catalogue()[code]
    assert set(entry) == {"zh", "en"}, code
    assert entry["zh"].strip() and entry["en"].strip()
    assert placeholders(entry["zh"]) == placeholders(entry["en"]), code


# Codes handed to an error class or a Problem as a string literal, e.g. InputError("input-empty"
# or Problem(codes.X ...) resolved through the constants module below.
_RAISED = re.compile(r"(?:Error|Rejected|Notice)\(\s*\"([a-z0-9]+(?:-[a-z0-9]+)+)\"", re.MULTILINE)
_CONSTANT = re.compile(r"^[A-Z_]+ = \"([a-z0-9]+(?:-[a-z0-9]+)+)\"$", re.MULTILINE)


def codes_in_source() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(_RAISED.findall(text))
        if path.name in ("problems.py", "sync.py"):
            found.update(_CONSTANT.findall(text))
    return found


def test_every_code_the_program_uses_has_a_message() -> None:
    missing = sorted(codes_in_source() - set(catalogue()))
    assert missing == []


# The --help texts: each help= of the command line is a code of messages/help.yaml, where an
# English text would be shown to a clerk reading Chinese.
_HELP = re.compile(r"\bhelp=f?[\"']([^\"']*)")
_HELP_CODE = re.compile(r"\"(help-[a-z0-9-]+)\"")


def help_codes_in_source() -> set[str]:
    return {
        code
        for path in (PACKAGE / "cli").glob("*.py")
        for code in _HELP.findall(path.read_text(encoding="utf-8"))
    }


def test_every_help_text_is_a_code_with_a_message() -> None:
    codes = help_codes_in_source()
    assert {"help-artreport", "help-push", "help-push-chunk-size", "help-sandbox-dump"} <= codes
    assert all(code.startswith("help-") for code in codes), codes
    assert sorted(codes - set(catalogue())) == []


def test_every_help_message_is_used() -> None:
    used = {
        code
        for path in (PACKAGE / "cli").glob("*.py")
        for code in _HELP_CODE.findall(path.read_text(encoding="utf-8"))
    }
    unused = {code for code in catalogue() if code.startswith("help-")} - used
    assert sorted(unused) == []


_CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")


def problem_codes_in_source() -> set[str]:
    """Every code a counted problem can carry: the constants of problems.py; the first argument
    of each ``Problem(...)`` and ``CellError(...)``, a literal or a constant of its module
    (sync.py's cross-file code); and the ``(code, params)`` pairs that readers put in a
    table's ``row_problems``, which the validator makes problems of."""
    found = {
        value
        for name, value in vars(problems).items()
        if name.isupper() and isinstance(value, str) and _CODE.fullmatch(value)
    }
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("Problem", "CellError")
                and node.args
            ):
                for part in ast.walk(node.args[0]):
                    if isinstance(part, ast.Constant):
                        found.add(part.value)
                    elif isinstance(part, ast.Name) and part.id in constants:
                        found.add(constants[part.id])
            elif isinstance(node, ast.FunctionDef) and any(
                isinstance(part, ast.Attribute) and part.attr == "row_problems"
                for part in ast.walk(node)
            ):
                found.update(
                    pair.elts[0].value
                    for pair in ast.walk(node)
                    if isinstance(pair, ast.Tuple)
                    and len(pair.elts) == 2
                    and isinstance(pair.elts[0], ast.Constant)
                    and isinstance(pair.elts[0].value, str)
                    and _CODE.fullmatch(pair.elts[0].value)
                )
    return {code for code in found if isinstance(code, str) and _CODE.fullmatch(code)}


def test_the_problem_codes_are_found_where_each_kind_of_problem_is_made() -> None:
    codes = problem_codes_in_source()
    # One of each source, so that the search below cannot quietly find nothing of one.
    assert {
        "required-missing",  # problems.py
        "cross-file-unknown-reference",  # sync.py
        "row-below-totals",  # readers/table.py
        "row-columns-shifted",  # readers/text.py
        "csv-quote-unclosed",  # readers/csv_reader.py
        "platform-rejected",  # the pipeline
    } <= codes
    # Each is a problem's message too: the search takes nothing else for a code.
    assert codes <= set(catalogue())


@pytest.mark.parametrize("code", sorted(problem_codes_in_source()))
def test_every_problem_code_has_a_short_title_in_chinese_and_english(code: str) -> None:
    title = catalogue().get(TITLE_PREFIX + code)
    assert title is not None, f"{code} has no {TITLE_PREFIX}{code} in messages/titles.yaml"
    assert problem_title(code, "zh") == title["zh"] != code
    assert problem_title(code, "en") == title["en"] != code


def test_every_title_belongs_to_a_problem_code() -> None:
    titled = {
        code.removeprefix(TITLE_PREFIX) for code in catalogue() if code.startswith(TITLE_PREFIX)
    }
    assert sorted(titled - problem_codes_in_source()) == []


def test_a_code_without_a_title_is_shown_as_it_is() -> None:
    assert problem_title("some-newer-code", "zh") == "some-newer-code"


def test_an_unknown_language_falls_back_to_chinese() -> None:
    assert translate("interrupted", "fr") == catalogue()["interrupted"]["zh"]


@pytest.mark.parametrize("code", sorted(catalogue()))
def test_no_message_takes_a_parameter_its_callers_cannot_pass(code: str) -> None:
    # translate(code, lang, **params) and ArtreportError(code, **params) take these names
    # themselves: a message wanting {code} ends in a TypeError when it is raised.
    assert not placeholders(catalogue()[code]["en"]) & {"code", "lang"}, code


def test_the_systems_english_reasons_are_said_in_the_messages_language() -> None:
    import errno
    import os

    from artreport.errors import InputError

    error = InputError("report-unwritable", path="r.csv", reason=os.strerror(errno.ENOSPC))
    assert "磁盘空间已满" in error.message("zh") and "No space" not in error.message("zh")
    assert "No space left on device" in error.message("en")


def test_the_run_locks_holder_is_named_in_the_messages_language(tmp_path) -> None:
    from artreport.errors import LockedError
    from artreport.runs import exclusive

    with exclusive(tmp_path, "sync /data", None):
        try:
            with exclusive(tmp_path, "push cycle", None):
                raise AssertionError("the lock was taken twice")
        except LockedError as locked:
            error = locked
    assert "进程" in error.message("zh") and "since" not in error.message("zh")
    assert "since" in error.message("en") and "sync /data" in error.message("en")


def test_a_message_may_have_a_parameter_named_code_or_lang() -> None:
    """A parameter named like translate's own arguments raised a TypeError mid-summary (the
    platform's code beside a count), which the CLI turned into exit 1 with half a screen."""
    from artreport.cli.common import AppState

    assert translate("input-no-rows", "en", path="x.csv", code=500, lang="zh")
    assert AppState(lang="en").t("input-no-rows", path="x.csv", code=500)


def test_names_are_listed_as_each_language_lists_them() -> None:
    """English messages listed columns as 'code、msg、data'."""
    from artreport.messages import Listing

    members = Listing(["code", "msg"])
    assert "（其中有 code、msg）" in translate("input-json-no-records", "zh", members=members)
    assert "(code, msg)" in translate("input-json-no-records", "en", members=members)
