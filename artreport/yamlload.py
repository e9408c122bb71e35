"""YAML reading through libyaml when PyYAML has it: the schema and the message catalogue are
read at every start, and the pure-Python parser takes a large part of a second for them.

Also the bytes of a YAML file a person edited, as Windows editors save it (:func:`decode`)."""

from __future__ import annotations

import codecs
from typing import Any

import yaml

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Byte order marks and the encodings they begin; UTF-32's before UTF-16's, which it starts
#: with.
_MARKS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=LOADER)


def decode(raw: bytes) -> str:
    """The text of a file as an editor saved it: UTF-8, with its byte order mark or without;
    UTF-16 or UTF-32 with a mark (Notepad's "Unicode"); else GB18030, of which the "ANSI" a
    Chinese Windows saves in (GBK) is a part. The UnicodeDecodeError is UTF-8's, naming the
    first byte that is not, when none of them reads it."""
    for mark, encoding in _MARKS:
        if raw.startswith(mark):
            return raw.decode(encoding)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as not_utf8:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            raise not_utf8 from None
