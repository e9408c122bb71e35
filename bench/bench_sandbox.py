"""Throughput of the sandbox's batchInsert, in rows per second.

One keep-alive httpx client logs in and uploads valid cycle rows in batches::

    python bench/bench_sandbox.py [--rows 100000] [--batch 200] [--db PATH]

The sandbox runs in a child process, as it would under ``artreport sandbox``, so that client
and server do not share one interpreter lock. Bodies are serialised before the clock starts:
the number measures the sandbox, not the client's JSON encoder.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from multiprocessing.connection import Connection

import httpx

from artreport.sandbox import DEMO_ORG, Sandbox, token_for

ORGID, KEY = DEMO_ORG


def _serve(channel: Connection, db: str | None) -> None:
    with Sandbox(db=db) as sandbox:
        channel.send(sandbox.base_url)
        channel.recv()  # the parent's word to stop


def cycle_row(number: int) -> dict[str, object]:
    """A valid cycle row: every required field and some optional ones of each type."""
    return {
        "orgid": ORGID,
        "cycleid": f"BENCH-C{number:08d}",
        "informationid": f"BENCH-I{number // 3:08d}",
        "artplan": "长方案",
        "cycledate": f"2024-{number % 12 + 1:02d}-{number % 28 + 1:02d} 08:{number % 60:02d}:00",
        "ordernumber": number % 5 + 1,
        "tstatus": 1,
        "cycleno": f"N{number}",
        "acyesistype": 2,
        "wInfertilityyear": 3.5,
        "startDate": f"2024-{number % 12 + 1:02d}-{number % 28 + 1:02d}",
        "canceldate": "",
    }


def bodies(rows: int, batch: int) -> list[bytes]:
    return [
        json.dumps(
            [cycle_row(n) for n in range(start, min(start + batch, rows))], ensure_ascii=False
        ).encode()
        for start in range(0, rows, batch)
    ]


def run(base_url: str, payloads: list[bytes]) -> float:
    """Seconds to upload every payload, each answered with success."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = client.post(
            "/art/login", json={"orgid": ORGID, "key": KEY, "token": token_for(ORGID, KEY)}
        ).json()
        if answer["code"] != 0:
            raise SystemExit(f"login failed: {answer}")
        headers = {
            "orgid": ORGID,
            "token": token_for(ORGID, KEY),
            "content-type": "application/json",
        }
        started = time.perf_counter()
        for payload in payloads:
            answer = client.post(
                "/art/aCyclerecord/batchInsert", content=payload, headers=headers
            ).json()
            if answer["code"] != 0:
                raise SystemExit(f"batch rejected: {answer}")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--db", help="SQLite file for the sandbox (default: in memory)")
    options = parser.parse_args()
    payloads = bodies(options.rows, options.batch)
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(theirs, options.db))
    server.start()
    try:
        seconds = run(ours.recv(), payloads)
    finally:
        ours.send("stop")
        server.join()
    print(
        f"{options.rows} rows in {len(payloads)} batches of {options.batch}: "
        f"{seconds:.2f} s, {options.rows / seconds:,.0f} rows/s"
    )


if __name__ == "__main__":
    main()
