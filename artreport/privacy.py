"""Masking of patient identifiers for console output and logs.

Reports that must hold the real values are written owner-only instead (see ``report``).
"""

from __future__ import annotations

from typing import Any


def mask(kind: str | None, value: Any) -> Any:
    """``value`` as it may be shown on a screen or in a log, given the field's ``pii`` kind."""
    if kind is None or value is None:
        return value
    text = str(value)
    if not text:
        return text
    if kind == "name":
        return text[0] + "*" * max(len(text) - 1, 1)
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
