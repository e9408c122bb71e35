"""Rich rendering of summaries and problems; patient identifiers are masked here."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from artreport.cli.common import AppState
from artreport.dictionaries import Dictionaries
from artreport.privacy import (
    IDENTIFIER,
    kind_by_shape,
    known_words,
    mask,
    mask_in_text,
    mask_key,
)
from artreport.readers import Notice
from artreport.schema import Field, RecordType
from artreport.validation import Problem
from artreport.validation.problems import (
    SPREADSHEET_ERROR,
    UNSAVED_FORMULA_VALUE,
    problem_title,
)


def masked(
    problem: Problem, record_type: RecordType, dictionaries: Dictionaries | None = None
) -> Problem:
    """The problem as it may appear on a screen or in a log; a label of *dictionaries*, the
    config's code tables, names no one."""
    field = (
        record_type.field(problem.field)
        if problem.field and record_type.has_field(problem.field)
        else None
    )
    kind = field.pii if field is not None else None
    if problem.code in (SPREADSHEET_ERROR, UNSAVED_FORMULA_VALUE):
        kind = None  # #N/A is what a formula left, not what a patient is called
    elif kind is None:
        kind = kind_by_shape(problem.value, _shape_type(field), known_words(dictionaries))
    key_kind = record_type.field(record_type.primary_key).pii
    return dataclasses.replace(
        problem,
        value=mask(kind, problem.value),
        primary_key=mask_key(key_kind, problem.primary_key),
    )


def _shape_type(field: Field | None) -> str:
    if field is None:
        return "string"
    if field.identifier or field.name == "orgid":
        return IDENTIFIER
    return field.type


def masked_dict(
    problem: Problem,
    record_type: RecordType,
    lang: str,
    dictionaries: Dictionaries | None = None,
) -> dict[str, Any]:
    return masked(problem, record_type, dictionaries).to_dict(lang)


def print_notices(console: Console, state: AppState, notices: Iterable[Notice]) -> None:
    for notice in notices:
        console.print(f"[yellow]![/yellow] {state.t(notice.code, row=notice.row, **notice.params)}")


def print_problems(
    console: Console,
    state: AppState,
    record_type: RecordType,
    problems: list[Problem],
    *,
    total: int,
    dictionaries: Dictionaries | None = None,
) -> None:
    if not problems:
        return
    table = Table(title=state.t("problems-first", shown=len(problems), total=total))
    table.add_column(state.t("col-row"), justify="right")
    table.add_column(state.t("col-key"))
    table.add_column(state.t("col-field"))
    table.add_column(state.t("col-message"))
    for problem in problems:
        shown = masked(problem, record_type, dictionaries)
        colour = "red" if problem.is_error else "yellow"
        table.add_row(
            "" if shown.row is None else str(shown.row),
            shown.primary_key or "",
            shown.field or "",
            f"[{colour}]{shown.message(state.lang)}[/{colour}]",
        )
    console.print(table)


def print_file_problems(console: Console, state: AppState, problems: Iterable[Problem]) -> None:
    """Problems of the file as a whole (a required column missing, unknown columns): they
    name columns, not patients, so they are shown as they are."""
    for problem in problems:
        colour = "red" if problem.is_error else "yellow"
        mark = "✗" if problem.is_error else "!"
        console.print(f"[{colour}]{mark}[/{colour}] {problem.message(state.lang)}")


def print_counts_by_code(console: Console, state: AppState, counts: Mapping[str, int]) -> None:
    if not counts:
        return
    table = Table(title=state.t("problems-by-code"))
    # The title for the clerk; the code beside it for the support desk and for grep.
    table.add_column(state.t("col-problem"))
    table.add_column(state.t("col-code"))
    table.add_column(state.t("col-count"), justify="right")
    for code, count in sorted(counts.items(), key=lambda item: -item[1]):
        table.add_row(problem_title(code, state.lang), code, str(count))
    console.print(table)


def print_rejected_by_code(console: Console, state: AppState, counts: Mapping[int, int]) -> None:
    """The platform's codes have no title of ours: its own words are in the rows' table."""
    if not counts:
        return
    table = Table(title=state.t("rejected-by-code"))
    table.add_column(state.t("col-code"))
    table.add_column(state.t("col-count"), justify="right")
    for code, count in sorted(counts.items(), key=lambda item: -item[1]):
        table.add_row(state.t("platform-code", platform_code=code), str(count))
    console.print(table)


def print_rejected(
    console: Console,
    state: AppState,
    record_type: RecordType,
    rejected: list[Problem],
    *,
    total: int,
) -> None:
    """The first rows the platform refused, each with its words: what the clerk fixes."""
    if not rejected:
        return
    table = Table(title=state.t("rejected-first", shown=len(rejected), total=total))
    table.add_column(state.t("col-row"), justify="right")
    table.add_column(state.t("col-key"))
    table.add_column(state.t("col-message"))
    for problem in sorted(rejected, key=lambda p: p.row or 0):
        shown = masked(problem, record_type)
        words = dict(shown.params)
        words["platform_message"] = mask_in_text(str(words.get("platform_message", "")))
        shown = dataclasses.replace(shown, params=words)
        table.add_row(
            "" if shown.row is None else str(shown.row),
            shown.primary_key or "",
            f"[red]{shown.message(state.lang)}[/red]",
        )
    console.print(table)
