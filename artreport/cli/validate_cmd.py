"""``artreport validate TYPE FILE``: check an export without sending anything."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from artreport.cli import app
from artreport.cli.common import (
    AppState,
    json_for_stdout,
    reporting_errors,
    state_of,
    stderr_console,
    stdout_console,
)
from artreport.cli.helptext import HelpCommand
from artreport.cli.render import (
    masked_dict,
    print_counts_by_code,
    print_file_problems,
    print_notices,
    print_problems,
)
from artreport.report import default_report_path, refuse_overwriting
from artreport.schema import RecordType, load_schema
from artreport.state import state_dir
from artreport.validation import ValidateOptions
from artreport.validation.runner import validate_file

if TYPE_CHECKING:
    # Imported where used: openpyxl weighs on every command's start-up.
    from artreport.annotate import Annotator

TypeArgument = Annotated[str, typer.Argument(metavar="TYPE", help="help-record-type")]
FileArgument = Annotated[
    Path,
    typer.Argument(
        metavar="FILE",
        help="help-export-file",
        # Click's own check would answer in its English, as a mistyped command, without the
        # --json object: the reader says it in the user's language, exit 2.
        readable=False,
    ),
]
ReportOption = Annotated[Path | None, typer.Option("--report", help="help-report")]
JsonOption = Annotated[bool, typer.Option("--json", help="help-json-summary")]
SheetOption = Annotated[
    str | None,
    typer.Option(
        "--sheet",
        help="help-sheet",
    ),
]
EncodingOption = Annotated[
    str | None,
    typer.Option("--encoding", help="help-encoding"),
]
AnnotateOption = Annotated[
    Path | None,
    typer.Option(
        "--annotate",
        metavar="OUT.xlsx",
        help="help-annotate",
    ),
]
BlankClearsOption = Annotated[
    bool,
    typer.Option("--blank-clears", help="help-blank-clears"),
]


@app.command("validate", cls=HelpCommand, help="help-validate")
def validate_command(
    ctx: typer.Context,
    record_type: TypeArgument,
    file: FileArgument,
    report: ReportOption = None,
    as_json: JsonOption = False,
    sheet: SheetOption = None,
    encoding: EncodingOption = None,
    blank_clears: BlankClearsOption = False,
    annotate: AnnotateOption = None,
) -> None:
    state = state_of(ctx)
    with reporting_errors(state, as_json=as_json):
        chosen = load_schema().get(record_type)
        config = state.config()
        report_path = report or default_report_path(
            state_dir(config) / "reports", "validate", chosen.name
        )
        options = ValidateOptions(
            blank_clears=blank_clears,
            sheet=sheet,
            encoding=encoding,
            dictionaries=config.dictionaries,
        )
        if report is not None:
            refuse_overwriting(report, source=file, annotated=annotate)
        annotator = annotator_for(chosen, file, annotate, state.lang, options)
        outcome = validate_file(
            chosen,
            file,
            report_path=report_path,
            report_always=report is not None,
            report_fresh=report is None,
            orgid=config.orgid,
            options=options,
            lang=state.lang,
            also=annotator,
        )
        if annotator is not None:
            annotator.write()
    if as_json:
        payload = outcome.to_dict(state.lang)
        payload["file_problems"] = [
            masked_dict(p, chosen, state.lang, config.dictionaries) for p in outcome.file_problems
        ]
        payload["first_problems"] = [
            masked_dict(p, chosen, state.lang, config.dictionaries) for p in outcome.first_problems
        ]
        if annotator is not None:
            payload["annotated"] = str(annotator.out)
        if outcome.of_another_organisation:
            payload["message"] = _another_organisation(
                state, outcome.summary.rows_read, config.orgid
            )
        typer.echo(json_for_stdout(payload, default=str))
        raise typer.Exit(outcome.exit_code)

    console = stdout_console()
    summary = outcome.summary
    console.print(f"[bold]{chosen.label}[/bold] ({chosen.name}) — {file}")
    print_notices(stderr_console(), state, summary.notices)
    print_file_problems(console, state, outcome.file_problems)
    console.print(
        state.t(
            "validate-counts",
            rows=summary.rows_read,
            valid=summary.valid,
            invalid=summary.invalid,
            warnings=summary.warnings,
        )
    )
    print_counts_by_code(console, state, summary.problems_by_code)
    total = sum(summary.problems_by_code.values()) - len(outcome.file_problems)
    print_problems(
        console,
        state,
        chosen,
        outcome.first_problems,
        total=total,
        dictionaries=config.dictionaries,
    )
    if outcome.report_path:
        console.print(
            state.t(
                "report-written",
                path=str(outcome.report_path),
                count=sum(summary.problems_by_code.values()),
            )
        )
    if annotator is not None:
        print_annotated(state, annotator)
    if outcome.of_another_organisation:
        message = _another_organisation(state, outcome.summary.rows_read, config.orgid)
        stderr_console().print(f"[red]✗[/red] {message}", soft_wrap=True)
    else:
        console.print(
            state.t("validate-ok") if outcome.exit_code == 0 else state.t("validate-failed")
        )
    raise typer.Exit(outcome.exit_code)


def _another_organisation(state: AppState, rows: int, orgid: str) -> str:
    return state.t("validate-orgid-differs", rows=rows, orgid=orgid)


def annotator_for(
    record_type: RecordType, file: Path, out: Path | None, lang: str, options: ValidateOptions
) -> Annotator | None:
    """The ``--annotate`` collector, made before any work so that a bad path fails at once."""
    if out is None:
        return None
    from artreport.annotate import Annotator

    return Annotator(
        record_type, file, out, lang=lang, sheet=options.sheet, encoding=options.encoding
    )


def print_annotated(state: AppState, annotator: Annotator) -> None:
    if any(problem.is_error for problem in annotator.file_problems):
        # A required column missing: every row fails, none on its own account.
        message = state.t("annotate-written-file-error", path=str(annotator.out))
    elif annotator.failed_rows:
        message = state.t(
            "annotate-written",
            path=str(annotator.out),
            failed=annotator.failed_rows,
            sheet=annotator.failed_sheet,
        )
    else:
        message = state.t("annotate-written-no-errors", path=str(annotator.out))
    stdout_console().print(message, soft_wrap=True)
