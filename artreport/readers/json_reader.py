"""JSON: a top-level array of objects, or JSON Lines (one object per line).

Hospital systems' web APIs, and the platform itself, wrap the array in an envelope
(``{"code": 0, "total": 30, "data": [...]}``, or ``{"data": {"list": [...]}}`` when paged): the
records are read from the one array of objects the envelope holds, or, of several, from the
one under a name such APIs give it (:data:`RECORD_MEMBERS`), with a notice naming it.

The headers are the keys in the order they are first met over all the records, so a key
that only appears late still gets its column; a record without a key has ``None`` there,
as if it had said ``null``. Values come through as JSON gave them, for the validator to judge.

A record may group some of its fields in an object (``"counts": {"twopnnum": 5, ...}``).
When the caller's columns are known, such an object's keys that name a column are read as
columns of their own, with a notice, unless another key of the record, or of another such
object, has the same name: which of the two is meant cannot be told, so that key keeps its
object's name before it (``counts.cycleid``) and is no column the caller knows. An object
naming no column, or under a key that is a column itself, stays one cell.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from artreport.errors import InputError
from artreport.messages import Listing
from artreport.readers.encoding import MARK, MARK_ERRORS, choose_encoding
from artreport.readers.table import Notice, Row, Table


def open_json(
    path: Path,
    *,
    encoding: str | None,
    notices: list[Notice],
    is_known_header: Callable[[str], bool] | None = None,
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
            return open_json_lines(
                path, encoding=codec, notices=notices, is_known_header=is_known_header
            )
        raise InputError("input-bad-json", row=error.lineno, reason=error.msg) from None
    except (RecursionError, ValueError):
        # Nesting deeper than Python recurses, or a number of thousands of digits: JSON no
        # export writes, said as such rather than as an internal error.
        raise InputError("input-json-beyond-limits", path=str(path)) from None
    # The objects around the records: the envelope's, on the way to its array.
    enclosing = 0
    if isinstance(value, dict):
        value, enclosing = _unwrapped(value, notices)
    elif not isinstance(value, list):
        raise InputError("input-json-not-array")
    records = list(enumerate(value, 1))
    # A "{" beyond each record's own and the envelope's opens an object inside a record, or
    # stands in some text.
    may_nest = text.count("{") > len(records) + enclosing
    columns = _Columns(lambda: records, lambda: may_nest, is_known_header, notices)
    if not columns.headers:
        raise InputError("input-empty", path=str(path))
    table = JsonTable(path, columns, codec, notices, records)
    table.may_hold_surrogates = _SURROGATE_ESCAPE.search(text) is not None
    return table


def open_json_lines(
    path: Path,
    *,
    encoding: str | None,
    notices: list[Notice],
    is_known_header: Callable[[str], bool] | None = None,
) -> JsonLinesTable:
    """JSON Lines, read twice: once for the keys, once for the rows. Row numbers are line
    numbers; blank lines are skipped."""
    with path.open("rb") as raw:
        codec = choose_encoding(raw, encoding)
    text = path.open(encoding=codec, errors="strict", newline="")
    try:
        table = JsonLinesTable(path, text, codec, notices, is_known_header)
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


def _unwrapped(envelope: dict[str, Any], notices: list[Notice]) -> tuple[list[Any], int]:
    """The records of a JSON object that wraps them, told in a notice, and how many objects
    enclose them; refused when which array holds them cannot be told."""
    arrays = list(_arrays(envelope, ()))
    if len(arrays) > 1:
        arrays = [(path, items) for path, items in arrays if path[-1].casefold() in RECORD_MEMBERS]
    if len(arrays) == 1:
        path, items = arrays[0]
        member = ".".join(path)
        notices.append(
            Notice("json-records-in-member", None, {"member": member, "count": len(items)})
        )
        return items, len(path)
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


def _listed(names: list[str]) -> Listing:
    return Listing([*names[:_MEMBERS_SHOWN], *(["…"] if len(names) > _MEMBERS_SHOWN else [])])


class _Columns:
    """The columns of a file's records: their headers, and where each cell is found in a
    record (a key, or a key of the object under a key)."""

    def __init__(
        self,
        records: Callable[[], Iterable[tuple[int, Any]]],
        may_nest: Callable[[], bool],
        is_known_header: Callable[[str], bool] | None,
        notices: list[Notice],
    ) -> None:
        """``records`` reads the records from the start; ``may_nest`` tells, while they are
        read, whether the one at hand may hold an object: looking into every value costs the
        header pass three times what it costs otherwise, for what few files hold."""
        keys: dict[str, None] = {}
        # The keys under each key holding an object.
        inner: dict[str, dict[str, None]] = {}
        for number, record in records():
            if not isinstance(record, dict):
                raise InputError("input-json-not-object", row=number)
            keys.update(dict.fromkeys(record))
            if is_known_header is not None and may_nest():
                for key, value in record.items():
                    if isinstance(value, dict):
                        inner.setdefault(key, {}).update(dict.fromkeys(value))
        known = is_known_header or (lambda _: False)
        groups = {
            key: list(names)
            for key, names in inner.items()
            if not known(key) and any(map(known, names))
        }
        if groups:
            # A key holding an object in one record and a value in another is one column.
            for _, record in records():
                for key in [key for key in groups if _is_value(record.get(key))]:
                    del groups[key]
        # A name met twice (at the top, or in two objects) is told apart by its object's name.
        seen = [name.casefold() for name in keys]
        seen += [name.casefold() for names in groups.values() for name in names]
        twice = {name for name in seen if seen.count(name) > 1}
        self.headers: list[str] = []
        self.paths: list[tuple[str, str | None]] = []
        for key in keys:
            if key not in groups:
                self.headers.append(key)
                self.paths.append((key, None))
                continue
            read = []
            for name in groups[key]:
                alone = known(name) and name.casefold() not in twice
                self.headers.append(name if alone else f"{key}.{name}")
                self.paths.append((key, name))
                if alone:
                    read.append(name)
            if read:
                params = {"member": key, "columns": Listing(read), "count": len(read)}
                notices.append(Notice("json-nested-read", None, params))
        self._nested = bool(groups)

    def cells(self, record: dict[str, Any]) -> list[Any] | None:
        """The record's values in header order, or None if they are all blank."""
        if self._nested:
            cells = [
                record.get(key) if name is None else _inner(record.get(key), name)
                for key, name in self.paths
            ]
        else:
            cells = [record.get(key) for key in self.headers]
        if all(cell is None or cell == "" for cell in cells):
            return None
        return cells


def _is_value(value: Any) -> bool:
    return value is not None and not isinstance(value, dict)


def _inner(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None


#: A \\uD800–\\uDFFF escape: JSON may write half of a character so, which no UTF-8 can
#: send; only a file that holds one has its cells looked into.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _refusing_lone_surrogates(table: Table, number: int, cells: list[Any]) -> list[Any]:
    """The row's cells, with half-characters shown as �, and the row refused: sent, the row
    would break the push's encoding; kept, no report could be written with it."""
    bad = [
        index
        for index, cell in enumerate(cells)
        if isinstance(cell, str) and _LONE_SURROGATE.search(cell)
    ]
    if not bad:
        return cells
    cells = list(cells)
    for index in bad:
        cells[index] = _LONE_SURROGATE.sub("\ufffd", cells[index])
    column = table.headers[bad[0]] if bad[0] < len(table.headers) else ""
    table.row_problems.setdefault(number, []).append(("json-half-character", {"column": column}))
    return cells


class JsonTable(Table):
    def __init__(
        self,
        path: Path,
        columns: _Columns,
        codec: str,
        notices: list[Notice],
        records: list[tuple[int, Any]],
    ) -> None:
        super().__init__(path, "json", columns.headers, 0, encoding=codec, notices=notices)
        self._columns = columns
        self._records = records
        self.may_hold_surrogates = False

    def _rows(self) -> Iterator[Row]:
        for number, record in self._records:
            cells = self._columns.cells(record)
            if cells is not None:
                if self.may_hold_surrogates:
                    cells = _refusing_lone_surrogates(self, number, cells)
                yield number, cells

    def close(self) -> None:
        """Nothing to release: the array was read whole when the table was opened."""


class JsonLinesTable(Table):
    def __init__(
        self,
        path: Path,
        text: io.TextIOWrapper,
        codec: str,
        notices: list[Notice],
        is_known_header: Callable[[str], bool] | None,
    ) -> None:
        self._text = text
        self._nested_line = False
        self._surrogate_line = False
        super().__init__(path, "jsonl", [], 0, encoding=codec, notices=notices)
        self._columns = _Columns(self._records, lambda: self._nested_line, is_known_header, notices)
        self.headers = self._columns.headers
        if not self.headers:
            raise InputError("input-empty", path=str(path))

    def _records(self) -> Iterator[tuple[int, Any]]:
        self._text.seek(0)
        try:
            for number, line in enumerate(self._text, 1):
                if not line.strip():
                    continue
                # One object a line; any more, and this record may hold one.
                self._nested_line = line.count("{") > 1
                self._surrogate_line = "\\u" in line and bool(_SURROGATE_ESCAPE.search(line))
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as error:
                    raise InputError("input-bad-json", row=number, reason=error.msg) from None
                except (RecursionError, ValueError):
                    raise InputError("input-json-beyond-limits", path=str(self.path)) from None
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
            cells = self._columns.cells(record)
            if cells is not None:
                if self._surrogate_line:
                    cells = _refusing_lone_surrogates(self, number, cells)
                yield number, cells

    def close(self) -> None:
        self._text.close()
