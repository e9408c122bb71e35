"""Number formats that show a number with leading zeros, and the text they show.

A clerk keeps a code's zeros in a numeric column by formatting it ``000000``: the sheet shows
``000101`` while the file holds the number 101, and every reader of the file (calamine among
them) hands over 101. Sent so, the code names another patient's file. For the formats below
the readers hand over the text the sheet shows instead.

Only formats whose whole meaning is "this many digits at least", with literal text around
them (``"ZJ"0000`` shows ZJ0101), are rendered: the text they show is certain. Any other
format (decimals, grouping, sections, conditions, a single ``0``) leaves the number as it is;
so does a number the format would round or sign (101.5, -3), which no code is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A locale tag before the format, as LibreOffice writes it: ``[$-804]000000``.
_LOCALE = re.compile(r"\[\$-[0-9A-Fa-f]+\]")
#: Characters Excel shows as themselves without quotes, among those a code could hold.
_PLAIN_LITERALS = frozenset(" -")
#: Past this a double no longer holds every whole number: no code to render.
_EXACT_LIMIT = 10**15


@dataclass(frozen=True)
class ZeroPadding:
    """A format showing a whole number with at least ``width`` digits, between ``prefix``
    and ``suffix``."""

    prefix: str
    width: int
    suffix: str

    def shown(self, value: float) -> str | None:
        """The text the sheet shows for ``value``; None where it would not be the number's
        digits (a fraction, a negative number)."""
        if not (0 <= value < _EXACT_LIMIT) or value != int(value):
            return None
        return f"{self.prefix}{int(value):0{self.width}d}{self.suffix}"


def zero_padding(code: str) -> ZeroPadding | None:
    """The padding an Excel or LibreOffice format code (as in xlsx and xls files) asks for,
    or None where the code is anything else."""
    if "00" not in code:  # the common case, and every format this is not about
        return None
    text = _LOCALE.sub("", code, count=1) if code.startswith("[$-") else code
    before: list[str] = []
    after: list[str] = []
    width = 0
    index = 0
    while index < len(text):
        character = text[index]
        if character == "0":
            if after:
                return None  # a second run of digits: 000-000, or a fraction
            width += 1
            index += 1
            continue
        literal = before if width == 0 else after
        if character == '"':
            end = text.find('"', index + 1)
            if end < 0:
                return None
            literal.append(text[index + 1 : end])
            index = end + 1
        elif character == "\\" and index + 1 < len(text):
            literal.append(text[index + 1])
            index += 2
        elif character in _PLAIN_LITERALS:
            literal.append(character)
            index += 1
        else:
            return None  # a decimal point, grouping, a section, a colour, a condition…
    if width < 2:
        return None
    return ZeroPadding("".join(before), width, "".join(after))
