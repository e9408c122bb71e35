"""``artreport template TYPE [-o FILE]`` / ``--all -o DIR``: blank templates for the clerk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artreport.cli import app
from artreport.cli.common import reporting_errors, state_of, stdout_console
from artreport.cli.helptext import HelpCommand
from artreport.schema import load_schema


@app.command("template", cls=HelpCommand, help="help-template")
def template_command(
    ctx: typer.Context,
    record_type: Annotated[
        str | None,
        typer.Argument(metavar="[TYPE]", help="help-record-type"),
    ] = None,
    all_types: Annotated[bool, typer.Option("--all", help="help-template-all")] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="help-template-output",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="help-template-force")] = False,
) -> None:
    # openpyxl takes a noticeable part of a second to import: only this command needs it.
    from artreport.template import plan_templates, write_templates

    state = state_of(ctx)
    with reporting_errors(state):
        targets = plan_templates(load_schema(), record_type, all_types=all_types, output=output)
        write_templates(targets, force=force, dictionaries=state.config().dictionaries)
    console = stdout_console()
    for chosen, path in targets:
        text = state.t("template-written", path=str(path), label=chosen.label)
        console.print(text, markup=False, soft_wrap=True)
    # Only a single template can be a CSV (--all writes XLSX), so the last one tells the kind.
    chosen, path = targets[-1]
    hint = "template-csv-caution" if path.suffix.lower() == ".csv" else "template-how-to-fill"
    console.print(state.t(hint, name=chosen.name), markup=False, soft_wrap=True)
