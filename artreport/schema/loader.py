"""Reads the record-type YAML files into a :class:`Schema`, checking them as it goes."""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources
from pathlib import Path
from typing import Any

from artreport import yamlload
from artreport.schema.model import (
    FIELD_TYPES,
    PII_KINDS,
    Field,
    RecordType,
    Schema,
    header_key,
    label_key,
)

_FIELD_KEYS = {
    "name",
    "label",
    "type",
    "required",
    "dict",
    "codes",
    "aliases",
    "pii",
    "description",
}
_INT32 = range(-(2**31), 2**31)
_TYPE_KEYS = {
    "name",
    "label",
    "aliases",
    "resource",
    "primary_key",
    "delete_params",
    "fields",
    "order",
    "one_of_required",
    "sanity",
}
_SANITY_KEYS = {"date_order", "ranges"}


class SchemaFileError(ValueError):
    """A record-type file is malformed: a packaging bug, or a bad edit by whoever extends it."""


def _field(source: str, raw: dict[str, Any]) -> Field:
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise SchemaFileError(f"{source}: field {raw.get('name')!r} has unknown keys {unknown}")
    if raw.get("type") not in FIELD_TYPES:
        raise SchemaFileError(f"{source}: field {raw.get('name')!r} has type {raw.get('type')!r}")
    if raw.get("pii") not in (None, *PII_KINDS):
        raise SchemaFileError(f"{source}: field {raw.get('name')!r} has pii {raw.get('pii')!r}")
    return Field(
        name=str(raw["name"]),
        label=str(raw.get("label") or raw["name"]),
        type=raw["type"],
        required=bool(raw.get("required", False)),
        dict=bool(raw.get("dict", False)),
        aliases=tuple(str(a) for a in raw.get("aliases") or ()),
        pii=raw.get("pii"),
        description=str(raw.get("description") or ""),
        codes=_codes(source, raw),
    )


def _codes(source: str, raw: dict[str, Any]) -> tuple[tuple[int, str], ...]:
    """A field's fixed codes, ``{1: 是, 2: 否}`` in its file."""
    codes = raw.get("codes")
    if codes is None:
        return ()
    name = raw.get("name")
    if raw.get("type") != "integer" or raw.get("dict"):
        # A dict field's codes come from the hospital's config; two sources could disagree.
        raise SchemaFileError(f"{source}: field {name!r} has codes but is not a plain integer")
    if not isinstance(codes, dict) or not codes:
        raise SchemaFileError(f"{source}: field {name!r} has codes that are not a mapping")
    for code, label in codes.items():
        # YAML reads an unquoted yes/no label as a boolean, and a boolean is also an int.
        if not isinstance(code, int) or isinstance(code, bool) or code not in _INT32:
            raise SchemaFileError(f"{source}: field {name!r} has the code {code!r}")
        if not isinstance(label, str) or not label.strip():
            raise SchemaFileError(f"{source}: field {name!r} has the label {label!r}")
    if len({label_key(label) for label in codes.values()}) != len(codes):
        # A cell holding the label must name one code.
        raise SchemaFileError(f"{source}: field {name!r} gives two codes one label")
    return tuple((code, label.strip()) for code, label in codes.items())


def _record_type(source: str, raw: dict[str, Any]) -> RecordType:
    unknown = set(raw) - _TYPE_KEYS
    if unknown:
        raise SchemaFileError(f"{source}: unknown keys {unknown}")
    fields = tuple(_field(source, f) for f in raw.get("fields") or ())
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise SchemaFileError(f"{source}: a field name appears twice")
    record_type = RecordType(
        name=str(raw["name"]),
        label=str(raw["label"]),
        resource=str(raw["resource"]),
        primary_key=str(raw["primary_key"]),
        delete_params=tuple(raw.get("delete_params") or ()),
        fields=fields,
        aliases=tuple(str(a) for a in raw.get("aliases") or ()),
        one_of_required=tuple(tuple(group) for group in raw.get("one_of_required") or ()),
        **_sanity(source, raw.get("sanity") or {}),
    )
    named = (record_type.primary_key, *(n for group in record_type.one_of_required for n in group))
    for name in named:
        if not record_type.has_field(name):
            raise SchemaFileError(f"{source}: {name!r} is not a field of {record_type.name}")
    _check_sanity(source, record_type)
    return record_type


def _sanity(source: str, raw: dict[str, Any]) -> dict[str, Any]:
    unknown = set(raw) - _SANITY_KEYS
    if unknown:
        raise SchemaFileError(f"{source}: sanity has unknown keys {unknown}")
    try:
        date_order = tuple((str(a), str(b)) for a, b in raw.get("date_order") or ())
        ranges = tuple(
            (str(name), _bound(low), _bound(high))
            for name, (low, high) in (raw.get("ranges") or {}).items()
        )
    except (TypeError, ValueError):
        raise SchemaFileError(f"{source}: sanity is malformed") from None
    return {"date_order": date_order, "ranges": ranges}


def _bound(value: Any) -> float:
    # Kept whole when it is, so that the warning reads 15–60, not 15.0–60.0.
    number = float(value)
    return int(number) if number.is_integer() else number


def _check_sanity(source: str, record_type: RecordType) -> None:
    def typed(name: str, types: tuple[str, ...]) -> None:
        if not record_type.has_field(name) or record_type.field(name).type not in types:
            raise SchemaFileError(f"{source}: sanity names {name!r}, not a {'/'.join(types)}")

    for pair in record_type.date_order:
        for name in pair:
            typed(name, ("date", "datetime"))
    for name, low, high in record_type.ranges:
        typed(name, ("integer", "number"))
        if not low < high:
            raise SchemaFileError(f"{source}: sanity range of {name!r} is empty")
        for unit, times in record_type.field(name).smaller_units:
            # A value in both ranges could not be called the one or the other.
            if low * times <= high:
                raise SchemaFileError(f"{source}: sanity range of {name!r} meets its {unit} one")


def _order(raw: dict[str, Any]) -> int:
    return int(raw.get("order", 1000))


def load_schema_from(directory: Path) -> Schema:
    raws = []
    for path in sorted(directory.glob("*.yaml")):
        raw = yamlload.safe_load(path.read_text(encoding="utf-8"))
        raws.append((path.name, raw))
    raws.sort(key=lambda item: (_order(item[1]), item[0]))
    record_types = [_record_type(name, raw) for name, raw in raws]
    _check_names(record_types)
    keys = {t.primary_key for t in record_types}
    return Schema(tuple(_with_identifiers(t, keys) for t in record_types))


def _check_names(record_types: list[RecordType]) -> None:
    """A name the user may give a type names that type only: ``供精`` cannot be two."""
    owners: dict[str, str] = {}
    for record_type in record_types:
        for name in record_type.names:
            owner = owners.setdefault(header_key(name), record_type.name)
            if owner != record_type.name:
                raise SchemaFileError(f"{name!r} names both {owner} and {record_type.name}")


def _with_identifiers(record_type: RecordType, keys: set[str]) -> RecordType:
    """Mark the text fields that hold some record type's key: its own, or a reference to
    another's (an ovum row's ``cycleid``)."""
    fields = tuple(
        dataclasses.replace(f, identifier=True) if f.name in keys and f.type == "string" else f
        for f in record_type.fields
    )
    return dataclasses.replace(record_type, fields=fields)


@functools.cache
def load_schema() -> Schema:
    """The record types shipped with artreport."""
    with resources.as_file(resources.files("artreport.schema")) as directory:
        return load_schema_from(Path(directory))
