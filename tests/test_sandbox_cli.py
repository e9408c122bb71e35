"""``artreport sandbox`` as a real process (start, answer, Ctrl-C, SIGTERM) and ``sandbox dump``."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from artreport.cli import app
from artreport.sandbox import DEMO_ORG, Faults, Sandbox, server, token_for
from tests.test_sandbox import CYCLE, minimal_row

URL = re.compile(r"http://127\.0\.0\.1:[0-9]+")


def clean_environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARTREPORT_")}
    environment.update(extra)
    return environment


def invoke(*args: str, **env: str) -> Any:
    return CliRunner().invoke(app, ["--lang", "en", *args], env=clean_environment(**env))


class Running:
    """``artreport sandbox`` in a child process, stopped with SIGINT as Ctrl-C would."""

    def __init__(self, cwd: Path, *args: str, **env: str) -> None:
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "artreport", "--lang", "en", "sandbox", "--port", "0", *args],
            cwd=cwd,
            env=clean_environment(**env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.first_line = self.process.stdout.readline()
        self.startup_seconds = time.monotonic() - started
        found = URL.search(self.first_line)
        if found is None:
            self.process.kill()
            _, err = self.process.communicate()
            raise AssertionError(f"no URL in {self.first_line!r}; stderr: {err}")
        self.base_url = found.group(0)

    def login(self, orgid: str, key: str) -> dict[str, Any]:
        body = {"key": key, "orgid": orgid, "token": token_for(orgid, key)}
        answer = httpx.post(f"{self.base_url}/art/login", json=body, timeout=5)
        envelope = answer.json() if answer.status_code == 200 else {}
        return {"status": answer.status_code, **envelope}

    def interrupt(self, signal_number: int = signal.SIGINT) -> tuple[int, str, str]:
        self.process.send_signal(signal_number)
        code = self.process.wait(timeout=10)
        # Not communicate(): it would bypass what readline() already buffered. The outputs are
        # a few lines, far below a pipe's capacity, so reading after wait() cannot block.
        assert self.process.stdout is not None and self.process.stderr is not None
        return code, self.first_line + self.process.stdout.read(), self.process.stderr.read()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    started: list[Running] = []

    def starter(*args: str, **env: str) -> Running:
        started.append(Running(tmp_path, *args, **env))
        return started[-1]

    yield starter
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
        running.process.communicate()


def test_serves_given_organisations_and_stops_cleanly_on_ctrl_c(start: Any) -> None:
    running = start("--org", "ZJ9000001:first-secret", "--org", "ZJ9000002:second-secret")
    assert running.startup_seconds < 2
    assert running.login("ZJ9000001", "first-secret")["code"] == 0
    assert running.login("ZJ9000002", "second-secret")["code"] == 0
    assert running.login(*DEMO_ORG)["code"] == 40004
    code, out, err = running.interrupt()
    assert code == 0, err
    assert "Traceback" not in err
    assert err == ""
    assert "ZJ9000001, ZJ9000002" in out
    assert "secret" not in out
    assert out.rstrip().endswith("Sandbox platform stopped.")


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_as_soon_as_the_address_shows_is_as_clean(start: Any, signal_number: int) -> None:
    """Ctrl-C while the lines after the address were still being printed ended the command on
    "Interrupted.", exit 130, and SIGTERM killed it outright: a script that starts the sandbox,
    reads its address, does something quick and stops it saw a failure most times."""
    running = start("--fail-every", "7")
    code, out, err = running.interrupt(signal_number)
    assert (code, err) == (0, "")
    assert out.rstrip().endswith("Sandbox platform stopped.")


SIGNAL_TO_THE_SERVING_THREAD = """
import signal, sys, threading
from artreport.sandbox import Sandbox

def hand_the_signal_to_the_serving_thread():
    serving = next(t for t in threading.enumerate() if t.name == "artreport-sandbox")
    # After ready() returns, so that the main thread waits for the server, as it does all day.
    threading.Timer(0.3, signal.pthread_kill, (serving.ident, int(sys.argv[1]))).start()

Sandbox().serve_forever(ready=hand_the_signal_to_the_serving_thread)
print("stopped")
"""


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX threads only")
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_the_kernel_hands_to_the_serving_thread_still_stops_it(
    signal_number: int, tmp_path: Path
) -> None:
    """The kernel may deliver Ctrl-C or SIGTERM to any thread of the process; Python runs the
    handler only on the main thread, and one asleep in a join without a timeout never woke:
    the sandbox ignored the stop for good (seen in CI as a stop right after the address)."""
    stopped = subprocess.run(
        [sys.executable, "-c", SIGNAL_TO_THE_SERVING_THREAD, str(int(signal_number))],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert (stopped.returncode, stopped.stdout, stopped.stderr) == (0, "stopped\n", "")


def test_stops_as_cleanly_on_sigterm_keeping_what_it_stored(start: Any, tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite3"
    running = start("--db", str(db))
    assert running.login(*DEMO_ORG)["code"] == 0
    session = {"orgid": DEMO_ORG[0], "token": token_for(*DEMO_ORG)}
    row = {**minimal_row(CYCLE, "K1"), "orgid": DEMO_ORG[0]}
    answer = httpx.post(
        f"{running.base_url}/art/{CYCLE.resource}/batchInsert",
        json=[row],
        headers=session,
        timeout=5,
    ).json()
    assert answer["code"] == 0, answer
    code, out, err = running.interrupt(signal.SIGTERM)
    assert (code, err) == (0, "")
    assert out.rstrip().endswith("Sandbox platform stopped.")
    dumped = invoke("sandbox", "dump", "cycle", "--json", "--db", str(db))
    assert [stored["cycleid"] for stored in json.loads(dumped.stdout)] == ["K1"]


def test_configured_organisation_is_served_without_showing_its_key(start: Any) -> None:
    running = start(ARTREPORT_ORGID="ZJ9000003", ARTREPORT_KEY="configured-secret")
    assert running.login("ZJ9000003", "configured-secret")["code"] == 0
    code, out, err = running.interrupt()
    assert code == 0, err
    assert "ZJ9000003" in out
    assert "configured-secret" not in out + err


def test_demo_organisation_is_printed_and_served(start: Any) -> None:
    running = start()
    orgid, key = DEMO_ORG
    assert running.login(orgid, key)["code"] == 0
    code, out, err = running.interrupt()
    assert code == 0, err
    assert f"Demo organisation: orgid {orgid}, key {key}" in out


def test_fault_options_reach_the_server(start: Any) -> None:
    running = start("--fail-every", "2", "--success-code", "200")
    assert running.login(*DEMO_ORG)["code"] == 200
    assert running.login(*DEMO_ORG)["status"] == 503
    code, out, _ = running.interrupt()
    assert code == 0
    assert "Injected faults: fail_every=2, success_code=200" in out


def test_every_option_is_passed_to_the_sandbox(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made: dict[str, Any] = {}

    class Recorder(Sandbox):
        def __init__(self, orgs: dict[str, str] | None = None, **options: Any) -> None:
            made.update(orgs=orgs, **options)
            super().__init__(orgs, **{**options, "port": 0})

        def serve_forever(self, ready: Callable[[], object] = lambda: None) -> None:
            made["base_url"] = self.base_url
            ready()

    monkeypatch.setattr(server, "Sandbox", Recorder)
    result = invoke(
        "sandbox", "--host", "127.0.0.1", "--port", "9999", "--db", str(tmp_path / "s.db"),
        "--org", "ZJ1:k:with:colons", "--ttl", "60", "--fail-every", "1", "--drop-every", "2",
        "--lose-every", "4",
        "--expire-after", "3", "--latency", "0.5", "--success-code", "200",
        "--reject-prefix", "BAD", "--max-body", "1000000", "--name-bad-row",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert made == {
        "orgs": {"ZJ1": "k:with:colons"},
        "db": tmp_path / "s.db",
        "ttl": 60.0,
        "faults": Faults(
            fail_every=1,
            drop_every=2,
            lose_every=4,
            expire_after=3,
            latency=0.5,
            success_code=200,
            reject_prefix="BAD",
            max_body=1_000_000,
        ),
        "host": "127.0.0.1",
        "port": 9999,
        "name_bad_row": True,
        "base_url": made["base_url"],
    }
    assert made["base_url"] in result.output


@pytest.mark.parametrize("option", ["pasted-secret", ":pasted-secret", "ZJ1:"])
def test_malformed_org_option_is_a_usage_error_that_does_not_echo_it(option: str) -> None:
    result = invoke("sandbox", "--port", "0", "--org", option)
    assert result.exit_code == 2
    assert "--org must be written ORGID:KEY." in result.output
    assert "secret" not in result.output


def test_half_configured_organisation_is_a_config_error() -> None:
    result = invoke("sandbox", "--port", "0", ARTREPORT_ORGID="ZJ1")
    assert result.exit_code == 2
    assert "key" in result.output


# -- dump --------------------------------------------------------------------------------------

INFORMATION_ROW = {
    "informationid": "I1",
    "medicalid": "M1",
    "orgid": DEMO_ORG[0],
    "fName": "张三",
    "wName": "李四",
}


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A sandbox database holding one information row."""
    db = tmp_path / "sandbox.db"
    orgid, key = DEMO_ORG
    with Sandbox(db=db) as sandbox, httpx.Client(base_url=sandbox.base_url) as client:
        client.post("/art/login", json={"key": key, "orgid": orgid, "token": token_for(orgid, key)})
        answer = client.post(
            "/art/aInformationrecord/batchInsert",
            json=[INFORMATION_ROW],
            headers={"orgid": orgid, "token": token_for(orgid, key)},
        )
        assert answer.json()["data"] == 1
    return db


def test_dump_json_from_a_database_file(stored: Path) -> None:
    result = invoke("sandbox", "dump", "information", "--json", "--db", str(stored))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [INFORMATION_ROW]


def test_dump_text_masks_personal_data(stored: Path) -> None:
    result = invoke("sandbox", "dump", "档案信息", "--db", str(stored))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "档案信息 (information): 1 rows"
    assert "informationid=I1" in lines[1]
    assert "fName=***" in lines[1]
    assert "张三" not in result.output


def test_dump_text_masks_an_id_or_mobile_number_in_any_field(tmp_path: Path) -> None:
    # A shifted column, or a clerk who keyed the patient's ID number as the record ID.
    db = tmp_path / "sandbox.db"
    orgid, key = DEMO_ORG
    row = {**INFORMATION_ROW, "informationid": "330603199812099042", "medicalid": "13912345678"}
    with Sandbox(db=db) as sandbox, httpx.Client(base_url=sandbox.base_url) as client:
        client.post("/art/login", json={"key": key, "orgid": orgid, "token": token_for(orgid, key)})
        client.post(
            "/art/aInformationrecord/batchInsert",
            json=[row],
            headers={"orgid": orgid, "token": token_for(orgid, key)},
        )
    result = invoke("sandbox", "dump", "information", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "informationid=3306************42" in result.output
    assert "medicalid=139******78" in result.output
    assert "199812" not in result.output and "13912345678" not in result.output


def test_dump_asks_a_running_sandbox() -> None:
    with Sandbox() as sandbox:
        port = sandbox.base_url.rsplit(":", 1)[1]
        result = invoke("sandbox", "dump", "cycle", "--json", "--port", port)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []


def test_dump_without_a_sandbox_says_so() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = invoke("sandbox", "dump", "cycle", "--port", str(port))
    assert result.exit_code == 4
    assert f"No sandbox platform is running on local port {port}." in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cycle", "--db", "x.db", "--port", "1"], "Give --db or --port, not both."),
        (["nonsense", "--db", "x.db"], "Unknown record type 'nonsense'"),
        (["cycle", "--db", "absent.db"], "Sandbox database absent.db not found."),
    ],
)
def test_dump_usage_errors(args: list[str], message: str) -> None:
    result = invoke("sandbox", "dump", *args)
    assert result.exit_code == 2
    assert message in result.output
