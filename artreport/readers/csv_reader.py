"""CSV (and tab- or semicolon-separated text): streamed, strictly decoded, numbered by record.

Row numbers are CSV record numbers (the header line is 1), which is also the row number
a spreadsheet program shows for the file, quoted multi-line cells included.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from artreport.errors import InputError
from artreport.messages import Phrase
from artreport.readers.encoding import MARK, MARK_ERRORS, choose_encoding
from artreport.readers.formats import HEAD_SIZE
from artreport.readers.layout import HEADER_SEARCH_ROWS, find_header
from artreport.readers.table import Notice
from artreport.readers.text import TextTable

#: Comma first: it wins ties, so a comma file with a stray tab or semicolon stays comma.
DELIMITERS = (",", "\t", ";")

#: How many non-blank records the delimiter is judged on: enough that the header, as low as
#: the last row it may be found on, and the rows under it outvote the lines above.
SNIFF_RECORDS = 2 * HEADER_SEARCH_ROWS


def open_csv(
    path: Path,
    *,
    encoding: str | None,
    is_known_header: Callable[[str], bool] | None,
    notices: list[Notice],
) -> CsvTable:
    raw = path.open("rb")
    try:
        chosen = choose_encoding(raw, encoding)
        start = _after_gb18030_mark(raw, chosen)
        delimiter = sniff_delimiter(raw.read(HEAD_SIZE).decode(chosen, errors="replace"))
        raw.seek(start)
        return CsvTable(path, raw, chosen, delimiter, is_known_header, notices)
    except BaseException:
        raw.close()
        raise


#: GB18030's byte-order mark (U+FEFF), which some tools write as UTF-8's is written.
_GB18030_MARK = b"\x84\x31\x95\x33"


def _after_gb18030_mark(raw: BinaryIO, encoding: str) -> int:
    """Where the text of *raw* starts: after GB18030's byte-order mark, if it has one. Decoded,
    the mark would stick to the first header (U+FEFF助手代码), which then names no column."""
    raw.seek(0)
    if codecs.lookup(encoding).name == "gb18030" and raw.read(4) == _GB18030_MARK:
        return 4
    raw.seek(0)
    return 0


def sniff_delimiter(head: str) -> str:
    """The delimiter that splits the most of the top records into one number (two or more)
    of fields; comma when none splits any.

    A title or export-time line above the header may hold another delimiter than the table
    (``取卵记录导出,统计时间：…`` over tab-separated rows): the header and the rows under it
    outvote it. Records are parsed as the reader will, so a delimiter inside quotes does not
    count.
    """
    # Leave out the last line when the head ends inside it: cut short, it would count wrong.
    end = max(head.rfind("\n"), head.rfind("\r"))
    if 0 <= end < len(head) - 1:
        head = head[: end + 1]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        widths = Counter(width for width in _widths(head, delimiter) if width >= 2)
        # The width most records share, and how many share it; the wider on a tie.
        score = max(((lines, width) for width, lines in widths.items()), default=(0, 0))
        if score > best_score:  # a tie keeps the earlier delimiter: comma before tab
            best, best_score = delimiter, score
    return best


def _widths(head: str, delimiter: str) -> Iterator[int]:
    """How many fields each of the first :data:`SNIFF_RECORDS` non-blank records of *head*
    has when split by *delimiter*."""
    records = csv.reader(io.StringIO(head, newline=""), delimiter=delimiter)
    with contextlib.suppress(csv.Error):  # the reader says which record is bad, and where
        for cells in itertools.islice(filter(None, records), SNIFF_RECORDS):
            yield len(cells)


#: The fewest columns a table must have for a line inside a cell to be told for a record.
MIN_COLUMNS_FOR_SWALLOWED_LINES = 5


class CsvTable(TextTable):
    _wider_rows_are_shifted = True

    def __init__(
        self,
        path: Path,
        raw: BinaryIO,
        encoding: str,
        delimiter: str,
        is_known_header: Callable[[str], bool] | None,
        notices: list[Notice],
    ) -> None:
        self.delimiter = delimiter
        self._is_known_header = is_known_header
        self._codec = encoding
        self._text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
        self._reader = csv.reader(self._text, delimiter=delimiter)
        super().__init__(path, "csv", [], 0, encoding=encoding, notices=notices)
        with self._translating_errors():
            header = find_header(self._numbered(), str.strip, is_known_header)
        self._records = self._adopt_header(header)

    def _numbered(self) -> Iterator[tuple[int, list[str]]]:
        """The records by number, each record that took several lines of the file looked at
        for a quote left open (see :meth:`_refuse_swallowed_lines`)."""
        reader = self._reader
        line = 0
        for number, cells in enumerate(reader, 1):
            if reader.line_num - line > 1 and self.headers:
                self._refuse_swallowed_lines(number, cells, line + 1, reader.line_num)
            line = reader.line_num
            yield number, cells

    def _refuse_swallowed_lines(
        self, number: int, cells: list[str], first_line: int, last_line: int
    ) -> None:
        """Refuse a record one of whose cells holds lines that look like records of their own.

        An exporter that does not quote its values writes a value that opens with a quote
        (``"左侧输卵管积水``) as it is; the quote then opens a quoted cell that runs on to the
        next quote in the file, or to its end, and takes the lines between for its text:
        those rows are neither read nor sent, and another patient's record would be stored
        inside this one's field. A cell of text written over several lines (an address, a
        karyotype: 47,XY,+21) holds no line of as many fields as a record, all but one at
        least; in a table of few columns the two cannot be told apart, and nothing is refused.
        """
        if len(self.headers) < MIN_COLUMNS_FOR_SWALLOWED_LINES:
            return
        fields = len(self.headers) - 1
        delimiter = self.delimiter
        for column, cell in enumerate(cells):
            lines = cell.splitlines()
            if len(lines) > 1 and any(line.count(delimiter) + 1 >= fields for line in lines[1:]):
                label = self.headers[column] if column < len(self.headers) else ""
                params = {
                    "column": label or str(column + 1),
                    "first": first_line + 1,
                    "last": last_line,
                    "lines": last_line - first_line,
                }
                self.row_problems[number] = [("csv-quote-unclosed", params)]
                return

    @contextlib.contextmanager
    def _translating_errors(self) -> Iterator[None]:
        try:
            yield
        except UnicodeDecodeError:
            # The text stream decodes ahead in blocks, so where it failed says little about
            # which record holds the bad bytes: look for them again, record by record.
            row = self._first_bad_record()
            raise InputError("input-encoding", row=row, encoding=self.encoding) from None
        except csv.Error as error:
            row = self._first_bad_record()
            reason: str = str(error)
            if "field larger than field limit" in reason:
                # No export writes a cell of 131,072 characters: a quote left open, or a
                # damaged file; said without the library's English.
                reason = Phrase("csv-cell-too-long", limit=csv.field_size_limit())
            raise InputError("input-bad-csv", row=row, reason=reason) from None

    def _first_bad_record(self) -> int:
        """The number of the first record that cannot be decoded or parsed."""
        number = 0
        with self.path.open(encoding=self._codec, errors=MARK_ERRORS, newline="") as text:
            try:
                for number, cells in enumerate(csv.reader(text, delimiter=self.delimiter), 1):
                    if MARK in "".join(cells):
                        return number
            except csv.Error:
                return number + 1
        return number

    def raw_rows(self) -> Iterator[tuple[int, list[str]]]:
        with self.path.open(encoding=self._codec, errors="replace", newline="") as text:
            for number, cells in enumerate(csv.reader(text, delimiter=self.delimiter), 1):
                if number == 1 and cells:
                    cells[0] = cells[0].lstrip("\ufeff")
                yield number, cells

    def close(self) -> None:
        self._text.close()
