#!/usr/bin/env python3
"""Lighthouse figures for `make bench`: the four category scores of every page.

``measure(site_dir)`` serves a built site on 127.0.0.1 under a sub-path (/repo/, as on GitHub Pages) and runs the
pinned npm ``lighthouse`` (12.x, ``node_modules/.bin/lighthouse``) on every page of ``generator.pages.PAGES`` in
Debian's headless Chromium: the desktop preset, no simulated throttling (``--throttling-method=provided``: the page
loads as fast as this machine and the local server allow). Each page is run ``runs`` times and the run with the median
performance score is kept. It returns markdown lines: the scores per page, the performance metrics behind them, and
every weighted audit that cost a page points.

Standalone: ``python bench/lighthouse.py site/ [--runs N] [--json DIR]`` (``--json`` keeps every report).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from serving import SUB_PATH, serve  # noqa: E402  (bench/ is on the path when run as a script)

from generator.pages import PAGES  # noqa: E402

LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CATEGORIES = {"performance": "performance", "accessibility": "accessibility", "best-practices": "best practices",
              "seo": "SEO"}
METRICS = {"first-contentful-paint": "FCP", "largest-contentful-paint": "LCP", "total-blocking-time": "TBT",
           "cumulative-layout-shift": "CLS", "speed-index": "speed index"}
TIMEOUT_S = 300


def run_lighthouse(url: str, report: Path) -> dict:
    """One Lighthouse run on ``url`` (desktop, unthrottled, headless Chromium); its report as a dict."""
    if not LIGHTHOUSE.exists():
        raise FileNotFoundError(f"{LIGHTHOUSE}: missing; run `npm ci` (lighthouse is a devDependency)")
    command = [str(LIGHTHOUSE), url, "--output=json", f"--output-path={report}", "--quiet",
               "--chrome-flags=--headless --no-sandbox --disable-gpu --no-first-run --disable-sync "
               "--disable-background-networking --disable-component-update",
               "--preset=desktop", "--throttling-method=provided", f"--only-categories={','.join(CATEGORIES)}"]
    result = subprocess.run(command, env={**os.environ, "CHROME_PATH": CHROMIUM}, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    if result.returncode != 0 or not report.exists():
        raise RuntimeError(f"lighthouse {url} failed ({result.returncode}): {result.stderr[-2000:]}")
    lhr = json.loads(report.read_text())
    if lhr.get("runtimeError"):
        raise RuntimeError(f"lighthouse {url}: {lhr['runtimeError']}")
    return lhr


def scores(lhr: dict) -> dict[str, int | None]:
    """Category id -> score out of 100 (None when Lighthouse could not score it)."""
    return {key: None if lhr["categories"][key]["score"] is None else round(100 * lhr["categories"][key]["score"])
            for key in CATEGORIES}


def losses(lhr: dict) -> list[str]:
    """The weighted audits below full marks, as 'category: audit title (value)'."""
    found = []
    for key in CATEGORIES:
        for ref in lhr["categories"][key]["auditRefs"]:
            audit = lhr["audits"][ref["id"]]
            if ref["weight"] > 0 and audit["score"] is not None and audit["score"] < 1:
                value = f" ({audit['displayValue']})" if audit.get("displayValue") else ""
                found.append(f"{CATEGORIES[key]}: {audit['title']}{value}")
    return found


def measure(site_dir: Path, runs: int = 1, keep: Path | None = None) -> list[str]:
    """Serve ``site_dir`` under /repo/, run Lighthouse on every page and report scores, metrics and lost points."""
    site_dir = Path(site_dir).resolve()
    missing = [p.name for p in PAGES if not (site_dir / f"{p.name}.html").exists()]
    if missing:
        raise FileNotFoundError(f"{site_dir}: no {missing[0]}.html; build the site first")
    kept: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / SUB_PATH).symlink_to(site_dir, target_is_directory=True)
        server, base = serve(Path(tmp))
        try:
            for page in PAGES:
                reports = []
                for n in range(runs):
                    report = Path(tmp) / f"{page.name}-{n}.json"
                    reports.append(run_lighthouse(f"{base}{page.name}.html", report))
                reports.sort(key=lambda lhr: lhr["categories"]["performance"]["score"] or 0)
                kept[page.name] = reports[len(reports) // 2]
        finally:
            server.shutdown()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for name, lhr in kept.items():
            (keep / f"{name}.json").write_text(json.dumps(lhr))
    first = next(iter(kept.values()))
    chrome = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.split()[1]
    how_many = f"the median by performance of {runs} runs" if runs > 1 else "one run"
    lines = [
        f"## Lighthouse {first['lighthouseVersion']}: every page (headless Chromium {chrome}, desktop preset, "
        "unthrottled)", "",
        f"Served from 127.0.0.1 under /{SUB_PATH}/; {how_many} per page; "
        "`python bench/lighthouse.py SITE_DIR` repeats it.", "",
        "| page | " + " | ".join(CATEGORIES.values()) + " |", "| --- " * (len(CATEGORIES) + 1) + "|",
    ]
    for name, lhr in kept.items():
        values = scores(lhr)
        lines.append(f"| {name}.html | " + " | ".join("–" if values[k] is None else str(values[k]) for k in CATEGORIES)
                     + " |")
    lines += ["", "| page | " + " | ".join(METRICS.values()) + " |", "| --- " * (len(METRICS) + 1) + "|"]
    for name, lhr in kept.items():
        lines.append(f"| {name}.html | " + " | ".join(lhr["audits"][m].get("displayValue", "–") for m in METRICS)
                     + " |")
    lost = [f"- {name}.html, {loss}" for name, lhr in kept.items() for loss in losses(lhr)]
    lines += ["", "Weighted audits below full marks:" if lost else "No weighted audit below full marks.", *lost, ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="a built site folder")
    parser.add_argument("--runs", type=int, default=1, help="runs per page; the median by performance is kept")
    parser.add_argument("--json", type=Path, default=None, help="keep each page's report in this folder")
    args = parser.parse_args()
    print("\n".join(measure(args.site, runs=args.runs, keep=args.json)))


if __name__ == "__main__":
    main()
