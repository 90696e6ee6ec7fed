"""The "Try it" page in real Chromium, served under a sub-path: drawing, JS preprocessing and in-browser inference.

The page's own code path (``window.digitDreams``) is compared with Python: ``mnist_style`` for the
preprocessing (≤ 1/255 per pixel) and onnxruntime on the same ONNX file for the readings (same class).
"""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image, ImageDraw

from generator.data import load_dataset
from generator.data.preprocess import load_image, mnist_style

ROOT = Path(__file__).resolve().parent.parent
VENDORED = {"ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"}
AGREEMENT_DIGITS = 200
TOLERANCE = 1 / 255

# Strokes in pad fractions (x, y); each digit is one or more polylines, drawn bold.
DRAWN = {
    "1": [[(0.50, 0.12), (0.50, 0.88)]],
    "0": [[(0.50, 0.12), (0.68, 0.20), (0.74, 0.50), (0.68, 0.80), (0.50, 0.88), (0.32, 0.80), (0.26, 0.50),
           (0.32, 0.20), (0.50, 0.12)]],
    "7": [[(0.25, 0.15), (0.75, 0.15), (0.45, 0.88)]],
}


@pytest.fixture(scope="module")
def try_page(browser, served_site):
    """One open try.html (reader loaded) and what it logged and requested."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    log = {"errors": [], "requests": [], "failed": []}
    page.on("console", lambda m: log["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    page.on("request", lambda r: log["requests"].append(r.url))
    page.on("requestfailed", lambda r: log["failed"].append(r.url))
    response = page.goto(served_site + "try.html", wait_until="networkidle")
    assert response is not None and response.ok
    page.evaluate("() => window.digitDreams.ready")
    yield page, log
    page.close()


@pytest.fixture(scope="module")
def reader(quick_build) -> ort.InferenceSession:
    """Python onnxruntime on the very file the page loads."""
    return ort.InferenceSession(str(quick_build["out"] / "models" / "reader.onnx"), providers=["CPUExecutionProvider"])


def read(session: ort.InferenceSession, tensors: np.ndarray) -> np.ndarray:
    """Logits for float32 [N,28,28]."""
    (logits,) = session.run(None, {"image": tensors[:, None].astype(np.float32)})
    return logits


def draw(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Press #clear, then draw the strokes on #pad with the mouse and wait for the reading."""
    page.click("#clear")
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=10)
        page.mouse.up()
    page.evaluate("() => window.digitDreams.idle()")


def js_preprocess(page, images: list[np.ndarray]) -> np.ndarray:
    """The page's preprocessing of uint8 grey images, handed over as RGBA ImageData."""
    payload = [{"width": int(im.shape[1]), "height": int(im.shape[0]), "gray": im.ravel().tolist()} for im in images]
    out = page.evaluate("""(images) => images.map(({width, height, gray}) => {
        const rgba = new Uint8ClampedArray(4 * gray.length);
        gray.forEach((v, i) => { rgba.set([v, v, v, 255], 4 * i); });
        return Array.from(window.digitDreams.preprocess(new ImageData(rgba, width, height)));
    })""", payload)
    return np.array(out, dtype=np.float64).reshape(-1, 28, 28)


def stroke_images() -> list[np.ndarray]:
    """Pillow drawings: hard and anti-aliased edges, odd sizes, dark-on-light and light-on-dark."""
    images = []
    specs = [((300, 200), [(80, 30), (95, 170)], 18, False),              # a thin "1", off centre
             ((280, 280), [(60, 50), (220, 50), (120, 240)], 24, False),    # a "7" with a corner
             ((97, 143), [(20, 10), (80, 70), (15, 130), (85, 135)], 9, True),
             ((400, 120), [(10, 60), (390, 60)], 30, False),                # wider than tall
             ((60, 60), [(30, 30), (31, 31)], 3, True)]                     # a dot
    for (width, height), points, pen, light_paper in specs:
        image = Image.new("L", (width, height), 255 if light_paper else 0)
        ImageDraw.Draw(image).line(points, fill=0 if light_paper else 255, width=pen, joint="curve")
        images.append(np.asarray(image))
    big = Image.new("L", (560, 560), 0)                                     # anti-aliased: drawn large, shrunk
    ImageDraw.Draw(big).ellipse((150, 80, 420, 500), outline=255, width=40)
    images.append(np.asarray(big.resize((213, 187), Image.Resampling.LANCZOS)))
    noise = np.random.default_rng(3).integers(0, 256, (41, 33), dtype=np.uint8)  # everything is ink
    images.append(noise)
    return images


def test_page_loads_cleanly_with_vendored_wasm_only(try_page, served_site):
    page, log = try_page
    assert not log["errors"] and not log["failed"], (log["errors"], log["failed"])
    assert all(urlparse(url).hostname == "127.0.0.1" for url in log["requests"]), log["requests"]
    assert all(url.startswith(served_site) for url in log["requests"]), log["requests"]
    vendor = {url.rsplit("/", 1)[1] for url in log["requests"] if "/vendor/" in url}
    assert vendor == VENDORED
    assert any(url.endswith("/repo/models/reader.onnx") for url in log["requests"])
    assert page.get_attribute("#status", "data-state") == "ready"
    assert "Reader ready" in page.inner_text("#status")
    assert page.evaluate("() => getComputedStyle(document.querySelector('#pad')).touchAction") == "none"
    assert page.evaluate("() => document.querySelector('#pad').tabIndex") == 0


@pytest.mark.parametrize("digit", list(DRAWN))
def test_drawn_digit_is_read(try_page, digit):
    page, _ = try_page
    draw(page, DRAWN[digit])
    assert page.get_attribute("#prediction-upright", "data-digit") == digit
    assert page.get_attribute("#prediction-rotated", "data-digit") != ""
    assert page.inner_text("#prediction-upright .big-digit") == digit
    assert f"Reads as {digit} " in page.inner_text("#summary")
    assert "ms" in page.inner_text("#latency")


def test_clear_empties_the_readings(try_page):
    page, _ = try_page
    draw(page, DRAWN["1"])
    assert page.get_attribute("#prediction-upright", "data-digit") == "1"
    page.click("#clear")
    page.evaluate("() => window.digitDreams.idle()")
    assert page.get_attribute("#prediction-upright", "data-digit") == ""
    assert page.get_attribute("#prediction-rotated", "data-digit") == ""


def test_keyboard_draws_on_the_pad(try_page):
    page, _ = try_page
    page.click("#clear")
    page.focus("#pad")
    for key in ["ArrowUp"] * 9 + [" "] + ["ArrowDown"] * 18 + [" "]:   # a vertical stroke: a 1
        page.keyboard.press(key)
    page.evaluate("() => window.digitDreams.idle()")
    assert page.get_attribute("#prediction-upright", "data-digit") == "1"
    page.keyboard.press("Delete")
    page.evaluate("() => window.digitDreams.idle()")
    assert page.get_attribute("#prediction-upright", "data-digit") == ""


def test_js_preprocessing_matches_python_on_stroke_images(try_page):
    page, _ = try_page
    images = stroke_images()
    js = js_preprocess(page, images)
    for n, (image, ours) in enumerate(zip(images, js)):
        diff = np.abs(ours - mnist_style(image)).max()
        assert diff <= TOLERANCE, f"stroke image {n} {image.shape}: JS and mnist_style differ by {diff:.3f}"


def test_js_preprocessing_matches_python_on_the_pad(try_page):
    page, _ = try_page
    draw(page, DRAWN["7"])
    pixels = page.evaluate("""() => { const pad = document.querySelector('#pad');
        const data = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height).data;
        return Array.from(data.filter((_, i) => i % 4 === 0)); }""")
    gray = np.array(pixels, dtype=np.uint8).reshape(280, 280)
    shown = np.array(page.evaluate("() => Array.from(window.digitDreams.lastInput)")).reshape(28, 28)
    assert np.abs(shown - mnist_style(gray, invert=False)).max() <= TOLERANCE


def test_browser_reads_held_out_digits_like_python(try_page, reader, quick_build):
    page, _ = try_page
    dataset = load_dataset(None, quick_build["cache"] / "data", node_modules=ROOT / "node_modules", seed=0)
    images = dataset.test_images[:AGREEMENT_DIGITS]
    result = page.evaluate("""async (images) => {
        const out = [];
        for (const gray of images) {
            const tensor = window.digitDreams.preprocess({width: 28, height: 28, gray});
            const {upright, rotated} = await window.digitDreams.classify28(tensor);
            out.push({tensor: Array.from(tensor), upright: upright.logits, rotated: rotated.logits});
        }
        return out;
    }""", [im.ravel().tolist() for im in images])
    tensors = np.stack([mnist_style(im) for im in images])
    js_tensors = np.array([r["tensor"] for r in result]).reshape(-1, 28, 28)
    assert np.abs(js_tensors - tensors).max() <= TOLERANCE
    upright, rotated = read(reader, tensors), read(reader, np.rot90(tensors, 2, axes=(1, 2)))
    js_upright, js_rotated = np.array([r["upright"] for r in result]), np.array([r["rotated"] for r in result])
    agree_upright = int((js_upright.argmax(1) == upright.argmax(1)).sum())
    agree_rotated = int((js_rotated.argmax(1) == rotated.argmax(1)).sum())
    assert (agree_upright, agree_rotated) == (AGREEMENT_DIGITS, AGREEMENT_DIGITS)
    assert np.abs(js_upright - upright).max() < 1e-3 and np.abs(js_rotated - rotated).max() < 1e-3


def test_samples_load_onto_the_pad_and_read_as_the_manifest_says(try_page, quick_build):
    page, _ = try_page
    items = json.loads((quick_build["out"] / "data" / "try.json").read_text())["items"]
    buttons = page.locator(".try-sample")
    assert buttons.count() == len(items) >= 8
    assert {item["label"] for item in items} >= {0, 1, 6, 8, 9}
    for n, item in enumerate(items):
        buttons.nth(n).click()
        page.evaluate("() => window.digitDreams.idle()")
        assert page.get_attribute("#prediction-upright", "data-digit") == str(item["scores"]["reader"]["predicted"])
        assert (page.get_attribute("#prediction-rotated", "data-digit")
                == str(item["rotated_reading"]["reader"]["predicted"]))


def test_uploaded_photo_is_preprocessed_like_python(try_page, tmp_path):
    page, _ = try_page
    path = tmp_path / "one.png"
    image = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(image).line([(140, 20), (150, 180)], fill=(30, 30, 30), width=22)
    image.save(path)
    page.click("#clear")
    page.evaluate("() => window.digitDreams.idle()")
    assert page.evaluate("() => window.digitDreams.lastInput") is None
    page.set_input_files("#upload", str(path))
    page.wait_for_function("() => window.digitDreams.lastInput !== null")
    page.evaluate("() => window.digitDreams.idle()")
    shown = np.array(page.evaluate("() => Array.from(window.digitDreams.lastInput)")).reshape(28, 28)
    assert np.abs(shown - mnist_style(load_image(path))).max() <= TOLERANCE
    assert page.get_attribute("#prediction-upright", "data-digit") != ""
