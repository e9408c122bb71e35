"""``validate`` as one call: check a whole export and write its report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreport.errors import EXIT_OK, EXIT_PROBLEMS
from artreport.report import ReportWriter, Tee
from artreport.schema import RecordType
from artreport.validation.problems import Problem
from artreport.validation.validator import ValidateOptions, ValidationSummary, open_validation

#: How many problems a summary keeps for display; the report has them all.
SHOWN_PROBLEMS = 20


@dataclass
class ValidationOutcome:
    summary: ValidationSummary
    file_problems: list[Problem] = field(default_factory=list)
    first_problems: list[Problem] = field(default_factory=list)
    report_path: Path | None = None

    @property
    def exit_code(self) -> int:
        failed = self.summary.invalid or any(p.is_error for p in self.file_problems)
        return EXIT_PROBLEMS if failed else EXIT_OK

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            **self.summary.to_dict(),
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
        for result in validation.problem_rows():
            if result.problems:
                for problem in result.problems:
                    sink.add(problem)
                if len(shown) < SHOWN_PROBLEMS:
                    shown.extend(result.problems[: SHOWN_PROBLEMS - len(shown)])
        outcome.report_path = report.path if report.written else None
    return outcome
