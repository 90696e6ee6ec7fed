"""Where a cold build's time goes: per model, training throughput as a fraction of the machine's matmul peak
(measured in the same run); per page, the seconds of each step the page records."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.site.pipeline import metric_note  # noqa: E402
from generator.site.results import PageResult  # noqa: E402

TRAINING_FLOPS = 3          # a training image costs about three forward passes (forward, two backward products)


def matmul_peak(threads: int | None = None, size: int = 1024, seconds: float = 2.0) -> float:
    """fp32 matrix-multiply throughput of this machine on ``threads`` torch threads (default: torch's), in GFLOP/s
    (best of many runs)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        a, b = torch.rand(size, size), torch.rand(size, size)
        torch.mm(a, b)
        best, deadline = float("inf"), time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - started)
    finally:
        torch.set_num_threads(before)
    return 2 * size ** 3 / best / 1e9


def training_rows(cache: Path, peaks: dict[int, float]) -> list[str]:
    """A markdown table: per model trained by the cold build, its throughput and fraction of the matmul peak on
    as many threads as it trained with (``peaks``: GFLOP/s by thread count)."""
    rows = ["| model | threads | epochs | images seen | s / epoch | total s | images / s | MFLOP / image | GFLOP/s | "
            "of peak | held-out |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for meta_path in sorted((cache / "weights").glob("*.json")):
        meta = json.loads(meta_path.read_text())
        history, threads = meta["history"], meta.get("threads", torch.get_num_threads())
        rate = history["images_seen"] / max(meta["seconds"], 1e-9)
        achieved = rate * meta["flops"] * TRAINING_FLOPS / 1e9
        peak = peaks.setdefault(threads, matmul_peak(threads))
        rows.append(f"| {meta['name']} | {threads} | {history['epochs']} | {history['images_seen']:,} | "
                    f"{history['seconds_per_epoch']:.2f} | {meta['seconds']:.0f} | {rate:,.0f} | "
                    f"{meta['flops'] / 1e6:.2f} | {achieved:.1f} | {achieved / peak:.0%} | "
                    f"{metric_note(meta['metrics'])} |")
    return rows


def page_data(cache: Path, page: str) -> dict:
    """The data of a page's newest cached result."""
    newest = max((cache / "pages").glob(f"{page}-*.npz"), key=lambda p: p.stat().st_mtime)
    return PageResult.from_bytes(newest.read_bytes()).data


def page_rows(cache: Path) -> list[str]:
    """A markdown table of every step a page times (recipes, the identikits, whole pages), from the page cache."""
    rows = ["| page | step | seconds |", "| --- | --- | --- |"]
    for meta_path in sorted((cache / "pages").glob("*.json")):
        cost = json.loads(meta_path.read_text())
        rows.append(f"| {cost['page']} | whole page | {cost['seconds']:.1f} |")
        data = PageResult.from_bytes(meta_path.with_suffix(".npz").read_bytes()).data
        for recipe in data.get("recipes", []) + data.get("ablation", []):
            rows.append(f"| {cost['page']} | recipe {recipe['name']} | {recipe['seconds']:.1f} |")
        if "identikit_seconds" in data:
            rows.append(f"| {cost['page']} | identikits | {data['identikit_seconds']:.1f} |")
    return rows


def measure(cache: Path) -> list[str]:
    """The profile section of bench/RESULTS.md for a cold build's cache."""
    peaks = {threads: matmul_peak(threads) for threads in sorted({1, torch.get_num_threads()})}
    measured = ", ".join(f"**{peak:.0f} GFLOP/s** on {threads} thread{'s' * (threads > 1)}"
                         for threads, peak in peaks.items())
    return ["## Where a cold build's time goes", "",
            f"fp32 matmul peak of this machine, measured in the same run: {measured}. A cold CPU build trains each "
            "model on one thread in a worker process (`generator/site/workers.py`), so each model's fraction is of "
            f"the peak on its own thread count. A training image is counted as {TRAINING_FLOPS} forward passes.", "",
            *training_rows(cache, peaks), "", *page_rows(cache)]
