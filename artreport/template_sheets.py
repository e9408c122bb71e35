"""What marks the sheet of field notes in artreport's template, apart from the template's
writer: readers recognise the sheet without importing openpyxl, which weighs on start-up."""

from __future__ import annotations

from artreport.messages import translate

#: The language of the template's own texts (headers, notes, sheet titles).
WORKBOOK_LANG = "zh"

FIELD_SHEET_COLUMNS = ("label", "name", "type", "required", "dict", "codes", "notes")


def field_sheet_title() -> str:
    """The title of the sheet of field notes that a template has beside its data sheet."""
    return translate("template-field-sheet", WORKBOOK_LANG)


def field_sheet_header() -> list[str]:
    """The first row of that sheet, by which a reader knows it for artreport's own."""
    return [translate(f"template-col-{c}", WORKBOOK_LANG) for c in FIELD_SHEET_COLUMNS]
