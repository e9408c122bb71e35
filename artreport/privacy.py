"""Masking of patient identifiers for console output and logs.

Reports that must hold the real values are written owner-only instead (see ``report``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from importlib import resources
from typing import Any

from artreport import yamlload
from artreport.schema import load_schema
from artreport.schema.model import label_key


def mask(kind: str | None, value: Any) -> Any:
    """``value`` as it may be shown on a screen or in a log, given the field's ``pii`` kind."""
    if kind is None or value is None:
        return value
    text = str(value)
    if not text:
        return text
    if kind == "name":
        # One star whatever the length: the stars would tell how long the name is.
        return text[0] + "*"
    if kind == "idcard":
        if len(text) <= 6:
            return "*" * len(text)
        # Region and check digits stay readable for the clerk; the birth date does not.
        return text[:4] + "*" * (len(text) - 6) + text[-2:]
    if kind == "phone":
        return (
            text[:3] + "*" * max(len(text) - 5, 1) + text[-2:] if len(text) > 5 else "*" * len(text)
        )
    # Addresses: the province and city are not identifying; the rest is.
    return text[:6] + "***"


# A resident ID number (15 or 18 characters) or a mainland mobile number, whole.
_RESIDENT_ID = re.compile(r"[0-9]{15}|[0-9]{17}[0-9Xx]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
#: The Chinese of a date or time as spreadsheets and clerks write it (2023年5月6日, 06-5月-23,
#: 上午 8时, 5月6日 晚8点).
_DATE_WORDS = frozenset("年月日号时分秒上下午早中晚凌晨点")
#: A name in Latin letters (pinyin, a foreign patient's): words of letters, with spaces, dots,
#: hyphens or apostrophes between them.
_LATIN_NAME = re.compile(r"[A-Za-z]+(?:[ .·'-]+[A-Za-z]+)*\.?")
#: Abbreviations a shifted method or result column may put in a date or number column.
_ABBREVIATIONS = frozenset(
    {"IVF", "ICSI", "PGT", "PGD", "PGS", "FET", "ET", "IUI", "AIH", "AID", "IVM", "TESA", "PESA"}
    | {"MESA", "TESE", "GIFT", "ZIFT", "OHSS", "HCG", "LH", "FSH", "AMH", "BMI", "OK", "NG"}
)
#: Latin words that name no one: what exports write for nothing, and yes or no.
_NO_ONE = frozenset(
    {"null", "none", "nil", "nan", "n/a", "na", "unknown", "tbd", "true", "false", "yes", "no"}
)
#: Han characters: the common block and the extensions rare names are written with (䶮, 𬌗).
_HAN = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))


def _is_han(character: str) -> bool:
    code = ord(character)
    return any(low <= code <= high for low, high in _HAN)


def _names_no_one(text: str, chinese: list[str]) -> bool:
    """Chinese that is shown as it is, so that the clerk can find the cell: one character (no
    name is a single one: 否, 男), or a date written with its words and digits (06-5月-23).
    Anything else may be a name, 万一 and 时三 among them."""
    if len(chinese) == 1:
        return True
    return any(c.isdigit() for c in text) and all(c in _DATE_WORDS for c in chinese)


@functools.cache
def _words_of_the_trade() -> frozenset[str]:
    """The code labels of every record type and the words of ``trade_words.yaml``."""
    listed = yamlload.safe_load(
        resources.files("artreport").joinpath("trade_words.yaml").read_text(encoding="utf-8")
    )
    labels = (label for t in load_schema() for f in t.fields for _, label in f.codes)
    return frozenset(map(label_key, (*listed, *labels)))


def known_words(dictionaries: Mapping[str, Mapping[int, str]] | None = None) -> frozenset[str]:
    """Words that name no one, as :func:`label_key` writes them: the trade's, the record
    types' code labels and those of the config's code tables (*dictionaries*). A coded column
    refuses 身份证 or 阳性 where a table would have mapped it; masked as 身* or 阳*, the
    message would not say what to fix."""
    words = _words_of_the_trade()
    if not dictionaries:
        return words
    return words.union(
        label_key(label) for table in dictionaries.values() for label in table.values()
    )


def kind_by_shape(value: Any, field_type: str, known: Collection[str] = ()) -> str | None:
    """The ``pii`` kind a value shows by its shape, whatever field it landed in: a column
    shifted by an unquoted comma puts a name in a date column and an ID number in a code
    column, and the problem about it quotes the value. A word in *known* (see
    :func:`known_words`) is none."""
    if value is None:
        return None
    text = str(value).strip()
    if _RESIDENT_ID.fullmatch(text):
        return "idcard"
    if _MOBILE.fullmatch(text):
        return "phone"
    if field_type == "string" or label_key(text) in known:
        return None
    chinese = [character for character in text if _is_han(character)]
    if chinese and not _names_no_one(text, chinese):
        # Chinese text refused by a date or number column, or in a record ID's (IDs are
        # codes): most likely a name or an address.
        return "name"
    if not chinese and _is_latin_name(text, field_type):
        return "name"
    return None


def _is_latin_name(text: str, field_type: str) -> bool:
    """Letters in a date, number or record ID column, which may be a name in pinyin or a
    foreign one: words (zhang wei, Wang Lihua), or one capitalised word (Wang, WANG). Not a
    word for nothing (NULL, N/A), an abbreviation of the trade (IVF, ICSI), a lowercase word
    alone (abc, a slip of the keys), nor, in a record ID's column, capitals without a space
    (NO-SUCH), which are a code."""
    if len(text) < 2 or not _LATIN_NAME.fullmatch(text) or text.casefold() in _NO_ONE:
        return False
    if " " in text.strip():
        return True
    if text.upper() in _ABBREVIATIONS or not text[0].isupper():
        return False
    return not (field_type == IDENTIFIER and text.isupper())


#: What :func:`kind_by_shape` takes a record ID's column for: codes, never Chinese text.
IDENTIFIER = "identifier"


def mask_key(kind: str | None, key: Any) -> Any:
    """A record ID as it may be shown: by its field's ``pii`` kind (self-semen records are
    keyed by an ID number), else by its shape, since a shifted column or a clerk's slip can
    put a name or an ID number where the record ID belongs."""
    return mask(kind if kind is not None else kind_by_shape(key, IDENTIFIER), key)


#: A resident ID number or a mobile number inside a longer text.
_ID_IN_TEXT = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15}|1[3-9][0-9]{9})(?![0-9Xx])")
#: A quoted stretch of a database's error, each quote pair matched in turn (never from one
#: pair's closing quote to the next one's opening), with the word before it: "Duplicate entry
#: '…' for key 'PRIMARY'", "Incorrect string value: '…' for column 'fName'", Chinese quotes.
_QUOTED = re.compile(
    r"(?P<before>\w*)(?P<space>\s*)(?:'(?P<single>[^'\n]*)'|\"(?P<double>[^\"\n]*)\""
    r"|“(?P<curly>[^”\n]*)”|‘(?P<curly_single>[^’\n]*)’)"
)
#: PostgreSQL's and SQL Server's way: "Key (wname)=(王丽华) already exists".
_KEY_VALUE = re.compile(r"\)=\([^)\n]*\)")
#: The words a database puts before a quoted name of its own (a column, a key), not a value.
_NAMING_WORDS = frozenset({"column", "key", "table", "index", "constraint", "field"})


#: What ends an unquoted value in a message: a separator of a list or a record's text, or a
#: space.
_VALUE_END = r"\s,;，；)）}\]"


@functools.cache
def _named_values() -> re.Pattern[str]:
    """A personal field of any record type named with its value, unquoted, as a server's
    message prints a row ("AInformationrecord(informationid=I1, wName=王丽华, …)", "女方姓名：
    王丽华"): by its API name or its label. A label may follow other Chinese with no space
    between (提交失败女方姓名：…), so only a Latin letter or digit before it makes it part of
    another word."""
    names = {
        name
        for record_type in load_schema()
        for field in record_type.fields
        if field.pii
        for name in (field.name, field.label)
    }
    alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    return re.compile(
        rf"(?<![A-Za-z0-9_])(?P<name>{alternatives})(?P<equals>\s*[=:：]\s*)[^{_VALUE_END}]+",
        re.IGNORECASE,
    )


def mask_in_text(text: str) -> str:
    """A platform's free-text message as it may be shown on a screen or in a log: the message
    of a server's framework may quote the row's own values, a name or an ID number among them.
    Only what a database quotes as the name of a column or a key stays readable."""

    def hide(found: re.Match[str]) -> str:
        whole = found.group()
        if found["before"].lower() in _NAMING_WORDS:
            return whole
        for opening, closing, name in (
            ("'", "'", "single"),
            ('"', '"', "double"),
            ("“", "”", "curly"),
            ("‘", "’", "curly_single"),
        ):
            if found[name] is not None:
                return f"{found['before']}{found['space']}{opening}***{closing}"
        return whole

    text = _KEY_VALUE.sub(")=(***)", _QUOTED.sub(hide, text))
    text = _named_values().sub(lambda found: f"{found['name']}{found['equals']}***", text)
    return mask_numbers_in_text(text)


def mask_numbers_in_text(text: str) -> str:
    """``text`` with every resident ID number and mobile number in it masked, the rest as it
    is: for a log line, which names files and quotes messages that must stay readable."""
    return _ID_IN_TEXT.sub(lambda found: mask("idcard", found.group()), text)
