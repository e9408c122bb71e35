"""``validate`` as one call: check a whole export and write its report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreport.errors import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from artreport.report import ReportWriter, Tee
from artreport.schema import RecordType
from artreport.validation.problems import ORGID_MISMATCH, Problem
from artreport.validation.validator import ValidateOptions, ValidationSummary, open_validation

#: How many problems a summary keeps for display; the report has them all.
SHOWN_PROBLEMS = 20


#: The fewest rows that, all naming one other organisation, make the file another's: a row or
#: two may be shifted ones, whose 机构ID column holds some other value.
OTHER_ORGANISATION_ROWS = 3


def all_of_another_organisation(
    rows: int, invalid: int, problems_by_code: Any, others: set[str]
) -> bool:
    """Whether every row read was refused for naming one and the same other organisation
    than the config: the config's orgid is wrong, or the file is another hospital's. Not rows
    to fix: exit 2 says so, where 1 would send the clerk to correct every row."""
    return (
        rows >= OTHER_ORGANISATION_ROWS
        and invalid == rows == problems_by_code[ORGID_MISMATCH]
        and len(others) == 1
    )


@dataclass
class ValidationOutcome:
    summary: ValidationSummary
    file_problems: list[Problem] = field(default_factory=list)
    first_problems: list[Problem] = field(default_factory=list)
    report_path: Path | None = None
    #: Every row names one other organisation than the config's ``orgid``.
    of_another_organisation: bool = False

    @property
    def exit_code(self) -> int:
        if self.of_another_organisation:
            return EXIT_USAGE
        failed = self.summary.invalid or any(p.is_error for p in self.file_problems)
        return EXIT_PROBLEMS if failed else EXIT_OK

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            **self.summary.to_dict(),
            "of_another_organisation": self.of_another_organisation,
            "exit_code": self.exit_code,
            "report": str(self.report_path) if self.report_path else None,
            "file_problems": [p.to_dict(lang) for p in self.file_problems],
            "notices": [{"code": n.code, "row": n.row, **n.params} for n in self.summary.notices],
        }


def validate_file(
    record_type: RecordType,
    path: str | Path,
    *,
    report_path: Path,
    report_always: bool = True,
    report_fresh: bool = False,
    orgid: str | None = None,
    options: ValidateOptions | None = None,
    lang: str | None = None,
    also: Any = None,
) -> ValidationOutcome:
    """Check every row of ``path``; every problem goes to the report at ``report_path``
    (created only when there is a problem unless ``report_always``) and, when given, to
    ``also`` (anything with ``add(problem)``, such as the ``--annotate`` collector)."""
    with (
        open_validation(record_type, path, orgid=orgid, options=options) as validation,
        ReportWriter(report_path, lang, always=report_always, fresh=report_fresh) as report,
    ):
        outcome = ValidationOutcome(validation.summary, list(validation.file_problems))
        sink = Tee(report, also) if also is not None else report
        for problem in validation.file_problems:
            sink.add(problem)
        shown = outcome.first_problems
        others: set[str] = set()
        for result in validation.problem_rows():
            if result.problems:
                for problem in result.problems:
                    sink.add(problem)
                    if problem.code == ORGID_MISMATCH and len(others) < 2:
                        others.add(str(problem.value))
                if len(shown) < SHOWN_PROBLEMS:
                    shown.extend(result.problems[: SHOWN_PROBLEMS - len(shown)])
        outcome.report_path = report.path if report.written else None
    summary = outcome.summary
    outcome.of_another_organisation = bool(orgid) and all_of_another_organisation(
        summary.rows_read, summary.invalid, summary.problems_by_code, others
    )
    return outcome
