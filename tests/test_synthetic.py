"""The synthetic page: Bézier-stroke digits, the renderer against its reference, the synth command, the page."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli
from generator.engines.pen import centre, centre_of_mass, render, render_reference, synthesize
from generator.engines.strokes import ALTERNATE, BAR, FLAG, draw_strokes
from generator.pages import synthetic
from generator.pages.synthetic import ink_stats
from generator.synth import parse_digits

ALL_DIGITS = np.repeat(np.arange(10), 30)


@pytest.fixture(scope="module")
def mnist():
    """The embedded MNIST training digits (the same data the build uses)."""
    from generator.data import embedded_dataset
    return embedded_dataset(ROOT / "node_modules", ROOT / "models" / "data")


def test_digits_are_mnist_shaped_uint8():
    images, strokes = synthesize(ALL_DIGITS, 2.0, np.random.default_rng(0))
    assert images.shape == (300, 28, 28) and images.dtype == np.uint8
    assert (strokes.labels == ALL_DIGITS).all()
    assert images.max(axis=(1, 2)).min() >= 200            # every digit has full ink somewhere...
    assert (images[:, 0, :] == 0).mean() > 0.95            # ...on a black background
    ink = render(strokes)
    assert ink.dtype == np.float32 and ink.min() >= 0.0 and ink.max() <= 1.0


def test_same_seed_same_digits_other_seed_other_digits():
    first, _ = synthesize(ALL_DIGITS, 3.0, np.random.default_rng(7))
    again, _ = synthesize(ALL_DIGITS, 3.0, np.random.default_rng(7))
    other, _ = synthesize(ALL_DIGITS, 3.0, np.random.default_rng(8))
    assert (first == again).all()
    assert (first != other).any(axis=(1, 2)).mean() > 0.9


def test_jitter_zero_draws_the_template_for_one_pen():
    plain, _ = synthesize(ALL_DIGITS, 0.0, np.random.default_rng(1), pen=3.5, styles=False)
    for digit in range(10):
        group = plain[digit == ALL_DIGITS]
        assert (group == group[0]).all(), digit
    # With the optional parts on, digits with the same parts are still identical.
    styled, strokes = synthesize(ALL_DIGITS, 0.0, np.random.default_rng(2), pen=3.5)
    for key in {(int(d), int(s)) for d, s in zip(strokes.labels, strokes.style)}:
        group = styled[(strokes.labels == key[0]) & (strokes.style == key[1])]
        assert (group == group[0]).all(), key
    # A different pen width gives a different digit.
    wider, _ = synthesize(np.arange(10), 0.0, np.random.default_rng(1), pen=4.5, styles=False)
    assert (wider != plain[::30]).any(axis=(1, 2)).all()


def test_optional_parts_follow_the_seeds_odds():
    strokes = draw_strokes(np.repeat([1, 4, 7], 2000), 1.0, np.random.default_rng(3))
    ones, fours, sevens = (strokes.style[strokes.labels == d] for d in (1, 4, 7))
    assert abs((ones & FLAG > 0).mean() - 0.5) < 0.05
    assert abs((ones & BAR > 0).mean() - 0.25) < 0.05 and not ((ones & BAR > 0) & (ones & FLAG == 0)).any()
    assert abs((fours & ALTERNATE > 0).mean() - 0.15) < 0.03
    assert abs((sevens & FLAG > 0).mean() - 0.15) < 0.03 and abs((sevens & BAR > 0).mean() - 0.10) < 0.03
    assert set(np.unique(strokes.style[strokes.labels == 1])) <= {0, FLAG, FLAG | BAR}


def test_jitter_moves_the_strokes_further():
    def strokes(jitter: float, seed: int):
        return draw_strokes(ALL_DIGITS, jitter, np.random.default_rng(seed), pen=3.5, styles=False, normalise=False)

    assert (strokes(0.0, 4).points == strokes(0.0, 5).points).all()   # no jitter: the seed's points, whatever the seed
    template = render(strokes(0.0, 4))
    change = [np.abs(render(strokes(r, 4)) - template).mean() for r in (0.5, 2.0, 5.0)]
    assert 0 < change[0] < change[1] < change[2]


def test_digits_sit_where_mnist_digits_sit(mnist):
    real = ink_stats(mnist.train_images)
    for jitter in (0.0, 3.0):
        images, _ = synthesize(ALL_DIGITS, jitter, np.random.default_rng(5))
        ours = ink_stats(images)
        assert abs(ours["row"] - real["row"]) < 0.3 and abs(ours["col"] - real["col"]) < 0.3, (jitter, ours, real)
        assert abs(ours["height"] - real["height"]) < 1.5, (jitter, ours, real)
        assert abs(ours["width"] - real["width"]) < 2.0, (jitter, ours, real)
        assert 0.75 < ours["ink"] / real["ink"] < 1.35, (jitter, ours, real)
    # Every single digit, not just the average, has its centre of mass within half a pixel of (14, 14).
    assert np.abs(centre_of_mass(images) - 14.0).max() <= 0.5 + 1e-9


def test_centre_moves_by_whole_pixels_to_pixel_14():
    image = np.zeros((1, 28, 28), dtype=np.uint8)
    image[0, 2:5, 20:23] = 255
    moved = centre(image)
    assert moved.sum() == image.sum()
    assert np.allclose(centre_of_mass(moved), [[14.0, 14.0]])   # (3, 21) → (14, 14): shifts of 11 and -7


def test_batched_renderer_matches_the_per_pixel_reference():
    strokes = draw_strokes(np.arange(10), 2.5, np.random.default_rng(6))
    fast, slow = render(strokes), render_reference(strokes)
    assert np.abs(fast - slow).max() < 0.06
    assert np.abs(fast - slow).mean() < 0.003
    assert abs(fast.sum() - slow.sum()) / slow.sum() < 0.03
    # Chunking and thread count do not change the picture.
    assert np.allclose(render(strokes, chunk=3, threads=None), fast, atol=1e-5)


@pytest.mark.parametrize("spec, digits", [("0-9", list(range(10))), ("3", [3]), ("1,4,7", [1, 4, 7]),
                                          ("7-9, 0", [0, 7, 8, 9]), ("2,2", [2])])
def test_parse_digits(spec, digits):
    assert parse_digits(spec) == digits


@pytest.mark.parametrize("spec", ["0-x", "", "10", "9-0", "a", "1,,2", "-3"])
def test_parse_digits_rejects(spec):
    with pytest.raises(ValueError):
        parse_digits(spec)


def test_synth_command_writes_digits_and_sheet(tmp_path):
    out, sheet = tmp_path / "digits.npz", tmp_path / "sheet.png"
    result = run_cli("synth", "--count", "250", "--jitter", "1.5", "--digits", "2-4", "--seed", "3",
                     "--out", str(out), "--sheet", str(sheet))
    assert result.returncode == 0, result.stderr
    with np.load(out) as npz:
        images, labels = npz["images"], npz["labels"]
    assert images.shape == (250, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (250,) and labels.dtype == np.uint8 and set(labels.tolist()) == {2, 3, 4}
    assert images.max() == 255
    expected, _ = synthesize(labels, 1.5, np.random.default_rng(3))
    assert (images == expected).all()                      # the command draws what the library draws
    with Image.open(sheet) as png:
        assert png.mode == "L" and png.width > 0 and png.height > 0


@pytest.mark.parametrize("args, words", [
    (["--count", "-5"], "--count"), (["--count", "many"], "--count"), (["--digits", "0-x"], "--digits"),
    (["--jitter", "-1"], "--jitter"), (["--jitter", "nan"], "--jitter"), (["--seed", "-2"], "--seed"),
    (["--out", "/nonexistent/folder/digits.npz"], "does not exist"), (["--out", "{tmp}"], "folder"),
    ([], "--out"),
])
def test_synth_bad_arguments_are_one_line_errors(tmp_path, args, words):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args and args:
        args += ["--out", str(tmp_path / "x.npz")]
    result = run_cli("synth", "--count", "5", *args) if "--count" not in args else run_cli("synth", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and words in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.npz").exists()


def test_synthetic_page_in_the_quick_build(quick_build):
    out = quick_build["out"]
    manifest = json.loads((out / "data" / "synthetic.json").read_text())
    assert manifest["page"] == "synthetic" and manifest["schema"] == 1
    kinds = {item["kind"] for item in manifest["items"]}
    assert {"template", "example", "failure", "mined"} <= kinds
    radii = {item["jitter"] for item in manifest["items"] if item["kind"] == "example"}
    assert radii == set(synthetic.Config().radii)
    for item in manifest["items"]:
        assert isinstance(item["jitter"], float) and 0 <= item["label"] <= 9
        image = item["image"]
        with Image.open(out / image["sprite"]) as sheet:
            assert image["x"] + 28 <= sheet.width and image["y"] + 28 <= sheet.height
            tile = np.asarray(sheet)[image["y"]:image["y"] + 28, image["x"]:image["x"] + 28]
        assert tile.max() > 100, item["id"]                   # the reference points at a drawn digit
        if item["kind"] == "failure":
            assert item["predicted"] != item["label"] and item["scores"]["reader"]["predicted"] == item["predicted"]
    html = (out / "synthetic.html").read_text()
    assert html.count("<svg class=\"chart\"") >= 1 + 4 + 7 + 1 and "style=" not in html
    assert '<th scope="col">control</th>' in html and "control (no mined digits)" in html
    examples = [item for item in manifest["items"] if item["kind"] == "example"]
    assert examples and all(isinstance(item["looks_real"], bool) for item in examples)
    realism = re.findall(r'px</th><td>[\d.]+%</td><td>[\d.]+%</td>\s*<td>([\d.]+)</td><td>([\d.]+)</td>', html)
    assert len(realism) == len(synthetic.Config().radii)
    assert all(0 <= float(share) <= 1 and float(distance) >= 0 for share, distance in realism)


def test_further_trained_readers_are_cached(quick_build):
    """A warm build loads the mined reader and its control instead of training them again; they differ."""
    import torch

    from generator.data import load_dataset
    from generator.models.table import get_models
    from generator.site.results import BuildInfo
    cache = Path(quick_build["cache"])
    assert list((cache / "experiments").glob("synthetic-reader-*.pt"))
    dataset = load_dataset(None, cache / "data", node_modules=ROOT / "node_modules")
    models = get_models(dataset, cache / "weights", torch.device("cpu"), quick=True)
    assert models.reader.cached
    build = BuildInfo(seed=0, cache=cache / "experiments", device="cpu")
    config = synthetic.Config().quick()
    settings = synthetic.mining_settings(models, dataset, config, build.seed)
    empty = (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    one = (np.zeros((1, 28, 28), np.uint8), np.zeros(1, np.uint8))
    _, control, control_cached = synthetic.fine_tune(models, dataset, empty, build, settings, config)
    _, mined, mined_cached = synthetic.fine_tune(models, dataset, one, build, settings, config)
    assert control_cached and mined_cached
    assert control["mined"] == 0 and mined["mined"] > 0 and mined["epochs"] == control["epochs"] == 1
    assert mined["train_size"] - control["train_size"] == mined["mined"]
