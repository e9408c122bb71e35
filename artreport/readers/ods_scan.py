"""What calamine does not tell of an ods sheet: its error cells, hidden rows, cells merged
over several rows, numbers shown with leading zeros, and which cells are TRUE or FALSE.

LibreOffice saves a failed formula's cell with its error text (``#DIV/0!``, ``Err:502``) and
marks it ``calcext:value-type="error"``; python-calamine reads such a cell as empty, so an
optional field would be left out (or, with --blank-clears, cleared) while the clerk sees the
error. See ``xlsx_scan`` for why such cells are refused, and why hidden rows are mentioned.

python-calamine 0.9 gives no merged ranges for an ods: a cell merged over several rows
(``table:number-rows-spanned``) is found here, so that its value fills the rows it covers as
it does in an xlsx. A number whose style shows it with leading zeros (``000000``: a
``number:number`` with ``number:min-integer-digits`` of 2 or more, between literal
``number:text``; see ``number_formats``) is read as the text shown. A boolean cell (TRUE,
FALSE), which calamine reads as the number 1 or 0, is read as the boolean it is, as in an
xlsx: FALSE in a 1是2否 field is 否 (2), not the code 0, and in a field whose codes the spec
does not give it is refused, not sent as 0.

``content.xml`` is first searched a megabyte at a time for any of these marks (and
``styles.xml``, where the number styles are, for the last); only a sheet that has one is
walked cell by cell, which takes about twice as long as calamine's own read (7 s instead of
2.3 s for 20,000 rows). Hidden rows alone are found by a search of the rows' tags, at about
the cost of the first search.
"""

from __future__ import annotations

import html
import re
import zipfile
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

from artreport.readers.number_formats import ZeroPadding
from artreport.readers.xlsx_scan import SheetScan

_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_NUMBER = "{urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0}"
_CALCEXT_VALUE_TYPE = (
    "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}value-type"
)
_OFFICE_VALUE_TYPE = f"{_OFFICE}value-type"
_CELLS = frozenset({f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"})
_ROW = f"{_TABLE}table-row"
_COLUMN = f"{_TABLE}table-column"
_SHEET = f"{_TABLE}table"
_NUMBER_STYLE = f"{_NUMBER}number-style"
_CELL_STYLE = f"{_STYLE}style"
_ROWS_SPANNED = f"{_TABLE}number-rows-spanned"
_STYLE_NAME = f"{_TABLE}style-name"
_DEFAULT_STYLE = f"{_TABLE}default-cell-style-name"
_HIDDEN = frozenset({"collapse", "filter"})
_MARKS = (b'value-type="error"', b'value-type="boolean"', b'"of:=TRUE()"', b'"of:=FALSE()"')
#: The formulas LibreOffice saves a boolean cell as (an xlsx's TRUE once saved as ods): a
#: number 1 or 0 that the sheet shows as TRUE or FALSE.
_BOOLEAN_FORMULAS = {"of:=TRUE()": True, "of:=FALSE()": False}
_HIDDEN_MARKS = (b'visibility="collapse"', b'visibility="filter"')
#: A merge more than one row tall; a number style of two digits or more.
_MERGED_DOWN = re.compile(rb'number-rows-spanned="0*(?:[2-9]|[1-9][0-9])')
_PADDED_STYLE = re.compile(rb'min-integer-digits="0*(?:[2-9]|[1-9][0-9])')
_CHUNK = 1 << 20
#: Error cells a row repeats (a row copied down a thousand times) placed at most: beyond the
#: sheet's data they are nothing calamine reads.
_MOST_REPEATS = 100_000
#: Columns whose default style is followed at most (a sheet's last column declaration
#: repeats to column 1024 or 16384).
_MOST_COLUMNS = 1024


def scan_ods_sheet(path: Path, sheet: str) -> SheetScan:
    found = SheetScan()
    try:
        with zipfile.ZipFile(path) as archive:
            padded = _padded_in_styles(archive)
            with archive.open("content.xml") as stream:
                marks, padded_here, hidden = _has_marks(stream)
            if marks or padded or padded_here:
                with archive.open("content.xml") as stream:
                    styles = _Styles(archive) if padded or padded_here else None
                    _walk(stream, sheet, found, styles)
            elif hidden:
                with archive.open("content.xml") as stream:
                    found.hidden_rows = _hidden_rows(stream, sheet)
    except (OSError, zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError):
        # calamine read the file; whatever this second look cannot, it leaves to calamine.
        return SheetScan()
    return found


def _padded_in_styles(archive: zipfile.ZipFile) -> bool:
    try:
        return bool(_PADDED_STYLE.search(archive.read("styles.xml")))
    except KeyError:
        return False


def _has_marks(stream: IO[bytes]) -> tuple[bool, bool, bool]:
    """Whether ``content.xml`` has an error or a merge over rows; whether it has a number
    style of leading zeros (its automatic styles come before the sheets); whether it has a
    hidden row."""
    overlap = max(map(len, _MARKS + _HIDDEN_MARKS)) + 8
    tail = b""
    padded = hidden = False
    while chunk := stream.read(_CHUNK):
        text = tail + chunk
        padded = padded or bool(_PADDED_STYLE.search(text))
        hidden = hidden or any(mark in text for mark in _HIDDEN_MARKS)
        if any(mark in text for mark in _MARKS) or _MERGED_DOWN.search(text):
            return True, padded, hidden
        tail = text[-overlap:]
    return False, padded, hidden


# The tags the search of hidden rows follows: a sheet's start (its name), a row's (its
# attributes; a row may be empty, <table:table-row …/>), a sheet's end.
_SHEET_OR_ROW = re.compile(
    rb"<table:table\b(?=[\s>])([^>]*)>|<table:table-row\b([^>]*)>|</table:table>"
)
_NAME = re.compile(rb'\btable:name="([^"]*)"')
_ROWS_REPEATED = re.compile(rb'\btable:number-rows-repeated="([0-9]+)"')
_VISIBILITY = re.compile(rb'\btable:visibility="(collapse|filter)"')


def _hidden_rows(stream: IO[bytes], sheet: str) -> list[int]:
    """The hidden rows of ``sheet``, from the rows' tags alone: a row repeated N times counts
    N. (Rows hidden beyond the data are numbered too; only those read are named.)"""
    hidden: list[int] = []
    in_sheet = False
    row = 1
    tail = b""
    while True:
        chunk = stream.read(_CHUNK)
        text = tail + chunk
        # Whole tags only: a tag cut at the chunk's edge waits for the next.
        cut = text.rfind(b">") + 1 if chunk else len(text)
        for match in _SHEET_OR_ROW.finditer(text, 0, cut):
            sheet_attributes, row_attributes = match.groups()
            if sheet_attributes is not None:
                name = _NAME.search(sheet_attributes)
                in_sheet = name is not None and _unescaped(name.group(1)) == sheet
                row = 1
            elif row_attributes is not None:
                if in_sheet:
                    repeated = _ROWS_REPEATED.search(row_attributes)
                    repeat = int(repeated.group(1)) if repeated else 1
                    if _VISIBILITY.search(row_attributes):
                        hidden.extend(range(row, row + min(repeat, _MOST_REPEATS)))
                    row += repeat
            elif in_sheet:
                return hidden
        tail = text[cut:]
        if not chunk:
            return hidden


def _unescaped(name: bytes) -> str:
    return html.unescape(name.decode("utf-8", "replace"))


class _Styles:
    """The number styles of leading zeros, and the cell styles that use them: those of
    ``styles.xml`` read here, the automatic ones of ``content.xml`` as the walk meets them."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.numbers: dict[str, ZeroPadding] = {}
        self.cells: dict[str, ZeroPadding] = {}
        try:
            root = ElementTree.fromstring(archive.read("styles.xml"))
        except KeyError:
            return
        for element in root.iter():
            self.add(element)

    def add(self, element: ElementTree.Element) -> None:
        if element.tag == _NUMBER_STYLE:
            padding = _padding(element)
            if padding is not None:
                self.numbers[element.get(f"{_STYLE}name", "")] = padding
        elif element.tag == _CELL_STYLE:
            padding = self.numbers.get(element.get(f"{_STYLE}data-style-name", ""))
            if padding is not None:
                self.cells[element.get(f"{_STYLE}name", "")] = padding


def _padding(style: ElementTree.Element) -> ZeroPadding | None:
    """What a ``number:number-style`` shows, where it is digits of leading zeros between
    literal text; None for anything else (decimals, grouping, a condition, embedded text)."""
    before: list[str] = []
    after: list[str] = []
    width = 0
    for part in style:
        if part.tag == f"{_NUMBER}text":
            (after if width else before).append(part.text or "")
        elif part.tag == f"{_NUMBER}number":
            if width or len(part) or part.get(f"{_NUMBER}grouping") == "true":
                return None
            if part.get(f"{_NUMBER}decimal-places", "0") != "0":
                return None
            width = int(part.get(f"{_NUMBER}min-integer-digits", "1"))
        elif part.tag != f"{_STYLE}text-properties":  # a colour changes no text
            return None
    return ZeroPadding("".join(before), width, "".join(after)) if width >= 2 else None


def _walk(stream: IO[bytes], sheet: str, found: SheetScan, styles: _Styles | None) -> None:
    in_sheet = False
    row = 1  # as the spreadsheet numbers it
    column = 0
    errors: list[tuple[int, str]] = []
    booleans: list[tuple[int, bool]] = []
    filled = False
    column_styles: list[str | None] = []
    row_style: str | None = None
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        tag = element.tag
        if event == "start":
            if tag == _ROW:
                column, errors, booleans, filled = 0, [], [], False
                row_style = element.get(_DEFAULT_STYLE)
            elif tag == _SHEET:
                in_sheet = element.get(f"{_TABLE}name") == sheet
                row = 1
                column_styles = []
            continue
        if tag in _CELLS:
            if in_sheet:
                repeat = int(element.get(f"{_TABLE}number-columns-repeated", "1"))
                value_type = element.get(_OFFICE_VALUE_TYPE)
                if value_type is not None:
                    filled = True
                if element.get(_CALCEXT_VALUE_TYPE) == "error":
                    text = "".join(element.itertext()).strip()
                    errors.extend((column + offset, text) for offset in range(min(repeat, 256)))
                elif value_type == "boolean" or f"{_TABLE}formula" in element.attrib:
                    truth = (
                        element.get(f"{_OFFICE}boolean-value") == "true"
                        if value_type == "boolean"
                        else _BOOLEAN_FORMULAS.get(element.get(f"{_TABLE}formula", ""))
                    )
                    if truth is not None:
                        booleans.extend(
                            (column + offset, truth) for offset in range(min(repeat, 256))
                        )
                spanned = element.get(_ROWS_SPANNED)
                if spanned is not None and int(spanned) > 1:
                    found.merged_down.append((row, column, row + int(spanned) - 1))
                if value_type == "float" and styles is not None and styles.cells:
                    _show_padded(
                        element, row, column, repeat, row_style, column_styles, styles, found
                    )
                column += repeat
            element.clear()
        elif tag == _ROW:
            if in_sheet:
                repeat = int(element.get(f"{_TABLE}number-rows-repeated", "1"))
                hidden = element.get(f"{_TABLE}visibility") in _HIDDEN
                for offset in range(min(repeat, _MOST_REPEATS) if filled else 0):
                    for error_column, text in errors:
                        found.place(row + offset, error_column, text)
                    for boolean_column, truth in booleans:
                        found.show(row + offset, boolean_column, truth)
                    if hidden:
                        found.hidden_rows.append(row + offset)
                row += repeat
            element.clear()
        elif tag == _COLUMN:
            if in_sheet and len(column_styles) < _MOST_COLUMNS:
                repeat = int(element.get(f"{_TABLE}number-columns-repeated", "1"))
                count = min(repeat, _MOST_COLUMNS - len(column_styles))
                column_styles.extend([element.get(_DEFAULT_STYLE)] * count)
        elif tag == _SHEET and in_sheet:
            return
        elif styles is not None and not in_sheet and tag in (_NUMBER_STYLE, _CELL_STYLE):
            styles.add(element)  # an automatic style, before the sheets


def _show_padded(
    cell: ElementTree.Element,
    row: int,
    column: int,
    repeat: int,
    row_style: str | None,
    column_styles: list[str | None],
    styles: _Styles,
    found: SheetScan,
) -> None:
    """The text a number cell shows, where its style (its own, else its row's, else its
    column's) shows leading zeros."""
    own = cell.get(_STYLE_NAME) or row_style
    for offset in range(min(repeat, 256)):
        name = own
        if name is None and column + offset < len(column_styles):
            name = column_styles[column + offset]
        padding = styles.cells.get(name or "")
        if padding is None:
            continue
        shown = padding.shown(float(cell.get(f"{_OFFICE}value", "nan")))
        if shown is not None:
            found.show(row, column + offset, shown)
