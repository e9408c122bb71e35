"""Running a contender as a child process and reading its wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: ru_maxrss is in kilobytes on Linux, in bytes on macOS.
_RSS_UNIT = 1 if sys.platform == "darwin" else 1024


@dataclass
class Child:
    seconds: float
    peak_mb: float
    exit_code: int
    stdout: str
    stderr: str


def child_environment(workdir: Path, **settings: str) -> dict[str, str]:
    """The environment a contender runs in: this one, with ``settings``, no developer config,
    and compiled bytecode kept (under ``workdir``) as an installed package has it. Without
    that, a shell with PYTHONDONTWRITEBYTECODE set recompiles every module at every start,
    which weighs on the contender that imports more."""
    env = dict(os.environ)
    env.pop("ARTREPORT_CONFIG", None)  # a developer's own config must not change the numbers
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        PYTHONPYCACHEPREFIX=str(workdir / "pycache"),
        ARTREPORT_HOME=str(workdir / "state"),
        ARTREPORT_LANG="en",
        PYTHONIOENCODING="utf-8",
        **settings,
    )
    return env


def run_child(argv: list[str], cwd: Path, env: dict[str, str]) -> Child:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        # wait4, not wait: it hands back this child's own resource usage, peak RSS included.
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Child(
            seconds=seconds,
            peak_mb=usage.ru_maxrss * _RSS_UNIT / 1e6,
            exit_code=process.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )
