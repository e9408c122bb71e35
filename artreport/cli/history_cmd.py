"""``artreport history`` and ``artreport status``: past runs and accepted rows, as the ledger
recorded them. Both only read: without a ledger they say so and create none, and they open
it read-only, so that a state folder on a read-only disk can still be looked at. (In a folder
they may write in, SQLite leaves the ledger's -wal and -shm files beside it, empty; the next
run takes them over.)"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from artreport.cli import app
from artreport.cli.common import (
    AppState,
    json_for_stdout,
    reporting_errors,
    state_of,
    stdout_console,
)
from artreport.cli.helptext import HelpCommand
from artreport.config import shown_base_url
from artreport.messages import local_minutes
from artreport.schema import load_schema

if TYPE_CHECKING:
    from artreport.ledger import RunRecord, TypeStatus

DEFAULT_LAST = 20
NO_TIME = "—"
#: Wider than any history table, so that measuring one finds its unwrapped width.
UNWRAPPED_WIDTH = 1000

# Each count column and the key of a run's counts that fills it (push and sync record the
# upload summary's names).
COUNT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("history-col-read", "rows_read"),
    ("history-col-invalid", "invalid"),
    ("history-col-sent", "sent"),
    ("history-col-accepted", "accepted"),
    ("history-col-rejected", "rejected"),
    ("history-col-skipped", "skipped_unchanged"),
)
STATUS_STYLES = {"finished": "green", "interrupted": "yellow", "running": "cyan"}

JsonOption = Annotated[bool, typer.Option("--json", help="help-json")]


@app.command("history", cls=HelpCommand, help="help-history")
def history_command(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", min=1, help="help-history-last")] = DEFAULT_LAST,
    as_json: JsonOption = False,
) -> None:
    state = state_of(ctx)
    with reporting_errors(state):
        # Imported here: SQLite and the ledger weigh on every command's start-up.
        from artreport.ledger import Ledger, default_path

        path = default_path(state.config())
        runs: list[RunRecord] = []
        # No ledger is no error, only nothing sent yet, and a look must not create one.
        if Ledger.exists(path):
            with Ledger.open(path, read_only=True) as ledger:
                runs = ledger.history(last)
        if as_json:
            typer.echo(json_for_stdout([r.to_dict() for r in runs], indent=2))
            return
        console = stdout_console()
        if not runs:
            console.print(state.t("history-none"))
            return
        table = _history_table(state, runs)
        if not console.is_terminal:
            # Off a terminal (cron mail, a log file) rich assumes 80 columns, which would fold
            # each run over many lines and cut counts short; nobody there can widen the window.
            unwrapped = console.options.update_width(UNWRAPPED_WIDTH)
            console.width = console.measure(table, options=unwrapped).maximum
        console.print(table)


@app.command("status", cls=HelpCommand, help="help-status")
def status_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    state = state_of(ctx)
    with reporting_errors(state):
        config = state.config()
        config.require("base_url", "orgid")
        from artreport.ledger import Ledger, default_path

        path = default_path(config)
        accepted: dict[str, TypeStatus] = {}
        if Ledger.exists(path):
            with Ledger.open(path, read_only=True) as ledger:
                accepted = {s.record_type: s for s in ledger.status(config.base_url, config.orgid)}
        rows = _status_rows(accepted)
        if as_json:
            payload = {
                "platform": shown_base_url(config.base_url),
                "orgid": config.orgid,
                "record_types": rows,
            }
            typer.echo(json_for_stdout(payload, indent=2))
            return
        console = stdout_console()
        where = {"platform": escape(shown_base_url(config.base_url)), "orgid": escape(config.orgid)}
        if not accepted:
            console.print(state.t("status-none", **where))
            return
        table = Table(title=state.t("status-title", **where))
        table.add_column(state.t("status-col-type"))
        table.add_column(state.t("status-col-label"))
        table.add_column(state.t("status-col-rows"), justify="right")
        table.add_column(state.t("status-col-last"))
        for row in rows:
            table.add_row(
                escape(row["record_type"]),
                row["label"],
                str(row["rows_accepted"]),
                _local_minutes(row["last_accepted_at"]),
            )
        console.print(table)
        console.print(state.t("status-source-note"))


def _history_table(state: AppState, runs: list[RunRecord]) -> Table:
    table = Table(title=state.t("history-title"))
    table.add_column(state.t("history-col-id"), justify="right")
    table.add_column(state.t("history-col-started"), no_wrap=True)
    table.add_column(state.t("history-col-duration"), justify="right")
    table.add_column(state.t("history-col-command"), overflow="fold")
    table.add_column(state.t("history-col-types"))
    for code, _ in COUNT_COLUMNS:
        table.add_column(state.t(code), justify="right")
    table.add_column(state.t("history-col-exit"), justify="right")
    table.add_column(state.t("history-col-status"))
    for run in runs:
        counts = run.counts or {}
        table.add_row(
            str(run.id),
            _local_minutes(run.started_at),
            _duration(run),
            # File names may hold brackets, which rich would take for markup.
            escape(run.command),
            escape(", ".join(run.record_types)),
            *(_count(counts, key) for _, key in COUNT_COLUMNS),
            "" if run.exit_code is None else str(run.exit_code),
            Text(state.t(f"history-status-{run.status}"), style=STATUS_STYLES.get(run.status, "")),
        )
    return table


def _status_rows(accepted: Mapping[str, TypeStatus]) -> list[dict[str, Any]]:
    labels = {t.name: t.label for t in load_schema()}
    # A type the ledger holds but this schema lacks (written by another artreport version) is
    # still listed, after the known ones, so that no accepted row goes uncounted.
    names = [*labels, *sorted(accepted.keys() - labels.keys())]
    return [
        {
            "record_type": name,
            "label": labels.get(name, ""),
            "rows_accepted": accepted[name].rows_accepted if name in accepted else 0,
            "last_accepted_at": accepted[name].last_accepted_at if name in accepted else None,
        }
        for name in names
    ]


def _count(counts: Mapping[str, Any], key: str) -> str:
    value = counts.get(key)
    # bool is an int too, but no count is one.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def _local_minutes(stamp: str | None) -> str:
    """A ledger time (UTC) as the operator's local time, to the minute."""
    if stamp is None:
        return NO_TIME
    return local_minutes(stamp)


def _duration(run: RunRecord) -> str:
    if run.ended_at is None:
        return ""
    elapsed = datetime.fromisoformat(run.ended_at) - datetime.fromisoformat(run.started_at)
    # The wall clock may step back (NTP) between start and end; a negative time means nothing.
    minutes, seconds = divmod(max(round(elapsed.total_seconds()), 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
