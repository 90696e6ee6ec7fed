#!/usr/bin/env python3
"""Browser figures for `make bench`: the "Try it" page in headless Chromium.

``measure(site_dir)`` serves a built site on 127.0.0.1 (under a sub-path, as on GitHub Pages),
opens ``try.html`` in a fresh browser and returns markdown lines with:

- how long the reader takes to become ready (model fetch + WASM compile + session creation);
- the latency of one reading (the drawing and its 180° turn, one batch of two), median over many runs;
- the page's weight: bytes of everything it loads, and gzipped (the WASM binary on its own too).

Standalone: ``python bench/browser.py site/``.
"""
from __future__ import annotations

import gzip
import statistics
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from serving import SUB_PATH, site_in_chromium

WASM = "vendor/ort-wasm-simd-threaded.wasm"
RUNS = 100
WARM_UP = 10

# In the page: RUNS readings of varied digit-like tensors through the page's own classify28.
LATENCY_JS = """async ([runs, warmUp]) => {
    const dd = window.digitDreams;
    await dd.ready;
    const tensor = (seed) => {
        const t = new Float32Array(784);
        for (let i = 0; i < 784; i++) {
            const y = Math.floor(i / 28) - 14, x = i % 28 - 14 + (seed % 5) - 2;
            t[i] = Math.max(0, 1 - Math.abs(Math.hypot(x, y * 0.8) - 7 - (seed % 3)) / 2);
        }
        return t;
    };
    for (let i = 0; i < warmUp; i++) await dd.classify28(tensor(i));
    dd.show(tensor(1));                            // a digit on the 280x280 pad
    await dd.idle();
    const ms = [], endToEnd = [];
    const pad = document.querySelector('#pad');
    for (let i = 0; i < runs; i++) {
        const started = performance.now();
        const result = await dd.classify28(dd.preprocess(pad));   // as while drawing
        endToEnd.push(performance.now() - started);
        ms.push(result.ms);
    }
    return {ms, endToEnd};
}"""


def _gzipped(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def _fmt_bytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(site_dir: Path) -> list[str]:
    """Serve ``site_dir``, open try.html in headless Chromium and report load time, latency and page weight."""
    site_dir = Path(site_dir).resolve()
    if not (site_dir / "try.html").exists():
        raise FileNotFoundError(f"{site_dir}: no try.html; build the site first")
    with site_in_chromium(site_dir) as (browser, page, base):
        urls: list[str] = []
        page.on("requestfinished", lambda r: urls.append(r.url))
        page.goto(base + "try.html", wait_until="networkidle")
        ready = page.evaluate("() => window.digitDreams.ready")
        timings = page.evaluate(LATENCY_JS, [RUNS, WARM_UP])
        version = page.evaluate("() => ort.env.versions.web")
        browser_version = browser.version
    files = []
    for url in dict.fromkeys(urls):                           # each file once, in load order
        path = unquote(urlparse(url).path).removeprefix(f"/{SUB_PATH}/")
        if (site_dir / path).is_file():
            files.append(site_dir / path)
    total = sum(f.stat().st_size for f in files)
    total_gz = sum(_gzipped(f.read_bytes()) for f in files)
    wasm = site_dir / WASM
    wasm_bytes = wasm.stat().st_size
    run_ms, end_ms = timings["ms"], timings["endToEnd"]
    return [
        f"## Browser: the \"Try it\" page (headless Chromium {browser_version}, onnxruntime-web {version}, "
        "WASM, one thread)",
        "",
        "| measure | value |", "| --- | --- |",
        f"| reader ready: model fetch + WASM compile + session creation | {ready['loadMs']:.0f} ms |",
        f"| page opened to reader ready | {ready['readyAt']:.0f} ms |",
        f"| one reading, drawing and its 180° turn (batch of 2), median of {RUNS} | {statistics.median(run_ms):.2f} ms "
        f"(p90 {_percentile(run_ms, 0.9):.2f} ms) |",
        f"| the same plus preprocessing a 280×280 pad, median | {statistics.median(end_ms):.2f} ms |",
        f"| page weight: {len(files)} files | {_fmt_bytes(total)} ({_fmt_bytes(total_gz)} gzipped) |",
        f"| of which `{wasm.name}` | {_fmt_bytes(wasm_bytes)} ({_fmt_bytes(_gzipped(wasm.read_bytes()))} gzipped) |",
        f"| reader model | {_fmt_bytes(ready['modelBytes'])} |",
        "",
    ]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python bench/browser.py SITE_DIR")
    print("\n".join(measure(Path(sys.argv[1]))))


if __name__ == "__main__":
    main()
