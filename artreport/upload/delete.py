"""Deleting records from the platform: the query parameters each record type's table asks for."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreport.client.answers import Answer, Outcome, affected_rows, firewall_block
from artreport.errors import ArtreportError, InputError, UsageError
from artreport.readers import Notice, open_table
from artreport.readers.table import row_list
from artreport.schema import RecordType
from artreport.validation.problems import CellError
from artreport.validation.values import BLANK, value_reader

CYCLE_PARAM = "cycleid"
_SEVERAL_SHEETS = frozenset({"sheet-read", "sheet-chosen-by-header"})
#: The reader's notice of hidden rows, which speaks of sending them: delete says its own.
_HIDDEN_READ = "hidden-rows-read"
#: The platform's answer to deleting a record it does not hold.
NOT_FOUND = 40006
#: Deletes in a row a firewall blocks that stop the run: one record's ID may set off a rule,
#: but a firewall blocking every delete (a path it closes, an address it bans) is not gone
#: through record by record.
BLOCKS_IN_A_ROW_TO_STOP = 3


@dataclass(frozen=True)
class DeleteTarget:
    params: dict[str, str]
    row: int | None = None

    def key(self, record_type: RecordType) -> str:
        return self.params[record_type.primary_key]


@dataclass(frozen=True)
class DeleteResult:
    target: DeleteTarget
    answer: Answer

    @property
    def deleted(self) -> bool:
        succeeded = self.answer.outcome is Outcome.SUCCESS and not self.none_deleted
        return succeeded or self.deleted_by_lost_copy

    @property
    def blocked(self) -> bool:
        """A firewall in front of the platform blocked this delete, while letting others
        through: the platform never saw it."""
        return self.answer.outcome is Outcome.BLOCKED

    @property
    def none_deleted(self) -> bool:
        """Success, with a count of 0 records deleted: a platform that says "not found" so.
        ``false`` is that count too: MyBatis-Plus's ``removeById`` answers whether any row went."""
        if self.answer.outcome is not Outcome.SUCCESS:
            return False
        return self.answer.data is False or affected_rows(self.answer.data) == 0

    @property
    def deleted_by_lost_copy(self) -> bool:
        """ "Not found" to a copy sent again after the first copy's answer was lost: the first
        copy, which got as far as the platform, is what deleted the record."""
        return self._absent and self.answer.lost_answers > 0

    @property
    def not_found(self) -> bool:
        return self._absent and not self.deleted_by_lost_copy

    @property
    def _absent(self) -> bool:
        return self.answer.code == NOT_FOUND or self.none_deleted


def needs_cycleid(record_type: RecordType) -> bool:
    return CYCLE_PARAM in record_type.delete_params and record_type.primary_key != CYCLE_PARAM


def check_cycleid_option(record_type: RecordType, key: str, cycleid: str | None) -> None:
    """Refuse a --cycleid that the type's delete does not send: deleting cannot be undone, and
    a cycle ID that is not sent checks nothing, while one that disagrees with a cycle's own
    --id leaves which record was meant to a guess."""
    if not cycleid or needs_cycleid(record_type):
        return
    label = f"{record_type.label} ({record_type.name})"
    if record_type.primary_key != CYCLE_PARAM:
        raise UsageError("delete-cycleid-unused", type=label)
    if _as_pushed(record_type, CYCLE_PARAM, cycleid) != _as_pushed(record_type, CYCLE_PARAM, key):
        raise UsageError("delete-cycleid-differs", type=label)


def target_for(
    record_type: RecordType, key: str, orgid: str, cycleid: str | None, row: int | None = None
) -> DeleteTarget:
    # As push reads them: a 身份证号 typed with a small x or in groups names the record that
    # push stored in its one form.
    key = _as_pushed(record_type, record_type.primary_key, key)
    params = {record_type.primary_key: key, "orgid": orgid}
    if needs_cycleid(record_type):
        if not cycleid:
            label = f"{record_type.label} ({record_type.name})"
            if row is None:
                raise UsageError("delete-needs-cycleid", type=label)
            raise UsageError("delete-file-needs-cycleid", type=label, row=row)
        params[CYCLE_PARAM] = _as_pushed(record_type, CYCLE_PARAM, cycleid)
    missing = [p for p in record_type.delete_params if p not in params]
    if missing:
        raise UsageError("delete-missing-params", params=", ".join(missing))
    return DeleteTarget(params, row)


def _as_pushed(record_type: RecordType, name: str, text: str) -> str:
    try:
        value = value_reader(record_type.field(name))(text)
    except CellError as error:
        raise UsageError("delete-bad-id", field=name, problem=error.code) from None
    return text if value is BLANK else str(value)


def targets_from_file(
    record_type: RecordType,
    path: str | Path,
    orgid: str,
    notices: list[Notice] | None = None,
    sheet: str | None = None,
    hidden: list[int] | None = None,
) -> Iterator[DeleteTarget]:
    """One target per row of a CSV/Excel/JSON file naming the records (by API name or label).
    What the reader did on the way (which sheet it read, rows it skipped) goes to *notices*:
    before records are deleted, the user must be able to see where they were read from.

    Rows hidden in the sheet delete nothing; their numbers go to *hidden*. A clerk filters
    the sheet to show the rows to delete, and deleting cannot be undone."""
    key_field = record_type.field(record_type.primary_key)
    wanted = [key_field] + ([record_type.field(CYCLE_PARAM)] if needs_cycleid(record_type) else [])

    def known(header: str) -> bool:
        # Any field of the type counts: a full export has far more columns than these two.
        return record_type.match_header(header) is not None

    def missing(headers: list[str]) -> tuple[bool, int]:
        named = {record_type.match_header(header) for header in headers}
        return key_field not in named, sum(1 for f in wanted if f not in named)

    with open_table(path, sheet=sheet, is_known_header=known, missing_columns=missing) as table:
        several = [n for n in table.notices if n.code in _SEVERAL_SHEETS]
        if sheet is None and several:
            # Deleting is not undone: a workbook of several sheets must say which one lists
            # the records. Another sheet may name the same IDs, as references (a sheet of
            # cycles names their patient files), and every one of them would be deleted.
            raise UsageError("delete-file-several-sheets", path=str(path), sheet=table.sheet)
        columns: dict[str, int] = {}
        for index, header in enumerate(table.headers):
            found = record_type.match_header(header)
            if found in wanted and found.name not in columns:  # type: ignore[union-attr]
                columns[found.name] = index  # type: ignore[union-attr]
        if key_field.name not in columns:
            raise InputError("delete-file-lacks-column", path=str(path), column=key_field.label)
        doubles = table.format in ("xlsx", "xls", "ods")
        readers = {
            name: value_reader(record_type.field(name), numbers_are_doubles=doubles)
            for name in columns
        }
        count = 0
        without_key: list[int] = []
        unusable: list[int] = []
        left_hidden: list[int] = []
        for row_number, cells in table.rows():
            if row_number in table.hidden_rows:
                # Whatever else is wrong with it, it deletes nothing.
                table.row_problems.pop(row_number, None)
                left_hidden.append(row_number)
                continue
            if table.row_problems.pop(row_number, None):
                # What push would refuse (a row below the totals, a row whose columns
                # shifted) deletes nothing either: its ID may not be what it seems.
                unusable.append(row_number)
                continue
            values: dict[str, Any] = {}
            for name, index in columns.items():
                try:
                    value = readers[name](cells[index])
                except CellError as error:
                    raise InputError(
                        "delete-file-bad-cell",
                        path=str(path),
                        row=row_number,
                        field=name,
                        problem=error.code,
                    ) from None
                values[name] = None if value is BLANK else value
            if values[key_field.name] is None:
                without_key.append(row_number)
                continue
            count += 1
            yield target_for(
                record_type, values[key_field.name], orgid, values.get(CYCLE_PARAM), row_number
            )
        if hidden is not None:
            hidden.extend(left_hidden)
        if notices is not None:
            notices.extend(n for n in table.notices if n.code != _HIDDEN_READ)
            if left_hidden:
                params = {"count": len(left_hidden), "rows": row_list(left_hidden)}
                notices.append(Notice("delete-rows-hidden", left_hidden[0], params))
            if unusable:
                params = {"count": len(unusable), "rows": row_list(unusable)}
                notices.append(Notice("delete-rows-unusable", unusable[0], params))
            if without_key:
                # A listing with gaps may be the wrong column or a damaged export: the clerk
                # must see that these rows deleted nothing before confirming the rest.
                params = {
                    "count": len(without_key),
                    "rows": row_list(without_key),
                    "label": key_field.label,
                }
                notices.append(Notice("delete-rows-without-id", without_key[0], params))
        if count == 0:
            if left_hidden:
                rows = row_list(left_hidden)
                raise InputError("delete-file-all-hidden", path=str(path), rows=rows)
            raise InputError("input-no-rows", path=str(path))


def delete_all(
    delete: Callable[[dict[str, str]], Answer],
    targets: Iterable[DeleteTarget],
) -> Iterator[DeleteResult]:
    """Delete each target in turn. A delete a firewall blocks (its page in the platform's
    place) is that record's failure once another delete gets through; until then it is held
    back, and if none does, or ``BLOCKS_IN_A_ROW_TO_STOP`` are blocked in a row, the firewall's
    error ends the run as any unreachable platform does, the held ones blamed on no record."""
    held: list[DeleteResult] = []
    first_block: ArtreportError | None = None
    got_through = False
    for target in targets:
        try:
            answer = delete(target.params)
        except ArtreportError as error:
            blocked = firewall_block(error)
            if blocked is None:
                raise
            held.append(DeleteResult(target, blocked))
            first_block = first_block or error
            if len(held) >= BLOCKS_IN_A_ROW_TO_STOP:
                raise first_block from None
            continue
        got_through = True
        yield from held
        held.clear()
        first_block = None
        yield DeleteResult(target, answer)
    if first_block is not None and not got_through:
        raise first_block
    yield from held
