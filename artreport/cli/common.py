"""What every command shares: global options, the consoles, and the one error printer."""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import os
import shlex
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import typer
from rich.console import Console

try:  # Typer 0.2x carries its own copy of Click
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - older Typer, on Click
    from click import get_current_context  # type: ignore[no-redef]

from artreport.config import Config, exposed_key_file, load_config
from artreport.errors import EXIT_SIGINT, EXIT_USAGE, ArtreportError
from artreport.messages import resolve_language, translate


@dataclass
class AppState:
    config_path: str | None = None
    lang: str = "zh"
    debug: bool = False
    #: --lang or $ARTREPORT_LANG was given; otherwise the config file's ``lang`` applies.
    lang_chosen: bool = False
    unknown_settings_told: bool = False
    repeated_settings_told: bool = False
    exposed_key_told: bool = False
    unverified_told: bool = False

    def t(self, code: str, /, **params: object) -> str:
        return translate(code, self.lang, **params)

    def unknown_settings_message(self, config: Config) -> str:
        return self.t(
            "config-unknown-settings",
            names=", ".join(config.unknown_settings),
            source=str(config.source),
        )

    def repeated_settings_message(self, config: Config) -> str | None:
        """The warning for settings the file writes twice, if it does: a key pasted at the top
        of a copied example lost to the example's own key further down."""
        if not config.repeated_settings:
            return None
        names = ", ".join(
            f"{name} ({'/'.join(str(line) for line in lines)})"
            for name, lines in config.repeated_settings
        )
        return self.t("config-repeated-settings", names=names, source=str(config.source))

    def config(self) -> Config:
        config = load_config(self.config_path)
        if config.lang and not self.lang_chosen:
            self.lang = resolve_language(config.lang)
        if config.unknown_settings and not self.unknown_settings_told:
            self.unknown_settings_told = True
            stderr_console().print(f"[yellow]![/yellow] {self.unknown_settings_message(config)}")
        repeated = self.repeated_settings_message(config)
        if repeated is not None and not self.repeated_settings_told:
            self.repeated_settings_told = True
            stderr_console().print(f"[yellow]![/yellow] {repeated}", soft_wrap=True)
        exposed = self.exposed_key_message(config) if not self.exposed_key_told else None
        if exposed is not None:
            # doctor fails on it; a clerk who never runs doctor must hear of it too.
            self.exposed_key_told = True
            stderr_console().print(f"[yellow]![/yellow] {exposed}", soft_wrap=True)
        unverified = self.unverified_message(config) if not self.unverified_told else None
        if unverified is not None:
            # A nightly job so configured sends the key to whoever answers, and no one runs
            # doctor on a job that works.
            self.unverified_told = True
            stderr_console().print(f"[yellow]![/yellow] {unverified}", soft_wrap=True)
        return config

    def exposed_key_message(self, config: Config) -> str | None:
        """The warning for a config file that holds the key and others can read, if it does."""
        exposed = exposed_key_file(config)
        if exposed is None:
            return None
        path, mode = exposed
        message = self.t("doctor-key-file-open", path=str(path), mode=f"{mode:03o}")
        hint = self.t("doctor-hint-chmod", command=f"chmod 600 {shlex.quote(str(path))}")
        return f"{message} {hint}"

    def unverified_message(self, config: Config) -> str | None:
        """The warning for ``verify: false`` with an https platform, if that is the config."""
        if config.verify or not config.base_url.lower().startswith("https:"):
            return None
        return f"{self.t('doctor-tls-unverified')} {self.t('doctor-hint-verify')}"


def state_of(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState(lang=resolve_language(None))
    return root.obj


#: Columns for tables written to a file or a pipe (a cron log), where Rich would assume 80.
PIPE_WIDTH = 200


#: What a console whose encoding lacks a character shows instead: the first of these it can
#: show, else "?". A zh_CN.GBK server, a Windows task whose output goes to a file in the ANSI
#: code page (cp936) and a latin-1 locale all lack ✓ and ✗; without a stand-in the command
#: ended on a traceback, exit 1, after its work was done.
_STAND_INS = {
    "✓": ("√", "OK"),
    "✗": ("×", "X"),
    "→": ("->",),
    "…": ("...",),
    "—": ("-",),
    "━": ("-",),
    "─": ("-",),
    "·": (".",),
}
_STAND_IN_HANDLER = "artreport-stand-in"

#: Encodings that can write any character: JSON on them keeps its text as it is.
_WHOLE_UNICODE = frozenset({"utf-8", "utf-16", "utf-32", "gb18030"})


def _stand_in(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    shown = []
    for character in error.object[error.start : error.end]:
        for candidate in _STAND_INS.get(character, ()):
            try:
                candidate.encode(error.encoding)
            except UnicodeEncodeError:
                continue
            shown.append(candidate)
            break
        else:
            shown.append("?")
    return "".join(shown), error.end


def give_closed_streams_somewhere() -> None:
    """A command started with stdin, stdout or stderr closed (``>&-`` in a crontab line, a
    launcher that closes them) gets /dev/null in their place. Python leaves such a stream as
    None, which failed the first print (after a push had sent everything, with an internal
    error); and the first file the run opens would take the free descriptor, so that a
    library writing to "stderr" would write into the report or the log."""
    for fd, mode in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
        except OSError:
            nowhere = os.open(os.devnull, mode)
            if nowhere != fd:
                os.dup2(nowhere, fd)
                os.close(nowhere)
    for name, fd, mode in (("stdin", 0, "r"), ("stdout", 1, "w"), ("stderr", 2, "w")):
        if getattr(sys, name) is None:
            # The process's own stream, open until it exits.
            setattr(sys, name, open(fd, mode, encoding="utf-8", closefd=False))  # noqa: SIM115


def print_whatever_the_encoding() -> None:
    """Let stdout and stderr show a stand-in for a character their encoding lacks."""
    codecs.register_error(_STAND_IN_HANDLER, _stand_in)
    for stream in (sys.stdout, sys.stderr):
        # stderr's own default writes ✗ as "\u2717"; surrogateescape (Python's UTF-8 mode)
        # is kept: it can write every character and gives a file name's odd bytes back.
        if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", "backslashreplace"):
            stream.reconfigure(errors=_STAND_IN_HANDLER)


def streams_that_may_fail() -> None:
    """Make stdout and stderr streams whose writes cannot fail, so that the command's output,
    which is only a log of its work, never stops that work (after
    :func:`give_closed_streams_somewhere`, for streams it was started without).

    A stream that fails (the disk of the cron log full, a pipe whose reader has gone) stopped
    a sync after its first file, or a push mid-run. Such output is now lost rather than fatal;
    the run's results are in its ledger, its report files and ``--summary-json``, and its exit
    code is its own.
    """
    sys.stdout = _Forgiving(sys.stdout, told=_tell_output_lost)
    sys.stderr = _Forgiving(sys.stderr)


class _Forgiving:
    """A text stream whose writes cannot fail: after the first failure the stream's file
    descriptor points at the null device, so that what is still buffered, and Python's own
    flush at exit, go there too rather than failing again."""

    def __init__(self, stream: TextIO, told: Any = None) -> None:
        self._stream = stream
        self._told = told
        self.lost: OSError | None = None

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as error:
            self._lose(error)
            return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            self._lose(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _lose(self, error: OSError) -> None:
        if self.lost is not None:
            return
        self.lost = error
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        with contextlib.suppress(OSError, ValueError):
            # Whatever failed to be written is dropped now, not retried at each flush.
            self._stream.flush()
        if self._told is not None and not isinstance(error, BrokenPipeError):
            # A reader that has gone (`| head`) wants no more; a full disk is worth a word.
            self._told(error)


def _tell_output_lost(error: OSError) -> None:
    reason = error.strerror or type(error).__name__
    with contextlib.suppress(Exception):
        message = translate("output-lost", _current_language(), reason=reason)
        stderr_console().print(f"[yellow]![/yellow] {message}", soft_wrap=True)


def _current_language() -> str:
    context = get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    if root is not None and isinstance(root.obj, AppState):
        return root.obj.lang
    return command_line_language(context)


def json_for_stdout(value: Any, *, indent: int | None = None, default: Any = None) -> str:
    """``value`` as JSON for stdout: its text as it is where stdout takes any character,
    else escaped (\\u4e2d), so that a GBK or latin-1 console never gets a "?" inside a
    name a program reads back."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        whole = codecs.lookup(encoding).name in _WHOLE_UNICODE
    except LookupError:
        whole = False
    return json.dumps(value, ensure_ascii=not whole, indent=indent, default=default)


def stdout_console() -> Console:
    return _console(sys.stdout, stderr=False)


def stderr_console() -> Console:
    return _console(sys.stderr, stderr=True)


def _console(stream: TextIO, *, stderr: bool) -> Console:
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) == 0:
        # Rich takes COLUMNS=0 for a console no character fits on and prints nothing at all,
        # errors included.
        return Console(stderr=stderr, highlight=False, soft_wrap=True, width=PIPE_WIDTH)
    if stream.isatty() or columns:
        return Console(stderr=stderr, highlight=False)
    # Not a terminal: a line broken at 80 columns breaks a report's path in a cron log, and
    # with it grep and copy-paste; each message stays one line, whatever its length.
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=PIPE_WIDTH)


@contextlib.contextmanager
def reporting_errors(state: AppState, *, as_json: bool = False) -> Iterator[None]:
    """Turn any failure into a short message on stderr and a documented exit code; with
    ``as_json`` (a command's ``--json``), also into one JSON object on stdout, so that a
    script reading it gets the reason rather than nothing to parse.

    A traceback appears only with ``--debug``; locals are never shown (the app is created with
    ``pretty_exceptions_show_locals=False``) because they could hold the key.
    """
    try:
        yield
    except typer.Exit:
        raise
    except ArtreportError as error:
        message = error.message(state.lang)
        if state.debug:
            _print_traceback()
        stderr_console().print(f"[red]✗[/red] {message}", soft_wrap=True)
        if as_json:
            failure = {"error": error.code, "message": message, "exit_code": error.exit_code}
            typer.echo(json_for_stdout(failure))
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        stderr_console().print(state.t("interrupted"))
        raise typer.Exit(EXIT_SIGINT) from None
    except BrokenPipeError:
        # Whoever read the output has gone (`artreport doctor | head -2`); Typer then exits
        # quietly, as any command-line tool does.
        raise
    except Exception as error:
        if state.debug:
            _print_traceback()
        stderr_console().print(
            f"[red]✗[/red] {state.t('internal-error', kind=type(error).__name__)}",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_USAGE) from None


def _print_traceback() -> None:
    """The traceback of the error being handled, for --debug: the exit code and the --json
    object stay what they are without it, so that a cron line run with --debug to look into a
    failure is read the same way. Python's own format: no locals, which could hold the key."""
    traceback.print_exc(file=sys.stderr)


def is_terminal() -> bool:
    return sys.stdout.isatty()


def is_interactive() -> bool:
    """Someone is at a terminal who can answer a question."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def command_line_language(ctx: Any) -> str:
    """--lang or $ARTREPORT_LANG, else the config file's ``lang``, else Chinese: a usage error
    or a help page may come before the root callback read them, so from what the root group
    parsed (its Click context, or none)."""
    root = ctx.find_root() if ctx is not None else None
    params = root.params if root is not None else {}
    chosen = params.get("lang") or os.environ.get("ARTREPORT_LANG")
    if chosen:
        return resolve_language(chosen)
    with contextlib.suppress(ArtreportError, OSError, ValueError):
        configured = load_config(params.get("config")).lang
        if configured:
            return resolve_language(configured)
    return resolve_language(None)
