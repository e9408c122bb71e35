"""Web pages named as spreadsheets: the rows of an HTML file's tables, as Excel shows them.

Many hospital systems' "export to Excel" writes an HTML table and names it ``.xls``; Excel
opens it without a word, so the clerk never learns it is not a workbook. Excel puts the rows
of every table on the page one under another and numbers them from 1; so does this reader.
Every cell is text, as in a CSV: an ID keeps its zeros, a date is read from its text.

A cell spanning columns is followed by blank cells, so that the columns after it stay in
place. A cell spanning rows gives each of them its value in its first column, as a merged
cell does in an xlsx (with the same notice). The file is parsed as it is read: memory stays
flat however many rows it has.
"""

from __future__ import annotations

import codecs
import contextlib
import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from artreport.errors import InputError
from artreport.readers.encoding import MARK, MARK_ERRORS, choose_encoding, detect_encoding
from artreport.readers.formats import HEAD_SIZE, as_utf8
from artreport.readers.layout import find_header
from artreport.readers.table import Notice, Row
from artreport.readers.text import TextTable

_CHUNK = 1 << 16
#: ``<meta charset="gbk">`` or ``<meta http-equiv="Content-Type" content="...; charset=gbk">``.
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
#: GB2312 and GBK pages are GB18030 text: the larger set reads them all.
_GB_FAMILY = frozenset({"gb2312", "gbk", "euc_cn", "hz", "gb18030"})
#: What a page is known by. An Excel 2003 XML workbook has a <Table> too, but starts <?xml.
_PAGE_MARKS = (b"<html", b"<!doctype html")
# Runs of the markup's white space collapse to one space, as a browser and Excel show them.
# A no-break space (&nbsp;) is text: one alone in a cell (which systems write into an empty
# cell) is stripped like any space at a cell's ends, but inside a value it stays what it is,
# so the checks can refuse an ID holding one, as in any other file.
_WHITE_SPACE = re.compile(r"[ \t\r\n\f]+")
# Stands for <br> until the white space around it has collapsed: a line break in the cell.
_LINE_BREAK = "\x00"
#: A comment, a script or a style (whose insides are not the table's), or a tag: whether it
#: ends an element, its name and its attributes (which may quote a ">").
_MARKUP = re.compile(
    r"<!--.*?-->"
    r"|<(?:script|style)\b.*?</(?:script|style)\s*>"
    r"|<(?P<end>/?)(?P<name>[a-zA-Z][a-zA-Z0-9]*)(?P<attributes>(?:[^>\"']|\"[^\"]*\"|'[^']*')*)>",
    re.DOTALL | re.IGNORECASE,
)
_ROW_GROUPS = frozenset({"table", "thead", "tbody", "tfoot"})
_OPENERS = re.compile(r"<!--|<(?:script|style)\b", re.IGNORECASE)
_SPAN = re.compile(r"\b(colspan|rowspan)\s*=\s*[\"']?\s*(\d+)", re.IGNORECASE)
#: As far as browsers honour a span.
_MAX_SPAN = 1000


def is_html(head: bytes) -> bool:
    """Whether markup (see ``formats.content_format``) is a web page."""
    lowered = as_utf8(head[:HEAD_SIZE]).lower()
    if any(mark in lowered for mark in _PAGE_MARKS):
        return True
    return b"<table" in lowered and not lowered.lstrip().startswith(b"<?xml")


def open_html(
    path: Path,
    *,
    encoding: str | None,
    is_known_header: Callable[[str], bool] | None,
    notices: list[Notice],
) -> HtmlTable:
    raw = path.open("rb")
    try:
        return HtmlTable(path, raw, _page_encoding(raw, encoding), is_known_header, notices)
    except BaseException:
        raw.close()
        raise


def _page_encoding(raw: BinaryIO, override: str | None) -> str:
    """``--encoding``, else a byte-order mark, else what the page declares, else its bytes."""
    chosen = choose_encoding(raw, override)
    if override is not None or chosen in ("utf-8-sig", "utf-16"):
        return chosen
    raw.seek(0)
    declared = _META_CHARSET.search(raw.read(HEAD_SIZE))
    if declared:
        with contextlib.suppress(LookupError):
            name = codecs.lookup(declared.group(1).decode("ascii")).name
            return "gb18030" if name in _GB_FAMILY else name
    return detect_encoding(raw)


class _TableRows:
    """Collects the rows of every table fed to it, each as ``(row number, cells)``.

    Only the tags that make a table matter here, so the page is cut at its tags with one
    regular expression rather than parsed whole: twice as fast as ``html.parser``
    on an export. Text outside the cells (the page's head, styles, scripts) is passed over.
    """

    def __init__(self) -> None:
        self.done: list[Row] = []
        self.rows_seen = 0
        #: Cells spanning rows below their own, and the first row given such a cell's value.
        self.spans_filled = 0
        self.first_filled: int | None = None
        #: Tables begun and not yet ended: one left open at the end of the file means the
        #: file was cut short.
        self.open_tables = 0
        self._buffer = ""
        self._in_row = False
        self._cell: list[str] | None = None
        self._cell_span = (1, 1)
        self._placed: list[tuple[str, int, int]] = []  # text, columns, rows of each cell
        # Column → (value, rows still to fill) for cells spanning rows below their own.
        self._carried: dict[int, tuple[str, int]] = {}

    def feed(self, text: str) -> None:
        self._buffer += text
        self._consume(final=False)

    def close(self) -> None:
        self._consume(final=True)
        self._end_row()

    def _consume(self, *, final: bool) -> None:
        buffer = self._buffer
        # A tag may be cut off by the end of the block: stop before the last "<" until the
        # rest of the page has come.
        end = len(buffer) if final else buffer.rfind("<")
        if end < 0:
            end = len(buffer)
        position = 0
        for markup in _MARKUP.finditer(buffer, 0, end):
            if not self._text(buffer[position : markup.start()], final):
                break
            position = markup.end()
            name = markup["name"]
            if name is not None:
                self._tag(name.lower(), bool(markup["end"]), markup["attributes"])
        else:
            if self._text(buffer[position:end], final):
                position = end
        self._buffer = buffer[position:]

    def _text(self, text: str, final: bool) -> bool:
        """Take the text between two tags; False when a comment, script or style starts in
        it whose end is still to come."""
        if not final and _OPENERS.search(text):
            return False
        if self._cell is not None and text:
            self._cell.append(text)
        return True

    def _tag(self, name: str, is_end: bool, attributes: str) -> None:
        if name in ("td", "th"):
            self._end_cell()
            if not is_end:
                self._in_row = True  # a cell with no <tr> before it starts a row too
                self._cell = []
                self._cell_span = _spans(attributes)
        elif name == "tr":
            self._end_row()
            self._in_row = not is_end
        elif name in _ROW_GROUPS:
            self._end_row()
            # A span ends with its table or row group, as in a browser and in Excel.
            self._carried.clear()
            if name == "table":
                self.open_tables += -1 if is_end else 1
        elif name == "br" and self._cell is not None:
            self._cell.append(_LINE_BREAK)

    def _end_cell(self) -> None:
        if self._cell is None:
            return
        text = _WHITE_SPACE.sub(" ", html.unescape("".join(self._cell))).strip()
        text = text.replace(f" {_LINE_BREAK}", _LINE_BREAK).replace(f"{_LINE_BREAK} ", _LINE_BREAK)
        self._placed.append((text.replace(_LINE_BREAK, "\n").strip(), *self._cell_span))
        self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if not self._in_row:
            return
        self.rows_seen += 1
        cells: list[str] = []
        for text, columns, rows in self._placed:
            while len(cells) in self._carried:
                cells.append(self._carry(len(cells)))
            if rows > 1:
                # Every column the cell covers is taken in the rows below, blank or not, so
                # that their own cells stay in place; only the first shows its value.
                for offset in range(columns):
                    self._carried[len(cells) + offset] = (text if offset == 0 else "", rows - 1)
                self.spans_filled += bool(text)
            cells.append(text)
            cells.extend([""] * (columns - 1))
        while self._carried and len(cells) <= max(self._carried):
            cells.append(self._carry(len(cells)) if len(cells) in self._carried else "")
        self.done.append((self.rows_seen, cells))
        self._in_row = False
        self._placed = []

    def _carry(self, column: int) -> str:
        value, left = self._carried[column]
        if left > 1:
            self._carried[column] = (value, left - 1)
        else:
            del self._carried[column]
        if value and self.first_filled is None:
            self.first_filled = self.rows_seen
        return value


def _spans(attributes: str) -> tuple[int, int]:
    """A cell's colspan and rowspan. Browsers read a span as its leading digits and take
    anything unusable as 1."""
    spans = {"colspan": 1, "rowspan": 1}
    if "span" in attributes.lower():
        for name, digits in _SPAN.findall(attributes):
            spans[name.lower()] = max(1, min(int(digits), _MAX_SPAN))
    return spans["colspan"], spans["rowspan"]


class HtmlTable(TextTable):
    def __init__(
        self,
        path: Path,
        raw: BinaryIO,
        encoding: str,
        is_known_header: Callable[[str], bool] | None,
        notices: list[Notice],
    ) -> None:
        self._raw = raw
        self._codec = encoding
        self._is_known_header = is_known_header
        self._parser = _TableRows()
        super().__init__(path, "html", [], 0, encoding=encoding, notices=notices)
        with self._translating_errors():
            header = find_header(self._parsed(), str.strip, is_known_header)
        if header is None and self._parser.rows_seen == 0:
            raise InputError("input-html-no-table", path=str(path))
        self._records = self._adopt_header(header)

    def _text(self) -> Iterator[str]:
        self._raw.seek(0)
        decoder = codecs.getincrementaldecoder(self._codec)(errors="strict")
        while block := self._raw.read(_CHUNK):
            yield decoder.decode(block)
        yield decoder.decode(b"", final=True)

    def _parsed(self) -> Iterator[Row]:
        parser = self._parser
        for text in self._text():
            parser.feed(text)
            yield from parser.done
            parser.done.clear()
        parser.close()
        if parser.open_tables > 0:
            # The page ends inside a table: cut short in a copy or a transfer. Its last row
            # may hold half a value, or half a tag: it is not taken as data.
            raise InputError("input-html-cut-off", path=str(self.path), row=parser.rows_seen)
        yield from parser.done
        parser.done.clear()
        if parser.first_filled is not None:
            self.notices.append(
                Notice("merged-cells-filled", parser.first_filled, {"count": parser.spans_filled})
            )

    @contextlib.contextmanager
    def _translating_errors(self) -> Iterator[None]:
        try:
            yield
        except UnicodeDecodeError:
            # The page is decoded a block ahead of the rows parsed: look for the bad bytes
            # again, row by row.
            row = self._first_bad_row()
            raise InputError("input-encoding", row=row, encoding=self.encoding) from None

    def _first_bad_row(self) -> int:
        parser = _TableRows()
        with self.path.open(encoding=self._codec, errors=MARK_ERRORS) as text:
            while True:
                block = text.read(_CHUNK)
                if block:
                    parser.feed(block)
                else:
                    parser.close()
                for number, cells in parser.done:
                    if MARK in "".join(cells):
                        return number
                parser.done.clear()
                if not block:
                    # The bad bytes are in no cell: in the markup between rows.
                    return parser.rows_seen

    def close(self) -> None:
        self._raw.close()
