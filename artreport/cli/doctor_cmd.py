"""``artreport doctor [--json]``: check the setup, one line per check, and say what to fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from artreport.cli import app
from artreport.cli.common import AppState, json_for_stdout, reporting_errors, state_of
from artreport.cli.helptext import HelpCommand
from artreport.errors import EXIT_OK, EXIT_PROBLEMS

if TYPE_CHECKING:
    from artreport.doctor import Check

_SYMBOLS = {"ok": ("✓", "green"), "warning": ("!", "yellow"), "failed": ("✗", "red")}
_SKIPPED = ("-", None)


@app.command("doctor", cls=HelpCommand, help="help-doctor")
def doctor_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="help-doctor-json")] = False,
) -> None:
    # Imported here: the checks pull in the HTTP client, which most commands never need.
    from artreport.doctor import Status, diagnose

    state = state_of(ctx)
    # Its own key-file and TLS lines say these, with the fix.
    state.exposed_key_told = state.unverified_told = True
    checks: list[Check] = []
    with reporting_errors(state):
        # state.config applies the config's ``lang`` before the first line is printed.
        for check in diagnose(state.config):
            checks.append(check)
            if not as_json:
                typer.echo(_line(state, check))
    failed = sum(check.status is Status.FAILED for check in checks)
    warnings = sum(check.status is Status.WARNING for check in checks)
    if as_json:
        payload = {"ok": not failed, "checks": [_as_dict(state, check) for check in checks]}
        typer.echo(json_for_stdout(payload, indent=2, default=str))
    elif failed:
        typer.echo(state.t("doctor-summary-failed", count=failed))
    elif warnings:
        typer.echo(state.t("doctor-summary-warnings", count=warnings))
    else:
        typer.echo(state.t("doctor-summary-ok"))
    raise typer.Exit(EXIT_PROBLEMS if failed else EXIT_OK)


def _line(state: AppState, check: Check) -> str:
    symbol, colour = _SYMBOLS.get(check.status.value, _SKIPPED)
    text = state.t(
        "doctor-line",
        title=state.t(f"doctor-title-{check.name}"),
        message=state.t(check.code, **check.params),
    )
    if check.hint:
        text += " → " + state.t(check.hint, **check.params)
    return f"{typer.style(symbol, fg=colour, bold=True)} {text}"


def _as_dict(state: AppState, check: Check) -> dict[str, Any]:
    return {
        "name": check.name,
        "status": check.status.value,
        "code": check.code,
        "params": dict(check.params),
        "message": state.t(check.code, **check.params),
        "hint": state.t(check.hint, **check.params) if check.hint else None,
    }
