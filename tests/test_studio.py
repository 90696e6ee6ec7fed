"""The anagram studio ("Make your own" on the ambiguous page) in Chromium: lazy loading, the controls and the hook,
determinism for a seed, parity with Python onnxruntime running the build's sampler on the same noise, the reader's
readings on the page, and the hand-over to the Try it pad, on the quick build's own denoiser and reader. Plus the
panel's settings and the float16 export.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from generator.engines.sampler import SamplerConfig
from generator.models.denoiser import Denoiser
from generator.models.export_inputs import export_denoiser, half_weights
from generator.pages.studio import CANDIDATES, make_anagram, studio_context, studio_noise
from generator.site.results import MODEL_FILES

PARITY = 1e-3


@pytest.fixture(scope="module")
def sessions(quick_build) -> dict[str, ort.InferenceSession]:
    """Python onnxruntime on the very files the page loads."""
    return {name: ort.InferenceSession(str(quick_build["out"] / MODEL_FILES[name]), providers=["CPUExecutionProvider"])
            for name in ("denoiser", "reader")}


@pytest.fixture(scope="module")
def studio(browser, served_site):
    """One open ambiguous.html (the panel out of view) and its console errors and requests."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    response = page.goto(served_site + "ambiguous.html", wait_until="networkidle")
    assert response is not None and response.ok
    yield page, errors, requests
    page.close()


def python_anagram(page, sessions, upright: int, rotated: int, seed: int) -> dict:
    """The same request in Python: the browser's noise for the seed through the build's sampler, with the
    settings the page was given."""
    settings = json.loads(page.text_content("#studio-settings"))
    sampler = SamplerConfig(steps=settings["steps"], guidance=settings["guidance"],
                            unguided_steps=settings["unguided_steps"])
    return make_anagram(sessions["denoiser"], sessions["reader"], upright, rotated,
                        studio_noise(seed, settings["candidates"]), sampler)


def canvas_grey(page, selector: str) -> np.ndarray:
    """The 784 grey values (0-255) of a 28x28 canvas."""
    return np.array(page.evaluate(f"""() => Array.from(document.querySelector('{selector}').getContext('2d')
        .getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0))"""), dtype=np.int64)


def anagram(page, upright: int, rotated: int, seed: int) -> np.ndarray:
    """window.digitDreams.anagram's digit as a numpy array."""
    values = page.evaluate("async ([i, j, s]) => Array.from(await window.digitDreams.anagram(i, j, s))",
                           [upright, rotated, seed])
    return np.array(values, dtype=np.float32)


def test_studio_context_carries_the_sampler_and_the_model_paths():
    config = SamplerConfig(steps=20, guidance=3.0, unguided_steps=2)
    assert studio_context(config, 3) == {"denoiser": MODEL_FILES["denoiser"], "reader": MODEL_FILES["reader"],
                                         "steps": 20, "guidance": 3.0, "unguided_steps": 2, "candidates": 3}
    assert studio_context(SamplerConfig())["candidates"] == CANDIDATES
    for unsupported in (SamplerConfig(start_time=0.5), SamplerConfig(team_guidance=2.0)):
        with pytest.raises(ValueError):
            studio_context(unsupported)


def test_half_weights_halve_the_file_and_keep_the_velocity():
    torch.manual_seed(0)
    full, _ = export_denoiser(Denoiser())
    half = half_weights(full)
    assert len(half) < 0.5 * len(full)
    model = onnx.load_from_string(half)
    assert onnx.TensorProto.FLOAT16 in {i.data_type for i in model.graph.initializer}
    assert not any(node.metadata_props for node in model.graph.node)       # no source paths shipped
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal((8, 1, 28, 28), dtype=np.float32), "t": rng.random(8, dtype=np.float32),
              "label": rng.integers(0, 11, 8)}
    outputs = [ort.InferenceSession(data).run(None, inputs)[0] for data in (full, half)]
    assert np.abs(outputs[0] - outputs[1]).max() <= 1e-2 * np.abs(outputs[0]).max()


def test_models_load_only_when_the_panel_comes_into_view(studio):
    page, errors, requests = studio
    assert page.get_attribute("#studio-status", "data-state") == "idle"
    assert not any(url.endswith(MODEL_FILES["denoiser"]) for url in requests)
    page.locator("#studio").scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('#studio-status').dataset.state === 'ready'")
    assert any(url.endswith(MODEL_FILES["denoiser"]) for url in requests)
    assert not errors, errors


def test_the_noise_is_the_documented_prng(studio):
    page, _, _ = studio
    for seed in (0, 1, 4_294_967_295):
        noise = np.array(page.evaluate("(s) => Array.from(window.digitDreams.studio.noise(s))", seed), dtype=np.float32)
        assert np.abs(noise - studio_noise(seed).ravel()).max() <= 1e-6
    assert abs(noise.mean()) < 0.1 and abs(noise.std() - 1) < 0.1


def test_make_from_the_keyboard_shows_the_readers_two_readings(studio, sessions):
    page, errors, _ = studio
    page.select_option("#studio-upright", "3")
    page.select_option("#studio-rotated", "8")
    page.fill("#studio-seed", "7")
    page.focus("#studio-go")
    page.keyboard.press("Enter")
    page.wait_for_function("() => (window.digitDreams.studio.shown || {}).seed === 7", timeout=60_000)
    expected = python_anagram(page, sessions, 3, 8, 7)
    shown = page.evaluate("() => ({chosen: window.digitDreams.studio.shown.chosen, "
                          "image: Array.from(window.digitDreams.studio.shown.image)})")
    assert shown["chosen"] == expected["chosen"]
    best = expected["images"][expected["chosen"]]
    assert np.abs(np.array(shown["image"]) - best.ravel()).max() <= PARITY
    assert np.abs(canvas_grey(page, "#studio-canvas") - np.rint(best.ravel() * 255)).max() <= 1
    assert np.abs(canvas_grey(page, "#studio-turned") - np.rint(best[:, ::-1, ::-1].ravel() * 255)).max() <= 1
    up = expected["images"][expected["chosen"]][None]
    readings = [sessions["reader"].run(None, {sessions["reader"].get_inputs()[0].name: x})[0][0]
                for x in (up, np.ascontiguousarray(up[:, :, ::-1, ::-1]))]
    for name, logits in zip(("upright", "rotated"), readings):
        probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        panel = f"#studio-reading-{name}"
        assert page.inner_text(f"{panel} .big-digit") == str(probs.argmax())
        assert page.get_attribute(f"{panel} .bars li.top", "data-digit") == str(probs.argmax())
        values = [float(v.rstrip("%")) for v in page.locator(f"{panel} .bar-value").all_inner_texts()]
        assert np.abs(np.array(values) - 100 * probs).max() <= 0.51
    summary = page.inner_text("#studio-summary")
    assert "upright" in summary and "upside down" in summary
    assert page.is_visible("#studio-try")
    assert not errors, errors


def test_the_hook_is_deterministic_and_matches_python(studio, sessions):
    page, errors, _ = studio
    first, again, other = anagram(page, 4, 7, 11), anagram(page, 4, 7, 11), anagram(page, 4, 7, 12)
    assert first.shape == (784,) and first.min() >= 0 and first.max() <= 1
    assert np.array_equal(first, again)
    assert np.abs(first - other).max() > 0.1
    expected = python_anagram(page, sessions, 4, 7, 12)
    assert np.abs(other - expected["images"][expected["chosen"]].ravel()).max() <= PARITY
    assert np.abs(canvas_grey(page, "#studio-canvas") - np.rint(other * 255)).max() <= 1
    assert [page.input_value(s) for s in ("#studio-upright", "#studio-rotated", "#studio-seed")] == ["4", "7", "12"]
    assert not errors, errors


def test_surprise_me_picks_a_new_seed(studio):
    page, errors, _ = studio
    page.fill("#studio-seed", "5")
    made = page.evaluate("() => window.digitDreams.studio.timings.length")
    page.click("#studio-surprise")
    page.wait_for_function("(n) => window.digitDreams.studio.timings.length > n", arg=made, timeout=60_000)
    seed = page.evaluate("() => window.digitDreams.studio.shown.seed")
    assert page.input_value("#studio-seed") == str(seed) != "5"
    assert not errors, errors


def test_the_digit_opens_on_the_try_it_pad(studio):
    page, errors, _ = studio
    image = anagram(page, 2, 5, 3)
    page.click("#studio-try")
    page.wait_for_url("**/try.html#pad=*")
    page.evaluate("() => window.digitDreams.ready")
    page.evaluate("() => window.digitDreams.idle()")
    pad = np.array(page.evaluate("() => Array.from(window.digitDreams.lastInput)"), dtype=np.float32)
    assert np.abs(pad - image).max() <= 0.5 / 255 + 1e-6
    assert page.inner_text("#prediction-upright .big-digit") != "–"
    assert not errors, errors
