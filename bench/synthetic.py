#!/usr/bin/env python3
"""Synthetic digits: the batched renderer against a per-pixel Python reference, side by side in one run.

Both draw the same strokes from the same jitter draws (``draw_strokes`` with one seed) and centre the
result the MNIST way; only the rendering differs. The reference stamps the pen at every sample along
every stroke, one fine pixel at a time in plain Python (the seed's method), so it renders only a
handful; the batched renderer is timed at growing batch sizes until it is saturated.

    python bench/synthetic.py        # prints the markdown lines that ``measure()`` returns
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.digits import to_uint8  # noqa: E402
from generator.engines.pen import SUPERSAMPLE, THREADS, centre, render, render_reference  # noqa: E402
from generator.engines.strokes import draw_strokes  # noqa: E402

JITTER = 2.0
REFERENCE_COUNT = 20
BATCHES = (100, 1_000, 5_000, 20_000)


def labels_for(count: int) -> np.ndarray:
    """Digits 0–9 in turn."""
    return np.arange(count) % 10


def fast_rate(count: int, seed: int = 0, threads: int | None = THREADS) -> float:
    """Digits per second of the whole batched path: draw the strokes, render, centre."""
    started = time.perf_counter()
    strokes = draw_strokes(labels_for(count), JITTER, np.random.default_rng(seed))
    centre(to_uint8(render(strokes, threads=threads)))
    return count / (time.perf_counter() - started)


def reference_rate(count: int, seed: int = 0) -> tuple[float, np.ndarray]:
    """Digits per second of the same path with the per-pixel reference renderer, and its images."""
    started = time.perf_counter()
    strokes = draw_strokes(labels_for(count), JITTER, np.random.default_rng(seed))
    images = centre(to_uint8(render_reference(strokes)))
    return count / (time.perf_counter() - started), images


def measure() -> list[str]:
    """Markdown lines: per-digit rates of both renderers, their ratio, and how closely they agree."""
    fast_rate(BATCHES[0])                                  # warm-up (allocations)
    rates = {count: fast_rate(count) for count in BATCHES}
    torch_threads = torch.get_num_threads()
    fast_rate(BATCHES[0], threads=None)
    default = fast_rate(BATCHES[-2], threads=None)
    reference, reference_images = reference_rate(REFERENCE_COUNT)
    same = centre(to_uint8(render(draw_strokes(labels_for(REFERENCE_COUNT), JITTER, np.random.default_rng(0)))))
    difference = np.abs(same.astype(np.int16) - reference_images.astype(np.int16))
    best = max(rates.values())
    lines = [
        "## Synthetic digits: batched renderer against per-pixel Python", "",
        f"The same strokes (seeded jitter {JITTER:g} px, digits 0–9 in turn), drawn on a {SUPERSAMPLE}× finer grid, "
        "area-averaged and centred; times include drawing the strokes.", "",
        "| renderer | digits per call | digits / s |", "| --- | --- | --- |",
        *[f"| batched (torch, {THREADS} thread{'s' if THREADS != 1 else ''}, as built) | {count:,} | {rate:,.0f} |"
          for count, rate in rates.items()],
        f"| batched (torch's default, {torch_threads} threads) | {BATCHES[-2]:,} | {default:,.0f} |",
        f"| per-pixel Python reference | {REFERENCE_COUNT} | {reference:,.1f} |", "",
        f"The batched renderer is **{best / reference:,.0f}×** faster than the reference in this run "
        f"({best:,.0f} against {reference:,.1f} digits/s, i.e. {1e3 / best:.2f} ms against "
        f"{1e3 / reference:.0f} ms a digit). "
        f"On the same {REFERENCE_COUNT} digits the two agree to within {int(difference.max())} of 255 per pixel "
        f"(mean {difference.mean():.2f}).", "",
    ]
    return lines


if __name__ == "__main__":
    print("\n".join(measure()))
