"""``artreport sandbox``: serve the emulated platform; ``artreport sandbox dump``: show what it
stored."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from artreport.cli import app
from artreport.cli.common import AppState, json_for_stdout, reporting_errors, state_of
from artreport.cli.helptext import HelpCommand, HelpGroup
from artreport.errors import UsageError
from artreport.privacy import kind_by_shape, mask, mask_key
from artreport.sandbox import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TTL, DEMO_ORG, Faults
from artreport.schema import Field, RecordType, load_schema

sandbox_app = typer.Typer(
    help="help-sandbox",
    rich_markup_mode=None,
    cls=HelpGroup,
)
app.add_typer(sandbox_app, name="sandbox")

_MASK = "***"


@sandbox_app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="help-sandbox-host")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=0, help="help-sandbox-port")] = DEFAULT_PORT,
    db: Annotated[
        Path | None,
        typer.Option(metavar="PATH", help="help-sandbox-db"),
    ] = None,
    org: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ORGID:KEY",
            help="help-sandbox-org",
        ),
    ] = None,
    ttl: Annotated[float, typer.Option(min=0, help="help-sandbox-ttl")] = DEFAULT_TTL,
    fail_every: Annotated[int, typer.Option(min=0, help="help-sandbox-fail-every")] = 0,
    drop_every: Annotated[int, typer.Option(min=0, help="help-sandbox-drop-every")] = 0,
    lose_every: Annotated[
        int,
        typer.Option(min=0, help="help-sandbox-lose-every"),
    ] = 0,
    expire_after: Annotated[int, typer.Option(min=0, help="help-sandbox-expire-after")] = 0,
    latency: Annotated[float, typer.Option(min=0, help="help-sandbox-latency")] = 0.0,
    success_code: Annotated[int, typer.Option(help="help-sandbox-success-code")] = 0,
    reject_prefix: Annotated[
        str | None,
        typer.Option(metavar="PREFIX", help="help-sandbox-reject-prefix"),
    ] = None,
    crash_prefix: Annotated[
        str | None,
        typer.Option(
            metavar="PREFIX",
            help="help-sandbox-crash-prefix",
        ),
    ] = None,
    max_body: Annotated[
        int,
        typer.Option(metavar="BYTES", min=0, help="help-sandbox-max-body"),
    ] = 0,
    name_bad_row: Annotated[bool, typer.Option(help="help-sandbox-name-bad-row")] = False,
    tls: Annotated[
        tuple[Path, Path] | None,
        typer.Option(
            metavar="CERT KEY",
            help="help-sandbox-tls",
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

        def say_where() -> None:
            typer.echo(state.t("sandbox-listening", url=sandbox.base_url))
            typer.echo(who)
            if faults.active():
                active = ", ".join(f"{name}={value}" for name, value in faults.active().items())
                typer.echo(state.t("sandbox-faults", faults=active))

        with sandbox:
            sandbox.serve_forever(ready=say_where)
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


@sandbox_app.command(cls=HelpCommand, help="help-sandbox-dump")
def dump(
    ctx: typer.Context,
    record_type: Annotated[str, typer.Argument(help="help-sandbox-dump-type")],
    as_json: Annotated[bool, typer.Option("--json", help="help-sandbox-dump-json")] = False,
    db: Annotated[Path | None, typer.Option(metavar="PATH", help="help-sandbox-dump-db")] = None,
    port: Annotated[int | None, typer.Option(help="help-sandbox-dump-port")] = None,
) -> None:
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
            typer.echo(json_for_stdout(rows, indent=2))
            return
        count = len(rows)
        typer.echo(state.t("sandbox-dump-count", label=chosen.label, name=chosen.name, count=count))
        for row in rows:
            typer.echo(_row_line(chosen, row))


def _row_line(record_type: RecordType, row: dict[str, Any]) -> str:
    # The console never shows personal data; --json is for handing the rows to a program.
    return "  ".join(
        f"{field.name}={_shown(record_type, field, row[field.name])}"
        for field in record_type.fields
        if field.name in row
    )


def _shown(record_type: RecordType, field: Field, value: Any) -> Any:
    """A stored value as the console may show it: an ID or mobile number that a shifted column
    or a clerk's slip put in another field (a record ID among them) is masked there too, as
    validate and push mask it."""
    if field.pii:
        return _MASK
    if field.name == record_type.primary_key:
        return mask_key(None, value)
    return mask(kind_by_shape(value, "string"), value)
