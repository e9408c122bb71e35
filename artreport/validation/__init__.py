"""Checks every row of an export against its record type and normalises it for the platform."""

from artreport.validation.problems import CellError, Problem
from artreport.validation.validator import (
    RowResult,
    ValidateOptions,
    ValidationSummary,
    open_validation,
)

__all__ = [
    "CellError",
    "Problem",
    "RowResult",
    "ValidateOptions",
    "ValidationSummary",
    "open_validation",
]
