"""Which format a file is: first by its extension, then by what its first bytes prove.

Hospital systems often name a file for the program they expect to open it rather than for
what it holds: an ``.xls`` that is really tab-separated text or a web page, an ``.xlsx``
renamed ``.xls``. The content decides where it can; the extension only says what was meant.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path
from typing import BinaryIO

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


#: Files that hold no table, by their first bytes, and the words for what they are: a report
#: printed to PDF, or a screenshot, saved under the name the export should have had.
_DOCUMENTS = (
    (b"%PDF-", "kind-pdf"),
    (b"{\\rtf", "kind-rtf"),
    (b"\x89PNG\r\n\x1a\n", "kind-image"),
    (b"\xff\xd8\xff", "kind-image"),
    (b"GIF87a", "kind-image"),
    (b"GIF89a", "kind-image"),
)
_ARCHIVES = ((b"\x1f\x8b", "gzip"), (b"Rar!\x1a\x07", "RAR"), (b"7z\xbc\xaf\x27\x1c", "7z"))
# The names of the streams of a legacy Word or PowerPoint file, in its directory.
_OLE_DOCUMENTS = (
    ("WordDocument".encode("utf-16-le"), "kind-word"),
    ("PowerPoint Document".encode("utf-16-le"), "kind-powerpoint"),
)
_WORKBOOK_STREAMS = ("Workbook".encode("utf-16-le"), "Book".encode("utf-16-le"))
# Where an Office Open XML file keeps its parts: a workbook's under xl/.
_ZIP_DOCUMENTS = (("word/", "kind-word"), ("ppt/", "kind-powerpoint"))


def what_else(head: bytes, file: BinaryIO) -> tuple[str, str] | None:
    """What a file that is no table is, when its first bytes (or, for a zip, its list of
    members, read from *file*) say so: ``("input-is-document", phrase code)`` or
    ``("input-is-archive", the archive's kind)``; None for anything that may be a table.

    Without it, a PDF of plain text is read as CSV (its first line taken for the header), and
    a zip or a Word file is called a damaged workbook, which sends the clerk to export the
    same thing again.
    """
    for mark, kind in _DOCUMENTS:
        if head.startswith(mark):
            return "input-is-document", kind
    for mark, kind in _ARCHIVES:
        if head.startswith(mark):
            return "input-is-archive", kind
    if head.startswith(_OLE):
        if not any(stream in head for stream in _WORKBOOK_STREAMS):
            for stream, kind in _OLE_DOCUMENTS:
                if stream in head:
                    return "input-is-document", kind
        return None
    if head.startswith(_ZIP) and not head[_ODS_MIMETYPE_AT:].startswith(_ODS_MIMETYPE):
        return _zip_kind(file)
    return None


def _zip_kind(file: BinaryIO) -> tuple[str, str] | None:
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None  # cut short or damaged: the workbook reader says so
    finally:
        file.seek(0)
    # Some writers spell the parts with a leading slash, a backslash or in capitals.
    parts = [name.lstrip("/\\").replace("\\", "/").casefold() for name in names]
    if any(part.startswith("xl/") for part in parts):
        return None
    for folder, kind in _ZIP_DOCUMENTS:
        if any(part.startswith(folder) for part in parts):
            return "input-is-document", kind
    if "mimetype" in parts and "content.xml" in parts:
        return "input-is-document", "kind-opendocument"
    if "[content_types].xml" in parts:
        return None  # an Office file of some other layout: the workbook reader decides
    return "input-is-archive", "zip"
