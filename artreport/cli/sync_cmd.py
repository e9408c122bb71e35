"""``artreport sync DIR``: check every export in a folder, then push them in dependency order."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from artreport.cli import app
from artreport.cli.common import (
    AppState,
    json_for_stdout,
    reporting_errors,
    state_of,
    stderr_console,
    stdout_console,
)
from artreport.cli.helptext import HelpCommand
from artreport.cli.push_cmd import (
    SHOWN_REFERENCES,
    ChangedOnlyOption,
    WaitOption,
    _client_events,
    progress_display,
    warn_of_unwritten_log,
)
from artreport.cli.render import masked
from artreport.cli.validate_cmd import BlankClearsOption
from artreport.config import Config
from artreport.errors import (
    EXIT_PROBLEMS,
    ArtreportError,
    AuthError,
    InputError,
    LedgerError,
    LockedError,
    UnreachableError,
    UsageError,
)
from artreport.messages import translate
from artreport.report import ReportWriter, SyncReports, same_path, unused_path
from artreport.schema import Schema, load_schema
from artreport.state import private_dir, replace_file, state_dir
from artreport.validation import ValidateOptions
from artreport.validation.problems import (
    NOT_SENT_SIGNAL,
    NOT_SENT_STRICT,
    WORDING,
    Problem,
    Wording,
)

if TYPE_CHECKING:
    from artreport.sync import Superseded


@app.command("sync", cls=HelpCommand, help="help-sync")
def sync_command(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="help-sync-dir")],
    changed_only: ChangedOnlyOption = True,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="help-sync-strict"),
    ] = False,
    summary_json: Annotated[
        Path | None, typer.Option("--summary-json", help="help-sync-summary-json")
    ] = None,
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="help-sync-report-dir")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="help-sync-json")] = False,
    wait: WaitOption = None,
    blank_clears: BlankClearsOption = False,
) -> None:
    from artreport.client import PlatformClient, SessionCache
    from artreport.runs import finish, unattended_run
    from artreport.sync import (
        ROW_COUNT_FELL,
        SHRINK_WARNING,
        FileCheck,
        check_file,
        cross_file_problems,
        find_exports,
        report_unsent,
        superseded_keys,
        unmatched_files,
        worst_exit_code,
    )
    from artreport.upload import PushOptions
    from artreport.upload.job import PushOutcome, push_one
    from artreport.upload.pipeline import PushSummary, not_sent_code, not_sent_params

    state = state_of(ctx)
    console, errors = stdout_console(), stderr_console()
    early = _EarlyEnd()
    with (
        reporting_errors(state, as_json=as_json),
        _summary_of_failure(summary_json, directory, state.lang, early),
    ):
        schema = load_schema()
        config = state.config()
        early.warnings = _config_warnings(state, config)
        config.require("base_url", "orgid", "key")
        command = (
            f"sync {directory}"
            + (" --full" if not changed_only else "")
            + (" --blank-clears" if blank_clears else "")
        )
        try:
            if not directory.exists():
                raise InputError("sync-no-such-directory", path=str(directory))
            if not directory.is_dir():
                raise InputError("sync-not-a-directory", path=str(directory))
            exports = find_exports(directory, schema, config.sync_patterns)
            if not exports:
                raise InputError("sync-nothing-found", path=str(directory))
        except InputError as error:
            _record_in_history(config, command, directory, wait, error, early)
        if report_dir is not None and same_path(report_dir, directory):
            raise UsageError("sync-report-dir-is-export-dir", path=str(report_dir))
        if summary_json is not None:
            _prepare_summary_file(summary_json, directory, state.lang, early)
        ignored = unmatched_files(directory, exports)
        if ignored:
            errors.print(
                "[yellow]![/yellow] "
                + state.t("sync-files-ignored", files=", ".join(p.name for p in ignored)),
                soft_wrap=True,
            )
        ordered = [t for t in schema if t.name in exports]
        files = [str(p) for t in ordered for p in exports[t.name]]
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        if report_dir is not None:
            reports = SyncReports(private_dir(report_dir, "sync-report-dir-unusable"), lasting=True)
        else:
            # Made owner-only here: made as the run's folder's parent, it would take the umask's.
            reports_root = private_dir(state_dir(config) / "reports")
            folder = unused_path(reports_root / f"sync-{stamp}")
            reports = SyncReports(private_dir(folder), lasting=False)
        with unattended_run(
            config, command, record_types=[t.name for t in ordered], files=files, wait=wait
        ) as run:
            if ignored:
                run.log.warning("not taken, no record type's name: %s", [p.name for p in ignored])
            validate = ValidateOptions(dictionaries=config.dictionaries, blank_clears=blank_clears)
            # After a signal, the files not yet checked are listed as not sent, unread.
            checks = [
                FileCheck(t.name, p)
                if run.stop.is_set()
                else check_file(t, p, config.orgid, validate)
                for t in ordered
                for p in exports[t.name]
            ]
            known = {
                target: run.ledger.accepted_keys(target, config.base_url, config.orgid)
                for target in ("information", "cycle", "thaw")
            }
            replaced = superseded_keys(checks)
            cross = cross_file_problems(checks, known, strict, schema, replaced)
            # For the summary file too: a script must see a truncated export as a person does.
            warnings = list(early.warnings)
            for record_type in ordered:
                # Each record once, however many of tonight's exports hold it, and recorded
                # here, before anything is sent: a night the platform is down or the run is
                # stopped still counts its exports whole, and a push by hand (a clerk's few
                # corrections) is no night's export to measure the next one against.
                of_type = [c for c in checks if c.record_type == record_type.name]
                rows = sum(c.rows_not_superseded(replaced.get(c.path)) for c in of_type)
                last = run.ledger.last_row_count(
                    record_type.name, config.base_url, config.orgid, before_run=run.run_id
                )
                # An export read only in part (damaged, still being written) or not at all (a
                # signal came before its check) is no measure.
                if not (run.stop.is_set() or any(c.error for c in of_type)):
                    try:
                        run.ledger.record_row_count(run.run_id, record_type.name, rows)
                    except LedgerError as error:
                        # The ledger's disk full, say: the pushes meet it again when they
                        # record what is accepted, and stop there with every row accounted for.
                        run.log.error("%s", error.message("en"))
                if last and rows < last * SHRINK_WARNING:
                    message = state.t(ROW_COUNT_FELL, label=record_type.label, rows=rows, last=last)
                    errors.print(f"[yellow]![/yellow] {message}")
                    warnings.append(message)
                    run.log.warning("%s: %s rows, %s last time", record_type.name, rows, last)
            for (type_name, path), problems in cross.items():
                record_type = schema.get(type_name)
                message = f"{path.name}: " + state.t("sync-unknown-references", count=len(problems))
                errors.print(f"[yellow]![/yellow] {message}")
                warnings.append(message.rstrip("：:"))
                run.log.warning("%s: %s row(s) refer to unknown records", path, len(problems))
                for problem in problems[:SHOWN_REFERENCES]:
                    shown = masked(problem, record_type, config.dictionaries)
                    errors.print("   " + shown.message(state.lang))

            results: list[dict[str, Any]] = []
            blocked = strict and bool(cross)
            # Each file's line names the files whose references stopped the run, or the clerk
            # looks for bad references in every file.
            blocking = _names([path.name for _, path in cross], state.lang)
            options = PushOptions(
                chunk_size=config.chunk_size,
                chunk_bytes=config.chunk_bytes,
                concurrency=config.concurrency,
                validate=validate,
            )
            with PlatformClient(
                config,
                session_cache=SessionCache.for_config(config),
                on_event=_client_events(state, run.log),
                stop=run.stop,
            ) as client:
                stopped = None
                for check in checks:
                    record_type = schema.get(check.record_type)
                    report_path = reports.path_for(check.record_type, check.path)
                    writer: ReportWriter | None = None
                    entry: dict[str, Any] = {
                        "record_type": check.record_type,
                        "file": str(check.path),
                    }
                    file_cross = cross.get((check.record_type, check.path), [])
                    superseded = replaced.get(check.path)
                    sent = False
                    outcome: PushOutcome | None = None
                    try:
                        unreadable = check.error or check.changed_since()
                        if unreadable is not None:
                            entry |= {
                                "exit_code": unreadable.exit_code,
                                "error": unreadable.message(state.lang),
                                "error_code": unreadable.code,
                            }
                        elif blocked or stopped is not None or run.stop.is_set():
                            signalled = run.stop.is_set() and not blocked
                            if signalled:
                                why = Problem(
                                    NOT_SENT_SIGNAL, params={"signal": run.stopped_by or "?"}
                                )
                            elif blocked:
                                why = _strict_reason(len(file_cross), blocking)
                            else:
                                why = Problem(
                                    not_sent_code(stopped), params=not_sent_params(stopped)
                                )
                            # The same keys as a sent file's, for a script that reads them all.
                            unsent = PushSummary(check.record_type, str(check.path))
                            with reports.writer(report_path, state.lang) as writer:
                                writer.add_all(file_cross)
                                if signalled:
                                    # A signal asks to stop, not to read on: the file is listed
                                    # as not sent in one line, unread.
                                    writer.add(why)
                                    unsent.rows_read, unsent.invalid = check.rows, check.invalid
                                    unsent.not_sent = check.rows - check.invalid
                                else:
                                    counts = report_unsent(
                                        record_type,
                                        check.path,
                                        config.orgid,
                                        validate,
                                        why,
                                        writer,
                                        superseded=superseded.keys if superseded else frozenset(),
                                    )
                                    unsent.rows_read, unsent.invalid = counts.rows, counts.invalid
                                    unsent.superseded = counts.superseded
                                    unsent.not_sent = counts.not_sent
                            if signalled or blocked:
                                reason, reason_code = why.message(state.lang), why.code
                            else:
                                reason_code = "sync-not-sent-stopped"
                                reason = state.t(reason_code)
                            entry |= unsent.to_dict() | {"notices": []}
                            if superseded is not None and unsent.superseded:
                                entry["notices"].append(
                                    _superseded_notice(state, unsent.superseded, superseded)
                                )
                            if signalled:
                                code = run.interrupted_exit_code or EXIT_PROBLEMS
                            else:
                                code = stopped.exit_code if stopped is not None else EXIT_PROBLEMS
                            entry |= {
                                "exit_code": code,
                                "error": reason,
                                "error_code": reason_code,
                                "report": writer.written_path if writer.written else None,
                            }
                        else:
                            sent = True
                            with (
                                reports.writer(report_path, state.lang) as writer,
                                progress_display(
                                    state, check.path, enabled=not as_json
                                ) as progress,
                            ):
                                writer.add_all(file_cross)
                                outcome = push_one(
                                    record_type,
                                    check.path,
                                    client=client,
                                    report=writer,
                                    orgid=config.orgid,
                                    options=options,
                                    run=run,
                                    changed_only=changed_only,
                                    superseded=superseded.keys if superseded else frozenset(),
                                    on_progress=progress,
                                )
                            entry |= outcome.summary.to_dict()
                            # What the reader did for the file (the sheet it read, rows it skipped),
                            # for the person reading the night's output.
                            entry["notices"] = [
                                {
                                    "code": notice.code,
                                    "row": notice.row,
                                    "message": notice.message(state.lang),
                                }
                                for notice in outcome.summary.notices
                            ]
                            if superseded is not None and outcome.summary.superseded:
                                notice = _superseded_notice(
                                    state, outcome.summary.superseded, superseded
                                )
                                entry["notices"].append(notice)
                                run.log.info("%s: %s", check.path, notice["message"])
                            entry["exit_code"] = outcome.exit_code
                            if outcome.error is not None:
                                entry["error"] = outcome.error.message(state.lang)
                                entry["error_code"] = outcome.error.code
                                if isinstance(
                                    outcome.error, (AuthError, UnreachableError, LedgerError)
                                ):
                                    # The platform refuses or is gone: nothing more gets through;
                                    # or the ledger can record nothing more (its disk full).
                                    # A file's own error (cut short, every row of another
                                    # organisation) leaves the others to be sent.
                                    stopped = outcome.error
                        reports.settle(report_path, written=writer is not None and writer.written)
                    except InputError as error:
                        if error.code != "report-unwritable":
                            raise
                        # The disk full, say, while the file's problems were listed outside
                        # its push (its references, its rows not sent): its line says so, and
                        # the files done before keep theirs in the summary, rather than the
                        # sync ending with none.
                        sent = outcome is not None
                        if outcome is not None:
                            done = outcome.summary
                        else:  # not sent: its rows are counted as its check counted them
                            done = PushSummary(check.record_type, str(check.path))
                            done.rows_read, done.invalid = check.rows, check.invalid
                            done.not_sent = check.rows - check.invalid
                        entry |= done.to_dict() | {
                            "notices": [],
                            "exit_code": error.exit_code,
                            "error": error.message(state.lang),
                            "error_code": error.code,
                            "report": writer.written_path if writer is not None else None,
                        }
                        run.log.error("%s: %s", check.path, error.message("en"))
                    results.append(entry)
                    if not as_json:
                        # As each file is done: a cron log shows how far a run killed on a
                        # timeout got, and a long night shows it is moving.
                        _print_entry(state, schema, entry, sent=sent)
            exit_code = run.interrupted_exit_code or worst_exit_code(
                r["exit_code"] for r in results
            )
            counts = {
                key: sum(r.get(key, 0) or 0 for r in results)
                for key in (
                    "rows_read",
                    "invalid",
                    "sent",
                    "accepted",
                    "rejected",
                    "stored_fewer",
                    "skipped_unchanged",
                    "superseded",
                    "not_sent",
                )
            }
            summary = _summary(
                directory,
                early,
                exit_code=exit_code,
                totals=counts,
                files=results,
                ignored_files=[str(p) for p in ignored],
                warnings=warnings,
                log=str(run.log_path),
            )
            if summary_json:
                try:
                    _write_summary(summary_json, summary)
                except OSError as exc:
                    # The rows are sent and the summary still goes to the screen; the exit
                    # code (the history's too) says that what a monitor reads was not written.
                    error = InputError(
                        "sync-summary-unwritable",
                        path=str(summary_json),
                        reason=exc.strerror or str(exc),
                    )
                    errors.print(f"[red]✗[/red] {error.message(state.lang)}", soft_wrap=True)
                    exit_code = worst_exit_code([exit_code, error.exit_code])
                    summary["exit_code"] = exit_code
            unrecorded = finish(run, exit_code=exit_code, counts=counts)
            if unrecorded is not None:
                # The rows are sent and summed up; only the run's end is not in the ledger.
                errors.print(f"[red]✗[/red] {unrecorded.message(state.lang)}", soft_wrap=True)
                exit_code = worst_exit_code([exit_code, unrecorded.exit_code])
                summary["exit_code"] = exit_code
    if as_json:
        typer.echo(json_for_stdout(summary))
        warn_of_unwritten_log(state, run)
        raise typer.Exit(exit_code)
    console.print(state.t("sync-totals", exit_code=exit_code, log=str(run.log_path), **counts))
    warn_of_unwritten_log(state, run)
    raise typer.Exit(exit_code)


def _strict_reason(unknown: int, blocking: str) -> Problem:
    """Why a file of a sync that --strict stopped was not sent: its own references to unknown
    records, or those of the files named in ``blocking``."""
    if unknown:
        return Problem(NOT_SENT_STRICT, params={"count": unknown})
    params = {WORDING: Wording.NOT_SENT_STRICT_ELSEWHERE, "files": blocking}
    return Problem(NOT_SENT_STRICT, params=params)


def _names(names: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(names)


def _superseded_notice(state: AppState, count: int, superseded: Superseded) -> dict[str, Any]:
    """The notice under a file's line of the rows it left to newer exports of its type."""
    message = state.t("sync-rows-superseded", count=count, files=", ".join(superseded.newer))
    return {"code": "sync-rows-superseded", "row": None, "message": message}


def _print_entry(state: AppState, schema: Schema, entry: dict[str, Any], *, sent: bool) -> None:
    """One file's line of the night's output, and what it needs said under it."""
    console = stdout_console()
    shown = schema.get(entry["record_type"])
    # In English the type's own name leads: the label is Chinese only.
    label = shown.label if state.lang == "zh" else f"{shown.name} ({shown.label})"
    name = Path(entry["file"]).name
    if sent:
        line = state.t(
            "sync-file-line",
            label=label,
            file=name,
            rows=entry["rows_read"],
            accepted=entry["accepted"],
            skipped=entry["skipped_unchanged"],
            invalid=entry["invalid"],
            rejected=entry["rejected"],
        )
    else:
        line = f"{label} {name}: {entry['error']}"
    # A file wholly taken before a signal stopped the run is done, whatever the run's code.
    done = sent and not any(entry[key] for key in ("invalid", "rejected", "not_sent"))
    good = entry["exit_code"] == 0 or (done and not entry.get("error"))
    mark = "[green]✓[/green]" if good else "[red]✗[/red]"
    console.print(f"{mark} {line}", soft_wrap=True)
    if sent and entry.get("error"):
        # The push stopped: credentials refused, platform unreachable.
        console.print(f"   [red]✗[/red] {entry['error']}", soft_wrap=True)
    for notice in entry.get("notices", ()):
        console.print(f"   [yellow]![/yellow] {notice['message']}", soft_wrap=True)
    if entry.get("stored_fewer"):
        warning = state.t("push-stored-fewer", count=entry["stored_fewer"])
        console.print(f"   [yellow]![/yellow] {warning}", soft_wrap=True)
    if entry.get("duplicates_after_loss"):
        notice = state.t("push-duplicates-after-loss", count=entry["duplicates_after_loss"])
        console.print(f"   [yellow]![/yellow] {notice}", soft_wrap=True)
    if entry.get("report"):
        wording = "push-report-warnings" if entry["exit_code"] == 0 else "push-report"
        console.print("   " + state.t(wording, path=entry["report"]), soft_wrap=True)


def _config_warnings(state: AppState, config: Config) -> list[str]:
    """What the config's reading warned of, for the summary file too: a script must see it
    as a person does."""
    warnings = [
        message
        for message in (state.exposed_key_message(config), state.unverified_message(config))
        if message is not None
    ]
    if config.unknown_settings:
        # Printed when the config was read; a misspelt setting is silently at its default,
        # which the morning's reader of the summary must see too.
        warnings.append(state.unknown_settings_message(config))
    repeated = state.repeated_settings_message(config)
    if repeated is not None:
        warnings.append(repeated)
    return warnings


@dataclass
class _EarlyEnd:
    """What a run that ends before it sends knows for its summary file."""

    warnings: list[str] = field(default_factory=list)
    log: Path | None = None
    #: When the run began, in every form of its summary: a monitor tells tonight's from the
    #: night before's by it even when no run wrote one (cron not running, a mistyped option).
    started_at: str = field(
        default_factory=lambda: dt.datetime.now().astimezone().isoformat(timespec="seconds")
    )


def _summary(directory: Path, early: _EarlyEnd, **fields: Any) -> dict[str, Any]:
    """The summary file's object, in the one form a monitor reads whether the run finished,
    could not start, or is still going."""
    return {
        "directory": str(directory),
        "started_at": early.started_at,
        "exit_code": None,
        "error_code": None,
        "totals": {},
        "files": [],
        "ignored_files": [],
        "warnings": early.warnings,
        "log": str(early.log) if early.log else None,
    } | fields


def _record_in_history(
    config: Config,
    command: str,
    directory: Path,
    wait: float | None,
    error: InputError,
    early: _EarlyEnd,
) -> NoReturn:
    """Raise ``error``, a folder with no exports to read, as a run in the history: the nights
    the hospital's export failed are the ones the operator looks for there. Another run
    holding the lock leaves it unrecorded, not turned into a wait or a lock error."""
    from artreport.runs import unattended_run

    with (
        contextlib.suppress(LockedError),
        unattended_run(config, command, record_types=[], files=[str(directory)], wait=wait) as run,
    ):
        early.log = run.log_path
        raise error
    raise error


@contextlib.contextmanager
def _summary_of_failure(
    path: Path | None, directory: Path, lang: str | None, early: _EarlyEnd
) -> Iterator[None]:
    """When the run ends before it starts (another run holds the lock, the state folder or the
    config is unusable), the summary file says so: a monitor must not read last night's."""
    try:
        yield
    except ArtreportError as error:
        if path is not None:
            summary = _summary(
                directory,
                early,
                exit_code=error.exit_code,
                error=error.message(lang),
                # ``error`` is worded for people, in their language; a monitor matches this.
                error_code=error.code,
            )
            with contextlib.suppress(OSError):  # the message on screen says what went wrong
                _write_summary(path, summary)
        raise


def _write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Write the summary file whole or not at all: a run killed or a disk full mid-write must
    not leave a half file that a monitor fails to read. When it cannot be written, last
    night's is removed, so that a monitor finds none rather than reading it as tonight's."""
    try:
        replace_file(path, json.dumps(summary, ensure_ascii=False, indent=1).encode())
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(os.path.realpath(path))  # the file replace_file would have replaced
        raise


def _prepare_summary_file(path: Path, directory: Path, lang: str | None, early: _EarlyEnd) -> None:
    """Fail before anything is sent, not after, when the summary cannot be written there; its
    folder is created as a report's is (the README's crontab names /var/log/artreport/).
    Last night's summary is replaced at once by one without an exit code: a run killed
    outright (kill -9, the OOM killer, a power cut) writes none, and its monitor must not
    read last night's 0 the next morning."""
    reason = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
    else:
        if path.is_dir():
            reason = os.strerror(errno.EISDIR)
        elif not os.access(path if path.exists() else path.parent, os.W_OK):
            reason = os.strerror(errno.EACCES)
    if reason is None:
        unfinished = _summary(
            directory,
            early,
            error=translate("sync-summary-unfinished", lang),
            error_code="sync-summary-unfinished",
        )
        try:
            _write_summary(path, unfinished)
        except OSError as exc:
            reason = exc.strerror or str(exc)
    if reason is not None:
        raise InputError("sync-summary-unwritable", path=str(path), reason=reason)
