"""The ``artreport`` command line: argument parsing and printing only; the work lives in the
plain modules that each command calls."""

from __future__ import annotations

import gc
import os
import sys
from typing import Annotated

import typer

from artreport import __version__
from artreport.cli.common import (
    AppState,
    give_closed_streams_somewhere,
    print_whatever_the_encoding,
    streams_that_may_fail,
)
from artreport.cli.usage import WordedGroup
from artreport.messages import LANGUAGES, resolve_language

app = typer.Typer(
    name="artreport",
    help="help-artreport",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    cls=WordedGroup,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"artreport {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    # --config and --lang are eager, as --help is: read before it, they choose the language of
    # `artreport --lang en --help` too.
    config: Annotated[
        str | None,
        typer.Option("--config", is_eager=True, help="help-config"),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", is_eager=True, help="help-lang")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="help-debug")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="help-version")
    ] = False,
) -> None:
    if lang is not None and lang.lower() not in LANGUAGES:
        # Said in both languages: the user could not choose one.
        raise typer.BadParameter(f"zh 或 en / zh or en, not {lang!r}", param_hint="--lang")
    chosen = bool(lang or os.environ.get("ARTREPORT_LANG"))
    ctx.obj = AppState(
        config_path=config, lang=resolve_language(lang), debug=debug, lang_chosen=chosen
    )


def _register_commands() -> None:
    # Each module adds its commands to ``app`` when imported.
    from artreport.cli import (  # noqa: F401
        delete_cmd,
        doctor_cmd,
        history_cmd,
        login_cmd,
        push_cmd,
        sandbox_cmd,
        schema_cmd,
        sync_cmd,
        template_cmd,
        validate_cmd,
    )


_register_commands()


_GLOBAL_WITH_VALUE = ("--lang", "--config")
_GLOBAL_FLAGS = ("--debug",)


def hoist_global_options(arguments: list[str]) -> list[str]:
    """Move ``--lang``, ``--config`` and ``--debug`` to the front, so that
    ``artreport validate cycle x.csv --lang en`` works as users type it."""
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        name = argument.split("=", 1)[0]
        if argument == "--":
            rest.extend(arguments[index:])
            break
        if name in _GLOBAL_WITH_VALUE:
            hoisted.append(argument)
            if "=" not in argument and index + 1 < len(arguments):
                hoisted.append(arguments[index + 1])
                index += 1
        elif argument in _GLOBAL_FLAGS:
            hoisted.append(argument)
        else:
            rest.append(argument)
        index += 1
    return hoisted + rest


#: Allocations between two runs of the young-generation collector (Python's default: 700).
#: Not much more: each request httpx sends leaves a reference cycle holding the chunk's body
#: (about 130 kB), which only the collector frees; at 50,000 a push held 300 of them.
_GC_YOUNG_THRESHOLD = 5_000


def main() -> None:
    # A run allocates a list for every row it reads and almost no reference cycles; at the
    # default pace the cycle collector spends a tenth of a validation scanning those lists.
    # Start-up's objects are frozen first, so that they are never scanned again either.
    gc.freeze()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    give_closed_streams_somewhere()
    print_whatever_the_encoding()
    streams_that_may_fail()
    app(args=hoist_global_options(sys.argv[1:]), prog_name="artreport")
