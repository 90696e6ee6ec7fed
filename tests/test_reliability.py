"""Builds that meet each other or die: a build lock, and a build killed mid-training."""
from __future__ import annotations

import fcntl
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from conftest import ROOT
from generator.data import load_dataset
from generator.models.table import SPECS, get_model, quick_spec


def build_process(out: Path, cache: Path, log: Path) -> subprocess.Popen:
    """A quick build in the background, as a user would start it; its progress and messages go to ``log``."""
    command = [sys.executable, str(ROOT / "build.py"), "build", "--quick", "--device", "cpu", "--out", str(out),
               "--cache", str(cache)]
    with open(log, "w") as stderr:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)


def wait_for(condition, process: subprocess.Popen, log: Path, seconds: float = 600) -> None:
    """Poll until ``condition()`` holds, failing if the build ends or time runs out first."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.1)


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_a_second_build_in_one_cache_waits_for_the_first_then_finds_it_warm(quick_build, tmp_path):
    cache, out = quick_build["cache"], tmp_path / "site"
    with open(cache / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)                  # the "first build"
        log = tmp_path / "build.log"
        process = build_process(out, cache, log)
        wait_for(lambda: "waiting for the other build" in log.read_text(), process, log)
        time.sleep(1.0)
        assert process.poll() is None and not out.exists()
    stdout, _ = process.communicate(timeout=600)
    assert process.returncode == 0, log.read_text()[-2000:]
    rows = [line.split() for line in stdout.splitlines() if line.startswith(("model ", "page "))]
    assert rows and all(row[2] == "cached" for row in rows), rows
    assert (out / "index.html").is_file()


def test_a_killed_build_leaves_the_site_untouched_and_keeps_finished_models(quick_build, tmp_path):
    out, cache = tmp_path / "site", tmp_path / "models"
    shutil.copytree(quick_build["out"], out)                    # the previous site
    shutil.copytree(quick_build["cache"] / "data", cache / "data")
    before = mtimes(out)
    log = tmp_path / "build.log"
    process = build_process(out, cache, log)
    wait_for(lambda: any((cache / "weights").glob("reader-*.json")), process, log)   # the first model is stored
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert mtimes(out) == before
    dataset = load_dataset(None, cache / "data", node_modules=ROOT / "node_modules")
    reader = get_model(quick_spec(SPECS[0]), dataset, cache / "weights", torch.device("cpu"))
    assert reader.spec.name == "reader" and reader.cached
