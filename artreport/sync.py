"""``sync``: every export in a folder, checked first, then pushed in the order the platform
needs (a cycle refers to a patient file, a transfer to a cycle).

Files are matched to record types by name patterns; a file that several patterns match goes to
the most specific one (``thawdet_2024.csv`` is a thaw detail, not a thaw), and the spreadsheet
program's lock files (``~$…``) and artreport's own templates are ignored.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from artreport.errors import ArtreportError, InputError
from artreport.readers import EXTENSIONS, Notice
from artreport.schema import RecordType, Schema
from artreport.validation import Problem, ValidateOptions, open_validation
from artreport.validation.problems import WORDING, Wording

#: Record types referred to by others, and the field that refers to them.
REFERENCES: Mapping[str, tuple[str, str]] = {
    # referring field: (record type referred to, its key)
    "informationid": ("information", "informationid"),
    "cycleid": ("cycle", "cycleid"),
    "thawid": ("thaw", "thawid"),
}
#: A record type whose row count falls below this share of the last run's gets a warning.
SHRINK_WARNING = 0.5

CROSS_FILE_UNKNOWN = "cross-file-unknown-reference"
#: A push's file refers to a record type of which the ledger knows no record accepted (a
#: notice: no problem of a row).
REFERENCES_UNCHECKED = "cross-file-references-unchecked"
#: A push's file refers to more unknown records of a type than are listed (a notice).
REFERENCES_MANY = "cross-file-references-many"
#: The unknown records of a type a push lists at most: a large export of records sent before
#: artreport would otherwise fill memory and the report with one warning per row.
LISTED_UNKNOWN = 1000
ROW_COUNT_FELL = "row-count-fell"


def default_patterns(record_type: RecordType) -> list[str]:
    return [f"{name}*" for name in dict.fromkeys(record_type.names)]


def _literal_length(pattern: str) -> int:
    return len(pattern.split("*", 1)[0].split("?", 1)[0])


def find_exports(
    directory: Path, schema: Schema, patterns: Mapping[str, list[str]] | None = None
) -> dict[str, list[Path]]:
    """The export files of ``directory`` by record type name, in file name order.
    ``patterns`` may name a type as any command does (``周期``: cycle)."""
    configured: dict[str, list[str]] = {}
    for type_name, type_patterns in (patterns or {}).items():
        found = schema.find(type_name)
        if found is not None:
            configured.setdefault(found.name, []).extend(type_patterns)
    chosen: dict[str, list[Path]] = {}
    for path in data_files(directory):
        name = path.name
        best: tuple[int, str] | None = None
        for record_type in schema:
            # Beside the type's own names, not instead: a hand export named cycle_….xlsx
            # dropped into a folder of HIS_zq_… files must not be ignored for the night.
            for pattern in default_patterns(record_type) + configured.get(record_type.name, []):
                if fnmatch.fnmatch(name.casefold(), pattern.casefold()):
                    candidate = (_literal_length(pattern), record_type.name)
                    if best is None or candidate[0] > best[0]:
                        best = candidate
        if best is not None:
            chosen.setdefault(best[1], []).append(path)
    return chosen


def data_files(directory: Path) -> list[Path]:
    """The files of ``directory`` artreport could read, in name order, less the spreadsheet
    program's lock files, hidden files and artreport's own templates."""
    return [
        path
        for path in sorted(directory.iterdir())
        if path.is_file()
        and not path.name.startswith(("~$", "."))
        and "_template." not in path.name
        and path.suffix.lower() in EXTENSIONS
    ]


def unmatched_files(directory: Path, exports: Mapping[str, list[Path]]) -> list[Path]:
    """Readable files that no record type's pattern took: a table a cron run would otherwise
    skip without a word, when the export's file name changed."""
    taken = {path for paths in exports.values() for path in paths}
    return [path for path in data_files(directory) if path not in taken]


def referring_fields(record_type: RecordType) -> list[str]:
    """The fields of ``record_type`` that refer to records of another type."""
    return [
        name
        for name in REFERENCES
        if record_type.has_field(name) and REFERENCES[name][0] != record_type.name
    ]


@dataclass
class FileCheck:
    record_type: str
    path: Path
    rows: int = 0
    invalid: int = 0
    keys: set[str] = field(default_factory=set)
    #: The record IDs of the file's invalid rows (those whose ID could be read), each with the
    #: first row that holds it.
    invalid_rows: dict[str, int] = field(default_factory=dict)
    #: field → id → the rows that refer to it, with their own record IDs.
    references: dict[str, dict[str, list[tuple[int, str | None]]]] = field(default_factory=dict)
    error: ArtreportError | None = None
    #: The file's size and modification time once checked, None if it could not be read.
    checked_state: tuple[int, int] | None = None

    def rows_not_superseded(self, superseded: Superseded | None) -> int:
        """The file's rows less those whose record a newer export of the run holds: what it
        adds to the night's count of its type's records."""
        if superseded is None:
            return self.rows
        return self.rows - len((self.keys | self.invalid_rows.keys()) & superseded.keys)

    def changed_since(self) -> InputError | None:
        """The error for a file that changed between its check and its push: one still being
        written, read in two pauses of its writer, each whole and unchanged while read, but
        neither the finished export. Sent, its last row may be cut; and what the run checked
        across files is not what it would send."""
        if self.checked_state is None or _state(self.path) == self.checked_state:
            return None
        return InputError("input-changed-while-read", path=str(self.path))


def _state(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None  # gone: its push says so
    return status.st_size, status.st_mtime_ns


def check_file(
    record_type: RecordType,
    path: Path,
    orgid: str | None,
    options: ValidateOptions | None = None,
) -> FileCheck:
    """Read a file once before anything is sent: its keys, the ids it refers to, its counts;
    *options* should be those the file is then pushed with, so that the counts agree."""
    found = FileCheck(record_type.name, path)
    referring = referring_fields(record_type)
    try:
        with open_validation(record_type, path, orgid=orgid, options=options) as v:
            for result in v.rows():
                found.rows += 1
                if not result.valid:
                    found.invalid += 1
                    if result.primary_key is not None:
                        found.invalid_rows.setdefault(result.primary_key, result.row)
                    continue
                if result.primary_key is not None:
                    found.keys.add(result.primary_key)
                for name in referring:
                    value = result.data.get(name)
                    if value is not None:
                        referring_rows = found.references.setdefault(name, {})
                        referring_rows.setdefault(str(value), []).append(
                            (result.row, result.primary_key)
                        )
    except ArtreportError as error:
        found.error = error
    else:
        found.checked_state = _state(path)
    return found


@dataclass(frozen=True)
class Superseded:
    """The record IDs of a file that newer exports of the same type in the run hold too."""

    keys: frozenset[str]
    newer: tuple[str, ...]  # the names of those files


def superseded_keys(checks: Iterable[FileCheck]) -> dict[Path, Superseded]:
    """For each file that shares record IDs with a newer file of its type (by modification
    time): those IDs, whose rows the newer file's version replaces.

    A folder where each night's export is added beside the last holds every record in several
    versions. Sent in name order, an older file could put back yesterday's values after
    today's, and each night both would differ from what the ledger recorded last and be sent
    again; sent from the newest file alone, the platform holds the newest version.

    A row gives way to any newer version, valid or not: an invalid older row, refused, would
    fail the run every night for a record that tonight's export holds; a valid older row sent
    while tonight's version is refused would put back the values tonight's export no longer
    has. Tonight's invalid row is listed in its own file's report.
    """
    by_type: dict[str, list[tuple[int, str, FileCheck]]] = {}
    for check in checks:
        try:
            modified = check.path.stat().st_mtime_ns
        except OSError:
            continue  # gone since it was checked: its push will say so
        by_type.setdefault(check.record_type, []).append((modified, check.path.name, check))
    found: dict[Path, Superseded] = {}
    for files in by_type.values():
        files.sort(key=lambda item: item[:2])
        for index, (_, _, check) in enumerate(files):
            keys: set[str] = set()
            newer: list[str] = []
            for _, name, later in files[index + 1 :]:
                shared = (check.keys | check.invalid_rows.keys()) & (
                    later.keys | later.invalid_rows.keys()
                )
                if shared:
                    keys |= shared
                    newer.append(name)
            if keys:
                found[check.path] = Superseded(frozenset(keys), tuple(newer))
    return found


def cross_file_problems(
    checks: Iterable[FileCheck],
    known_elsewhere: Mapping[str, set[str]],
    strict: bool,
    schema: Schema,
    superseded: Mapping[Path, Superseded] | None = None,
) -> dict[tuple[str, Path], list[Problem]]:
    """References to records that neither this run's files nor the ledger know, each named at
    the first row that makes it. Rows that a newer export replaces are not sent: what they
    refer to does not matter.

    A record that an invalid row of the run holds is named with that row: the clerk finds
    its ID in the file, and would not believe a message that says it is nowhere."""
    checks = list(checks)
    superseded = superseded or {}
    known: dict[str, set[str]] = {name: set(keys) for name, keys in known_elsewhere.items()}
    #: record type → ID → the file and row of an invalid row that holds it, not replaced.
    refused: dict[str, dict[str, tuple[str, int]]] = {}
    for check in checks:
        known.setdefault(check.record_type, set()).update(check.keys)
        replaced = superseded[check.path].keys if check.path in superseded else frozenset()
        held = refused.setdefault(check.record_type, {})
        for key, row in check.invalid_rows.items():
            if key not in replaced:
                held.setdefault(key, (check.path.name, row))
    problems: dict[tuple[str, Path], list[Problem]] = {}
    for check in checks:
        replaced = superseded[check.path].keys if check.path in superseded else frozenset()
        for name, ids in check.references.items():
            target, _key = REFERENCES[name]
            for value, referring in ids.items():
                rows = [row for row, key in referring if key not in replaced]
                if rows and value not in known.get(target, set()):
                    params: dict[str, Any] = {
                        "target": target,
                        "target_label": schema.get(target).label,
                        "label": schema.get(check.record_type).field(name).short_label,
                    }
                    holder = refused.get(target, {}).get(value)
                    if holder is not None:
                        params |= {
                            WORDING: Wording.CROSS_FILE_REFERENCE_INVALID,
                            "file": holder[0],
                            "target_row": holder[1],
                        }
                    problems.setdefault((check.record_type, check.path), []).append(
                        Problem(
                            CROSS_FILE_UNKNOWN,
                            row=rows[0],
                            field=name,
                            value=value,
                            severity="error" if strict else "warning",
                            params=params,
                        )
                    )
    return problems


@dataclass
class Unsent:
    """The counts of a file that a sync did not send, as a push would count them."""

    rows: int = 0
    invalid: int = 0
    superseded: int = 0
    not_sent: int = 0


class LedgerReferences:
    """The records a push's valid rows refer to that the ledger does not know the platform
    accepted: the check ``sync`` makes, for the file that a clerk sends type by type.

    A push has no other files of the run to look in, only the ledger. Records of a type of
    which the ledger knows nothing on this platform may have been reported before artreport
    was used, or by other means: rather than warn of each of their IDs, perhaps wrongly, the
    file is told once that its references to that type could not be checked.

    Fed a batch at a time as the push validates, so the file is read once.
    """

    def __init__(
        self, record_type: RecordType, schema: Schema, accepted: Callable[[str], set[str]]
    ) -> None:
        self.record_type = record_type
        self.schema = schema
        self.fields = referring_fields(record_type)
        #: Referring field → the accepted IDs of the type it refers to.
        self._known = {name: accepted(REFERENCES[name][0]) for name in self.fields}
        #: Referring field → each ID the ledger does not know → the first row referring to it,
        #: and that row's own record ID.
        self._unknown: dict[str, dict[str, tuple[int, str | None]]] = {
            name: {} for name in self.fields
        }
        #: The fields the file fills that refer to a type the ledger knows nothing of.
        self._unchecked: set[str] = set()
        #: The fields with more unknown IDs than LISTED_UNKNOWN.
        self._many: set[str] = set()

    def add(
        self, rows: list[int], keys: list[str | None], columns: Mapping[str, list[Any]]
    ) -> None:
        """Take a batch's valid rows, their record IDs and, by referring field, their values
        (in row order)."""
        for name, values in columns.items():
            known = self._known[name]
            if not known:
                if name not in self._unchecked and any(isinstance(v, str) for v in values):
                    self._unchecked.add(name)
                continue
            first = self._unknown[name]
            # Sets first: nearly every ID is known, and this is on the push's way.
            missing = {v for v in set(values).difference(known, first) if isinstance(v, str)}
            if not missing:
                continue
            for row, key, value in zip(rows, keys, values, strict=True):
                if value in missing and value not in first:
                    if len(first) == LISTED_UNKNOWN:
                        self._many.add(name)
                        break
                    first[value] = (row, key)

    def problems(self) -> list[Problem]:
        """A warning for each unknown ID, at the first row that refers to it."""
        found: list[Problem] = []
        for name in self.fields:
            params = self._params(name) | {WORDING: Wording.CROSS_FILE_REFERENCE_NEVER_SENT}
            found.extend(
                Problem(
                    CROSS_FILE_UNKNOWN,
                    row=row,
                    field=name,
                    value=value,
                    severity="warning",
                    primary_key=key,
                    params=params,
                )
                for value, (row, key) in self._unknown[name].items()
            )
        return sorted(found, key=lambda problem: problem.row or 0)

    def unchecked(self) -> list[str]:
        """The fields the file fills that refer to a type the ledger knows nothing of."""
        return [name for name in self.fields if name in self._unchecked]

    def notices(self) -> list[Notice]:
        """That each :meth:`unchecked` field could not be checked, and which fields refer to
        more unknown records than are listed: said about the run, not listed in the report
        as problems of the file's rows."""
        return [
            Notice(code, params=self._params(name) | {"field": name, "limit": LISTED_UNKNOWN})
            for name in self.fields
            for code, fields in (
                (REFERENCES_UNCHECKED, self._unchecked),
                (REFERENCES_MANY, self._many),
            )
            if name in fields
        ]

    def _params(self, name: str) -> dict[str, Any]:
        target = REFERENCES[name][0]
        return {
            "target": target,
            "target_label": self.schema.get(target).label,
            "label": self.record_type.field(name).short_label,
        }


def report_unsent(
    record_type: RecordType,
    path: Path,
    orgid: str | None,
    options: ValidateOptions,
    reason: Problem,
    report: Any,
    superseded: frozenset[str] = frozenset(),
) -> Unsent:
    """List in ``report`` every row of a file that a sync will not send: the problems of
    invalid rows, as a push would list them, and each valid row as ``reason``. The rows of
    the ``superseded`` keys are left to the newer export that holds them, as a push leaves
    them: counted, not listed."""
    counts = Unsent()
    with open_validation(record_type, path, orgid=orgid, options=options) as validation:
        report.add_all(validation.file_problems)
        for result in validation.rows():
            counts.rows += 1
            if result.primary_key is not None and result.primary_key in superseded:
                counts.superseded += 1
                if result.valid:
                    report.add_all(result.problems)  # its warnings, as a push lists them
                continue
            report.add_all(result.problems)
            if result.valid:
                counts.not_sent += 1
                report.add(replace(reason, row=result.row, primary_key=result.primary_key))
            else:
                counts.invalid += 1
    return counts


def worst_exit_code(codes: Iterable[int]) -> int:
    return max(codes, default=0)
