"""Shared test fixtures: an isolated state directory and config for every test."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
# In CI the repository is cloned beside a read-only copy of shared/.
SHARED = REPO.parent / "shared"
REAL_SAMPLES = SHARED / "samples-real"


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No test reads the developer's config or writes to their state directory."""
    home = tmp_path_factory.mktemp("artreport-home")
    monkeypatch.setenv("ARTREPORT_HOME", str(home))
    for variable in (
        "ARTREPORT_CONFIG",
        "ARTREPORT_BASE_URL",
        "ARTREPORT_ORGID",
        "ARTREPORT_KEY",
        "ARTREPORT_LANG",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    return home


def real_sample(name: str) -> Path:
    path = REAL_SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not here (shared/ is not beside the repository)")
    return path
