"""``artreport schema [TYPE] [--json]``: the record types and their fields."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from artreport.cli import app
from artreport.cli.common import json_for_stdout, reporting_errors, state_of, stdout_console
from artreport.cli.helptext import HelpCommand
from artreport.schema import RecordType, load_schema


def record_type_dict(record_type: RecordType) -> dict[str, Any]:
    return {
        "name": record_type.name,
        "label": record_type.label,
        "resource": record_type.resource,
        "primary_key": record_type.primary_key,
        "delete_params": list(record_type.delete_params),
        "fields": [
            {
                "name": f.name,
                "label": f.label,
                "type": f.type,
                "required": f.required,
                "dict": f.dict,
                # JSON keys are text: {"1": "是", "2": "否"}.
                "codes": {str(code): label for code, label in f.codes},
                "aliases": list(f.aliases),
            }
            for f in record_type.fields
        ],
    }


@app.command("schema", cls=HelpCommand, help="help-schema")
def schema_command(
    ctx: typer.Context,
    record_type: Annotated[
        str | None,
        typer.Argument(metavar="[TYPE]", help="help-record-type"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="help-json")] = False,
) -> None:
    state = state_of(ctx)
    with reporting_errors(state):
        schema = load_schema()
        chosen = [schema.get(record_type)] if record_type else list(schema)
        if as_json:
            payload: Any = [record_type_dict(t) for t in chosen]
            typer.echo(json_for_stdout(payload if record_type is None else payload[0], indent=2))
            return
        console = stdout_console()
        if record_type is None:
            table = Table(title=state.t("schema-types-title"))
            for column in (
                "schema-col-name",
                "schema-col-label",
                "schema-col-resource",
                "schema-col-key",
                "schema-col-fields",
            ):
                table.add_column(state.t(column))
            for t in chosen:
                table.add_row(t.name, t.label, t.resource, t.primary_key, str(len(t.fields)))
            console.print(table)
            return
        only = chosen[0]
        table = Table(title=f"{only.label} ({only.name}, /art/{only.resource})")
        for column in (
            "schema-col-field",
            "schema-col-label",
            "schema-col-type",
            "schema-col-required",
        ):
            table.add_column(state.t(column))
        for f in only.fields:
            kind = f.type + (" " + state.t("schema-dict") if f.dict else "")
            table.add_row(f.name, f.label, kind, "✓" if f.required else "")
        console.print(table)
