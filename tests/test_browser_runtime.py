"""The shared browser scripts on their own, in real Chromium: static/preprocess.js and static/ort-runtime.js.

They are loaded into a page of the built site that has neither a drawing pad nor a page script of its own (the
home page), so the preprocessing is checked as a pure function, against ``generator.preprocess.mnist_style``,
and the runtime's scheduling and queue with fake runners whose timing the test controls.
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from generator.data.preprocess import mnist_style

TOLERANCE = 1 / 255


@pytest.fixture(scope="module")
def bare_page(browser, served_site):
    """index.html with the two shared scripts added (same origin, so the site's CSP allows them), and its errors."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(served_site + "index.html", wait_until="networkidle")
    assert response is not None and response.ok
    assert page.evaluate("() => [typeof window.DigitPreprocess, typeof window.DigitRuntime, "
                         "typeof window.digitDreams]") == ["undefined", "undefined", "undefined"]
    page.add_script_tag(url=served_site + "static/preprocess.js")
    page.add_script_tag(url=served_site + "static/ort-runtime.js")
    assert page.evaluate("() => [typeof window.DigitPreprocess.mnistStyle, typeof window.DigitRuntime.latest]") \
        == ["function", "function"]
    assert page.locator("#pad").count() == 0
    yield page, errors
    page.close()


def js_mnist_style(page, image: np.ndarray, invert: bool | None = None) -> np.ndarray:
    """DigitPreprocess.mnistStyle on a float32 grey image, handed over as a Float32Array."""
    out = page.evaluate("""([gray, width, height, invert]) =>
        Array.from(window.DigitPreprocess.mnistStyle(Float32Array.from(gray), width, height, invert))""",
                        [image.ravel().tolist(), int(image.shape[1]), int(image.shape[0]), invert])
    return np.array(out, dtype=np.float64).reshape(28, 28)


def random_strokes(seed: int, size: tuple[int, int], light_paper: bool = False) -> np.ndarray:
    """A few random polylines, blurred to soft grey edges, as float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    width, height = size
    image = Image.new("L", size, 255 if light_paper else 0)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 4))):
        points = [(float(rng.uniform(0.1, 0.9) * width), float(rng.uniform(0.1, 0.9) * height))
                  for _ in range(int(rng.integers(2, 6)))]
        draw.line(points, fill=0 if light_paper else 255, width=int(rng.integers(3, 12)), joint="curve")
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.0))))
    return (np.asarray(image, dtype=np.float32) / 255).astype(np.float32)


def test_preprocess_js_matches_python_on_random_strokes(bare_page):
    page, errors = bare_page
    sizes = [(280, 280), (97, 143), (300, 120), (64, 200), (29, 31)]
    for seed, size in enumerate(sizes):
        image = random_strokes(seed, size)
        if seed == 4:                    # values outside [0, 1]: both sides clip them
            image = image * 1.4 - 0.2
        expected = mnist_style(image)
        assert expected.max() > 0.2, "the test image should have ink"
        ours = js_mnist_style(page, image)
        diff = np.abs(ours - expected).max()
        assert diff <= TOLERANCE, f"random strokes {seed} {size}: JS and mnist_style differ by {diff:.4f}"
    assert not errors, errors


def test_preprocess_js_gives_zeros_for_a_blank_image(bare_page):
    page, _ = bare_page
    # 0.04: below the ink threshold
    for blank in (np.zeros((50, 70), np.float32), np.full((33, 21), 0.04, np.float32)):
        assert not mnist_style(blank).any()
        ours = js_mnist_style(page, blank)
        assert ours.shape == (28, 28) and np.array_equal(ours, np.zeros((28, 28)))


def test_preprocess_js_inverts_dark_ink_on_light_paper(bare_page):
    page, _ = bare_page
    image = random_strokes(11, (150, 210), light_paper=True)
    assert image[0].mean() > 0.5 and image[-1].mean() > 0.5                      # light border: the rule inverts
    expected = mnist_style(image)
    assert np.abs(expected - mnist_style(image, invert=True)).max() == 0
    assert expected.max() > 0.2 and (expected > 0.05).mean() < 0.5               # ink on black, not a white square
    ours = js_mnist_style(page, image)
    assert np.abs(ours - expected).max() <= TOLERANCE
    # Grey paper (border mean 0.7, just above the rule's 0.5): inverted too, and then all of it is faint ink.
    grey_paper = (0.3 + 0.4 * random_strokes(12, (120, 90), light_paper=True)).astype(np.float32)
    assert 0.5 < grey_paper[0].mean() < 0.75
    expected_grey = mnist_style(grey_paper)
    assert np.abs(expected_grey - mnist_style(grey_paper, invert=False)).max() > 0.2
    assert np.abs(js_mnist_style(page, grey_paper) - expected_grey).max() <= TOLERANCE
    # Told not to invert, both take the paper itself for ink and agree on that too.
    not_inverted = mnist_style(image, invert=False)
    assert np.abs(not_inverted - expected).max() > 0.5
    assert np.abs(js_mnist_style(page, image, invert=False) - not_inverted).max() <= TOLERANCE


def test_latest_scheduler_runs_only_the_newest_of_the_queued_inputs(bare_page):
    page, errors = bare_page
    result = page.evaluate("""async () => {
        const started = [], finished = [];
        let open = 0, most = 0;
        const gates = [];
        const scheduler = window.DigitRuntime.latest((input) => {
            started.push(input);
            most = Math.max(most, ++open);
            return new Promise((resolve) => gates.push(() => { open--; finished.push(input); resolve(); }));
        });
        const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
        let idleAt = null;
        scheduler.request(1);
        await tick();
        const busyWhileFirstRuns = scheduler.busy;
        scheduler.idle().then(() => { idleAt = finished.slice(); });
        for (const input of [2, 3, 4, 5]) { scheduler.request(input); await tick(); }
        const startedBeforeRelease = started.slice();
        gates.shift()();                 // the first run ends: only the newest waiting input runs next
        await tick();
        scheduler.request(6);            // arrives while 5 runs
        await tick();
        gates.shift()();
        await tick();
        gates.shift()();
        await scheduler.idle();
        await tick();
        return {started, finished, most, busyWhileFirstRuns, startedBeforeRelease, idleAt,
                busyAfter: scheduler.busy, left: gates.length};
    }""")
    assert result["startedBeforeRelease"] == [1]
    assert result["started"] == [1, 5, 6]
    assert result["finished"] == [1, 5, 6]
    assert result["most"] == 1
    assert result["busyWhileFirstRuns"] is True and result["busyAfter"] is False
    assert result["idleAt"] == [1, 5, 6], "idle() must wait for every requested input to be run"
    assert result["left"] == 0
    assert not errors, errors


def test_latest_scheduler_defers_holds_and_survives_a_failing_run(bare_page):
    page, errors = bare_page
    result = page.evaluate("""async () => {
        const seen = [], failures = [];
        let startNow = null;
        const scheduler = window.DigitRuntime.latest(async (input) => {
            seen.push(input);
            if (input === "bad") throw new Error("boom");
        }, {defer: (start) => { startNow = start; }, onError: (e) => failures.push(e.message)});
        scheduler.request("a"); scheduler.request("b"); scheduler.request("bad");
        const beforeStart = seen.slice();
        startNow();                       // one deferred start for the three requests: only the newest runs
        await scheduler.idle();
        scheduler.request("c");
        startNow();
        let release;
        const held = new Promise((resolve) => { release = resolve; });
        scheduler.hold(held);
        let idle = false;
        scheduler.idle().then(() => { idle = true; });
        await new Promise((resolve) => setTimeout(resolve, 20));
        const idleWhileHeld = idle;
        release();
        await new Promise((resolve) => setTimeout(resolve, 0));
        return {beforeStart, seen, failures, idleWhileHeld, idleAfter: idle};
    }""")
    assert result["beforeStart"] == []
    assert result["seen"] == ["bad", "c"]
    assert result["failures"] == ["boom"]
    assert result["idleWhileHeld"] is False and result["idleAfter"] is True
    assert not errors, errors


def test_run_queue_runs_one_task_at_a_time_in_order(bare_page):
    page, _ = bare_page
    result = page.evaluate("""async () => {
        const enqueue = window.DigitRuntime.createQueue();
        const log = [];
        let open = 0, most = 0;
        const task = (name, ms, fail) => async () => {
            most = Math.max(most, ++open);
            log.push(`start ${name}`);
            await new Promise((resolve) => setTimeout(resolve, ms));
            log.push(`end ${name}`);
            open--;
            if (fail) throw new Error(name);
            return name;
        };
        const results = await Promise.allSettled(
            [enqueue(task("a", 30)), enqueue(task("b", 5, true)), enqueue(task("c", 1))]);
        return {log, most,
                results: results.map((r) => r.status === "fulfilled" ? r.value : `failed ${r.reason.message}`)};
    }""")
    assert result["most"] == 1
    assert result["log"] == ["start a", "end a", "start b", "end b", "start c", "end c"]
    assert result["results"] == ["a", "failed b", "c"]


def test_softmax_argmax_percent_and_painter(bare_page):
    page, _ = bare_page
    result = page.evaluate("""() => {
        const R = window.DigitRuntime;
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = 56;
        const tensor = new Float32Array(784);
        tensor[0] = 1; tensor[29] = 0.5; tensor[783] = 2; tensor[1] = -1;
        R.paint28(canvas, tensor);
        const data = canvas.getContext("2d").getImageData(0, 0, 56, 56).data;
        const grey = (x, y) => data[4 * (y * 56 + x)];
        return {
            softmax: R.softmax(Float32Array.from([1, 2, 3, 1000])),
            small: R.softmax([0, Math.log(3)]),
            argmax: R.argmax([0.1, 0.7, 0.7, 0.2]),
            percent: [R.percent(0.996), R.percent(0.004), R.percent(0.5), R.percent(0.1234, 1), R.percent(0.125)],
            pixels: [grey(0, 0), grey(1, 1), grey(2, 0), grey(2, 2), grey(3, 3), grey(55, 55), grey(4, 4)],
            alpha: data[3],
        };
    }""")
    assert result["softmax"] == pytest.approx([0, 0, 0, 1])
    assert result["small"] == pytest.approx([0.25, 0.75])
    assert result["argmax"] == 1
    assert result["percent"] == ["100%", "0%", "50%", "12.3%", "13%"]
    assert result["pixels"] == [255, 255, 0, 128, 128, 255, 0]
    assert result["alpha"] == 255
