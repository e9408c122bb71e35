"""``--help`` in the user's language, as every other message: a clerk reading Chinese is the
one who needs the options explained.

Each help text handed to Typer is a message code (``help-push-chunk-size``) of
``messages/help.yaml``; the formatter below puts it into words when the page is written, in the
language of ``--lang``, ``$ARTREPORT_LANG`` or the config file, with Click's own words (Usage,
Options, default, required) around it. It also wraps by the width Chinese characters take on a
terminal, two columns each, where Click counts one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from typer.core import TyperCommand, TyperGroup

from artreport.cli.common import command_line_language
from artreport.messages import catalogue, translate

try:  # Typer 0.2x carries its own copy of Click
    from typer._click.formatting import HelpFormatter
except ImportError:  # pragma: no cover - older Typer, on Click
    from click.formatting import HelpFormatter  # type: ignore[no-redef,assignment]

#: A help text as Typer hands it over: the code, then what Typer adds in brackets
#: ("default: 20; x>=1", "required").
_CODED = re.compile(r"^(?P<code>help-[a-z0-9-]+)(?:  \[(?P<extra>.*)\])?$", re.S)
_DEFAULT = re.compile(r"^default: (?P<value>.*)$", re.S)
_HEADINGS = {
    "Arguments": "help-heading-arguments",
    "Options": "help-heading-options",
    "Commands": "help-heading-commands",
}


class LanguageFormatter(HelpFormatter):
    """Click's help formatter, writing the page in ``lang``."""

    def __init__(self, lang: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lang = lang

    def said(self, text: str) -> str:
        """``text`` in words, if it is a help code with Typer's additions; else as it is."""
        found = _CODED.match(text)
        if found is None or found["code"] not in catalogue():
            return text
        words = translate(found["code"], self.lang)
        if found["extra"]:
            extra = "; ".join(self._extra(item) for item in found["extra"].split("; "))
            words = f"{words}  [{extra}]"
        return words

    def _extra(self, item: str) -> str:
        if item == "required":
            return translate("help-required", self.lang)
        found = _DEFAULT.match(item)
        if found is not None:
            return translate("help-default", self.lang, value=found["value"])
        return item  # a range, x>=1: no words to translate

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix=translate("help-usage", self.lang))

    def write_heading(self, heading: str) -> None:
        code = _HEADINGS.get(heading)
        words = translate(code, self.lang) if code else f"{heading}:"
        self.write(f"{'':>{self.current_indent}}{words}\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        for line in _wrap(self.said(text), self.width - self.current_indent):
            self.write(f"{indent}{line}\n")

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = [(first, self.said(second)) for first, second in rows]
        first_col = min(max(cell_len(first) for first, _ in rows), col_max) + col_spacing
        text_width = max(self.width - first_col - 2, 10)
        margin = " " * (first_col + self.current_indent)
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if cell_len(first) <= first_col - col_spacing:
                self.write(" " * (first_col - cell_len(first)))
            else:
                self.write(f"\n{margin}")
            self.write(f"\n{margin}".join(_wrap(second, text_width)) + "\n")


#: What wraps as one piece: Typer's bracket of defaults and ranges, a word without Chinese in
#: it, or one Chinese character (Chinese is written without spaces and may break between any
#: two); with the spaces after it.
_PIECE = re.compile(r"\[[^\]\n]*\]\s*|[^\s\u2e80-\ufaff\uff00-\uffef]+\s*|\S\s*")
#: Punctuation that may not start a line, and that which may not end one.
_CLOSING = frozenset("，。、；：！？）」』》”’")
_OPENING = frozenset("（「『《“‘")


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` terminal columns (a Chinese character takes two)."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for piece in _pieces(paragraph.strip()):
            if line and cell_len(line + piece.rstrip()) > width:
                lines.append(line.rstrip())
                line = ""
            line += piece
        lines.append(line.rstrip())
    return lines


def _pieces(paragraph: str) -> list[str]:
    pieces: list[str] = []
    opening = ""
    for piece in _PIECE.findall(paragraph):
        if piece.rstrip() in _OPENING:
            opening += piece
        elif piece.rstrip() in _CLOSING and pieces:
            pieces[-1] += piece
        else:
            pieces.append(opening + piece)
            opening = ""
    if opening:
        pieces.append(opening)
    return pieces


class InLanguage:
    """For a Typer command or group: its help page in the user's language."""

    def get_help(self, ctx: Any) -> str:
        formatter = LanguageFormatter(
            command_line_language(ctx), width=ctx.terminal_width, max_width=ctx.max_content_width
        )
        self.format_help(ctx, formatter)  # type: ignore[attr-defined]
        return formatter.getvalue().rstrip("\n")

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = "help-help"
        return option


class HelpCommand(InLanguage, TyperCommand):
    """A command whose help is in the user's language: ``@app.command(cls=HelpCommand)``."""


class HelpGroup(InLanguage, TyperGroup):
    """A group whose help is in the user's language, and the list of its commands too."""
