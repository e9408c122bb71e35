"""The one message catalogue: every user-facing text, in Chinese and English.

The catalogue is data, split by area into ``*.yaml`` files beside this module so that each
part of the program keeps its own texts; a code may be defined in only one file. Each entry is
``code: {zh: ..., en: ...}`` with ``str.format`` placeholders.
"""

from __future__ import annotations

import errno
import functools
import os
from datetime import datetime
from importlib import resources
from typing import Any

from artreport import yamlload

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        texts = yamlload.safe_load(entry.read_text(encoding="utf-8")) or {}
        for code, by_language in texts.items():
            if code in merged:
                raise ValueError(f"message code {code!r} is defined twice ({entry.name})")
            merged[code] = by_language
    return merged


def resolve_language(lang: str | None = None) -> str:
    """The language asked for, else ``$ARTREPORT_LANG``, else Chinese."""
    chosen = (lang or os.environ.get("ARTREPORT_LANG") or DEFAULT_LANGUAGE).lower()
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def local_minutes(stamp: str) -> str:
    """An ISO time as every message and table shows one: the reader's local time, to the
    minute."""
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def translate(code: str, lang: str | None = None, /, **params: Any) -> str:
    entry = catalogue().get(code)
    if entry is None:
        # An unknown code is a programming error, but the user still deserves the facts.
        details = ", ".join(f"{k}={v}" for k, v in params.items())
        return f"{code} {details}".strip()
    lang = resolve_language(lang)
    template = entry[lang]
    if params:
        params = {name: _in_language(value, lang) for name, value in params.items()}
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


class Phrase(str):
    """A message parameter with words of its own in each language (why a connection failed,
    who holds the run lock): English as a ``str``, for logs; :func:`translate` puts it into a
    message in the message's language."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, **params: Any) -> Phrase:
        phrase = super().__new__(cls, translate(code, "en", **params))
        phrase.code, phrase.params = code, params
        return phrase


#: The operating system's words for the failures a user meets (a folder not writable, a full
#: disk), which it gives in English whatever the message's language.
_OS_ERRORS = {
    os.strerror(number): f"os-{name}"
    for name in (
        "ENOENT",
        "EACCES",
        "EPERM",
        "ENOTDIR",
        "EISDIR",
        "ENOSPC",
        "EROFS",
        "EEXIST",
        "ENAMETOOLONG",
        "EBUSY",
        "EDQUOT",
        "ECONNREFUSED",
        "ETIMEDOUT",
        "ENETUNREACH",
        "EHOSTUNREACH",
        "ECONNRESET",
    )
    if (number := getattr(errno, name, None)) is not None
}


class Listing(tuple[str, ...]):
    """Names for a message (columns, files, members), listed as each language lists them:
    甲、乙 in Chinese, "a, b" in English."""

    __slots__ = ()


_LIST_SEPARATORS = {"zh": "、", "en": ", "}


def _in_language(value: Any, lang: str) -> Any:
    if isinstance(value, Listing):
        return _LIST_SEPARATORS.get(lang, "、").join(map(str, value))
    if isinstance(value, Phrase):
        return translate(value.code, lang, **value.params)
    if lang != "en" and type(value) is str and value in _OS_ERRORS:
        return translate(_OS_ERRORS[value], lang)
    return value
