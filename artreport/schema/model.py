"""Record types and fields as immutable values, and how a spreadsheet header finds its field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from artreport.errors import UsageError

FieldType = Literal["string", "integer", "number", "date", "datetime"]
FIELD_TYPES: tuple[str, ...] = ("string", "integer", "number", "date", "datetime")

#: Kinds of personal data a field may hold; console output and logs mask these.
PII_KINDS: tuple[str, ...] = ("name", "idcard", "phone", "address")

_WHITESPACE = re.compile(r"\s+")
_BRACKETED_SUFFIX = re.compile(r"\(.*$")

#: Units of measure a header or a label may name in brackets, as ``header_key`` leaves them
#: (``KG`` → ``kg``), each with the unit it is: ``克`` and ``g`` are one unit, ``g`` and ``kg``
#: are not. Only the spellings are kept here: which unit a field takes is data, the unit its
#: label names (``新生儿1体重（kg）``).
_UNITS: Mapping[str, str] = {
    "mg": "mg",
    "毫克": "mg",
    "g": "g",
    "gram": "g",
    "grams": "g",
    "克": "g",
    "公克": "g",
    "克数": "g",
    "kg": "kg",
    "kgs": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "千克": "kg",
    "公斤": "kg",
    "斤": "斤",
    "lb": "lb",
    "磅": "lb",
    "mm": "mm",
    "millimeter": "mm",
    "millimetre": "mm",
    "毫米": "mm",
    "cm": "cm",
    "centimeter": "cm",
    "centimetre": "cm",
    "厘米": "cm",
    "公分": "cm",
    "m": "m",
    "米": "m",
    "ml": "ml",
    "毫升": "ml",
    "l": "L",
    "升": "L",
}
#: Smaller units of a unit, with how many of them make one. A value in a field's plausible
#: range times that many is the field's value written in the smaller unit: 3250 in 新生儿1体重
#: （kg） is 3.25 kg in grams. Only units far enough apart that the two ranges cannot meet
#: (斤 is half a kg: 6 斤 is a plausible weight in kg too).
_SMALLER_UNITS: Mapping[str, tuple[tuple[str, int], ...]] = {
    "kg": (("g", 1000),),
    "cm": (("mm", 10),),
}
# 体重(单位:kg), 体重(单位kg): what some systems write around the unit.
_UNIT_REMARK = re.compile(r"\((?:单位:?)?([^()]+)\)")


def header_key(text: str) -> str:
    """The form in which headers are compared: NFKC (full-width → half-width, so ``（`` is
    ``(``), no white space, case-folded, without the ``*`` that templates put on required
    columns."""
    folded = unicodedata.normalize("NFKC", str(text))
    return _WHITESPACE.sub("", folded).casefold().strip("*")


def unit_in(text: str) -> str | None:
    """The unit of measure a bracketed remark in ``text`` names — ``kg`` for
    ``新生儿1体重（公斤）`` or ``体重(单位:千克)`` —, None when no remark is one
    (``并发症(感染)``)."""
    for remark in _UNIT_REMARK.findall(header_key(text)):
        unit = _UNITS.get(remark)
        if unit is not None:
            return unit
    return None


def label_key(text: str) -> str:
    """The form in which a cell is compared with code labels: full-width → half-width, no
    white space, case-folded (``１－顺 产`` reads as ``1-顺产``)."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: FieldType
    required: bool = False
    dict: bool = False
    aliases: tuple[str, ...] = ()
    pii: str | None = None
    description: str = ""
    #: The codes the platform's text fixes for this field (``临床妊娠 1是2否``), as (code,
    #: label) pairs. A ``dict`` field's codes are the hospital's instead, from the config.
    codes: tuple[tuple[int, str], ...] = ()
    #: A record's ID: the primary key of some record type, here or as a reference. Set by the
    #: loader from the record types, not written in their files.
    identifier: bool = False

    @property
    def unit(self) -> str | None:
        """The unit the platform wants this field in, as its label gives it: ``kg`` for
        ``新生儿1体重（kg）``."""
        return unit_in(self.label)

    @property
    def smaller_units(self) -> tuple[tuple[str, int], ...]:
        """The units a hospital may write this field's values in by mistake, each with how
        many of them make one of :attr:`unit`: ``(("g", 1000),)`` for a weight in kg."""
        unit = self.unit
        return _SMALLER_UNITS.get(unit, ()) if unit is not None else ()

    @property
    def short_label(self) -> str:
        """The label before any bracket: ``并发症(感染)`` → ``并发症``."""
        normal = unicodedata.normalize("NFKC", self.label)
        return _BRACKETED_SUFFIX.sub("", normal).strip()


@dataclass(frozen=True)
class RecordType:
    name: str
    label: str
    resource: str
    primary_key: str
    delete_params: tuple[str, ...]
    fields: tuple[Field, ...]
    aliases: tuple[str, ...] = ()
    #: Groups of fields of which each row must fill at least one (``fName`` or ``wName``).
    one_of_required: tuple[tuple[str, ...], ...] = ()
    #: Sanity warnings: pairs of date fields of which the first should not be the later one…
    date_order: tuple[tuple[str, str], ...] = ()
    #: …and number fields with the range their values plausibly fall in: (name, min, max).
    ranges: tuple[tuple[str, float, float], ...] = ()
    _by_name: dict[str, Field] = field(default_factory=dict, init=False, repr=False, compare=False)
    _by_header: dict[str, Field] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_name.update((f.name, f) for f in self.fields)
        self._by_header.update(_header_index(self.fields))

    @property
    def names(self) -> tuple[str, ...]:
        """What the user may call this type: its CLI name, Chinese label, the platform's
        resource name and its aliases."""
        return (self.name, self.label, self.resource, *self.aliases)

    @property
    def required_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.required)

    def field(self, name: str) -> Field:
        return self._by_name[name]

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    def match_header(self, header: object) -> Field | None:
        """The field a column header names, or None.

        A header matches a field's API name (any case), its full Chinese label, one of its
        aliases, or its short label when no other field of this type shares that short label;
        failing that, the header without a bracketed remark (``女方年龄(岁)``) is tried.
        Whether a unit in that remark is the field's own is for the caller to ask
        (:func:`unit_in`, :attr:`Field.unit`).
        """
        if header is None:
            return None
        key = header_key(str(header))
        found = self._by_header.get(key)
        if found is None and "(" in key:
            # A clerk's header with a unit or remark in brackets: 女方年龄(岁).
            found = self._by_header.get(_BRACKETED_SUFFIX.sub("", key))
        return found

    def header_for(self, field: Field) -> str:
        """The Chinese header that names ``field`` when read back, as the template writes it:
        its label, or, when another field shares that label (transplant's two 操作人员姓名),
        an alias that is its own; the API name as a last resort."""
        for text in (field.label, *field.aliases):
            if self.match_header(text) is field:
                return text
        return field.name

    def names_exactly(self, header: object) -> bool:
        """Whether ``header`` names its field as it is, not only once a bracketed remark is
        taken off: ``周期ID`` does, ``周期ID(旧系统)`` does not."""
        return header is not None and header_key(str(header)) in self._by_header

    def fields_sharing(self, header: object) -> list[Field]:
        """The fields whose label is ``header`` when it names none because several share it."""
        if header is None:
            return []
        keys = {header_key(str(header))}
        keys.add(_BRACKETED_SUFFIX.sub("", next(iter(keys))))
        return [
            f
            for f in self.fields
            if keys & {header_key(f.label), header_key(f.short_label), *map(header_key, f.aliases)}
        ]


def _header_index(fields: Iterable[Field]) -> dict[str, Field]:
    fields = tuple(fields)
    index: dict[str, Field] = {}
    exact: dict[str, Field] = {}
    ambiguous: set[str] = set()
    for f in fields:
        for text in (f.name, f.label, *f.aliases):
            key = header_key(text)
            if key in exact and exact[key] is not f:
                ambiguous.add(key)
            exact.setdefault(key, f)
    short_counts: dict[str, list[Field]] = {}
    for f in fields:
        short_counts.setdefault(header_key(f.short_label), []).append(f)
    for key, owners in short_counts.items():
        if len(owners) == 1 and key and key not in exact:
            index[key] = owners[0]
    # A label two fields share names neither: the user must use the API name.
    index.update((k, f) for k, f in exact.items() if k not in ambiguous)
    for f in fields:
        index[header_key(f.name)] = f
    return index


#: The word that ends most record types' labels (周期信息), left out of their short names.
_LABEL_SUFFIX = "信息"


@dataclass(frozen=True)
class Schema:
    types: tuple[RecordType, ...]

    def __iter__(self) -> Iterator[RecordType]:
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)

    def get(self, name: str) -> RecordType:
        """A record type by CLI name, Chinese name (full or short) or resource name."""
        found = self.find(name)
        if found is None:
            raise UsageError("unknown-record-type", name=name, known=self.known_names())
        return found

    def find(self, name: str) -> RecordType | None:
        """The record type ``name`` names as :meth:`get` finds it, or None."""
        wanted = header_key(name)
        for record_type in self.types:
            if any(header_key(n) == wanted for n in record_type.names):
                return record_type
        return None

    def known_names(self) -> str:
        """Every type's CLI name with its Chinese names, for a clerk who typed none of them:
        ``supplier (外供信息/供精)``; the label without its 信息 goes without saying."""
        listed = []
        for t in self.types:
            short = t.label.removesuffix(_LABEL_SUFFIX)
            chinese = [t.label, *(a for a in t.aliases if a != short and not a.isascii())]
            listed.append(f"{t.name} ({'/'.join(chinese)})")
        return ", ".join(listed)
