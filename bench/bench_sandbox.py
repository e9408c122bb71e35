"""Throughput of the sandbox's batchInsert, in rows per second.

One keep-alive client logs in and uploads valid cycle rows in batches, twice: rows of a dozen
fields, and full rows like those ``bench_push.py`` pushes (``artreport.fakedata``, about 30
fields and 660 bytes a row)::

    python bench/bench_sandbox.py [--rows 100000] [--batch 200] [--repeat 3] [--db PATH]

The sandbox runs in a child process, as it would under ``artreport sandbox``, so that client
and server do not share one interpreter lock. Bodies are serialised before the clock starts,
and the client is the standard library's ``http.client``, the leanest keep-alive client there
is: the number measures the sandbox, not the client. For comparison the same upload is timed
with httpx, artreport's own client, whose per-request cost (about half a millisecond here)
is the client's, paid on the client's core; a push of several connections does not wait on it.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import itertools
import json
import multiprocessing
import time
from multiprocessing.connection import Connection
from urllib.parse import urlsplit

import httpx

from artreport.fakedata import fake_rows
from artreport.sandbox import DEMO_ORG, Sandbox, token_for
from artreport.schema import load_schema

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


def full_cycle_row(row: dict[str, object]) -> dict[str, object]:
    """A generated cycle row as the platform receives it: dates as the spec's text."""
    return {
        name: value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, datetime.datetime)
        else value.isoformat()
        if isinstance(value, datetime.date)
        else value
        for name, value in row.items()
    }


def bodies(rows: int, batch: int, full: bool = False) -> list[bytes]:
    records = (
        map(full_cycle_row, fake_rows(load_schema().get("cycle"), rows, seed=0, orgid=ORGID))
        if full
        else map(cycle_row, range(rows))
    )
    payloads = []
    while chunk := list(itertools.islice(records, batch)):
        payloads.append(json.dumps(chunk, ensure_ascii=False).encode())
    return payloads


def _login_body() -> dict[str, str]:
    return {"orgid": ORGID, "key": KEY, "token": token_for(ORGID, KEY)}


_HEADERS = {"orgid": ORGID, "token": token_for(ORGID, KEY), "content-type": "application/json"}


def _check(answer: dict[str, object], what: str) -> None:
    if answer["code"] != 0:
        raise SystemExit(f"{what} failed: {answer}")


def run_stdlib(base_url: str, payloads: list[bytes]) -> float:
    """Seconds to upload every payload with ``http.client``, each answered with success."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        connection.request("POST", "/art/login", json.dumps(_login_body()), _HEADERS)
        _check(json.loads(connection.getresponse().read()), "login")
        started = time.perf_counter()
        for payload in payloads:
            connection.request("POST", "/art/aCyclerecord/batchInsert", payload, _HEADERS)
            _check(json.loads(connection.getresponse().read()), "batch")
        return time.perf_counter() - started
    finally:
        connection.close()


def run_httpx(base_url: str, payloads: list[bytes]) -> float:
    """Seconds to upload every payload with httpx, each answered with success."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        _check(client.post("/art/login", json=_login_body()).json(), "login")
        started = time.perf_counter()
        for payload in payloads:
            answer = client.post("/art/aCyclerecord/batchInsert", content=payload, headers=_HEADERS)
            _check(answer.json(), "batch")
        return time.perf_counter() - started


TARGET_ROWS_PER_SECOND = 100_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="runs per client, best kept")
    parser.add_argument("--db", help="SQLite file for the sandbox (default: in memory)")
    options = parser.parse_args()
    shapes = {
        "12 fields": bodies(options.rows, options.batch),
        "full rows": bodies(options.rows, options.batch, full=True),
    }
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(theirs, options.db))
    server.start()
    clients = {"http.client": run_stdlib, "httpx": run_httpx}
    best = {(shape, client): float("inf") for shape in shapes for client in clients}
    try:
        base_url = ours.recv()
        for _ in range(options.repeat):
            for (shape, client), seconds in best.items():
                best[shape, client] = min(seconds, clients[client](base_url, shapes[shape]))
    finally:
        ours.send("stop")
        server.join()
    print(f"{options.rows:,} rows in batches of {options.batch}, best of {options.repeat}:")
    for (shape, client), seconds in best.items():
        size = sum(map(len, shapes[shape])) / options.rows
        print(
            f"  {shape:<10} {size:4.0f} B/row  {client:<12} {seconds:6.2f} s"
            f"  {options.rows / seconds:>9,.0f} rows/s"
        )
    for shape in shapes:
        rate = options.rows / best[shape, "http.client"]
        verdict = "met" if rate >= TARGET_ROWS_PER_SECOND else "missed"
        print(
            f"sandbox capacity, {shape} (http.client) ≥ {TARGET_ROWS_PER_SECOND:,} rows/s: "
            f"{rate:,.0f}, {verdict}"
        )


if __name__ == "__main__":
    main()
