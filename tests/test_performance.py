"""The pages that run models keep the main thread free: onnxruntime-web compiles and runs the WebAssembly in its own
proxy worker (vendor/ort.wasm.min.js, same origin, allowed by the CSP's worker-src), and the vendored runtime ships
the source map it names. Lighthouse itself runs in `make bench` (bench/lighthouse.py), not here: it takes minutes.
"""
from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("page_name, api", [("try", "digitDreams"), ("muddle", "muddle")])
def test_models_load_and_run_in_onnxruntime_webs_worker(browser, served_site, page_name, api):
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served_site + f"{page_name}.html", wait_until="networkidle")
    page.evaluate(f"() => window.{api}.ready")
    page.evaluate(f"() => window.{api}.idle()")
    assert page.evaluate("() => [ort.env.wasm.proxy, ort.env.wasm.numThreads]") == [True, 1]
    assert [w.url for w in page.workers] == [served_site + "vendor/ort.wasm.min.js"]
    # Inputs survive a run although the proxy transfers what it sends to the worker.
    kept = page.evaluate("""async () => { const t = new Float32Array(784).fill(0.5);
        await window.DigitRuntime.run(window.DigitRuntime.loadSession('models/reader.onnx').then((s) => s.session),
                                      t, [1, 1, 28, 28]);
        return [t.length, t[0]]; }""")
    assert kept == [784, 0.5]
    assert not errors, errors
    page.close()


def test_the_vendored_runtime_ships_the_source_map_it_names(quick_build, browser, served_site):
    vendor = quick_build["out"] / "vendor"
    assert (vendor / "ort.wasm.min.js").read_text().rstrip().endswith("//# sourceMappingURL=ort.wasm.min.js.map")
    source_map = json.loads((vendor / "ort.wasm.min.js.map").read_text())
    assert source_map["version"] == 3 and source_map["sources"] and source_map["mappings"]
    page = browser.new_page()
    response = page.request.get(served_site + "vendor/ort.wasm.min.js.map")
    assert response.ok
    page.close()
