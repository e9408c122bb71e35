"""Click's usage errors (an argument missing, an option unknown, a value that is no number) in
the user's language: Click words them in English only, and a clerk reading Chinese is the one
who mistypes a command.

The root group hands each such error a ``show`` of its own; Typer still prints it and exits 2,
as it does for every usage error."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from typing import Any

import typer

from artreport.cli.common import command_line_language
from artreport.cli.helptext import HelpGroup
from artreport.messages import Listing, translate

try:  # Typer 0.2x carries its own copy of Click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older Typer, on Click
    from click import exceptions as click_errors  # type: ignore[no-redef]

#: Click's words for a value it could not convert, and for one out of its range.
_NOT_A_NUMBER = re.compile(
    r"^(?P<value>.*?) is not a valid (?P<kind>integer|int|float)(?: range)?\.?$", re.S
)
_OUT_OF_RANGE = re.compile(r"^(?P<value>.*?) is not in the range (?P<range>.+?)\.?$", re.S)
_NO_SUCH_COMMAND = re.compile(
    r"^No such command '(?P<name>.+?)'\.(?: Did you mean '(?P<like>.+?)'\?)?"
)
_EXTRA_ARGUMENTS = re.compile(
    r"^Got unexpected extra argument(?:s|\(s\))? \((?P<arguments>.*)\)$", re.S
)
_MISSING_COMMAND = re.compile(r"^Missing command\.$")
_NEEDS_VALUE = re.compile(r"^Option '(?P<name>.+?)' requires (?:an argument|\d+ arguments)\.$")
_TAKES_NO_VALUE = re.compile(r"^Option '(?P<name>.+?)' does not take a value\.$")
#: What Click raises for ``artreport`` typed alone (``no_args_is_help``): its "message" is the
#: whole help, the list of commands the clerk was after, not a mistake to word.
_HELP_ASKED = getattr(click_errors, "NoArgsIsHelpError", ())


class WordedGroup(HelpGroup):
    """The root command group: its usage errors, and those of every command under it, are
    shown in the user's language, as its help is."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _worded():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _worded():
            return super().invoke(ctx)


@contextlib.contextmanager
def _worded() -> Iterator[None]:
    try:
        yield
    except _HELP_ASKED:
        raise
    except click_errors.UsageError as error:
        # Typer calls show(file=None) for a usage error; the error's own words are kept.
        error.show = functools.partial(_show, error)  # type: ignore[method-assign]
        raise


def _show(error: Any, file: Any = None) -> None:
    typer.echo(usage_error_text(error), err=file is None, file=file)


def usage_error_text(error: Any) -> str:
    """What Click would print for ``error`` (usage, where to find help, what was wrong), in
    the user's language."""
    lang = command_line_language(error.ctx)
    lines = []
    if error.ctx is not None:
        usage = re.sub(r"^\s*Usage:\s*", "", error.ctx.get_usage())
        lines.append(translate("usage-line", lang, usage=usage))
        if error.ctx.command.get_help_option(error.ctx) is not None:
            command = f"{error.ctx.command_path} {error.ctx.help_option_names[0]}"
            lines.append(translate("usage-help-hint", lang, command=command))
        lines.append("")
    lines.append(translate("usage-error", lang, reason=usage_reason(error, lang)))
    return "\n".join(lines)


def usage_reason(error: Any, lang: str) -> str:
    """What was wrong with the command line, in ``lang``."""
    # MissingParameter is a kind of BadParameter: it comes first.
    if isinstance(error, click_errors.MissingParameter) and error.param is not None:
        missing_option = error.param.param_type_name == "option"
        code = "usage-missing-option" if missing_option else "usage-missing-argument"
        return translate(code, lang, name=_hint(error.param, error.ctx))
    if isinstance(error, click_errors.BadParameter):
        return _bad_value(error, lang)
    if isinstance(error, click_errors.NoSuchOption):
        reason = translate("usage-no-such-option", lang, name=error.option_name)
        return reason + _did_you_mean(error.possibilities, lang)
    message = error.format_message()
    found = _NO_SUCH_COMMAND.match(message)
    if found is not None:
        reason = translate("usage-no-such-command", lang, name=found["name"])
        return reason + _did_you_mean([found["like"]] if found["like"] else [], lang)
    for pattern, code in (
        (_MISSING_COMMAND, "usage-missing-command"),
        (_EXTRA_ARGUMENTS, "usage-extra-arguments"),
        (_NEEDS_VALUE, "usage-option-needs-value"),
        (_TAKES_NO_VALUE, "usage-option-takes-no-value"),
    ):
        found = pattern.match(message)
        if found is not None:
            return translate(code, lang, **found.groupdict())
    return translate("usage-other", lang, message=message)


def _did_you_mean(names: Any, lang: str) -> str:
    return translate("usage-did-you-mean", lang, names=Listing(names)) if names else ""


def _bad_value(error: Any, lang: str) -> str:
    if error.param_hint is not None:
        hint = (
            error.param_hint if isinstance(error.param_hint, str) else " / ".join(error.param_hint)
        )
    elif error.param is not None:
        hint = _hint(error.param, error.ctx)
    else:
        hint = ""
    hint = hint.replace("'", "")
    found = _NOT_A_NUMBER.match(error.message)
    if found is not None:
        code = "usage-not-a-number" if found["kind"] == "float" else "usage-not-an-integer"
        return translate(code, lang, name=hint, value=found["value"])
    found = _OUT_OF_RANGE.match(error.message)
    if found is not None:
        return translate(
            "usage-out-of-range", lang, name=hint, value=found["value"], range=found["range"]
        )
    return translate("usage-bad-value", lang, name=hint, message=error.message)


def _hint(param: Any, ctx: Any) -> str:
    return str(param.get_error_hint(ctx)).replace("'", "")
