"""JSON: a top-level array of objects, or JSON Lines (one object per line).

Hospital systems' web APIs, and the platform itself, wrap the array in an envelope
(``{"code": 0, "total": 30, "data": [...]}``, or ``{"data": {"list": [...]}}`` when paged): the
records are read from the one array of objects the envelope holds, or, of several, from the
one under a name such APIs give it (:data:`RECORD_MEMBERS`), with a notice naming it.

The headers are the keys in the order they are first met over all the records, so a key
that only appears late still gets its column; a record without a key has ``None`` there,
as if it had said ``null``. Values come through as JSON gave them, nested ones included,
for the validator to judge.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from artreport.errors import InputError
from artreport.readers.encoding import MARK, MARK_ERRORS, choose_encoding
from artreport.readers.table import Notice, Row, Table


def open_json(
    path: Path, *, encoding: str | None, notices: list[Notice]
) -> JsonTable | JsonLinesTable:
    """A JSON array, loaded whole: its row numbers are 1-based positions in the array."""
    data = path.read_bytes()
    codec = choose_encoding(io.BytesIO(data), encoding)
    text = data.decode(codec, errors=MARK_ERRORS)
    bad = text.find(MARK)
    if bad >= 0:
        line = text.count("\n", 0, bad) + 1
        raise InputError("input-encoding", row=line, encoding=codec)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data" and text.lstrip().startswith("{"):
            # One object, then more: JSON Lines under a .json name, as some systems write it.
            return open_json_lines(path, encoding=codec, notices=notices)
        raise InputError("input-bad-json", row=error.lineno, reason=error.msg) from None
    if isinstance(value, dict):
        value = _unwrapped(value, notices)
    elif not isinstance(value, list):
        raise InputError("input-json-not-array")
    records = list(enumerate(value, 1))
    headers = _headers(records)
    if not headers:
        raise InputError("input-empty", path=str(path))
    return JsonTable(path, headers, codec, notices, records)


def open_json_lines(path: Path, *, encoding: str | None, notices: list[Notice]) -> JsonLinesTable:
    """JSON Lines, read twice: once for the keys, once for the rows. Row numbers are line
    numbers; blank lines are skipped."""
    with path.open("rb") as raw:
        codec = choose_encoding(raw, encoding)
    text = path.open(encoding=codec, errors="strict", newline="")
    try:
        table = JsonLinesTable(path, text, codec, notices)
    except BaseException:
        text.close()
        raise
    return table


#: The names a web API gives the array of records in its answer's envelope, compared in any
#: case: what decides between several arrays.
RECORD_MEMBERS = frozenset(
    {
        "data",
        "datas",
        "datalist",
        "rows",
        "records",
        "list",
        "items",
        "result",
        "results",
        "content",
    }
)

#: How deep in an envelope the records are looked for: ``data.list`` is two members down.
_ENVELOPE_DEPTH = 2

#: Members named in a message about an envelope, at most.
_MEMBERS_SHOWN = 10


def _unwrapped(envelope: dict[str, Any], notices: list[Notice]) -> list[Any]:
    """The records of a JSON object that wraps them, told in a notice; refused when which
    array holds them cannot be told."""
    arrays = list(_arrays(envelope, ()))
    if len(arrays) > 1:
        arrays = [(path, items) for path, items in arrays if path[-1].casefold() in RECORD_MEMBERS]
    if len(arrays) == 1:
        path, items = arrays[0]
        member = ".".join(path)
        notices.append(
            Notice("json-records-in-member", None, {"member": member, "count": len(items)})
        )
        return items
    candidates = [".".join(path) for path, _ in _arrays(envelope, ())]
    if candidates:
        raise InputError("input-json-records-ambiguous", members=_listed(candidates))
    raise InputError("input-json-no-records", members=_listed(list(envelope)))


def _arrays(
    value: dict[str, Any], path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], list[Any]]]:
    """The arrays that may hold records, by their path of members: empty ones too (an export
    of no rows), not those of plain values (``"ids": [1, 2]``)."""
    for key, member in value.items():
        inner = (*path, str(key))
        if isinstance(member, list):
            if not member or any(isinstance(item, dict) for item in member):
                yield inner, member
        elif isinstance(member, dict) and len(inner) < _ENVELOPE_DEPTH:
            yield from _arrays(member, inner)


def _listed(names: list[str]) -> str:
    shown = "、".join(names[:_MEMBERS_SHOWN])
    return shown + ("…" if len(names) > _MEMBERS_SHOWN else "")


def _headers(records: Iterable[tuple[int, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for number, record in records:
        if not isinstance(record, dict):
            raise InputError("input-json-not-object", row=number)
        keys.update(dict.fromkeys(record))
    return list(keys)


def _cells(record: dict[str, Any], headers: list[str]) -> list[Any] | None:
    """The record's values in header order, or None if they are all blank."""
    cells = [record.get(key) for key in headers]
    if all(cell is None or cell == "" for cell in cells):
        return None
    return cells


class JsonTable(Table):
    def __init__(
        self,
        path: Path,
        headers: list[str],
        codec: str,
        notices: list[Notice],
        records: list[tuple[int, Any]],
    ) -> None:
        super().__init__(path, "json", headers, 0, encoding=codec, notices=notices)
        self._records = records

    def _rows(self) -> Iterator[Row]:
        for number, record in self._records:
            cells = _cells(record, self.headers)
            if cells is not None:
                yield number, cells

    def close(self) -> None:
        """Nothing to release: the array was read whole when the table was opened."""


class JsonLinesTable(Table):
    def __init__(
        self, path: Path, text: io.TextIOWrapper, codec: str, notices: list[Notice]
    ) -> None:
        self._text = text
        super().__init__(path, "jsonl", [], 0, encoding=codec, notices=notices)
        self.headers = _headers(self._records())
        if not self.headers:
            raise InputError("input-empty", path=str(path))

    def _records(self) -> Iterator[tuple[int, Any]]:
        self._text.seek(0)
        try:
            for number, line in enumerate(self._text, 1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as error:
                    raise InputError("input-bad-json", row=number, reason=error.msg) from None
        except UnicodeDecodeError:
            raise InputError(
                "input-encoding", row=self._first_bad_line(), encoding=self.encoding
            ) from None

    def _first_bad_line(self) -> int:
        # The stream decodes ahead in blocks; find the line that holds the bad bytes.
        number = 0
        with self.path.open(encoding=self.encoding, errors=MARK_ERRORS, newline="") as text:
            for number, line in enumerate(text, 1):
                if MARK in line:
                    return number
        return number

    def _rows(self) -> Iterator[Row]:
        for number, record in self._records():
            cells = _cells(record, self.headers)
            if cells is not None:
                yield number, cells

    def close(self) -> None:
        self._text.close()
