"""The one message catalogue: every text in both languages, with the same placeholders, and
every message code the program raises or reports present in it."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from artreport.messages import catalogue, translate

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
