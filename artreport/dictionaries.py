"""Code tables (字典) for dictionary-coded fields: code → the Chinese label a clerk knows.

The config's ``dictionaries`` setting holds them inline or names a YAML or CSV file
(``field,code,label``) of them. A table is keyed by the field's API name, which applies it to
that field in every record type, or by ``type.field`` (``cycle.tstatus``) for one type only.
Each key is checked against the schema when the config is read, so a misspelt field name is
an error at once, not a table that silently checks nothing.

Fields whose codes the platform's text fixes (``临床妊娠 1是2否``) carry them in the schema
(``codes:``) instead; they are not ``dict`` fields, so no config can change them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from artreport import yamlload
from artreport.errors import ArtreportError, ConfigError
from artreport.messages import Listing
from artreport.schema import RecordType, load_schema
from artreport.schema.model import label_key

#: Code tables by ``field`` or ``type.field``: code → label.
Dictionaries = Mapping[str, Mapping[int, str]]

_SETTING = "dictionaries"
_CSV_COLUMNS = ("field", "code", "label")
_INT32 = range(-(2**31), 2**31)


def load_dictionaries(value: Any, folder: Path | None) -> dict[str, dict[int, str]]:
    """The config's ``dictionaries`` setting (a mapping, or a file path relative to *folder*,
    the config file's) as checked tables; ConfigError when anything is off."""
    if isinstance(value, str):
        path = Path(value).expanduser()
        if not path.is_absolute() and folder is not None:
            path = folder / path
        value = _read_file(path)
    if not isinstance(value, dict):
        raise ConfigError("config-bad-value", name=_SETTING, value="…")
    return {_checked_key(str(key)): _checked_table(str(key), table) for key, table in value.items()}


def tables_for(
    record_type: RecordType, dictionaries: Dictionaries | None
) -> dict[str, Mapping[int, str]]:
    """The tables that apply to *record_type*'s coded fields, by field name: the codes its
    schema fixes (``1是2否``), and the config's for ``dict`` fields, where a ``type.field``
    table wins over a ``field`` one."""
    tables: dict[str, Mapping[int, str]] = {}
    for field in record_type.fields:
        if field.codes:
            tables[field.name] = dict(field.codes)
        elif field.dict and dictionaries:
            table = dictionaries.get(f"{record_type.name}.{field.name}")
            if table is None:
                table = dictionaries.get(field.name)
            if table:
                tables[field.name] = table
    return tables


def _read_file(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(
            "config-unreadable", path=str(path), reason=error.strerror or type(error).__name__
        ) from None
    try:
        # Excel saves CSV as GB18030 on Chinese Windows, Notepad as GBK or UTF-16.
        text = yamlload.decode(raw)
    except UnicodeDecodeError:
        raise ConfigError("config-unreadable", path=str(path), reason="encoding") from None
    if path.suffix.lower() == ".csv":
        return _from_csv(path, text)
    try:
        return yamlload.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError("config-unreadable", path=str(path), reason="YAML") from None


def _from_csv(path: Path, text: str) -> dict[str, dict[str, str]]:
    rows = csv.reader(io.StringIO(text))
    header = [cell.strip().casefold() for cell in next(rows, [])]
    if tuple(header[:3]) != _CSV_COLUMNS:
        raise ConfigError("config-unreadable", path=str(path), reason="columns: field,code,label")
    tables: dict[str, dict[str, str]] = {}
    for number, row in enumerate(rows, 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 3:
            raise ConfigError("config-unreadable", path=str(path), reason=f"row {number}")
        field, code, label = (cell.strip() for cell in row[:3])
        table = tables.setdefault(field, {})
        if code in table:
            raise ConfigError("config-bad-value", name=f"{_SETTING}.{field}", value=code)
        table[code] = label
    return tables


def _checked_key(key: str) -> str:
    """``field`` or ``type.field`` with the type's canonical name; the field must be coded."""
    schema = load_schema()
    type_name, _, field_name = key.rpartition(".")
    if type_name:
        try:
            types = [schema.get(type_name)]
        except ArtreportError:
            raise ConfigError("config-bad-value", name=_SETTING, value=key) from None
    else:
        types = list(schema)
    owners = [t for t in types if t.has_field(field_name) and t.field(field_name).dict]
    if not owners:
        raise ConfigError("config-bad-value", name=_SETTING, value=key)
    return f"{owners[0].name}.{field_name}" if type_name else field_name


def _checked_table(key: str, table: Any) -> dict[int, str]:
    name = f"{_SETTING}.{key}"
    if not isinstance(table, dict) or not table:
        raise ConfigError("config-bad-value", name=name, value="…")
    checked: dict[int, str] = {}
    for code, label in table.items():
        number = _code(code)
        text = str(label).strip() if isinstance(label, (str, int, float)) else ""
        if number is None or number in checked:
            raise ConfigError("config-bad-value", name=name, value=code)
        if not text or isinstance(label, bool):
            raise ConfigError("config-bad-value", name=name, value=label)
        checked[number] = text
    if len(set(map(label_key, checked.values()))) != len(checked):
        # A label naming two codes could not be mapped to either.
        raise ConfigError("config-bad-value", name=name, value=Listing(checked.values()))
    return checked


def _code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value in _INT32 else None
