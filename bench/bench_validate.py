"""Throughput and peak memory of ``artreport validate`` beside the alternatives, in one run.

    python bench/bench_validate.py [--rows 100000] [--memory-rows 1000000] [--skip-memory]
                                   [--repeat 3] [--keep DIR] [--json]

It writes valid cycle exports (:mod:`artreport.fakedata`, Chinese headers, 35 columns) as CSV
and XLSX, then times each contender as a child process started the same way, so that
interpreter start-up and imports weigh on every number alike:

* CSV: ``artreport validate``; a raw read with ``artreport.readers`` (every row, no checks);
  ``frictionless validate`` with a Table Schema derived from ours — types, required,
  int32 bounds, the orgid, the primary key: what our validate checks that a Table Schema can say.
* XLSX: ``artreport validate``; a raw ``openpyxl`` read-only read; a raw read with
  ``artreport.readers``.
* Memory: peak RSS of ``artreport validate`` on a CSV of ``--memory-rows`` rows.

A timing is the best of ``--repeat`` runs; peak RSS is the child's own ``ru_maxrss`` from
``os.wait4`` (so POSIX only). ``frictionless`` is the bench extra (``pip install -e '.[bench]'``);
without it that column is skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from childproc import Child, child_environment, run_child

from artreport.fakedata import fake_rows, headers_for, write_rows
from artreport.schema import RecordType, load_schema

ORGID = "ZJ3301001"
INT32 = (-(2**31), 2**31 - 1)
MEMORY_LIMIT_MB = 200.0

_FRICTIONLESS_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "date": "date",
    "datetime": "datetime",
}

# Both raw reads print how many rows they saw, so that a reader that stops early cannot win.
_RAW_READ_ARTREPORT = """
import sys
from artreport.readers import open_table
from artreport.schema import load_schema
record_type = load_schema().get(sys.argv[1])
def known(header):
    return record_type.match_header(header) is not None
count = 0
with open_table(sys.argv[2], is_known_header=known) as table:
    for _number, _cells in table.rows():
        count += 1
print(count)
"""
_RAW_READ_OPENPYXL = """
import sys
from openpyxl import load_workbook
workbook = load_workbook(sys.argv[1], read_only=True, data_only=True)
count = 0
for _cells in workbook.worksheets[0].iter_rows(min_row=2, values_only=True):
    count += 1
workbook.close()
print(count)
"""


@dataclass
class Measurement:
    key: str
    input: str
    label: str
    rows: int
    seconds: float | None = None
    peak_mb: float | None = None
    error: str | None = None

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds and self.rows else None


@dataclass
class Check:
    key: str
    label: str
    target: str
    value: float | None
    passed: bool | None
    unit: str = "×"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def _check_validate(child: Child, rows: int) -> str | None:
    """Why a validate run does not count (None when it does): it must exit 0 having read every
    row, or the bench would time something other than validating a good file."""
    try:
        summary = json.loads(child.stdout)
    except json.JSONDecodeError:
        return f"exit {child.exit_code}: {_last_line(child.stderr or child.stdout)}"
    if child.exit_code != 0 or summary.get("rows_read") != rows:
        return (
            f"exit {child.exit_code}, rows read {summary.get('rows_read')} of {rows}, "
            f"invalid {summary.get('invalid')}"
        )
    return None


def _check_exit(child: Child, _rows: int) -> str | None:
    return None if child.exit_code == 0 else f"exit {child.exit_code}: {_last_line(child.stderr)}"


def _check_count(child: Child, rows: int) -> str | None:
    if child.exit_code != 0:
        return f"exit {child.exit_code}: {_last_line(child.stderr)}"
    if child.stdout.strip() != str(rows):
        return f"read {child.stdout.strip()!r} rows, expected {rows}"
    return None


def _check_frictionless(child: Child, rows: int) -> str | None:
    try:
        report = json.loads(child.stdout)
        seen = report["tasks"][0]["stats"]["rows"]
    except (json.JSONDecodeError, KeyError, IndexError):
        return f"exit {child.exit_code}: {_last_line(child.stderr or child.stdout)}"
    if not report.get("valid") or seen != rows:
        first = (report["tasks"][0].get("errors") or [{}])[0].get("message", "")
        return f"valid={report.get('valid')}, rows {seen} of {rows}: {first[:150]}"
    return None


def table_schema(record_type: RecordType, headers: list[str]) -> dict[str, Any]:
    """A Frictionless Table Schema that checks what ours does, for a file with these headers."""
    fields = []
    for field, header in zip(record_type.fields, headers, strict=True):
        entry: dict[str, Any] = {"name": header, "type": _FRICTIONLESS_TYPES[field.type]}
        constraints: dict[str, Any] = {}
        if field.required:
            constraints["required"] = True
        if field.type == "integer":
            constraints["minimum"], constraints["maximum"] = INT32
        if field.name == "orgid":
            constraints["enum"] = [ORGID]
        if field.type == "datetime":
            # The platform's one format; Frictionless's default wants ISO 8601's "T".
            entry["format"] = "%Y-%m-%d %H:%M:%S"
        if constraints:
            entry["constraints"] = constraints
        fields.append(entry)
    key = headers[[f.name for f in record_type.fields].index(record_type.primary_key)]
    return {"fields": fields, "primaryKey": [key]}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generate(workdir: Path, rows: int, memory_rows: int | None, seed: int) -> dict[str, Path]:
    """The input files, each written from the same deterministic rows."""
    cycle = load_schema().get("cycle")
    files = {"csv": workdir / "cycles.csv", "xlsx": workdir / "cycles.xlsx"}
    for path in files.values():
        started = time.perf_counter()
        write_rows(path, cycle, fake_rows(cycle, rows, seed=seed, orgid=ORGID))
        _say(f"wrote {path.name}: {rows:,} rows in {time.perf_counter() - started:.1f} s")
    files["schema"] = workdir / "cycles.schema.json"
    schema = table_schema(cycle, headers_for(cycle))
    files["schema"].write_text(json.dumps(schema, ensure_ascii=False, indent=1), encoding="utf-8")
    if memory_rows:
        files["memory"] = workdir / "cycles_memory.csv"
        started = time.perf_counter()
        write_rows(files["memory"], cycle, fake_rows(cycle, memory_rows, seed=seed, orgid=ORGID))
        seconds = time.perf_counter() - started
        _say(f"wrote {files['memory'].name}: {memory_rows:,} rows in {seconds:.1f} s")
    return files


def _environment(workdir: Path) -> dict[str, str]:
    return child_environment(workdir, ARTREPORT_ORGID=ORGID)


def measure(
    workdir: Path, files: dict[str, Path], rows: int, memory_rows: int | None, repeat: int
) -> list[Measurement]:
    python = sys.executable

    def validate(name: str) -> list[str]:
        report = f"{Path(name).stem}.report.csv"
        return [python, "-m", "artreport", "validate", "cycle", name, "--report", report, "--json"]

    csv_name, xlsx_name, schema = files["csv"].name, files["xlsx"].name, files["schema"].name
    plan: list[tuple[Measurement, list[str], Any]] = [
        (
            # Not a contender: how much of each artreport validate time is start-up.
            Measurement("startup", "-", "artreport --version (start-up)", 0),
            [python, "-m", "artreport", "--version"],
            _check_exit,
        ),
        (
            Measurement("csv_validate", "CSV", "artreport validate", rows),
            validate(csv_name),
            _check_validate,
        ),
        (
            Measurement("csv_raw", "CSV", "raw read, artreport.readers", rows),
            [python, "-c", _RAW_READ_ARTREPORT, "cycle", csv_name],
            _check_count,
        ),
    ]
    frictionless = Measurement("csv_frictionless", "CSV", "frictionless validate", rows)
    if importlib.util.find_spec("frictionless") is None:
        frictionless.error = "frictionless is not installed: pip install -e '.[bench]'"
    plan += [
        (
            frictionless,
            # Relative paths: frictionless refuses absolute ones unless told to trust them.
            [python, "-m", "frictionless", "validate", "--json", "--schema", schema, csv_name],
            _check_frictionless,
        ),
        (
            Measurement("xlsx_validate", "XLSX", "artreport validate", rows),
            validate(xlsx_name),
            _check_validate,
        ),
        (
            Measurement("xlsx_openpyxl", "XLSX", "raw read, openpyxl read-only", rows),
            [python, "-c", _RAW_READ_OPENPYXL, xlsx_name],
            _check_count,
        ),
        (
            Measurement("xlsx_raw", "XLSX", "raw read, artreport.readers", rows),
            [python, "-c", _RAW_READ_ARTREPORT, "cycle", xlsx_name],
            _check_count,
        ),
    ]
    if memory_rows:
        plan.append(
            (
                Measurement(
                    "memory_validate", f"CSV {memory_rows:,}", "artreport validate", memory_rows
                ),
                validate(files["memory"].name),
                _check_validate,
            )
        )

    env = _environment(workdir)
    # Rounds rather than back-to-back repeats: a burst of load elsewhere hits every contender.
    for round_number in range(1, repeat + 1):
        for measurement, argv, check in plan:
            if measurement.error is not None:
                continue
            if measurement.key == "memory_validate" and round_number > 1:
                continue  # one run shows the peak; the timing is not a target
            _say(f"round {round_number}/{repeat}: {measurement.input} {measurement.label} …")
            child = run_child(argv, workdir, env)
            measurement.error = check(child, measurement.rows)
            if measurement.error is None:
                measurement.seconds = min(measurement.seconds or child.seconds, child.seconds)
                measurement.peak_mb = max(measurement.peak_mb or 0.0, child.peak_mb)
    return [m for m, _argv, _check in plan]


def checks(measurements: list[Measurement]) -> list[Check]:
    by_key = {m.key: m for m in measurements}

    def ratio(label: str, ours: str, theirs: str, at_least: float) -> Check:
        mine, other = by_key[ours].rows_per_second, by_key[theirs].rows_per_second
        value = mine / other if mine and other else None
        passed = None if value is None else value >= at_least
        return Check(f"{ours}/{theirs}", label, f"≥ {at_least:g}×", value, passed)

    found = [
        ratio("CSV: validate ÷ frictionless validate", "csv_validate", "csv_frictionless", 4),
        ratio("CSV: validate ÷ raw read (artreport.readers)", "csv_validate", "csv_raw", 0.35),
        ratio("XLSX: validate ÷ openpyxl read-only read", "xlsx_validate", "xlsx_openpyxl", 4),
        ratio("XLSX: validate ÷ raw read (artreport.readers)", "xlsx_validate", "xlsx_raw", 0.6),
    ]
    memory = by_key.get("memory_validate")
    if memory is not None:
        peak = memory.peak_mb
        found.append(
            Check(
                "memory_validate_peak",
                f"peak RSS of validate, {memory.rows:,}-row CSV",
                f"< {MEMORY_LIMIT_MB:g} MB",
                peak,
                None if peak is None else peak < MEMORY_LIMIT_MB,
                unit=" MB",
            )
        )
    return found


def _number(value: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def render(rows: int, repeat: int, measurements: list[Measurement], found: list[Check]) -> str:
    columns = len(load_schema().get("cycle").fields)
    lines = [
        f"artreport validate benchmark: {rows:,} cycle rows × {columns} columns, best of {repeat}",
        "",
        f"{'input':<14}{'contender':<32}{'seconds':>9}{'rows/s':>10}{'peak MB':>9}",
    ]
    for m in measurements:
        lines.append(
            f"{m.input:<14}{m.label:<32}{_number(m.seconds, '.2f'):>9}"
            f"{_number(m.rows_per_second, ',.0f'):>10}{_number(m.peak_mb, '.0f'):>9}"
        )
        if m.error:
            lines.append(f"{'':<14}  ↳ not measured: {m.error}")
    lines += ["", f"{'check':<50}{'value':>10}  {'target':<10}result"]
    for check in found:
        spec = ".0f" if check.unit == " MB" else ".2f"
        verdict = {True: "✓ met", False: "✗ missed", None: "– no value"}[check.passed]
        lines.append(
            f"{check.label:<50}{_number(check.value, spec, check.unit):>10}  "
            f"{check.target:<10}{verdict}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file (100000)")
    parser.add_argument(
        "--memory-rows",
        type=int,
        default=1_000_000,
        help="rows of the CSV whose peak memory is measured (1000000)",
    )
    parser.add_argument("--skip-memory", action="store_true", help="leave out the memory run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender, best kept")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated rows")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="write the files here and keep them (default: a temporary folder)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args()
    if not hasattr(os, "wait4"):
        parser.error("peak memory is read with os.wait4, which this platform lacks (POSIX only)")
    memory_rows = None if options.skip_memory else options.memory_rows

    with tempfile.TemporaryDirectory(prefix="artreport-bench-") as scratch:
        workdir = options.keep.resolve() if options.keep else Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        files = generate(workdir, options.rows, memory_rows, options.seed)
        measurements = measure(workdir, files, options.rows, memory_rows, options.repeat)
    found = checks(measurements)
    if options.json:
        payload = {
            "rows": options.rows,
            "repeat": options.repeat,
            "measurements": [
                {**asdict(m), "rows_per_second": m.rows_per_second} for m in measurements
            ],
            "checks": [asdict(c) for c in found],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(render(options.rows, options.repeat, measurements, found))
    return 0 if all(c.passed for c in found) else 1


if __name__ == "__main__":
    sys.exit(main())
