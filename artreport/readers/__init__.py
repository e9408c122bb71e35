"""Reading hospital exports: CSV, Excel/OpenDocument workbooks (Excel 2003 XML too), web
pages' tables and JSON, as one kind of table.

:func:`open_table` picks the reader from the file's extension, checked against its first
bytes, and returns a :class:`Table`: headers as text, and numbered rows whose numbers are
the ones the user sees in the file. What a reader did on the user's behalf (skipping a title
above the header, a 合计 row below the data) is recorded as :class:`Notice` values; anything
that stops the reading is an :class:`~artreport.errors.InputError`.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import BinaryIO

from artreport.errors import InputError
from artreport.messages import Phrase
from artreport.readers.csv_reader import open_csv
from artreport.readers.formats import (
    EXTENSIONS,
    HEAD_SIZE,
    SPREADSHEETS,
    as_utf8,
    content_format,
    declared_format,
    what_else,
)
from artreport.readers.html_reader import is_html, open_html
from artreport.readers.json_reader import open_json, open_json_lines
from artreport.readers.layout import MissingColumns
from artreport.readers.spreadsheet import open_spreadsheet
from artreport.readers.table import FileWatch, Notice, Row, Table
from artreport.readers.xml_reader import SPREADSHEET_MARK, open_spreadsheet_xml

__all__ = ["EXTENSIONS", "Notice", "Row", "Table", "open_table"]


def open_table(
    path: str | PathLike[str],
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    is_known_header: Callable[[str], bool] | None = None,
    missing_columns: MissingColumns | None = None,
) -> Table:
    """Open *path* for reading; use the result in a ``with`` block.

    *sheet* names the worksheet to read (default: the first visible one); *encoding*
    overrides the detected encoding of a text file; *is_known_header* tells whether a text
    is a column header the caller knows, which lets the header be found below a title, and
    a JSON record's object of fields be read as columns.
    *missing_columns* tells how many of the columns the caller needs a header lacks: without
    *sheet*, a workbook whose first sheet lacks some is read from the sheet that fits best
    (see :func:`~artreport.readers.layout.choose_sheet`).

    A spreadsheet's content wins over its extension (an ``.xls`` that is really xlsx, a web
    page, an Excel 2003 XML workbook or tab-separated text, is read as what it is, with a
    notice). Other XML is refused.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError("input-not-found", path=str(path)) from None
    except OSError as error:  # a folder on the way that may not be entered
        raise InputError(
            "input-unreadable", path=str(path), reason=error.strerror or str(error)
        ) from None
    if stat.S_ISDIR(mode):
        raise InputError("input-is-directory", path=str(path))
    if not stat.S_ISREG(mode):
        # A named pipe or a device: read twice (its head, then its rows), the second opening
        # would wait for ever for a writer, and a nightly job with it.
        raise InputError("input-not-a-file", path=str(path))
    try:
        file = path.open("rb")
    except FileNotFoundError:
        raise InputError("input-not-found", path=str(path)) from None
    except OSError as error:
        raise InputError(
            "input-unreadable", path=str(path), reason=error.strerror or str(error)
        ) from None
    watch = FileWatch(path, file)
    try:
        table = _open_reader(
            path,
            file,
            sheet=sheet,
            encoding=encoding,
            is_known_header=is_known_header,
            missing_columns=missing_columns,
        )
    except BaseException as error:
        changed = isinstance(error, Exception) and watch.changed()
        watch.close()
        if changed:
            raise watch.error() from error
        raise
    table.watch(watch)
    return table


def _open_reader(
    path: Path,
    file: BinaryIO,
    *,
    sheet: str | None,
    encoding: str | None,
    is_known_header: Callable[[str], bool] | None,
    missing_columns: MissingColumns | None,
) -> Table:
    try:
        head = file.read(HEAD_SIZE)
    except OSError as error:
        raise InputError(
            "input-unreadable", path=str(path), reason=error.strerror or str(error)
        ) from None
    declared = declared_format(path)
    if not head:
        raise InputError("input-empty", path=str(path))
    disguised = what_else(head, file)
    if disguised is not None:
        code, kind = disguised
        what = Phrase(kind) if kind.startswith("kind-") else kind
        raise InputError(code, path=str(path), format=declared, kind=what)
    actual = content_format(head)
    if actual == "binary":
        if path.name.startswith(_LOCK_FILE_MARK):
            workbook = path.with_name(path.name.removeprefix(_LOCK_FILE_MARK))
            raise InputError("input-lock-file", path=str(path), workbook=str(workbook))
        raise InputError("input-not-format", format=declared)
    if actual == "encrypted":
        raise InputError("input-password-protected", format=declared)

    notices: list[Notice] = []
    if actual in SPREADSHEETS:
        if actual != declared:
            notices.append(_format_differs(path, actual))
        return open_spreadsheet(
            path,
            actual,
            by_content=actual != declared,
            sheet=sheet,
            is_known_header=is_known_header,
            missing_columns=missing_columns,
            notices=notices,
        )
    if actual == "markup" and (declared in SPREADSHEETS or declared in ("html", "xml")):
        if is_html(head):
            actual = "html"
        elif SPREADSHEET_MARK in as_utf8(head):
            actual = "xml"
        else:
            raise InputError("input-is-markup", format=declared)
        if actual != declared:
            notices.append(_format_differs(path, actual))
        if actual == "xml":
            return open_spreadsheet_xml(
                path,
                sheet=sheet,
                is_known_header=is_known_header,
                missing_columns=missing_columns,
                notices=notices,
            )
        return open_html(path, encoding=encoding, is_known_header=is_known_header, notices=notices)
    if declared == "html":  # a page whose first bytes are text, not a tag
        return open_html(path, encoding=encoding, is_known_header=is_known_header, notices=notices)
    if declared == "xml":
        raise InputError("input-is-markup", format=declared)
    if declared in SPREADSHEETS:
        # Text under a spreadsheet's name: some hospital systems export tab-separated text
        # as ".xls". The CSV reader handles it, strictly decoded like any CSV.
        notices.append(_format_differs(path, "csv"))
        declared = "csv"
    if declared == "json":
        return open_json(path, encoding=encoding, notices=notices, is_known_header=is_known_header)
    if declared == "jsonl":
        return open_json_lines(
            path, encoding=encoding, notices=notices, is_known_header=is_known_header
        )
    return open_csv(path, encoding=encoding, is_known_header=is_known_header, notices=notices)


#: The start of the name of the small file Excel writes beside a workbook it has open, which
#: holds only the name of who opened it: ``~$cycles.xlsx`` beside ``cycles.xlsx``. Read by
#: mistake, it is no damaged export, and the workbook is the file meant.
_LOCK_FILE_MARK = "~$"


def _format_differs(path: Path, actual: str) -> Notice:
    return Notice("content-format-differs", None, {"ext": path.suffix, "actual": actual})
