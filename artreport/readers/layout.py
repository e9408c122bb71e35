"""Finding the header in a report-style sheet, and recognising its footer.

Hospital systems' "export to Excel" puts a title, an export time and a blank line above the
header; below the data, a 合计 (total) row, and under it who made and checked the report and a
remark or two (its footnotes); between groups of data rows, a 小计 (subtotal) row. The header
is found by asking the caller which texts are known column headers; footers by the first
non-blank cell of their row.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from artreport.messages import Listing
from artreport.readers.table import Notice, Row

T = TypeVar("T")

#: How many non-blank rows from the top may hold the header.
HEADER_SEARCH_ROWS = 30

#: A row naming this many known columns is the header however many of the hospital's own
#: columns (patient name, ward, bed...) stand beside them: a title or an export time is one
#: text, and a data row holds values, not column names. Two known names need as many known
#: as unknown, so that a note or a data row that happens to hold two is not taken.
KNOWN_AMONG_ANY = 3

#: Every footer's first cell holds one of these (合计, 总计, 小计, 共计; 共 N 条). Checked
#: first, with ``in``, so that a data row costs two substring searches (cheaper than a set
#: look-up of its first character) rather than a regular expression.
FOOTER_MARKS = ("计", "共")

#: A footer's first cell, white space taken out. A total that opens it (``合计：``,
#: ``总计 20``, ``共计3条``) or a record count (``共 3 条记录``) ends the data: what is below
#: are footnotes. With a few words before it (``5月小计``, ``本页合计``) it is a subtotal
#: between groups of rows, and the data goes on; a colon in those words makes the cell a
#: labelled remark (``备注：本月小计有误``), not a subtotal.
_FOOTER = re.compile(
    r"(?P<total>合计|总计|共计|共[\d,]+[条行例人])"  # a total, or a record count
    r"|[^:：]{0,12}?(?:小计|合计|总计|共计)"  # a subtotal
)


@dataclass
class Header:
    row: int
    cells: list[str]
    #: The rows after the header, in file order (blank rows may have been dropped).
    rest: Iterator[Row]
    notices: list[Notice]


def find_header(
    records: Iterator[Row],
    cell_text: Callable[[Any], str],
    is_known_header: Callable[[str], bool] | None,
    merged_spans: Callable[[int], list[tuple[int, int]]] | None = None,
) -> Header | None:
    """The header row among *records*, or None when every record is blank.

    Without *is_known_header*, the first non-blank row. With it, the first of the top
    :data:`HEADER_SEARCH_ROWS` non-blank rows in which at least :data:`KNOWN_AMONG_ANY`
    cells, or two cells and at least half of the non-blank ones, are known headers; the first
    non-blank row if none is. A header over two rows is read as one: see
    :func:`joined_with_labels_below`, which takes its groups of columns from *merged_spans*
    (the header row's merged cells, for a sheet that keeps them) or from its blank cells.
    """
    header, by_names = _header_row(records, cell_text, is_known_header)
    if header is None or is_known_header is None or not by_names:
        return header
    spans = merged_spans(header.row) if merged_spans is not None else []
    return joined_with_labels_below(
        header, spans or _spans_of_blanks(header.cells), cell_text, is_known_header
    )


def _header_row(
    records: Iterator[Row],
    cell_text: Callable[[Any], str],
    is_known_header: Callable[[str], bool] | None,
) -> tuple[Header | None, bool]:
    """The header row, and whether known headers made it one (rather than being first)."""
    buffered: list[Row] = []
    for number, cells in records:
        texts = [cell_text(cell) for cell in cells]
        filled = [text for text in texts if text]
        if not filled:
            continue
        if is_known_header is None:
            return Header(number, texts, records, []), False
        known = sum(1 for text in filled if is_known_header(text))
        if known >= KNOWN_AMONG_ANY or (known >= 2 and 2 * known >= len(filled)):
            notices = []
            if buffered:
                params = {"count": len(buffered), "header_row": number}
                notices.append(Notice("rows-above-header-skipped", None, params))
            return Header(number, texts, records, notices), True
        buffered.append((number, cells))
        if len(buffered) == HEADER_SEARCH_ROWS:
            break
    if not buffered:
        return None, False
    # No row looks like a header: take the first, and give the others back as data rows.
    number, cells = buffered[0]
    rest = itertools.chain(buffered[1:], records)
    return Header(number, [cell_text(cell) for cell in cells], rest, []), False


def _spans_of_blanks(names: list[str]) -> list[tuple[int, int]]:
    """Each label followed by blank header cells, as (its column, the last blank's): where a
    label spanned several columns before the file lost its merges (a CSV, an ods, a sheet
    unmerged by hand), the spreadsheet keeps it in the first column only."""
    spans = []
    left = None
    for column, name in enumerate(names):
        if name:
            left = column
        elif left is not None:
            if spans and spans[-1][0] == left:
                spans[-1] = (left, column)
            else:
                spans.append((left, column))
    return spans


def joined_with_labels_below(
    header: Header,
    spans: list[tuple[int, int]],
    cell_text: Callable[[Any], str],
    is_known_header: Callable[[str], bool],
) -> Header:
    """A header over two rows: a label spanning columns (年龄 over two) with the labels of those
    columns in the row below (女方, 男方), the other labels alone in the top row (merged down
    over both rows, or not). Each column under the span is named by its label joined to the
    one above, in whichever order names a field (女方年龄); the row of labels is header, not
    data. *spans* are the spanning labels as (first column, last column).

    Read as one row, the columns under the span had no name and were left out (the ages
    never sent), and the row of labels was refused as a record missing every field.
    """
    if not spans:
        return header
    below = next(header.rest, None)
    if below is None:
        return header
    rest = itertools.chain([below], header.rest)
    number, cells = below
    under = {column for left, right in spans for column in range(left, right + 1)}
    if number != header.row + 1 or any(
        cell_text(cell) for column, cell in enumerate(cells) if column not in under
    ):
        return Header(header.row, header.cells, rest, header.notices)
    names = list(header.cells)
    joined = []
    for left, right in spans:
        group = names[left]
        for column in range(left, min(right + 1, len(names), len(cells))):
            label = cell_text(cells[column])
            for candidate in (label + group, group + label, label):
                if label and is_known_header(candidate):
                    names[column] = candidate
                    joined.append(candidate)
                    break
    if not joined:
        return Header(header.row, header.cells, rest, header.notices)
    notice = Notice("header-two-rows", header.row, {"next": number, "columns": Listing(joined)})
    return Header(header.row, names, header.rest, [*header.notices, notice])


def footer_kind(text: str) -> Literal["total", "subtotal"] | None:
    """Whether a row whose first non-blank cell is *text* is a total, a subtotal or neither.

    Call only when *text* holds one of :data:`FOOTER_MARKS`.
    """
    matched = _FOOTER.match("".join(text.split()))
    if matched is None:
        return None
    return "total" if matched["total"] else "subtotal"


def footer_notice(row: int, text: str) -> Notice:
    return Notice("footer-row-skipped", row, {"text": text[:30]})


#: What a header lacks of the columns a caller needs: whether it lacks the column that
#: identifies a record (the type's primary key), and how many needed columns it lacks.
MissingColumns = Callable[[list[str]], tuple[bool, int]]


def choose_sheet(
    names: Sequence[str],
    read: Callable[[str], tuple[T, Header | None]],
    is_known_header: Callable[[str], bool] | None,
    missing_columns: MissingColumns | None,
) -> tuple[str, T, Header | None]:
    """The sheet to read among the visible sheets *names* when the user named none, with
    what *read* gave for it (the sheet parsed, its header found).

    The first sheet, when its header is the caller's and names the column that identifies a
    record: its missing columns are then the file's to report, not a reason to read another
    sheet (last month's, say), and the others are not read, as each costs a parse of the
    whole sheet. Otherwise the first of the others that lacks nothing, else the one that
    lacks the fewest and names the most; the first sheet when no other is the caller's. A
    workbook that HIS exports "all at once" has a sheet per record type, and the first (周期)
    may share a column or two (周期ID, 机构ID) with the type wanted, but not its record ID.
    """
    first = names[0]
    best = (first, *read(first))
    best_fit = _fit(best[2], is_known_header, missing_columns)
    if best_fit is not None and best_fit[0] == 0:
        return best
    for name in names[1:]:
        parsed, header = read(name)
        fit = _fit(header, is_known_header, missing_columns)
        if fit is not None and (best_fit is None or fit > best_fit):
            best, best_fit = (name, parsed, header), fit
            if fit[:2] == (0, 0):
                break
    return best


def _fit(
    header: Header | None,
    is_known_header: Callable[[str], bool] | None,
    missing_columns: MissingColumns | None,
) -> tuple[int, int, int] | None:
    """How well *header* suits the caller, larger is better: whether it names the record's
    identifying column, minus how many needed columns it lacks, how many known ones it names.
    None when it is not the caller's at all (a sheet of notes, 说明, or a list of IDs alone):
    fewer than two known columns. Without a caller to ask, any header fits."""
    if is_known_header is None:
        return (0, 0, 0)
    if header is None:
        return None
    known = sum(1 for cell in header.cells if cell and is_known_header(cell))
    if known < 2:
        return None
    lacks_key, lacking = missing_columns(header.cells) if missing_columns else (False, 0)
    return (-int(lacks_key), -lacking, known)
