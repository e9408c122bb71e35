"""``artreport login [--force]``: log in (or reuse the cached login) and say until when."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from artreport.cli import app
from artreport.cli.common import reporting_errors, state_of
from artreport.cli.helptext import HelpCommand

if TYPE_CHECKING:
    from artreport.client import ClientEvent


@app.command("login", cls=HelpCommand, help="help-login")
def login_command(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="help-login-force")] = False,
) -> None:
    # Imported here: the HTTP client is heavy and most commands never need it.
    from artreport.client import PlatformClient, SessionCache

    state = state_of(ctx)

    def show(event: ClientEvent) -> None:
        typer.echo(event.message(state.lang), err=True)

    with reporting_errors(state):
        config = state.config()
        with PlatformClient(
            config, session_cache=SessionCache.for_config(config, required=True), on_event=show
        ) as client:
            session = client.login(force=force)
    expires = datetime.fromtimestamp(session.expires_at).astimezone()
    typer.echo(
        state.t(
            "login-reused" if session.reused else "login-done",
            orgid=session.orgid,
            expires=expires.strftime("%Y-%m-%d %H:%M"),
            minutes=max(0, round((session.expires_at - time.time()) / 60)),
        )
    )
