"""What every reader hands back: a :class:`Table` of headers and numbered rows, plus the
:class:`Notice` values that tell the user what the reader did on their behalf."""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO

from artreport.errors import InputError
from artreport.messages import translate

if TYPE_CHECKING:
    from artreport.readers.layout import Header

#: A data row: its number as the user sees it in the file, and its cells.
Row = tuple[int, list[Any]]

#: The annotated copy's own columns (see ``annotate``): why a row failed, the row it came from,
#: and the cells a shifted row has beyond the header. Never data, so the checks do not call
#: them unknown columns either.
REASON_COLUMN = "错误原因"
ORIGINAL_ROW_COLUMN = "原行号"
SPILL_COLUMN = "错位多出的值"
ANNOTATION_COLUMNS = frozenset({REASON_COLUMN, ORIGINAL_ROW_COLUMN, SPILL_COLUMN})

#: What a reader puts in a cell holding a formula whose result the file does not keep: the
#: checks refuse it, where an empty cell would be sent as "leave unchanged". It starts with
#: "#", like the spreadsheet error values that the checks already look out for.
UNSAVED_FORMULA = "#FORMULA?"
#: What a reader puts in a cell whose formula gives text that the file keeps as the number 0
#: (a legacy xls written by LibreOffice: see ``xls_scan``), refused like UNSAVED_FORMULA.
TEXT_RESULT_LOST = "#FORMULA0?"
#: A footnote's label: words and a colon (制表人：, 审核:), not a time's 08:30; or the words
#: alone, in a cell of their own (制表人 | 李四), or a page number (第 1 页, 共1页).
_LABEL = re.compile(r"[^\W\d_]\s*[:：]")
_FOOTNOTE_WORDS = frozenset(
    [
        "制表",
        "制表人",
        "制表单位",
        "审核",
        "审核人",
        "复核",
        "复核人",
        "负责人",
        "主管",
        "填报人",
        "填报单位",
        "填报日期",
        "填报说明",
        "统计人",
        "经办人",
        "联系人",
        "电话",
        "联系电话",
        "单位",
        "日期",
        "时间",
        "打印",
        "打印人",
        "打印时间",
        "打印日期",
        "导出时间",
        "页码",
        "备注",
        "说明",
        "签字",
        "签名",
        "盖章",
    ]
)
_PAGE = re.compile(r"[第共]\s*[0-9]+\s*页")


def _is_label(text: str) -> bool:
    return bool(text.rstrip(":： ") in _FOOTNOTE_WORDS or _LABEL.search(text) or _PAGE.search(text))


@dataclass
class Notice:
    """Something the reader did that the user should know about; not an error.

    The message template may use ``{row}``, which comes from :attr:`row`, not :attr:`params`.
    """

    code: str
    row: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str | None = None) -> str:
        return translate(self.code, lang, row=self.row, **self.params)


class HeaderRepeats:
    """The rows left out for being the header over again, told in one notice for the file.

    Two exports joined into one file repeat the header where the second begins; some systems
    put the platform's field names in a second header row under the labels (or over them).
    Read as data, such a row would be sent as a record of column names.
    """

    def __init__(
        self,
        notices: list[Notice],
        headers: list[str],
        is_known_header: Callable[[str], bool] | None,
    ) -> None:
        self._notices = notices
        self._notice: Notice | None = None
        self._headers = headers
        self._is_known_header = is_known_header
        first = headers[0].strip().casefold() if headers else ""
        # Without a first header to go by (a report layout leaves column A empty), only an
        # exact repeat is looked for: every row would otherwise cost look-ups.
        self._first, self._initial = first, first[:1] or None

    def is_repeat(self, cells: list[Any]) -> bool:
        """Whether *cells* is the header over again: exactly, or with other spaces, another
        case or fewer columns (the first cell the header's first, every filled cell a column's
        name). Cheap for a data row: one comparison, and a look at its first character."""
        if cells == self._headers:
            return True
        first = cells[0] if cells else ""
        if (
            self._initial is None
            or first.__class__ is not str
            or first[:1].casefold() != self._initial
        ):
            return False
        if first.strip().casefold() != self._first:
            return False
        texts = [cell.strip() if isinstance(cell, str) else "" for cell in cells]
        return names_columns(texts, self._is_known_header)

    def skip(self, number: int) -> None:
        if self._notice is None:
            self._notice = Notice("header-rows-skipped", number, {"count": 0})
            self._notices.append(self._notice)
        self._notice.params["count"] += 1


def names_columns(texts: list[str], is_known_header: Callable[[str], bool] | None) -> bool:
    """Whether a row of *texts* is a header: two or more cells filled, each naming a known
    column. A value that happens to be a column's name stands beside values that are not."""
    if is_known_header is None:
        return False
    filled = [text for text in texts if text]
    return len(filled) >= 2 and all(is_known_header(text) for text in filled)


class FileWatch:
    """The export as it was when reading began, to tell whether it changed before the end.

    A nightly job may start while the hospital system is still writing its export: read then,
    the file ends inside its last row (a cut ID or date that passes every check) or grows while
    it is read. Its size or modification time then differ between the start and the end of the
    reading. The watch holds the file open and asks the open file, not its name: an exporter
    that writes a new file and renames it over the old (``os.replace``) leaves the old one,
    read whole, unchanged.
    """

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        self._file = file
        self._state = self._now()

    def _now(self) -> tuple[int, int]:
        status = os.fstat(self._file.fileno())
        return status.st_size, status.st_mtime_ns

    def changed(self) -> bool:
        return self._now() != self._state

    def error(self) -> InputError:
        return InputError("input-changed-while-read", path=str(self.path))

    def close(self) -> None:
        self._file.close()


class Table(ABC):
    """The header and the rows of one input file, read lazily.

    Use it as a context manager: the file stays open until the block ends. ``notices`` grows
    while :meth:`rows` runs, because footer rows are only met on the way.
    """

    #: Whether a text is a column header the caller knows (see ``open_table``), for the
    #: readers that look for a header row repeated below the first.
    _is_known_header: Callable[[str], bool] | None = None
    #: The file as ``open_table`` found it, checked when the rows end.
    _watch: FileWatch | None = None

    def __init__(
        self,
        path: Path,
        format: str,
        headers: list[str],
        header_row: int,
        *,
        encoding: str | None = None,
        sheet: str | None = None,
        notices: list[Notice] | None = None,
    ) -> None:
        self.path = path
        self.format = format
        self.encoding = encoding
        self.sheet = sheet
        self.headers = headers
        #: 0 for formats without a header row (JSON, JSON Lines).
        self.header_row = header_row
        self.notices = notices if notices is not None else []
        #: Rows the reader found unusable as they stand, by row number: the codes and message
        #: parameters of their problems. Filled as the rows are read; the checks refuse them.
        self.row_problems: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        #: Refused rows' cells as the file has them, where the reader cut them to the header's
        #: width (a shifted row): the annotated copy gives the clerk every cell back.
        self.full_cells: dict[int, list[Any]] = {}
        #: The rows hidden in the sheet (by a filter, or by hand), known once :meth:`rows` has
        #: begun. They are read as data like any other; ``delete`` leaves their records alone,
        #: since a clerk filters a sheet to show the rows to delete.
        self.hidden_rows: frozenset[int] = frozenset()
        self._started = False

    def rows(self) -> Iterator[Row]:
        """``(row number, cells)`` for each data row, cells aligned with :attr:`headers`.

        Fully blank rows, footer rows and the footnotes below a total are left out. The file is
        streamed, so the rows can be read only once.
        """
        if self._started:
            raise RuntimeError("Table.rows() can be called only once")
        self._started = True
        rows = self._rows() if self._watch is None else self._unchanged(self._rows(), self._watch)
        spilled = [index for index, name in enumerate(self.headers) if name == SPILL_COLUMN]
        return self._refusing_spilled(rows, spilled) if spilled else rows

    def watch(self, watch: FileWatch) -> None:
        """Check at the end of :meth:`rows` that the file is as *watch* found it; the table
        closes *watch* with itself."""
        self._watch = watch

    @staticmethod
    def _unchanged(rows: Iterator[Row], watch: FileWatch) -> Iterator[Row]:
        """*rows*, the last one handed on only once the file is found unchanged: a file still
        being written ends inside that row. A reader's error on a file that changed (a cut
        zip, JSON or quote) is that change, told as such."""
        last: Row | None = None
        try:
            for row in rows:
                if last is not None:
                    yield last
                last = row
        except Exception as error:
            if watch.changed():
                raise watch.error() from error
            raise
        if watch.changed():
            raise watch.error()
        if last is not None:
            yield last

    def _refusing_spilled(self, rows: Iterator[Row], columns: list[int]) -> Iterator[Row]:
        """A failed-rows sheet's shifted rows hold their extra cells under SPILL_COLUMN: until
        the clerk has moved the values back and emptied it, the row stands shifted."""
        for number, cells in rows:
            if any(cells[index] not in ("", None) for index in columns if index < len(cells)):
                problem = ("row-cells-spilled", {"column": SPILL_COLUMN})
                self.row_problems.setdefault(number, []).append(problem)
            yield number, cells

    @abstractmethod
    def _rows(self) -> Iterator[Row]: ...

    def raw_rows(self) -> Iterator[Row] | None:
        """Every row of the file as text, by the same numbers as :meth:`rows`, read again from
        the start: titles, totals and footnotes included (the annotated copy of a file it
        rebuilds keeps them). None for a format without such rows (JSON)."""
        return None

    def _adopt_header(self, header: Header | None) -> Iterator[Row]:
        """Take the header :func:`~artreport.readers.layout.find_header` found; the records
        after it are returned for :meth:`_rows`."""
        if header is None:
            raise InputError("input-empty", path=str(self.path))
        self.headers = header.cells
        self.header_row = header.row
        self.notices.extend(header.notices)
        return header.rest

    def _below_totals(
        self,
        records: Iterator[Row],
        cell_text: Callable[[Any], str],
        total_row: int,
        last_record: list[Any] | None,
    ) -> Iterator[Row]:
        """The rows below a grand total, read to the end: the report's footnotes (制表人, 审核,
        备注, 打印时间...), skipped with a notice of how many; and rows that look like
        records, handed on refused, so that a record added below the total is in the failure
        report rather than passed over with a notice at most.

        A record fills the columns the caller knows much as the last record above the total
        does (three in five of those it fills, three at least; with no record above, more than
        half of the known columns), and no cell of it is a footnote's label (制表人, 审核, 联系电话,
        页码…, or any words before a colon: "制表人：李四"). Anything else is taken for the
        footnotes, as before. Footnotes' text is not shown: a remark may name a patient.
        """
        known = [
            index
            for index, header in enumerate(self.headers)
            if header and (self._is_known_header is None or self._is_known_header(header))
        ]
        if last_record is None:
            record_columns = known
            enough = max(3, len(known) // 2 + 1)
        else:
            record_columns = [
                i for i in known if i < len(last_record) and cell_text(last_record[i])
            ]
            enough = max(3, -(-len(record_columns) * 3 // 5))
        first_skipped = None
        skipped = 0
        for number, cells in records:
            texts = [cell_text(cell) for cell in cells]
            if not any(texts):
                continue
            filled = sum(1 for index in record_columns if index < len(texts) and texts[index])
            if filled >= enough and not any(map(_is_label, texts)):
                self.row_problems[number] = [("row-below-totals", {"total_row": total_row})]
                yield number, cells
            else:
                first_skipped = first_skipped or number
                skipped += 1
        if first_skipped is not None:
            params = {"count": skipped}
            self.notices.append(Notice("rows-below-totals-skipped", first_skipped, params))

    @abstractmethod
    def close(self) -> None:
        """Release the file. Calling it again does nothing."""

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
        if self._watch is not None:
            self._watch.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.format} {str(self.path)!r}>"


def row_list(numbers: list[int], shown: int = 10) -> str:
    """Row numbers for a message: the first ``shown`` of them, then an ellipsis."""
    listed = ", ".join(map(str, numbers[:shown]))
    return listed + (" …" if len(numbers) > shown else "")
