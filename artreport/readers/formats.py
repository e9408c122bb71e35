"""Which format a file is: first by its extension, then by what its first bytes prove.

Hospital systems often name a file for the program they expect to open it rather than for
what it holds: an ``.xls`` that is really tab-separated text or a web page, an ``.xlsx``
renamed ``.xls``. The content decides where it can; the extension only says what was meant.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from artreport.errors import InputError

EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".ods": "ods",
    ".html": "html",
    ".htm": "html",
    ".xml": "xml",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
SPREADSHEETS = frozenset({"xlsx", "xls", "ods"})

#: Enough of the file to recognise it; also what the encoding and delimiter sniffers see first.
HEAD_SIZE = 1 << 16

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A password-protected xlsx is an OLE container holding an "EncryptedPackage" stream. Its
# name is usually in a directory sector near the start; when it is not, calamine fails on
# the file and the user gets the damaged-file message instead.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
# An OpenDocument file stores its type uncompressed as the zip's first entry, at this offset.
_ODS_MIMETYPE_AT = 30
_ODS_MIMETYPE = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"
# Control bytes that no text file in our encodings contains (tab, line ends and form feed are
# allowed); UTF-16 is recognised by its byte-order mark before this test.
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1f]")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def declared_format(path: Path) -> str:
    """The format the file's extension names."""
    suffix = path.suffix.lower()
    try:
        return EXTENSIONS[suffix]
    except KeyError:
        raise InputError(
            "input-unknown-format", ext=suffix or path.name, known=" ".join(EXTENSIONS)
        ) from None


def as_utf8(head: bytes) -> bytes:
    """The first bytes of a text file, UTF-16 ones as UTF-8, for looking for words in."""
    if head.startswith(_UTF16_BOMS):
        return head.decode("utf-16", errors="ignore").encode()
    return head


def content_format(head: bytes) -> str:
    """What the first bytes of a file show it to be.

    ``xlsx``, ``ods`` or ``xls`` for a spreadsheet container, ``encrypted`` for a
    password-protected xlsx, ``markup`` for HTML or XML, ``binary`` for anything that cannot
    be text, else ``text``.
    """
    if head.startswith(_ZIP):
        ods = head[_ODS_MIMETYPE_AT:].startswith(_ODS_MIMETYPE)
        return "ods" if ods else "xlsx"
    if head.startswith(_OLE):
        return "encrypted" if _ENCRYPTED_PACKAGE in head else "xls"
    if head.startswith(_UTF16_BOMS):
        # Excel's "Unicode text", or a web page saved as UTF-16: which, its text says.
        text = head.decode("utf-16", errors="ignore").lstrip("\ufeff").lstrip()
        return "markup" if text.startswith("<") else "text"
    if _BINARY.search(head):
        return "binary"
    if head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"<"):
        return "markup"
    return "text"
