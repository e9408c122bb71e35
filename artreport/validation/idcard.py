"""Resident identity card numbers (GB 11643-1999): the check digit of an 18-digit number."""

from __future__ import annotations

import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"
_EIGHTEEN_DIGITS = re.compile(r"^\d{17}[\dXx]$")


def looks_like_resident_id(text: str) -> bool:
    return bool(_EIGHTEEN_DIGITS.match(text))


def looks_rounded(number: str) -> bool:
    """An 18-digit number ending in 000: what a spreadsheet leaves of a resident ID it stored
    as a number, which keeps 15 significant digits (330102198503128123 → …128000)."""
    return len(number) == 18 and number.endswith("000") and number.isdigit()


def check_character(first_seventeen: str) -> str:
    total = sum(
        int(digit) * weight for digit, weight in zip(first_seventeen, _WEIGHTS, strict=True)
    )
    return _CHECK_CHARACTERS[total % 11]


def has_valid_check_digit(number: str) -> bool:
    """True for an 18-digit number whose last character matches the other seventeen.

    Other forms (15-digit old numbers, passports) are not resident IDs and are not judged here.
    """
    if not looks_like_resident_id(number):
        return True
    return check_character(number[:17]) == number[17].upper()
