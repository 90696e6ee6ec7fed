"""Shared fixtures: one quick, seeded build of the whole site that many tests inspect."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``build.py`` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="session")
def quick_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """A ``--quick`` build into a temporary folder: its site, cache and printed summary."""
    base = tmp_path_factory.mktemp("quick")
    out, cache = base / "site", base / "models"
    result = run_cli("build", "--quick", "--device", "cpu", "--out", str(out), "--cache", str(cache))
    assert result.returncode == 0, result.stderr[-3000:]
    return {"out": out, "cache": cache, "stdout": result.stdout}
