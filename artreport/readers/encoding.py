"""Choosing a text file's encoding, and finding where a strict decode went wrong.

Chinese Excel saves CSV as GB18030 without a byte-order mark, everything else writes UTF-8,
and almost any UTF-8 byte string also decodes as (wrong) GB18030. Guessing from statistics
would silently turn names into mojibake, so the choice is made on the first non-ASCII bytes
only, and every later byte is decoded strictly: a file that changes encoding part-way is
an error naming the row, never garbled data.
"""

from __future__ import annotations

import codecs
import re
from typing import BinaryIO

from artreport.errors import InputError

#: Tried in this order: valid UTF-8 is almost never GB18030 text, the reverse is common.
CANDIDATES = ("utf-8", "gb18030")

_CHUNK = 1 << 16
# The sample that decides: from the first non-ASCII byte to the end of its line, at most this.
_SAMPLE_LIMIT = 4096
_NON_ASCII = re.compile(rb"[\x80-\xff]")

#: Stands in for undecodable bytes when looking for them; no strict decode yields a lone
#: surrogate, so finding one means finding the bad bytes.
MARK = "\udfff"
MARK_ERRORS = "artreport-mark"


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return MARK, error.end


codecs.register_error(MARK_ERRORS, _mark_undecodable)


def choose_encoding(raw: BinaryIO, override: str | None) -> str:
    """The codec to read *raw* with: *override* if given, else what its bytes show.

    A UTF-8 byte-order mark is dropped in both cases, so that it never sticks to the first
    header.
    """
    raw.seek(0)
    has_utf8_bom = raw.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    if override is None:
        return detect_encoding(raw)
    try:
        name = codecs.lookup(override).name
        "".encode(name)  # rejects codecs such as base64 that are not text encodings
    except LookupError:
        raise InputError("input-encoding-unknown", encoding=override) from None
    return "utf-8-sig" if name == "utf-8" and has_utf8_bom else name


def detect_encoding(raw: BinaryIO) -> str:
    """``utf-8-sig``, ``utf-16``, ``utf-8`` or ``gb18030``, decided without reading more than
    up to the first line that holds a non-ASCII byte (memory stays bounded however late that
    line comes)."""
    raw.seek(0)
    chunk = raw.read(_CHUNK)
    if chunk.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    lines_before = 0
    while chunk:
        found = _NON_ASCII.search(chunk)
        if found:
            break
        lines_before += chunk.count(b"\n")
        chunk = raw.read(_CHUNK)
    else:
        return "utf-8"  # pure ASCII, which UTF-8 reads as it is
    line = lines_before + chunk.count(b"\n", 0, found.start()) + 1
    sample = chunk[found.start() :]
    while b"\n" not in sample and len(sample) < _SAMPLE_LIMIT:
        more = raw.read(_CHUNK)
        if not more:
            break
        sample += more
    sample = sample.split(b"\n", 1)[0][:_SAMPLE_LIMIT]
    for candidate in CANDIDATES:
        try:
            # Not final: the sample may end inside a character cut off by the size limit.
            codecs.getincrementaldecoder(candidate)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return candidate
    raise InputError("input-encoding-undetected", line=line)
