#!/usr/bin/env python3
"""`make bench`: speed figures measured side by side in one run, written to bench/RESULTS.md.

- reader inference: our reader against a seed-004-like 4-conv network (19 MFLOP/img), CPU, as a ratio;
- where a cold default build's time goes: per model its training throughput as a fraction of the machine's matmul
  peak and its held-out score, per page the seconds of each step (bench/build_profile.py);
- the whole build from a cold cache and a warm no-change rebuild;
- the size of the built site;
- the browser: onnxruntime-web session creation, per-digit latency and "Try it" page weight (bench/browser.py);
- the anagram studio: seconds per finished digit in the browser and the denoiser's size (bench/studio.py);
- Lighthouse 12 on every page: performance, accessibility, best practices and SEO (bench/lighthouse.py);
- the synthetic digit renderer against a per-pixel reference (bench/synthetic.py).
"""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import browser  # noqa: E402  (bench/ is on the path when run as a script)
import build_profile  # noqa: E402
import lighthouse  # noqa: E402
import studio  # noqa: E402
import synthetic  # noqa: E402

from generator.models.inference import INFERENCE_BATCH, for_inference  # noqa: E402
from generator.models.networks import Normalize, Reader, count_flops  # noqa: E402


def seed_like_network() -> nn.Module:
    """Seed 004's classifier shape: 4 conv layers (32 filters), 2 max-pools, dense 128."""
    return nn.Sequential(
        Normalize(), nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 6 * 6, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def images_per_second(model: nn.Module, batch: int = 500, seconds: float = 3.0) -> float:
    """Inference throughput on the CPU at a fixed batch size, over about ``seconds``."""
    model.eval()
    x = torch.rand(batch, 1, 28, 28)
    with torch.no_grad():
        model(x)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            model(x)
            count += batch
    return count / (time.perf_counter() - started)


FULL_MNIST = ROOT.parent / "shared" / "mnist"      # the four IDX files, where the project's machines have them


def timed_build(out: Path, cache: Path, *extra: str) -> tuple[float, str]:
    """Wall-clock seconds of one `build.py build` and its printed summary."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "build", "--device", "cpu", "--out", str(out),
                             "--cache", str(cache), *extra], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, result.stdout


def full_mnist_section() -> list[str]:
    """A cold build on full MNIST: its time and summary, per-model training, the hard page's counts."""
    if not FULL_MNIST.is_dir() or "--skip-full" in sys.argv:
        return ["## Full MNIST", "", f"Not measured ({FULL_MNIST} absent or --skip-full given)."]
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "models"
        seconds, summary = timed_build(Path(tmp) / "site", cache, "--data", str(FULL_MNIST))
        training = build_profile.training_rows(cache, {})
        hard = build_profile.page_data(cache, "hard")
    counts = (f"Hard digits: {hard['test_size'] - sum(hard['confusion'][d][d] for d in range(10))} misclassified test "
              f"digits, {hard['test_issue_count']} test-set and {hard['label_issue_count']} training-set label-issue "
              f"candidates (out-of-fold over {hard['cv_size']:,} training digits, {hard['cv_folds']} folds, "
              f"{hard['cv_seconds']:.0f} s).")
    return ["## Full MNIST (60,000 + 10,000 digits)", "", f"Cold build: **{seconds:.0f} s** (set-up excluded).", "",
            *training, "", counts, "", "```", summary.strip(), "```"]


def generator_lines(cache: Path) -> list[str]:
    """The ambiguous grid's ablation and the muddles' scores of the embedded build: the panel's numbers, which
    chose, beside the judge's and its realism, which only report."""
    ambiguous, muddle = build_profile.page_data(cache, "ambiguous"), build_profile.page_data(cache, "muddle")
    rows = ["## Generators, as the panel chose and the judge reports", "",
            "| ambiguous recipe | panel | judge alignment | judge both ways (of 90) | realism | seconds |",
            "| --- | --- | --- | --- | --- | --- |"]
    for r in ambiguous["ablation"]:
        name = f"**{r['name']}** (improved)" if r["improved"] else r["name"]
        rows.append(f"| {name} | {r['panel']:.3f} | {r['judge_alignment']:.3f} | {r['judge_both_right']} | "
                    f"{r['realism']:.2f} | {r['seconds']:.1f} |")
    rows += ["", "| muddle method | judge top two = pair | judge median margin | realism |",
             "| --- | --- | --- | --- |"]
    for method, score in muddle["scores"].items():
        rows.append(f"| {method} | {100 * score['judge']['share']:.0f}% | {score['judge']['median_margin']:.2f} | "
                    f"{muddle['realism'][method]['realism']:.2f} |")
    return rows


def folder_size(path: Path) -> int:
    """Total bytes of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def refresh_full_mnist() -> None:
    """`--full-only`: re-measure the Full MNIST section alone, keeping the rest of bench/RESULTS.md."""
    kept = (ROOT / "bench" / "RESULTS.md").read_text().split("## Full MNIST")[0].rstrip("\n").split("\n")
    write_results([*kept, "", *full_mnist_section(), ""])


def main() -> None:
    """Run every measurement and write bench/RESULTS.md."""
    if "--full-only" in sys.argv:
        return refresh_full_mnist()
    reader, seed_net = Reader(), seed_like_network()
    ours, theirs = images_per_second(reader), images_per_second(seed_net)
    fast = images_per_second(for_inference(reader.eval()), INFERENCE_BATCH)
    with tempfile.TemporaryDirectory() as tmp:
        out, cache = Path(tmp) / "site", Path(tmp) / "models"
        cold, summary = timed_build(out, cache)
        warm, _ = timed_build(out, cache)
        site_bytes = folder_size(out)
        profile_lines = build_profile.measure(cache)
        generators = generator_lines(cache)
        browser_lines = browser.measure(out)
        studio_lines = studio.measure(out)
        lighthouse_lines = lighthouse.measure(out)
    synthetic_lines = synthetic.measure()
    lines = [
        "# Benchmarks", "",
        f"Measured {datetime.date.today()} on {platform.machine()} with {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; `make bench` rewrites this file.", "",
        "## Reader inference (CPU, batches of 500, side by side)", "",
        "| network | MFLOP / image | images / s |", "| --- | --- | --- |",
        f"| reader (ours) | {count_flops(reader) / 1e6:.2f} | {ours:,.0f} |",
        f"| seed-004-like 4-conv net | {count_flops(seed_net) / 1e6:.2f} | {theirs:,.0f} |",
        "",
        f"The generators' copy of the reader (batch norm fused into the convolutions, channels-last, batches of "
        f"{INFERENCE_BATCH}; `generator/models/inference.py`) reads **{fast:,.0f}** images a second.", "",
        f"The reader is **{ours / theirs:.1f}×** faster at "
        f"{count_flops(seed_net) / count_flops(reader):.1f}× fewer FLOPs.", "",
        *profile_lines, "", *generators, "",
        "## Whole build on the embedded data", "",
        "| build | seconds |", "| --- | --- |",
        f"| cold cache (set-up excluded) | {cold:.0f} |", f"| warm, nothing changed | {warm:.1f} |",
        f"| ratio | {cold / warm:.0f}× |", "",
        f"Site size: {site_bytes / 1e6:.2f} MB.", "",
        "Cold build summary:", "", "```", summary.strip(), "```", "",
        *browser_lines, "", *studio_lines, "", *lighthouse_lines, "", *synthetic_lines, "",
    ]
    write_results([*lines, "## Full MNIST", "", "Not measured yet: its cold build runs last.", ""])
    write_results([*lines, *full_mnist_section(), ""])


def write_results(lines: list[str]) -> None:
    """Write (and print) bench/RESULTS.md; the embedded results are kept even if the full-MNIST build fails."""
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
