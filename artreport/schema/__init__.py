"""The platform's record types, declared as data in the ``*.yaml`` files beside this module."""

from artreport.schema.loader import load_schema
from artreport.schema.model import FIELD_TYPES, Field, RecordType, Schema, header_key, unit_in

__all__ = [
    "FIELD_TYPES",
    "Field",
    "RecordType",
    "Schema",
    "header_key",
    "load_schema",
    "unit_in",
]
