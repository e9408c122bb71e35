"""What calamine does not tell of a legacy xls sheet, or tells wrongly.

- Its error cells. python-calamine reads a cell holding an error value (``#N/A`` from a
  failed look-up, ``#DIV/0!``) as empty, so an optional field would be left out (or, with
  --blank-clears, cleared) while the clerk sees the error; see ``xlsx_scan`` for why such
  cells are refused.
- Its numbers shown with leading zeros by their format (``000000``: see ``number_formats``),
  which calamine reads as the bare number.
- A formula's empty result in a date-formatted cell (``=IF(D5="";"";D5+12)`` copied down
  into empty rows). LibreOffice saves the cached result of such a formula as the number 0,
  as the cell's format type is a date: calamine reads it as the time 00:00:00, and a row of
  them as a row of data, refused for every required field. A date-formatted 0 is day 0
  (1899-12-30), never a date a clinic records: a formula's 0 in a date-formatted cell is read
  as the empty result it stands for (so is a clerk's ``=IF(D5="";0;D5+12)``). The empty result
  the file does mark as such (a cached result of type 3) calamine reads as "" already.
- A formula's text result (``="CYC"&TEXT(A2;"0000")``, ``=TEXT(B2;"000")``). LibreOffice saves
  it in an xls as the number 0, whatever the text, and Excel and LibreOffice show the text
  again only because they recalculate on opening: calamine reads 0, which would be sent as
  the value (every ID of a column built so as "0"). A cached 0 of a formula whose last
  operation gives text is read as :data:`TEXT_RESULT_LOST`, which the checks refuse. (A
  formula that gives text only on some branches, an ``IF``, is not told from a number.)
- Its hidden rows (a ROW record whose flags say so): read like any other, but named in a
  notice, as in an xlsx (see ``xlsx_scan``).

The file's bytes are first searched for the records that can hold any of these (an error
constant, a formula whose result is an error or 0, a number format of leading zeros, a
hidden row), which
takes a few milliseconds. Only a file that has one is read a second time, by xlrd, to place
them: xlrd is slow (a few seconds for 60,000 rows), but it is the reader of the format that
tells a cell's type and format, and the rare file with such a cell pays for it alone.
"""

from __future__ import annotations

import mmap
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from artreport.readers.number_formats import zero_padding
from artreport.readers.table import TEXT_RESULT_LOST
from artreport.readers.xlsx_scan import SheetScan

# BIFF records, little-endian: a BOOLERR (0x0205, 8 bytes) whose flag says error; a FORMULA
# (0x0006) whose cached result is an error (type 2, 0xFFFF in its last two bytes). The
# error codes are BIFF's: #NULL! #DIV/0! #VALUE! #REF! #NAME? #NUM! #N/A.
_CODES = rb"[\x00\x07\x0f\x17\x1d\x24\x2a]"
_ERROR_RECORD = re.compile(
    rb"\x05\x02\x08\x00.{6}" + _CODES + rb"\x01"
    rb"|\x06\x00..(?:.{6})\x02\x00" + _CODES + rb"\x00\x00\x00\xff\xff",
    re.DOTALL,
)
# A FORMULA record whose cached result is the number 0: its length, row, column and XF, then
# eight zero bytes (its tokens may be in a shared formula's record, so they are not looked
# at). A FORMAT record (0x041E): its length, its number, the length of its text and whether
# the text takes two bytes a character. An XF record (0x00E0, 20 bytes): its font and its
# format's number; the XF records follow one another, and a cell names its XF by position.
_ZERO_FORMULA = re.compile(rb"\x06\x00(..)(..)(..)(..)\x00{8}", re.DOTALL)
_FORMULA_MIN_LENGTH = 22  # row, column, XF, result, flags, cache and the tokens' length
# A SHRFMLA record (0x04BC): the tokens of a formula copied over a range, which each of its
# FORMULA records names by the range's first cell (a ptgExp token) instead of holding them.
_SHARED_FORMULA = re.compile(rb"\xbc\x04(..)(..)..(.)...(..)", re.DOTALL)
_SHARED_FORMULA_MIN_LENGTH = 10
#: BIFF8 built-in functions whose result is text: DOLLAR, FIXED, REPT, MID, TEXT, CHAR, LOWER,
#: UPPER, PROPER, LEFT, RIGHT, TRIM, REPLACE, SUBSTITUTE, T, CLEAN, REPLACEB, LEFTB, RIGHTB,
#: MIDB, CONCATENATE.
_TEXT_FUNCTIONS = frozenset(
    {13, 14, 30, 31, 48, 111, 112, 113, 114, 115, 116, 118, 119, 120, 130, 162}
    | {207, 208, 209, 210, 336}
)
#: Bytes each operand token takes, its own included, by its class-free number (0x20–0x3D).
_OPERAND_SIZES = {
    0x20: 8, 0x21: 3, 0x22: 4, 0x23: 5, 0x24: 5, 0x25: 9, 0x26: 7, 0x27: 7, 0x28: 7,
    0x29: 3, 0x2A: 5, 0x2B: 9, 0x2C: 5, 0x2D: 9, 0x39: 7, 0x3A: 7, 0x3B: 11, 0x3C: 7,
    0x3D: 11,
}  # fmt: skip
_FIXED_SIZES = {0x01: 5, 0x02: 5, 0x1C: 2, 0x1D: 2, 0x1E: 3, 0x1F: 9}
_FORMAT_RECORD = re.compile(rb"\x1e\x04(..)(..)(..)([\x00\x01])", re.DOTALL)
_XF_RECORD = re.compile(rb"\xe0\x00\x14\x00..(..)", re.DOTALL)
_XF_SIZE = 24
# A ROW record (0x0208, 16 bytes) whose flags have fDyZero (0x20): the row is hidden.
_HIDDEN_ROW = re.compile(rb"\x08\x02\x10\x00.{12}[\x20-\x3f\x60-\x7f\xa0-\xbf\xe0-\xff]", re.DOTALL)
#: Excel's built-in date and time formats, the Chinese ones (27–36, 50–58) among them.
_BUILT_IN_DATES = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])
#: What a format code shows literally: quoted text, an escaped character, a [colour] or locale.
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


@dataclass
class _Suspects:
    """What the search of the file's bytes found to place."""

    errors: int = 0
    #: (row, column) from 0 of the formulas giving 0, in any sheet.
    empty_results: set[tuple[int, int]] = field(default_factory=set)
    #: (row, column) from 0 of the formulas giving text saved as 0, in any sheet.
    text_results: set[tuple[int, int]] = field(default_factory=set)
    padded_formats: bool = False
    hidden_rows: bool = False

    def __bool__(self) -> bool:
        return (
            self.errors > 0
            or bool(self.empty_results)
            or bool(self.text_results)
            or self.padded_formats
            or self.hidden_rows
        )


def scan_xls_sheet(path: Path, sheet: str) -> SheetScan:
    found = SheetScan()
    try:
        suspects = _suspects(path)
    except (OSError, ValueError):
        return found
    if not suspects:
        return found
    try:
        _place(path, sheet, suspects, found)
    except Exception:  # xlrd fails its own ways on files calamine reads
        found = SheetScan()
        found.unplaced_errors = suspects.errors
    return found


def _suspects(path: Path) -> _Suspects:
    suspects = _Suspects()
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        suspects.errors = sum(1 for _ in _ERROR_RECORD.finditer(data))
        suspects.hidden_rows = _HIDDEN_ROW.search(data) is not None
        formats = _formats(data)
        suspects.padded_formats = any(zero_padding(code) is not None for code in formats.values())
        dates = _BUILT_IN_DATES | {
            number for number, code in formats.items() if _is_date_format(code)
        }
        date_styles = {index for index, number in enumerate(_xf_formats(data)) if number in dates}
        shared: dict[tuple[int, int], bytes] | None = None
        for match in _ZERO_FORMULA.finditer(data):
            length, row, column, style = (int.from_bytes(part, "little") for part in match.groups())
            if length < _FORMULA_MIN_LENGTH:
                continue
            position = (row, column)
            tokens = _formula_tokens(data, match.end(), match.start() + 4 + length)
            if tokens[:1] == b"\x01" and len(tokens) == 5:
                if shared is None:
                    shared = _shared_formulas(data)
                tokens = shared.get(
                    (int.from_bytes(tokens[1:3], "little"), int.from_bytes(tokens[3:5], "little")),
                    b"",
                )
            if _gives_text(tokens):
                suspects.text_results.add(position)
            elif style in date_styles:
                suspects.empty_results.add(position)
    return suspects


def _formula_tokens(data: mmap.mmap, start: int, end: int) -> bytes:
    """A FORMULA record's tokens: *start* is where its flags follow its cached result, *end*
    where the record ends."""
    size = int.from_bytes(data[start + 6 : start + 8], "little")
    return bytes(data[start + 8 : min(start + 8 + size, end)])


def _shared_formulas(data: mmap.mmap) -> dict[tuple[int, int], bytes]:
    """The tokens of each shared formula (SHRFMLA), by the (row, column) of its range's
    first cell."""
    formulas: dict[tuple[int, int], bytes] = {}
    for match in _SHARED_FORMULA.finditer(data):
        length, row, column, size = (int.from_bytes(part, "little") for part in match.groups())
        if length < _SHARED_FORMULA_MIN_LENGTH + size:
            continue  # not a SHRFMLA record: bytes that look like its start
        formulas.setdefault((row, column), bytes(data[match.end() : match.end() + size]))
    return formulas


def _gives_text(tokens: bytes) -> bool:
    """Whether a formula's tokens (BIFF8, in reverse Polish order) end in an operation whose
    result is text: ``&``, a string constant or a text function. Tokens it does not know
    (or a cut record) say no: such a formula's 0 is read as the number it may be."""
    index, text = 0, False
    while index < len(tokens):
        token = tokens[index]
        if token == 0x17:  # a string constant: its length, then whether two bytes a character
            if index + 2 >= len(tokens):
                return False
            characters, wide = tokens[index + 1], tokens[index + 2] & 1
            index += 3 + characters * (2 if wide else 1)
            text = True
        elif token == 0x19:  # an attribute: spaces, jumps of IF/CHOOSE, or SUM of one range
            if index + 3 >= len(tokens):
                return False
            flags = tokens[index + 1]
            size = 4
            if flags & 0x04:  # CHOOSE: its table of jumps follows
                size += 2 * (int.from_bytes(tokens[index + 2 : index + 4], "little") + 1)
            if flags & 0x10:
                text = False  # SUM
            index += size
        elif 0x03 <= token <= 0x16:  # an operator, a bracket or a missing argument
            text = token == 0x08  # & joins text
            index += 1
        elif token in _FIXED_SIZES:
            text = False
            index += _FIXED_SIZES[token]
        elif 0x20 <= token <= 0x7F:
            operand = (token & 0x1F) | 0x20
            size = _OPERAND_SIZES.get(operand)
            if size is None or index + size > len(tokens):
                return False
            if operand == 0x21:  # a function of fixed arguments: its number
                text = int.from_bytes(tokens[index + 1 : index + 3], "little") in _TEXT_FUNCTIONS
            elif operand == 0x22:  # a function of variable arguments: their count, its number
                number = int.from_bytes(tokens[index + 2 : index + 4], "little") & 0x7FFF
                text = number in _TEXT_FUNCTIONS
            else:
                text = False
            index += size
        else:
            return False
    return text


def _formats(data: mmap.mmap) -> dict[int, str]:
    """The workbook's own number formats (FORMAT records), by number."""
    formats: dict[int, str] = {}
    for match in _FORMAT_RECORD.finditer(data):
        size, number, characters, wide = (int.from_bytes(part, "little") for part in match.groups())
        width = 2 if wide else 1
        if size != 5 + characters * width:
            continue  # not a FORMAT record: bytes that look like its start
        text = data[match.end() : match.end() + characters * width]
        formats[number] = text.decode("utf-16-le" if wide else "latin-1", "replace")
    return formats


def _xf_formats(data: mmap.mmap) -> list[int]:
    """The format number of each XF record, in order: the longest run of records that follow
    one another (bytes elsewhere that look like one are no part of it)."""
    best: list[int] = []
    run: list[int] = []
    end = -1
    for match in _XF_RECORD.finditer(data):
        if match.start() != end:
            run = []
        run.append(int.from_bytes(match.group(1), "little"))
        end = match.start() + _XF_SIZE
        if len(run) > len(best):
            best = run
    return best


def _is_date_format(code: str) -> bool:
    shown = _FORMAT_LITERALS.sub("", code).lower()
    return shown != "general" and any(letter in shown for letter in "ymdhs")


def _place(path: Path, sheet: str, suspects: _Suspects, found: SheetScan) -> None:
    import xlrd  # only for the rare file that needs it

    # xlrd reads the cells' formats, and the rows' flags, only when asked to.
    formats = suspects.padded_formats or suspects.hidden_rows
    with open(os.devnull, "w") as quiet:  # xlrd prints its warnings to a log file
        book = xlrd.open_workbook(str(path), on_demand=True, logfile=quiet, formatting_info=formats)
        try:
            cells = book.sheet_by_name(sheet)
            if suspects.hidden_rows:
                found.hidden_rows = sorted(
                    row + 1 for row, info in cells.rowinfo_map.items() if info.hidden
                )
            paddings = {}
            if suspects.padded_formats:
                for index, xf in enumerate(book.xf_list):
                    format = book.format_map.get(xf.format_key)
                    padding = format and zero_padding(format.format_str)
                    if padding:
                        paddings[index] = padding
            empty_results = suspects.empty_results
            text_results = suspects.text_results
            for row in range(cells.nrows):
                types = cells.row_types(row)
                if suspects.errors and xlrd.XL_CELL_ERROR in types:
                    values = cells.row_values(row)
                    for column, kind in enumerate(types):
                        if kind == xlrd.XL_CELL_ERROR:
                            text = xlrd.error_text_from_code.get(values[column], "#VALUE!")
                            found.place(row + 1, column, text)
                # A formula giving text that the file keeps as 0, whatever the cell's format.
                if text_results:
                    for column in range(len(types)):
                        if (
                            (row, column) in text_results
                            and types[column] in (xlrd.XL_CELL_NUMBER, xlrd.XL_CELL_DATE)
                            and cells.cell_value(row, column) == 0
                        ):
                            found.show(row + 1, column, TEXT_RESULT_LOST)
                # A date-formatted cell (xlrd tells the format's kind) whose formula gave 0.
                if empty_results and xlrd.XL_CELL_DATE in types:
                    for column, kind in enumerate(types):
                        if (
                            kind == xlrd.XL_CELL_DATE
                            and (row, column) in empty_results
                            and cells.cell_value(row, column) == 0
                        ):
                            found.show(row + 1, column, "")
                if paddings and xlrd.XL_CELL_NUMBER in types:
                    for column, kind in enumerate(types):
                        if kind == xlrd.XL_CELL_NUMBER:
                            padding = paddings.get(cells.cell_xf_index(row, column))
                            if padding is not None:
                                shown = padding.shown(cells.cell_value(row, column))
                                if shown is not None:
                                    found.show(row + 1, column, shown)
        finally:
            book.release_resources()
