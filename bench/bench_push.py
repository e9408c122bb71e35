"""Throughput, concurrency, bisection cost and memory of ``artreport push``, in one run.

    python bench/bench_push.py [--rows 100000] [--latency-rows 4000] [--memory-rows 1000000]
                               [--skip-memory] [--repeat 2] [--keep DIR] [--json]

The platform is the sandbox, started as its own process (``artreport sandbox``), as the real
platform is another machine: its work does not share the pushing process's interpreter.
Every contender runs as a child process started the same way, start-up included.

* push vs ``validate`` of the same 100k-row cycle file, CSV and XLSX (target: push ≥ 0.7×);
* with 50 ms added to every request: ``--concurrency 4`` vs ``--concurrency 1`` (target ≥ 3×),
  as the rows/s each push reports for itself;
* one bad row in a 200-row chunk: extra requests spent isolating it (target ≤ 16);
* peak RSS of a push of a ``--memory-rows`` CSV (target < 200 MB).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from childproc import Child, child_environment, run_child

from artreport.fakedata import fake_rows, write_rows
from artreport.schema import load_schema

ORGID = "ZJ3301001"
KEY = "bench-key"
MEMORY_LIMIT_MB = 200.0
CYCLE = load_schema().get("cycle")


@dataclass
class Result:
    label: str
    seconds: float
    rows: int
    peak_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class Check:
    label: str
    target: str
    value: float
    passed: bool


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def sandbox(workdir: Path, *options: str) -> Iterator[str]:
    """A sandbox process on a free loopback port; yields its base URL."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "artreport",
            "sandbox",
            "--port",
            str(port),
            "--org",
            f"{ORGID}:{KEY}",
            *options,
        ],
        cwd=workdir,
        env=_environment(workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _environment(workdir: Path, base_url: str = "") -> dict[str, str]:
    return child_environment(
        workdir, ARTREPORT_BASE_URL=base_url, ARTREPORT_ORGID=ORGID, ARTREPORT_KEY=KEY
    )


def _artreport(workdir: Path, base_url: str, *arguments: str) -> Child:
    argv = [sys.executable, "-m", "artreport", *arguments]
    child = run_child(argv, workdir, _environment(workdir, base_url))
    if child.exit_code != 0:
        raise RuntimeError(f"{' '.join(arguments)} exited {child.exit_code}: {child.stderr[-500:]}")
    return child


def _summary(child: Child) -> dict[str, Any]:
    return json.loads(child.stdout.strip().splitlines()[-1])


def _best(runs: list[Child]) -> Child:
    return min(runs, key=lambda child: child.seconds)


def write(path: Path, rows: int, seed: int = 0, bad_at: int | None = None) -> Path:
    records = fake_rows(CYCLE, rows, seed=seed, orgid=ORGID)
    if bad_at is not None:
        records = list(records)
        records[bad_at]["cycleid"] = f"BAD{bad_at}"
    started = time.perf_counter()
    write_rows(path, CYCLE, records)
    _say(f"wrote {path.name}: {rows:,} rows in {time.perf_counter() - started:.1f} s")
    return path


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[Result], list[Check]]:
    results: list[Result] = []
    checks: list[Check] = []
    files = {fmt: write(workdir / f"cycles.{fmt}", args.rows) for fmt in ("csv", "xlsx")}
    with sandbox(workdir) as base_url:
        for fmt, path in files.items():
            validate, push = [], []
            for round_number in range(args.repeat):
                _say(f"round {round_number + 1}/{args.repeat}: {fmt} validate, push …")
                validate.append(_artreport(workdir, base_url, "validate", "cycle", str(path)))
                pushed = _artreport(workdir, base_url, "push", "cycle", str(path), "--json")
                if _summary(pushed)["accepted"] != args.rows:
                    raise RuntimeError(f"push accepted {_summary(pushed)['accepted']} rows")
                push.append(pushed)
            best_validate, best_push = _best(validate), _best(push)
            results.append(
                Result(f"{fmt}: validate", best_validate.seconds, args.rows, best_validate.peak_mb)
            )
            results.append(Result(f"{fmt}: push", best_push.seconds, args.rows, best_push.peak_mb))
            ratio = best_validate.seconds / best_push.seconds
            checks.append(
                Check(f"{fmt}: push ÷ validate throughput", "≥ 0.7×", ratio, ratio >= 0.7)
            )

    latency_file = write(workdir / "latency.csv", args.latency_rows)
    with sandbox(workdir, "--latency", "0.05") as base_url:
        rates = {}
        for concurrency in (1, 4):
            _say(f"50 ms latency: --concurrency {concurrency} …")
            child = _artreport(
                workdir,
                base_url,
                "push",
                "cycle",
                str(latency_file),
                "--json",
                "--concurrency",
                str(concurrency),
            )
            # The push's own rows/s (its summary's elapsed time): interpreter start-up, the
            # same for both, would otherwise blur what concurrency changes.
            elapsed = _summary(child)["elapsed_seconds"]
            results.append(
                Result(
                    f"50 ms latency, concurrency {concurrency}",
                    elapsed,
                    args.latency_rows,
                    child.peak_mb,
                )
            )
            rates[concurrency] = args.latency_rows / elapsed
        ratio = rates[4] / rates[1]
        checks.append(Check("50 ms latency: concurrency 4 ÷ 1", "≥ 3×", ratio, ratio >= 3))

    bad_file = write(workdir / "one_bad.csv", 200, bad_at=123)
    with sandbox(workdir, "--reject-prefix", "BAD") as base_url:
        child = run_child(
            [sys.executable, "-m", "artreport", "push", "cycle", str(bad_file), "--json"],
            workdir,
            _environment(workdir, base_url),
        )
        extra = _summary(child)["extra_requests"]
        checks.append(
            Check("1 bad row in a 200-row chunk: extra requests", "≤ 16", extra, extra <= 16)
        )

    if not args.skip_memory:
        memory_file = write(workdir / "cycles_memory.csv", args.memory_rows)
        with sandbox(workdir) as base_url:
            _say(f"push of {args.memory_rows:,} rows (memory) …")
            child = _artreport(workdir, base_url, "push", "cycle", str(memory_file), "--json")
            results.append(Result("memory: push", child.seconds, args.memory_rows, child.peak_mb))
            checks.append(
                Check(
                    f"push of {args.memory_rows:,} CSV rows: peak MB",
                    f"< {MEMORY_LIMIT_MB:.0f}",
                    child.peak_mb,
                    child.peak_mb < MEMORY_LIMIT_MB,
                )
            )
    return results, checks


def render(results: list[Result], checks: list[Check]) -> str:
    lines = [f"{'contender':40} {'seconds':>8} {'rows/s':>10} {'peak MB':>8}"]
    for r in results:
        lines.append(f"{r.label:40} {r.seconds:8.2f} {r.rows_per_second:10,.0f} {r.peak_mb:8.0f}")
    lines += ["", f"{'check':48} {'value':>8}  {'target':8} result"]
    for c in checks:
        lines.append(
            f"{c.label:48} {c.value:8.2f}  {c.target:8} {'✓ met' if c.passed else '✗ missed'}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the main files")
    parser.add_argument(
        "--latency-rows", type=int, default=4_000, help="rows pushed with 50 ms latency"
    )
    parser.add_argument(
        "--memory-rows",
        type=int,
        default=1_000_000,
        help="rows of the CSV whose push memory is measured",
    )
    parser.add_argument("--skip-memory", action="store_true", help="leave out the memory run")
    parser.add_argument("--repeat", type=int, default=2, help="runs per contender, best kept")
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        results, checks = run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory() as workdir:
            results, checks = run(args, Path(workdir))
    if args.json:
        payload = {
            "results": [asdict(r) | {"rows_per_second": r.rows_per_second} for r in results],
            "checks": [asdict(c) for c in checks],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=1))
    else:
        print(render(results, checks))
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
