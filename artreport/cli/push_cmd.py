"""``artreport push TYPE FILE``: validate an export and upload its valid rows."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from artreport.cli import app
from artreport.cli.common import (
    AppState,
    is_terminal,
    json_for_stdout,
    reporting_errors,
    state_of,
    stderr_console,
    stdout_console,
)
from artreport.cli.helptext import HelpCommand
from artreport.cli.render import (
    masked,
    print_counts_by_code,
    print_file_problems,
    print_notices,
    print_problems,
    print_rejected,
    print_rejected_by_code,
)
from artreport.cli.validate_cmd import (
    AnnotateOption,
    BlankClearsOption,
    EncodingOption,
    FileArgument,
    JsonOption,
    ReportOption,
    SheetOption,
    TypeArgument,
    annotator_for,
    print_annotated,
)
from artreport.config import MAX_CONCURRENCY, Config
from artreport.dictionaries import Dictionaries
from artreport.errors import ArtreportError, InputError
from artreport.report import ReportWriter, default_report_path, refuse_overwriting
from artreport.schema import RecordType, load_schema
from artreport.state import state_dir
from artreport.validation import Problem, ValidateOptions

if TYPE_CHECKING:
    # Imported where used: the HTTP client and the upload pipeline weigh on every command's
    # start-up, and `validate` needs neither.
    from artreport.client.events import ClientEvent
    from artreport.runs import Run
    from artreport.upload import PushSummary

#: Without a terminal (cron), a status line at most this often.
STATUS_EVERY_SECONDS = 5.0
#: Unknown records shown on screen by the first row referring to each; the report has all.
SHOWN_REFERENCES = 5


@contextlib.contextmanager
def platform_config(config: Config, use_sandbox: bool, state: AppState) -> Iterator[Config]:
    """The config to push with: as given, or pointed at an embedded sandbox for the run."""
    if not use_sandbox:
        yield config
        return
    from artreport.sandbox import DEMO_ORG, Sandbox

    orgid, key = (config.orgid, config.key) if config.orgid and config.key else DEMO_ORG
    with Sandbox({orgid: key}) as sandbox:
        stderr_console().print(state.t("push-sandbox-started", url=sandbox.base_url, orgid=orgid))
        yield config.with_overrides(base_url=sandbox.base_url, orgid=orgid, key=key)


def _estimated_rows(path: Path) -> int | None:
    """A quick row count for the progress bar's ETA: line ends in a CSV, else unknown."""
    if path.suffix.lower() not in (".csv", ".txt", ".jsonl", ".ndjson"):
        return None
    try:
        with open(path, "rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None
    return max(lines - 1, 0)


@contextlib.contextmanager
def progress_display(
    state: AppState, path: Path, enabled: bool
) -> Iterator[Callable[[PushSummary], None]]:
    if not enabled:
        yield lambda summary: None
        return
    if not is_terminal():
        last = [time.monotonic()]

        def status_line(summary: PushSummary) -> None:
            now = time.monotonic()
            if now - last[0] >= STATUS_EVERY_SECONDS:
                last[0] = now
                stderr_console().print(_status_text(state, summary), soft_wrap=True)

        yield status_line
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    total = _estimated_rows(path)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} " + state.t("push-rows-per-second")),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr_console(), transient=True) as progress:
        task = progress.add_task(state.t("push-progress"), total=total, rate="0")

        def advance(summary: PushSummary) -> None:
            progress.update(
                task, completed=summary.rows_read, rate=f"{summary.rows_per_second:,.0f}"
            )

        yield advance


def _status_text(state: AppState, summary: PushSummary) -> str:
    return state.t(
        "push-status",
        rows=summary.rows_read,
        sent=summary.sent,
        accepted=summary.accepted,
        rejected=summary.rejected,
        invalid=summary.invalid,
        rate=f"{summary.rows_per_second:,.0f}",
    )


def _client_events(state: AppState, log: logging.Logger) -> Callable[[ClientEvent], None]:
    """Retries and new logins: shown on the terminal and written to the run's log."""
    from artreport.client.events import EventKind

    console = stderr_console()

    def show(event: ClientEvent) -> None:
        if event.kind is EventKind.CACHE_UNSAVED:
            # Not progress: something in the state folder for the operator to fix.
            console.print(f"[yellow]![/yellow] {event.message(state.lang)}", soft_wrap=True)
            log.warning("%s", event.log_line())
            return
        console.print(f"[dim]{event.message(state.lang)}[/dim]", soft_wrap=True)
        log.info("%s", event.log_line())

    return show


ChangedOnlyOption = Annotated[
    bool,
    typer.Option(
        "--changed-only/--full",
        help="help-changed-only",
    ),
]
WaitOption = Annotated[
    float | None,
    typer.Option("--wait", min=0, metavar="SECONDS", help="help-wait"),
]


@app.command("push", cls=HelpCommand, help="help-push")
def push_command(
    ctx: typer.Context,
    record_type: TypeArgument,
    file: FileArgument,
    chunk_size: Annotated[
        int | None, typer.Option("--chunk-size", min=1, help="help-push-chunk-size")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, max=MAX_CONCURRENCY, help="help-push-concurrency"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="help-push-dry-run")] = False,
    report: ReportOption = None,
    as_json: JsonOption = False,
    use_sandbox: Annotated[bool, typer.Option("--sandbox", help="help-push-sandbox")] = False,
    sheet: SheetOption = None,
    encoding: EncodingOption = None,
    blank_clears: BlankClearsOption = False,
    changed_only: ChangedOnlyOption = False,
    wait: WaitOption = None,
    annotate: AnnotateOption = None,
) -> None:
    from artreport.client import PlatformClient, SessionCache
    from artreport.runs import finish, unattended_run
    from artreport.upload import PushOptions
    from artreport.upload.job import push_one

    state = state_of(ctx)
    with reporting_errors(state, as_json=as_json):
        chosen = load_schema().get(record_type)
        config = state.config().with_overrides(chunk_size=chunk_size, concurrency=concurrency)
        if not (dry_run or use_sandbox):
            config.require("base_url", "orgid", "key")
        report_path = report or default_report_path(
            state_dir(config) / "reports", "push", chosen.name
        )
        options = PushOptions(
            chunk_size=config.chunk_size,
            chunk_bytes=config.chunk_bytes,
            concurrency=config.concurrency,
            dry_run=dry_run,
            validate=ValidateOptions(
                blank_clears=blank_clears,
                sheet=sheet,
                encoding=encoding,
                dictionaries=config.dictionaries,
            ),
        )
        if report is not None:
            refuse_overwriting(report, source=file, annotated=annotate)
        annotator = annotator_for(chosen, file, annotate, state.lang, options.validate)
        # What tells one run of a file from another in history: the sheet sent (the failed-rows
        # sheet or the whole file), only the changed rows, blanks clearing values.
        command = " ".join(
            [
                "push",
                chosen.name,
                str(file),
                *(["--sheet", sheet] if sheet else []),
                *(["--changed-only"] * changed_only),
                *(["--blank-clears"] * blank_clears),
            ]
        )
        with (
            platform_config(config, use_sandbox and not dry_run, state) as target,
            ReportWriter(
                report_path, state.lang, always=report is not None, fresh=report is None
            ) as writer,
            progress_display(state, file, enabled=not as_json) as on_progress,
            contextlib.ExitStack() as sending,
        ):
            sink = writer if annotator is None else annotator.tee(writer)
            run: Run | None = None
            client: PlatformClient | None = None
            if not dry_run:
                run = sending.enter_context(
                    unattended_run(
                        target, command, record_types=[chosen.name], files=[str(file)], wait=wait
                    )
                )
                client = sending.enter_context(
                    PlatformClient(
                        target,
                        session_cache=None if use_sandbox else SessionCache.for_config(target),
                        on_event=_client_events(state, run.log),
                        stop=run.stop,
                    )
                )
            outcome = push_one(
                chosen,
                file,
                client=client,
                report=sink,
                orgid=target.orgid,
                options=options,
                run=run,
                changed_only=changed_only,
                on_progress=on_progress,
                # The embedded sandbox starts empty: every reference would be unknown to it.
                check_references=not use_sandbox,
                # Its rows, recorded, would stay in the ledger for good under the address of
                # a platform gone with the command, never read again.
                record_accepted=not use_sandbox,
            )
            summary = outcome.summary
            exit_code = outcome.exit_code
            annotate_failure: ArtreportError | None = None
            if annotator is not None:
                try:
                    annotator.write()
                except InputError as error:
                    # The rows are sent: the summary still says so, this is said after it, and
                    # the run's exit code in history is the command's.
                    annotate_failure = error
                    exit_code = max(exit_code, error.exit_code)
            if run is not None:
                exit_code = run.interrupted_exit_code or exit_code
                unrecorded = finish(run, exit_code=exit_code, counts=summary.to_dict())
                if unrecorded is not None and outcome.error is None:
                    # Everything sent is summed up; the ledger's problem is said after it.
                    outcome.error = unrecorded
                    exit_code = max(exit_code, unrecorded.exit_code)
    if as_json:
        payload = summary.to_dict()
        payload["exit_code"] = exit_code
        if annotator is not None and annotate_failure is None:
            payload["annotated"] = str(annotator.out)
        if annotate_failure is not None:
            payload["annotate_error"] = annotate_failure.message(state.lang)
        if outcome.error:
            payload["stopped_message"] = outcome.error.message(state.lang)
        typer.echo(json_for_stdout(payload))
        warn_of_unwritten_log(state, run)
        raise typer.Exit(exit_code)
    print_push_summary(state, chosen, file, summary, config.dictionaries)
    if annotate_failure is not None:
        stderr_console().print(
            f"[red]✗[/red] {annotate_failure.message(state.lang)}", soft_wrap=True
        )
    elif annotator is not None:
        print_annotated(state, annotator)
    if outcome.error:
        stderr_console().print(f"[red]✗[/red] {outcome.error.message(state.lang)}", soft_wrap=True)
    elif summary.stopped_by is not None:  # no error stopped the push, so a signal did
        _print_stopped_by_signal(state, summary)
    warn_of_unwritten_log(state, run)
    raise typer.Exit(exit_code)


def warn_of_unwritten_log(state: AppState, run: Run | None) -> None:
    """Said last, once: a log the disk had no room for does not change what the run did."""
    message = run.log_failure_message(state.lang) if run is not None else None
    if message is not None:
        stderr_console().print(f"[yellow]![/yellow] {message}", soft_wrap=True)


def _print_stopped_by_signal(state: AppState, summary: PushSummary) -> None:
    if summary.stopped_at_row is None:
        text = state.t("push-stopped", signal=summary.stopped_by)
    else:
        text = state.t("push-stopped-at", signal=summary.stopped_by, row=summary.stopped_at_row)
    stderr_console().print(f"[yellow]![/yellow] {text}", soft_wrap=True)


def _print_reference_warnings(
    state: AppState, record_type: RecordType, problems: list[Problem]
) -> None:
    """As sync shows its cross-file warnings: a line, then the first few unknown records."""
    if not problems:
        return
    errors = stderr_console()
    header = state.t("push-unknown-references", count=len(problems))
    errors.print(f"[yellow]![/yellow] {header}", soft_wrap=True)
    for problem in problems[:SHOWN_REFERENCES]:
        errors.print("   " + masked(problem, record_type).message(state.lang), soft_wrap=True)


def print_push_summary(
    state: AppState,
    record_type: RecordType,
    file: Path,
    summary: PushSummary,
    dictionaries: Dictionaries | None,
) -> None:
    console = stdout_console()
    console.print(f"[bold]{record_type.label}[/bold] ({record_type.name}) — {file}")
    print_notices(stderr_console(), state, summary.notices)
    print_file_problems(console, state, summary.file_problems)
    if summary.dry_run:
        console.print(
            state.t(
                "push-dry-run-counts",
                rows=summary.rows_read,
                valid=summary.valid,
                invalid=summary.invalid,
            )
        )
    else:
        console.print(
            state.t(
                "push-counts",
                rows=summary.rows_read,
                invalid=summary.invalid,
                sent=summary.sent,
                accepted=summary.accepted,
                rejected=summary.rejected,
                not_sent=summary.not_sent,
                requests=summary.requests,
                extra=summary.extra_requests,
                seconds=f"{summary.elapsed:.2f}",
            )
        )
    if summary.resent:
        console.print(state.t("push-resent", count=summary.resent))
    if summary.stored_fewer:
        console.print(
            f"[yellow]![/yellow] {state.t('push-stored-fewer', count=summary.stored_fewer)}",
            soft_wrap=True,
        )
    if summary.duplicates_after_loss:
        notice = state.t("push-duplicates-after-loss", count=summary.duplicates_after_loss)
        console.print(f"[yellow]![/yellow] {notice}", soft_wrap=True)
    if summary.skipped:
        console.print(state.t("push-skipped", count=summary.skipped))
    print_counts_by_code(console, state, summary.problems_by_code)
    print_rejected_by_code(console, state, summary.rejected_by_code)
    print_rejected(console, state, record_type, summary.first_rejected, total=summary.rejected)
    total = (
        sum(summary.problems_by_code.values())
        - len(summary.file_problems)
        - len(summary.reference_problems)
    )
    print_problems(
        console, state, record_type, summary.first_problems, total=total, dictionaries=dictionaries
    )
    _print_reference_warnings(state, record_type, summary.reference_problems)
    if summary.report:
        wording = "push-report-warnings" if summary.exit_code == 0 else "push-report"
        console.print(state.t(wording, path=summary.report))
    if summary.exit_code == 0 and not summary.dry_run:
        if summary.accepted == 0 and summary.skipped:
            console.print(state.t("push-nothing-changed"))
        else:
            console.print(state.t("push-all-accepted", accepted=summary.accepted))
