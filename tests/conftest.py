"""Shared fixtures: one quick, seeded build of the whole site that many tests inspect."""
from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def run_cli(*args: str, cwd: Path = ROOT, script: Path = ROOT / "build.py") -> subprocess.CompletedProcess:
    """Run ``build.py`` (or another checkout's ``script``) in a subprocess, as a user would."""
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def quick_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """A ``--quick`` build into a temporary folder: its site, cache and printed summary."""
    base = tmp_path_factory.mktemp("quick")
    out, cache = base / "site", base / "models"
    result = run_cli("build", "--quick", "--device", "cpu", "--out", str(out), "--cache", str(cache))
    assert result.returncode == 0, result.stderr[-3000:]
    return {"out": out, "cache": cache, "stdout": result.stdout}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files without request logging."""

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="session")
def served_site(quick_build):
    """The quick site under a sub-path (/repo/), as on a GitHub Pages project site; yields its URL."""
    root = quick_build["out"].parent / "serve-root"
    root.mkdir(exist_ok=True)
    (root / "repo").symlink_to(quick_build["out"], target_is_directory=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/repo/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def quick_models(quick_build):
    """The quick build's dataset and models (one epoch each: rough, but real networks), loaded from its cache."""
    import torch

    from generator.data import load_dataset
    from generator.models.table import get_models
    dataset = load_dataset(None, quick_build["cache"] / "data", node_modules=ROOT / "node_modules", seed=0)
    return dataset, get_models(dataset, quick_build["cache"] / "weights", torch.device("cpu"), quick=True)
