"""The failure report: every problem with its spreadsheet row, field, code and message.

Written as CSV (UTF-8 with BOM, so that Excel shows the Chinese correctly) or XLSX, chosen by
the file's extension, streamed as problems arrive. It holds patient data, so it is created
owner-only.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from artreport.errors import InputError, UsageError
from artreport.state import folder_failure, owner_only_opener
from artreport.validation.problems import Problem

REPORT_COLUMNS = ("row", "primary_key", "field", "code", "message", "value", "severity")


def default_report_path(
    directory: Path, command: str, record_type: str, suffix: str = ".csv"
) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return directory / f"{command}-{record_type}-{stamp}{suffix}"


def unused_path(path: Path) -> Path:
    """``path``, or when something is there already the first free ``name-2``, ``name-3``…"""
    candidate = path
    number = 1
    while candidate.exists():
        candidate = _numbered(path, number := number + 1)
    return candidate


def _numbered(path: Path, number: int) -> Path:
    return path.with_name(f"{path.stem}-{number}{path.suffix}")


def refuse_overwriting(report: Path, *, source: Path, annotated: Path | None = None) -> None:
    """Refuse a ``--report`` path that names the export itself or its annotated copy: the
    report is opened for writing before the export is read, so the clerk's file would be
    emptied first and lost."""
    if same_path(report, source):
        raise UsageError("report-same-as-input", path=str(report))
    if annotated is not None and same_path(report, annotated):
        raise UsageError("report-same-as-annotated", path=str(report))


def same_path(a: Path, b: Path) -> bool:
    """Whether two paths name the same file or folder, existing or not."""
    try:
        return os.path.samefile(a, b)  # also through hard links and symlinks
    except OSError:  # one of them does not exist yet
        return a.resolve() == b.resolve()


class ReportWriter:
    """Context manager: ``with ReportWriter(path, lang) as report: report.add(problem)``.

    With ``always=False`` the file is created only when the first problem arrives, so a clean
    run leaves no empty report behind.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        lang: str | None = None,
        *,
        always: bool = True,
        fresh: bool = False,
    ) -> None:
        self.path = Path(path)
        self.lang = lang
        self.always = always
        #: A name artreport chose (a default report): never written over another run's report.
        #: Another run of the same command in the same second may have taken it, also while
        #: this one ran, so the file is created only if it is not there, else as ``name-2``…
        self.fresh = fresh
        self.count = 0
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", ".xlsx"):
            raise InputError("report-bad-extension", path=str(self.path))
        self._xlsx = suffix == ".xlsx"
        self._file: IO[Any] | None = None
        self._csv: Any = None
        self._workbook: Any = None
        self._sheet: Any = None

    def __enter__(self) -> ReportWriter:
        if self.always:
            self._open()
        return self

    @property
    def written(self) -> bool:
        return self._file is not None

    @property
    def written_path(self) -> str | None:
        """The report's path once it has been written to; None while it holds nothing."""
        return str(self.path) if self.written else None

    def _open(self) -> None:
        try:
            # Owner-only like the report itself, whatever the umask: the default folder of
            # the reports is made here.
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self._xlsx:
                from openpyxl import Workbook

                self._file = self._create("b", None, None)
                self._workbook = Workbook(write_only=True)
                self._sheet = self._workbook.create_sheet("report")
                _lay_out(self._sheet)
            else:
                self._file = self._create("", "utf-8-sig", "")
                self._csv = csv.writer(self._file)
                self._csv.writerow(REPORT_COLUMNS)
        except OSError as error:
            raise InputError(
                unwritable_code("report-unwritable", self.path, error),
                path=str(self.path),
                reason=folder_failure(error),
            ) from None

    def _create(self, binary: str, encoding: str | None, newline: str | None) -> IO[Any]:
        if not self.fresh:
            return open(
                self.path,
                "w" + binary,
                encoding=encoding,
                newline=newline,
                opener=owner_only_opener,
            )
        chosen, number = self.path, 1
        while True:
            try:
                handle = open(  # noqa: SIM115
                    self.path,
                    "x" + binary,
                    encoding=encoding,
                    newline=newline,
                    opener=owner_only_opener,
                )
            except FileExistsError:
                number += 1
                self.path = _numbered(chosen, number)
                continue
            return handle

    def add(self, problem: Problem) -> None:
        if self._file is None:
            self._open()
        record = problem.to_dict(self.lang)
        cells = ["" if record[c] is None else record[c] for c in REPORT_COLUMNS]
        if self._xlsx:
            self._sheet.append([_xlsx_cell(self._sheet, c) for c in cells])
        else:
            try:
                self._csv.writerow([cells[0], *(csv_cell(c) for c in cells[1:])])
            except OSError as error:  # a full disk
                raise self._unwritable(error) from None
        self.count += 1

    def _unwritable(self, error: OSError) -> InputError:
        return InputError("report-unwritable", path=str(self.path), reason=error.strerror)

    def add_all(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is None:
            return
        try:
            if self._xlsx:
                # A filter on the header, to show one code or field at a time.
                self._sheet.auto_filter.ref = f"A1:{_LAST_COLUMN}{self.count + 1}"
                self._workbook.save(self._file)
            self._file.close()
        except OSError as error:
            if exc is None:  # else the error already leaving says what went wrong first
                raise self._unwritable(error) from None


class SyncReports:
    """Where a sync writes each export's failure report.

    In a folder of the run's own (the default), every report is new. In a folder the user
    chose (``--report-dir``), a report is named after its export, so the same export's report
    keeps its name night after night: tonight's replaces the one of that name, and an export
    with no problems tonight leaves none there, since an earlier night's would say it still
    has some.
    """

    def __init__(self, folder: Path, *, lasting: bool) -> None:
        self.folder = folder
        self.lasting = lasting
        self._taken: set[Path] = set()

    def path_for(self, record_type: str, export: Path) -> Path:
        """The report's path for ``export``; two exports of one name in a run get two, and a
        file there that is no report is left alone."""
        base = self.folder / f"{record_type}-{export.stem}.csv"
        path, number = base, 1
        while path in self._taken or (self.lasting and path.exists() and not _is_report(path)):
            number += 1
            path = _numbered(base, number)
        self._taken.add(path)
        return path

    def writer(self, path: Path, lang: str | None) -> ReportWriter:
        return ReportWriter(path, lang, always=False, fresh=not self.lasting)

    def settle(self, path: Path, written: bool) -> None:
        """After an export: in a lasting folder, remove an earlier night's report at the
        ``path`` this export left unwritten. Only a file that is a report is removed."""
        if self.lasting and not written and _is_report(path):
            try:
                path.unlink()
            except OSError as error:
                raise InputError(
                    "report-unwritable", path=str(path), reason=folder_failure(error)
                ) from None


def _is_report(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return handle.readline().rstrip("\r\n") == ",".join(REPORT_COLUMNS)
    except (OSError, UnicodeDecodeError):
        return False


class Tee:
    """A problem sink that hands every problem to several sinks (the report and the annotator)."""

    def __init__(self, *sinks: Any) -> None:
        self.sinks = sinks

    def add(self, problem: Problem) -> None:
        for sink in self.sinks:
            sink.add(problem)

    @property
    def written_path(self) -> str | None:
        paths = (getattr(sink, "written_path", None) for sink in self.sinks)
        return next((path for path in paths if path is not None), None)


#: What Excel, WPS and Calc take for a number, a date or a formula when they open a CSV.
_RETYPED_START = tuple("0123456789.=+-@")
_FORMULA_START = tuple("=+-@\t\r")
#: Excel keeps at most 255 characters of text inside a formula.
_FORMULA_TEXT_LIMIT = 255


def csv_cell(value: Any) -> Any:
    """A cell of the CSV report as a spreadsheet will show it as written.

    A clerk opens the report by double-clicking it, and Excel retypes every cell: 000123
    loses its zeros, an 18-digit ID number becomes 3.30102E+17, 1-2 a date, and =… from an
    export is run as a formula. Written ="000123", the cell is text to Excel, WPS and Calc
    alike (and artreport's readers take it as 000123)."""
    if value is None or value == "":
        return value
    text = str(value)
    if not (text.startswith(_RETYPED_START) or text.upper() in ("TRUE", "FALSE")):
        return text
    if len(text) <= _FORMULA_TEXT_LIMIT and "\n" not in text and "\r" not in text:
        return '="' + text.replace('"', '""') + '"'
    # Too long or broken over lines for a formula's text: a ' keeps a formula sign from
    # being run (Excel shows the ', which is better than running it).
    return "'" + text if text.startswith(_FORMULA_START) else text


def unwritable_code(code: str, path: Path, error: OSError) -> str:
    """``code``, or its ``-in-use`` form for a file that is there but may not be written: on
    Windows, what a file open in Excel or WPS answers (the clerk has last run's report open
    while fixing the rows it names), which "Permission denied" alone does not tell."""
    return f"{code}-in-use" if isinstance(error, PermissionError) and path.is_file() else code


#: Wide enough for an 18-digit ID number, a field name, a code and a sentence or two.
_COLUMN_WIDTHS = {
    "row": 8,
    "primary_key": 22,
    "field": 18,
    "code": 26,
    "message": 100,
    "value": 22,
    "severity": 10,
}
_LAST_COLUMN = chr(ord("A") + len(REPORT_COLUMNS) - 1)


def _lay_out(sheet: Any) -> None:
    """The header row in bold, staying in place while the clerk scrolls, and columns wide
    enough to read: at Excel's default width an ID number showed as 3301021985… and the
    message as its first few words."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for index, name in enumerate(REPORT_COLUMNS, 1):
        sheet.column_dimensions[get_column_letter(index)].width = _COLUMN_WIDTHS[name]
    sheet.freeze_panes = "A2"
    header = []
    for name in REPORT_COLUMNS:
        cell = WriteOnlyCell(sheet, name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    # Keep IDs as text in the XLSX so that Excel does not turn them into numbers again.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, str(value))
    # openpyxl stores a text beginning with = as a formula, which Excel would run: the
    # export's text (a record ID "=1+1", a planted =HYPERLINK) is shown as it is instead.
    cell.data_type = "s"
    return cell
