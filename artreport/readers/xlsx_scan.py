"""What calamine does not tell of an xlsx sheet, found by a scan of the sheet's XML.

Cells it reads as empty but are not:

- A formula the file keeps no result of. A spreadsheet program saves each formula's last
  result beside it, and the result is what any reader of the file sees. A file written by a
  program that does not calculate (a hospital system's export library, a script) may hold the
  formula alone: Excel works it out on opening and shows a value, while the file gives every
  reader an empty cell.
- An error value (``#DIV/0!``, ``#N/A``), which python-calamine hands over as "".

Read blank, an optional field would be sent as "leave unchanged" (or, with --blank-clears,
cleared) and what the clerk sees would never reach the platform; so such cells are found here
and refused, cell by cell.

And the rows hidden in the sheet (by a filter, or by hand), which are read like any other but
which the clerk may not know are there.

And the numbers shown with leading zeros by their cell's format (``000000``: see
``number_formats``), found through the workbook's styles: where none of its formats is such,
the sheet is not searched for them.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from artreport.readers.number_formats import ZeroPadding, zero_padding
from artreport.readers.table import UNSAVED_FORMULA

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIPS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}"

# A cell whose formula has no result after it: no <v>, or an empty one (openpyxl writes
# <v />). An empty result is a saved one only for a formula giving text (t="str": ""), so
# that case is told apart in ``_scan``. Tags may carry a prefix (<x:c>).
_FORMULA_WITHOUT_VALUE = re.compile(
    rb"<(?:\w+:)?c\b([^>]*)>\s*"
    rb"<(?:\w+:)?f\b(?:[^>]*/>|[^>]*>[^<]*</(?:\w+:)?f>)\s*"
    rb"(<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*"
    rb"</(?:\w+:)?c>"
)
_TEXT_TYPE = re.compile(rb'\bt="str"')
# A cell of type "e" (error), formula or not, and its value: #DIV/0!, #N/A…
_ERROR_CELL = re.compile(
    rb'<(?:\w+:)?c\b([^>]*\bt="e"[^>]*)>\s*'
    rb"(?:<(?:\w+:)?f\b(?:[^>]*/>|[^>]*>[^<]*</(?:\w+:)?f>)\s*)?"
    rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>\s*"
    rb"</(?:\w+:)?c>"
)
_REFERENCE = re.compile(rb'\br="([A-Z]{1,3})([0-9]{1,7})"')
_HIDDEN_ROW = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="([0-9]+)"[^>]*?\bhidden="(?:1|true)"')
_HIDDEN_ROW_MARK = b'hidden="'
#: A cell's value after its attributes (and its formula, if any); the cell is a number when
#: it has no type or type "n".
_VALUE_AFTER_ATTRIBUTES = (
    rb"[^>]*)>\s*"
    rb"(?:<(?:\w+:)?f\b(?:[^>]*/>|[^>]*>[^<]*</(?:\w+:)?f>)\s*)?"
    rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>"
)
_NOT_A_NUMBER = re.compile(rb'\bt="(?!n")')
_FORMAT_CODE = re.compile(rb'formatCode="[^"]*00')
_CHUNK = 1 << 20


class SheetScan:
    """Where the chosen sheet holds cells read as empty that are not: by row number as the
    spreadsheet shows it, by column (0 for A), what to read instead (:data:`UNSAVED_FORMULA`
    or the error value); a count of those whose cell names no place (``r`` is optional in the
    format), which can only be mentioned; and the numbers of the hidden rows.

    And, placed alike, cells read as a value the sheet does not show: a number whose format
    shows it with leading zeros (see ``number_formats``), read as the text shown; a legacy
    xls formula's empty result read as a time (see ``xls_scan``), read as "". Then the cells
    merged over several rows where calamine does not tell them (see ``ods_scan``)."""

    def __init__(self) -> None:
        self.cells: dict[int, dict[int, str]] = {}
        self.unplaced = 0
        #: Error values the scan knows are in the file but could not place (see ``xls_scan``).
        self.unplaced_errors = 0
        #: Numbers shown with leading zeros in cells that name no place.
        self.unplaced_shown = 0
        self.hidden_rows: list[int] = []
        self.shown: dict[int, dict[int, str | bool]] = {}
        #: (top row, column, last row) of each cell merged over several rows.
        self.merged_down: list[tuple[int, int, int]] = []

    def __bool__(self) -> bool:
        return (
            bool(self.cells)
            or self.unplaced > 0
            or self.unplaced_errors > 0
            or self.unplaced_shown > 0
            or bool(self.hidden_rows)
            or bool(self.shown)
        )

    def place(self, row: int, column: int, instead: str) -> None:
        """``instead`` at ``row`` (1 for the first) and ``column`` (0 for A)."""
        self.cells.setdefault(row, {})[column] = instead

    def show(self, row: int, column: int, text: str | bool) -> None:
        """``text`` at ``row`` (1 for the first) and ``column`` (0 for A), whatever calamine
        read there."""
        self.shown.setdefault(row, {})[column] = text

    def add(self, attributes: bytes, instead: str) -> None:
        reference = _REFERENCE.search(attributes)
        if reference is None:
            self.unplaced += 1
            return
        letters, digits = reference.groups()
        self.place(int(digits), _column_index(letters), instead)


def scan_sheet(path: Path, sheet: str) -> SheetScan:
    """The formulas without a saved result, the error values and the hidden rows in ``sheet``
    of the xlsx at ``path``.

    The sheet's XML is read a megabyte at a time and searched only where a formula, an error
    or a hidden row appears, so a sheet without them costs one pass of decompression.
    """
    found = SheetScan()
    try:
        with zipfile.ZipFile(path) as archive:
            member = _sheet_member(archive, sheet)
            if member is None:
                return found
            padded = _PaddedStyles.of(archive)
            with archive.open(member) as stream:
                tail = b""
                while chunk := stream.read(_CHUNK):
                    text = tail + chunk
                    # Whole rows only (</row> or </x:row>): a cell cut at the chunk's edge
                    # waits for the next.
                    cut = text.rfind(b"row>") + 4 if b"row>" in text else 0
                    _scan(text[:cut], found, padded)
                    tail = text[cut:]
                _scan(tail, found, padded)
    except (OSError, zipfile.BadZipFile, KeyError, ElementTree.ParseError):
        # calamine read the file; whatever this second look cannot, it leaves to calamine.
        return found
    return found


class _PaddedStyles:
    """The cell styles (``s=`` of a cell) whose number format shows leading zeros, and how
    to find their cells in the sheet's XML."""

    def __init__(self, paddings: dict[bytes, ZeroPadding]) -> None:
        self.paddings = paddings
        self.marks = [b's="' + style + b'"' for style in paddings]
        self.cell = re.compile(
            rb'<(?:\w+:)?c\b([^>]*\bs="(' + b"|".join(paddings) + rb')"' + _VALUE_AFTER_ATTRIBUTES
        )

    @classmethod
    def of(cls, archive: zipfile.ZipFile) -> _PaddedStyles | None:
        """The workbook's padded styles, or None where it has none (a look at its styles'
        bytes, for nearly every file)."""
        members = {name.lower(): name for name in archive.namelist()}
        name = members.get("xl/styles.xml")
        if name is None:
            return None
        data = archive.read(name)
        if not _FORMAT_CODE.search(data):
            return None
        formats: dict[str, ZeroPadding] = {}
        root = ElementTree.fromstring(data)
        for element in root.iter(f"{_MAIN}numFmt"):
            padding = zero_padding(element.get("formatCode", ""))
            if padding is not None:
                formats[element.get("numFmtId", "")] = padding
        paddings: dict[bytes, ZeroPadding] = {}
        cell_formats = root.find(f"{_MAIN}cellXfs")
        for index, xf in enumerate(() if cell_formats is None else cell_formats):
            padding = formats.get(xf.get("numFmtId", "0"))
            if padding is not None:
                paddings[str(index).encode()] = padding
        return cls(paddings) if paddings else None


def _scan(text: bytes, found: SheetScan, padded: _PaddedStyles | None = None) -> None:
    if _HIDDEN_ROW_MARK in text:
        found.hidden_rows.extend(int(number) for number in _HIDDEN_ROW.findall(text))
    if b"<f" in text or b":f" in text:
        for match in _FORMULA_WITHOUT_VALUE.finditer(text):
            attributes, empty_result = match.group(1), match.group(2) is not None
            if empty_result and _TEXT_TYPE.search(attributes):
                continue  # a formula whose text result is "": saved
            found.add(attributes, UNSAVED_FORMULA)
    if b't="e"' in text:
        for match in _ERROR_CELL.finditer(text):
            found.add(match.group(1), match.group(2).decode("utf-8", "replace").strip())
    if padded is not None and any(mark in text for mark in padded.marks):
        for match in padded.cell.finditer(text):
            attributes, style, value = match.groups()
            if _NOT_A_NUMBER.search(attributes):
                continue  # text, a date cell, an error
            reference = _REFERENCE.search(attributes)
            if reference is None:
                found.unplaced_shown += 1  # the format allows: r is optional
                continue
            try:
                shown = padded.paddings[style].shown(float(value))
            except ValueError:
                continue
            if shown is not None:
                letters, digits = reference.groups()
                found.show(int(digits), _column_index(letters), shown)


def _sheet_member(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The archive member holding the sheet named ``sheet``, through the workbook's list of
    sheets and its relationships."""
    # Part names are case-insensitive (OPC): a writer may name the member Sheet1.xml and the
    # relationship sheet1.xml, and calamine, and Excel, open it all the same.
    members = {name.lower(): name for name in archive.namelist()}

    def read(name: str) -> bytes:
        return archive.read(members.get(name.lower(), name))

    workbook = ElementTree.fromstring(read("xl/workbook.xml"))
    relationship = None
    for element in workbook.iter(f"{_MAIN}sheet"):
        if element.get("name") == sheet:
            relationship = element.get(f"{_RELATIONSHIPS}id")
            break
    if relationship is None:
        return None
    relationships = ElementTree.fromstring(read("xl/_rels/workbook.xml.rels"))
    for element in relationships.iter(f"{_PACKAGE_RELATIONSHIPS}Relationship"):
        if element.get("Id") == relationship:
            target = element.get("Target", "")
            if target.startswith("/"):
                target = target.lstrip("/")
            else:
                target = posixpath.normpath(posixpath.join("xl", target))
            return members.get(target.lower(), target)
    return None


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1
