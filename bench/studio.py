#!/usr/bin/env python3
"""Browser figures for `make bench`: the anagram studio on the ambiguous page in headless Chromium.

``measure(site_dir)`` serves a built site (under a sub-path, as on GitHub Pages), opens ``ambiguous.html``, makes
digits for varied pairs and seeds through ``window.digitDreams.anagram`` and returns markdown lines with the
median seconds per finished digit (every candidate, every step, the reader's ranking, the painting), the load
time and the denoiser's size.

``quality(fp32, reader)`` compares the float32 denoiser with its float16-weight version (``half_weights``, what
the site ships) on the studio's own requests, in Python onnxruntime: size, max velocity difference, max pixel
difference of every candidate, the reader's scores and picks.

Standalone: ``python bench/studio.py site/`` or ``python bench/studio.py --quality denoiser.onnx reader.onnx``.
"""
from __future__ import annotations

import gzip
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serving import site_in_chromium  # bench/ is on the path when run as a script

from generator.site.results import MODEL_FILES

PAIRS = [(4, 7), (6, 9), (1, 7), (2, 5), (0, 8), (3, 8), (7, 4), (5, 2), (9, 6), (8, 3), (2, 7), (5, 6)]


def measure(site_dir: Path) -> list[str]:
    """Serve ``site_dir``, make a digit for each of PAIRS (after one warm-up) and report the figures."""
    site_dir = Path(site_dir).resolve()
    denoiser = site_dir / MODEL_FILES["denoiser"]
    if not denoiser.exists():
        raise FileNotFoundError(f"{denoiser}: no denoiser; build the site first")
    with site_in_chromium(site_dir) as (browser, page, base):
        page.goto(base + "ambiguous.html", wait_until="networkidle")
        ready = page.evaluate("() => window.digitDreams.studio.ready")
        settings = page.evaluate("() => JSON.parse(document.querySelector('#studio-settings').textContent)")
        page.evaluate("() => window.digitDreams.anagram(0, 0, 0)")          # warm-up
        for seed, (upright, rotated) in enumerate(PAIRS, start=1):
            page.evaluate("([i, j, s]) => window.digitDreams.anagram(i, j, s)", [upright, rotated, seed])
        ms = page.evaluate("() => window.digitDreams.studio.timings")[1:]
        browser_version = browser.version
    data = denoiser.read_bytes()
    return [
        f"## Browser: the anagram studio (headless Chromium {browser_version}, WASM, one thread)",
        "",
        "| measure | value |", "| --- | --- |",
        f"| one finished digit: {settings['candidates']} candidates × {settings['steps']} steps, both views, "
        f"guidance {settings['guidance']}, reader ranking; median of {len(ms)} "
        f"| **{statistics.median(ms) / 1000:.2f} s** (min {min(ms) / 1000:.2f}, max {max(ms) / 1000:.2f}) |",
        f"| denoiser and reader ready (fetch + session creation) | {ready['loadMs']:.0f} ms |",
        f"| denoiser ONNX (`{MODEL_FILES['denoiser']}`) | {len(data) / 1e3:.0f} kB "
        f"({len(gzip.compress(data, compresslevel=9, mtime=0)) / 1e3:.0f} kB gzipped) |",
        "",
    ]


def quality(fp32_path: Path, reader_path: Path, requests: int = 30) -> list[str]:
    """Float32 against float16 weights on ``requests`` studio requests (pairs i ≠ j, seeds 1, 2, …)."""
    import onnxruntime as ort

    from generator.engines.sampler import SamplerConfig
    from generator.models.export_inputs import half_weights
    from generator.pages.studio import make_anagram, studio_noise

    full = Path(fp32_path).read_bytes()
    half = half_weights(full)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    fp32, fp16, reader = (ort.InferenceSession(m, options, providers=["CPUExecutionProvider"])
                          for m in (full, half, Path(reader_path).read_bytes()))
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal((16, 1, 28, 28), dtype=np.float32), "t": rng.random(16, dtype=np.float32),
              "label": rng.integers(0, 11, 16)}
    velocity = np.abs(fp32.run(None, inputs)[0] - fp16.run(None, inputs)[0]).max()
    pairs = [(i, j) for i in range(10) for j in range(10) if i != j][::90 // requests]
    pixel, same, best = [], 0, {"fp32": [], "fp16": []}
    for seed, (i, j) in enumerate(pairs, start=1):
        a, b = (make_anagram(s, reader, i, j, studio_noise(seed), SamplerConfig()) for s in (fp32, fp16))
        pixel.append(np.abs(a["images"] - b["images"]).max())
        same += a["chosen"] == b["chosen"]
        best["fp32"].append(a["scores"].max())
        best["fp16"].append(b["scores"].max())
    return [
        "## The studio's denoiser: float32 against float16 weights (Python onnxruntime)", "",
        "| measure | value |", "| --- | --- |",
        f"| size | {len(full) / 1e3:.0f} kB → {len(half) / 1e3:.0f} kB |",
        f"| max velocity difference (16 random rows) | {velocity:.1e} |",
        f"| max pixel difference, every candidate of {len(pairs)} requests | {max(pixel):.4f} "
        f"(median {np.median(pixel):.4f}) |",
        f"| the reader picks the same candidate | {same} / {len(pairs)} |",
        f"| the reader's mean best score (min of both readings) | {np.mean(best['fp32']):.4f} → "
        f"{np.mean(best['fp16']):.4f} |",
        "",
    ]


def main() -> None:
    if len(sys.argv) == 2:
        print("\n".join(measure(Path(sys.argv[1]))))
    elif len(sys.argv) == 4 and sys.argv[1] == "--quality":
        print("\n".join(quality(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        sys.exit("usage: python bench/studio.py SITE_DIR | --quality DENOISER_FP32.onnx READER.onnx")


if __name__ == "__main__":
    main()
