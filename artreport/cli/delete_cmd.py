"""``artreport delete TYPE --id ID``: remove records from the platform."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from artreport.cli import app
from artreport.cli.common import (
    AppState,
    is_interactive,
    json_for_stdout,
    reporting_errors,
    state_of,
    stderr_console,
    stdout_console,
)
from artreport.cli.helptext import HelpCommand
from artreport.cli.push_cmd import WaitOption
from artreport.cli.render import print_notices
from artreport.cli.validate_cmd import JsonOption, TypeArgument
from artreport.errors import EXIT_OK, EXIT_PROBLEMS, ArtreportError, StoppedError, UsageError
from artreport.privacy import mask_in_text, mask_key
from artreport.readers import Notice
from artreport.schema import load_schema
from artreport.state import state_dir
from artreport.stopping import exit_code_for, stopping_on_signals

if TYPE_CHECKING:
    from artreport.client.events import ClientEvent


@app.command("delete", cls=HelpCommand, help="help-delete")
def delete_command(
    ctx: typer.Context,
    record_type: TypeArgument,
    record_id: Annotated[str | None, typer.Option("--id", help="help-delete-id")] = None,
    cycleid: Annotated[str | None, typer.Option("--cycleid", help="help-delete-cycleid")] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from-file", help="help-delete-from-file"),
    ] = None,
    sheet: Annotated[
        str | None,
        typer.Option(help="help-delete-sheet"),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="help-delete-yes")] = False,
    as_json: JsonOption = False,
    wait: WaitOption = None,
) -> None:
    from artreport.client import PlatformClient, SessionCache
    from artreport.ledger import Ledger, default_path
    from artreport.runs import exclusive
    from artreport.upload.delete import (
        CYCLE_PARAM,
        check_cycleid_option,
        delete_all,
        needs_cycleid,
        target_for,
        targets_from_file,
    )

    state = state_of(ctx)
    results = []
    notices: list[Notice] = []
    hidden: list[int] = []
    # An error that ends the run part-way (credentials refused, platform unreachable): the
    # records deleted before it are still reported, so the operator knows which are gone.
    stopped: ArtreportError | None = None
    with reporting_errors(state, as_json=as_json):
        chosen = load_schema().get(record_type)
        config = state.config()
        config.require("base_url", "orgid", "key")
        if from_file and (record_id or cycleid):
            # Deleting cannot be undone: which of the two was meant is not guessed.
            raise UsageError("delete-id-and-file")
        if record_id:
            check_cycleid_option(chosen, record_id, cycleid)
            targets = [target_for(chosen, record_id, config.orgid, cycleid)]
        elif from_file:
            targets = list(
                targets_from_file(chosen, from_file, config.orgid, notices, sheet, hidden)
            )
            # Before the question: the rows left out (hidden ones above all) are part of
            # what the clerk says yes to. --json gives them in its output.
            if not as_json or (not yes and is_interactive()):
                print_notices(stderr_console(), state, notices)
        else:
            raise UsageError("delete-needs-id")
        if not yes:
            if not is_interactive():
                raise UsageError("delete-needs-yes")
            question = state.t(
                "delete-confirm", count=len(targets), label=chosen.label, name=chosen.name
            )
            try:
                confirmed = typer.confirm(question, default=False)
            except typer.Abort:  # the input ended (Ctrl-D) without an answer: no is the default
                typer.echo()
                confirmed = False
            if not confirmed:
                typer.echo(state.t("delete-cancelled"))
                raise typer.Exit(EXIT_PROBLEMS)
        command = f"delete {chosen.name}"
        # Ctrl-C or SIGTERM stops after the delete in flight, which the platform may have
        # carried out: killed there, the ledger would still hold the record as accepted (a
        # --changed-only push would never send it again) and the deletes done go unlisted.
        stop = threading.Event()
        signals: list[int] = []
        with (
            stopping_on_signals(lambda number: (signals.append(number), stop.set())),
            exclusive(state_dir(config), command, wait=wait),
            Ledger.open(default_path(config)) as ledger,
            PlatformClient(
                config,
                session_cache=SessionCache.for_config(config),
                on_event=_unsaved_login(state),
                stop=stop,
            ) as client,
        ):
            try:
                for result in delete_all(lambda p: client.delete(chosen.resource, p), targets):
                    results.append(result)
                    if result.deleted or result.not_found:
                        # The platform no longer holds it: a --changed-only run must not
                        # skip it.
                        key = result.target.key(chosen)
                        ledger.forget(chosen.name, config.base_url, config.orgid, [key])
            except ArtreportError as error:
                if signals and isinstance(error, StoppedError):
                    error.exit_code = exit_code_for(signals[0]) or error.exit_code
                if not results:
                    raise  # nothing done: the error alone says it all
                stopped = error
    key_kind = chosen.field(chosen.primary_key).pii
    cycle_kind = chosen.field(CYCLE_PARAM).pii if needs_cycleid(chosen) else None
    deleted = sum(r.deleted for r in results)
    not_found = sum(r.not_found for r in results)
    failed = len(results) - deleted - not_found
    not_attempted = len(targets) - len(results)
    exit_code = EXIT_OK if deleted == len(results) else EXIT_PROBLEMS
    if stopped is not None:
        exit_code = stopped.exit_code
    if as_json:
        payload = {
            "record_type": chosen.name,
            "deleted": deleted,
            "not_found": not_found,
            "failed": failed,
            "results": [
                {
                    "key": mask_key(key_kind, r.target.key(chosen)),
                    # The key may be masked (an ID number): these say which record it is.
                    "position": position,
                    "row": r.target.row,
                    "deleted": r.deleted,
                    "code": r.answer.code,
                    "message": mask_in_text(r.answer.msg),
                }
                for position, r in enumerate(results, 1)
            ],
            "not_attempted": not_attempted,
            "hidden_rows": hidden,
            "notices": [
                {"code": n.code, "row": n.row, "message": n.message(state.lang)} for n in notices
            ],
            "exit_code": exit_code,
        }
        if stopped is not None:
            payload |= {"error": stopped.code, "message": stopped.message(state.lang)}
        typer.echo(json_for_stdout(payload))
        raise typer.Exit(exit_code)
    console = stdout_console()
    for result in results:
        key = mask_key(key_kind, result.target.key(chosen))
        if result.deleted_by_lost_copy:
            console.print(f"[green]✓[/green] {state.t('delete-done-answer-lost', key=key)}")
        elif result.deleted:
            console.print(f"[green]✓[/green] {state.t('delete-done', key=key)}")
        elif result.not_found and needs_cycleid(chosen):
            # A wrong cycle ID reads as a record gone: say where it was looked for.
            cycle = mask_key(cycle_kind, result.target.params[CYCLE_PARAM])
            if result.none_deleted:
                wording = "delete-none-deleted-in-cycle"
            else:
                wording = "delete-not-found-in-cycle"
            console.print(f"[red]✗[/red] {state.t(wording, key=key, cycleid=cycle)}")
        elif result.none_deleted:
            console.print(f"[red]✗[/red] {state.t('delete-none-deleted', key=key)}")
        elif result.not_found:
            console.print(f"[red]✗[/red] {state.t('delete-not-found', key=key)}")
        elif result.blocked:
            message = state.t("delete-blocked", key=key, page=mask_in_text(result.answer.msg))
            console.print(f"[red]✗[/red] {message}")
        else:
            message = state.t(
                "delete-failed",
                key=key,
                platform_code=result.answer.code,
                message=mask_in_text(result.answer.msg),
            )
            console.print(f"[red]✗[/red] {message}")
    console.print(state.t("delete-summary", deleted=deleted, not_found=not_found, failed=failed))
    if stopped is not None:
        console.print(f"[red]✗[/red] {stopped.message(state.lang)}", soft_wrap=True)
        console.print(state.t("delete-not-attempted", count=not_attempted))
    raise typer.Exit(exit_code)


def _unsaved_login(state: AppState) -> Callable[[ClientEvent], None]:
    """delete shows no logins or retries, but a login it could not keep is for the operator
    to fix: said, as push and sync say it."""
    from artreport.client.events import EventKind

    def show(event: ClientEvent) -> None:
        if event.kind is EventKind.CACHE_UNSAVED:
            message = event.message(state.lang)
            stderr_console().print(f"[yellow]![/yellow] {message}", soft_wrap=True)

    return show
