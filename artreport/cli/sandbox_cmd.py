"""``artreport sandbox``: serve the emulated platform; ``artreport sandbox dump``: show what it
stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from artreport.cli import app
from artreport.cli.common import AppState, reporting_errors, state_of
from artreport.errors import UsageError
from artreport.sandbox import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TTL, DEMO_ORG, Faults
from artreport.schema import RecordType, load_schema

sandbox_app = typer.Typer(
    help="Run a local emulation of the platform for tests and rehearsal. "
    "运行本地模拟平台，用于测试和演练。",
    rich_markup_mode=None,
)
app.add_typer(sandbox_app, name="sandbox")

_MASK = "***"


@sandbox_app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=0, help="Port to listen on; 0 picks a free one.")] = (
        DEFAULT_PORT
    ),
    db: Annotated[
        Path | None,
        typer.Option(metavar="PATH", help="SQLite file to keep the records in (default: memory)."),
    ] = None,
    org: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ORGID:KEY",
            help="Organisation to serve (repeatable; default: the config's, else a demo one).",
        ),
    ] = None,
    ttl: Annotated[float, typer.Option(min=0, help="Seconds a login lasts.")] = DEFAULT_TTL,
    fail_every: Annotated[
        int, typer.Option(min=0, help="Answer every Nth request with HTTP 503 and an HTML page.")
    ] = 0,
    drop_every: Annotated[
        int, typer.Option(min=0, help="Close the connection of every Nth request unanswered.")
    ] = 0,
    lose_every: Annotated[
        int,
        typer.Option(
            min=0, help="Carry out every Nth request, then close its connection unanswered."
        ),
    ] = 0,
    expire_after: Annotated[
        int, typer.Option(min=0, help="End each login after N requests (then 40003).")
    ] = 0,
    latency: Annotated[float, typer.Option(min=0, help="Seconds added to every request.")] = 0.0,
    success_code: Annotated[
        int, typer.Option(help="Code of a successful answer (the spec allows 0 or 200).")
    ] = 0,
    reject_prefix: Annotated[
        str | None,
        typer.Option(
            metavar="PREFIX", help="Reject (code 500) batches and deletes with a key starting so."
        ),
    ] = None,
    crash_prefix: Annotated[
        str | None,
        typer.Option(
            metavar="PREFIX",
            help="Fail (HTTP 500, the web framework's error) on batches with a key starting so.",
        ),
    ] = None,
    max_body: Annotated[
        int,
        typer.Option(
            metavar="BYTES", min=0, help="Answer HTTP 413 to a request body of more bytes."
        ),
    ] = 0,
    name_bad_row: Annotated[
        bool, typer.Option(help="Say which row of a rejected batch is bad (the platform doesn't).")
    ] = False,
    tls: Annotated[
        tuple[Path, Path] | None,
        typer.Option(
            metavar="CERT KEY",
            help="Serve HTTPS with this certificate (PEM, may hold the chain) and private key.",
        ),
    ] = None,
) -> None:
    """Serve the platform's endpoints until Ctrl-C or SIGTERM."""
    if ctx.invoked_subcommand is not None:
        return
    from artreport.sandbox import Sandbox

    state = state_of(ctx)
    with reporting_errors(state):
        orgs, who = _organisations(state, org or [])
        faults = Faults(
            fail_every=fail_every,
            drop_every=drop_every,
            lose_every=lose_every,
            expire_after=expire_after,
            latency=latency,
            success_code=success_code,
            reject_prefix=reject_prefix,
            crash_prefix=crash_prefix,
            max_body=max_body,
        )
        # tls only when given, so that a plain sandbox is made exactly as before --tls existed
        # (test_sandbox_cli records and compares the options).
        https = {"tls": tls} if tls is not None else {}
        sandbox = Sandbox(
            orgs,
            db=db,
            ttl=ttl,
            faults=faults,
            host=host,
            port=port,
            name_bad_row=name_bad_row,
            **https,
        )
        with sandbox:
            typer.echo(state.t("sandbox-listening", url=sandbox.base_url))
            typer.echo(who)
            if faults.active():
                active = ", ".join(f"{name}={value}" for name, value in faults.active().items())
                typer.echo(state.t("sandbox-faults", faults=active))
            sandbox.serve_forever()
        typer.echo(state.t("sandbox-stopped"))


def _organisations(state: AppState, options: list[str]) -> tuple[dict[str, str], str]:
    """The organisations to serve and a line saying which, that never shows a real key."""
    if options:
        orgs = dict(_org_option(option) for option in options)
        return orgs, state.t("sandbox-org-given", orgids=", ".join(orgs))
    config = state.config()
    if config.orgid or config.key:
        config.require("orgid", "key")
        return {config.orgid: config.key}, state.t("sandbox-org-configured", orgid=config.orgid)
    orgid, key = DEMO_ORG
    return {orgid: key}, state.t("sandbox-org-demo", orgid=orgid, key=key)


def _org_option(option: str) -> tuple[str, str]:
    orgid, _, key = option.partition(":")
    if not orgid or not key:
        raise UsageError("sandbox-bad-org-option")
    return orgid, key


@sandbox_app.command()
def dump(
    ctx: typer.Context,
    record_type: Annotated[str, typer.Argument(help="Record type, e.g. cycle or 周期信息.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    db: Annotated[
        Path | None, typer.Option(metavar="PATH", help="Read a sandbox's SQLite file.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help=f"Ask the sandbox on this port (default {DEFAULT_PORT}).")
    ] = None,
) -> None:
    """List the records a sandbox has stored."""
    from artreport.sandbox import fetch_rows, read_rows

    state = state_of(ctx)
    with reporting_errors(state):
        if db is not None and port is not None:
            raise UsageError("sandbox-dump-source")
        chosen = load_schema().get(record_type)
        if db is not None:
            rows = read_rows(db, chosen.name)
        else:
            rows = fetch_rows(port or DEFAULT_PORT, chosen.name)
        if as_json:
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        count = len(rows)
        typer.echo(state.t("sandbox-dump-count", label=chosen.label, name=chosen.name, count=count))
        for row in rows:
            typer.echo(_row_line(chosen, row))


def _row_line(record_type: RecordType, row: dict[str, Any]) -> str:
    # The console never shows personal data; --json is for handing the rows to a program.
    return "  ".join(
        f"{field.name}={_MASK if field.pii else row[field.name]}"
        for field in record_type.fields
        if field.name in row
    )
