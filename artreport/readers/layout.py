"""Finding the header in a report-style sheet, and recognising its footer.

Hospital systems' "export to Excel" puts a title, an export time and a blank line above the
header, and a 合计 (total) row below the data. The header is found by asking the caller
which texts are known column headers; footers by their first word.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from artreport.readers.table import Notice, Row

#: How many non-blank rows from the top may hold the header.
HEADER_SEARCH_ROWS = 30

FOOTER_WORDS = ("合计", "总计", "小计", "共计")
#: Checked first, so that a data row costs one set look-up rather than a string match.
FOOTER_FIRST_CHARS = frozenset(word[0] for word in FOOTER_WORDS)


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
) -> Header | None:
    """The header row among *records*, or None when every record is blank.

    Without *is_known_header*, the first non-blank row. With it, the first of the top
    :data:`HEADER_SEARCH_ROWS` non-blank rows in which at least two cells, and at least half
    of the non-blank cells, are known headers; the first non-blank row if none is.
    """
    buffered: list[Row] = []
    for number, cells in records:
        texts = [cell_text(cell) for cell in cells]
        filled = [text for text in texts if text]
        if not filled:
            continue
        if is_known_header is None:
            return Header(number, texts, records, [])
        known = sum(1 for text in filled if is_known_header(text))
        if known >= 2 and 2 * known >= len(filled):
            notices = []
            if buffered:
                params = {"count": len(buffered), "header_row": number}
                notices.append(Notice("rows-above-header-skipped", None, params))
            return Header(number, texts, records, notices)
        buffered.append((number, cells))
        if len(buffered) == HEADER_SEARCH_ROWS:
            break
    if not buffered:
        return None
    # No row looks like a header: take the first, and give the others back as data rows.
    number, cells = buffered[0]
    rest = itertools.chain(buffered[1:], records)
    return Header(number, [cell_text(cell) for cell in cells], rest, [])


def is_footer(text: str) -> bool:
    """Whether a row whose first non-blank cell is *text* is a totals row.

    Call only when ``text[0] in FOOTER_FIRST_CHARS``.
    """
    return text.startswith(FOOTER_WORDS)


def footer_notice(row: int, text: str) -> Notice:
    return Notice("footer-row-skipped", row, {"text": text[:30]})
