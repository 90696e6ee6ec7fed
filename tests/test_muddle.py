"""The muddle page: decoder ONNX parity, the boundary's tie search, the farthest point, the manifest, and the explorer
in Chromium.

Model-based tests use the quick build's own cached models (one epoch each): rough, but real networks.
"""
from __future__ import annotations

import json
import re
from itertools import pairwise

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from generator.digits import to_uint8
from generator.engines import latent_walk
from generator.models.metrics import predict_proba
from generator.models.realism import Realism
from generator.pages import muddle

PARITY = 1e-4
TIE = 0.05


@pytest.fixture(scope="module")
def quick(quick_models):
    """The quick build's dataset and models."""
    return quick_models


@pytest.fixture(scope="module")
def decoder_onnx(quick_build) -> ort.InferenceSession:
    """Python onnxruntime on the decoder file the page loads."""
    return ort.InferenceSession(str(quick_build["out"] / "models" / "decoder.onnx"), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def manifest(quick_build) -> list[dict]:
    return json.loads((quick_build["out"] / "data" / "muddle.json").read_text())["items"]


def some_pairs(dataset, models, count: int = 30):
    """Seeded (a, b) pairs of held-out digits as the page picks them, with latents and labels."""
    autoencoder = models.autoencoder.module
    labels = dataset.test_labels.astype(np.int64)
    latents = latent_walk.encode(autoencoder, dataset.test_images)
    means = muddle.latent_class_means(latent_walk.encode(autoencoder, dataset.train_images),
                                      dataset.train_labels.astype(np.int64))
    partner_class = muddle.nearest_other_class(latents, labels, means)
    source, partner = muddle.choose_pairs(labels, partner_class, count // 10, np.random.default_rng(5))
    return latents[source], latents[partner], labels[source], labels[partner]


def test_decoder_onnx_matches_pytorch(quick, decoder_onnx):
    dataset, models = quick
    decoder = models.autoencoder.module.decoder
    latents = latent_walk.encode(models.autoencoder.module, dataset.test_images[:200])
    latents = np.concatenate([latents,
                              np.random.default_rng(0).normal(0, 3, (50, latents.shape[1]))]).astype(np.float32)
    assert [i.name for i in decoder_onnx.get_inputs()] == ["latent"]
    assert [o.name for o in decoder_onnx.get_outputs()] == ["image"]
    (onnx_images,) = decoder_onnx.run(None, {"latent": latents})
    with torch.no_grad():
        torch_images = decoder(torch.from_numpy(latents)).numpy()
    assert onnx_images.shape == (len(latents), 1, 28, 28)
    assert np.abs(onnx_images - torch_images).max() <= PARITY


def test_tie_search_finds_the_roots_of_known_functions():
    roots = np.array([0.13, 0.5, 0.77, 0.9])
    signs = np.array([1.0, -1.0, 1.0, 1.0])          # the second row rises through its root

    asked = []

    def gap(t: np.ndarray, rows: np.ndarray) -> np.ndarray:
        asked.append(rows.tolist())
        return signs[rows] * np.tanh(20 * (roots[rows] - t))

    t, value = latent_walk.find_tie(gap, np.zeros(4), np.ones(4), tolerance=0.01)
    # Both ends first; then a row that has tied is not asked again: each round asks a subset of the round before.
    assert asked[0] == asked[1] == [0, 1, 2, 3]
    assert all(set(later) <= set(earlier) for earlier, later in pairwise(asked[1:]))
    assert len(asked[-1]) < 4
    # Regula falsi: at most 8 rounds, where halving the bracket would need 11 to pin the root within 0.0005.
    assert len(asked) - 2 <= 8
    assert np.all(np.abs(value) <= 0.01)
    assert np.allclose(gap(t, np.arange(4)), value)
    assert np.all(np.abs(t - roots) < 1e-3)
    # A row whose lower end already ties is left there; an impossible tolerance still returns the best point seen.
    t, _ = latent_walk.find_tie(gap, np.array([0.13, 0.0, 0.0, 0.0]), np.ones(4), tolerance=0.0, steps=30)
    assert t[0] == pytest.approx(0.13) and np.all(np.abs(t[1:] - roots[1:]) < 1e-6)


def test_tie_search_returns_the_better_end_where_the_gap_never_changes_sign():
    asked = []

    def gap(t: np.ndarray, rows: np.ndarray) -> np.ndarray:
        asked.append(rows.tolist())
        return np.array([0.9, -0.2])[rows] * (1.5 - t)          # both rows keep their sign on [0, 1]

    t, value = latent_walk.find_tie(gap, np.zeros(2), np.ones(2))
    assert t.tolist() == [1.0, 1.0] and np.allclose(value, [0.45, -0.1]) and len(asked) == 2


def test_bracket_is_the_first_sign_change_or_the_closest_sample():
    ts = np.linspace(0, 1, 5)
    gaps = np.array([[0.9, 0.4, -0.2, -0.5, -0.9],
                     [-0.3, 0.2, -0.1, 0.4, 0.5],
                     [0.9, 0.8, 0.3, 0.6, 0.7]])
    lo, hi, found = latent_walk.bracket(gaps, ts)
    assert found.tolist() == [True, True, False]
    assert lo.tolist() == [0.25, 0.0, 0.5] and hi.tolist() == [0.5, 0.25, 0.5]
    # With a strength, the sign change between the strongest neighbours wins (row 2: the one from 0.5 to 0.75).
    strength = np.array([[1.0] * 5, [0.01, 0.02, 0.9, 0.8, 0.9], [1.0] * 5])
    lo, hi, found = latent_walk.bracket(gaps, ts, strength)
    assert found.tolist() == [True, True, False]
    assert lo.tolist() == [0.25, 0.5, 0.5] and hi.tolist() == [0.5, 0.75, 0.5]


def test_relative_gap_is_small_only_at_a_real_tie():
    p_a, p_b = np.array([0.004, 0.45, 0.30]), np.array([0.001, 0.44, 0.30])
    gap = latent_walk.relative_gap(p_a, p_b)
    assert gap[0] > 0.5 and abs(gap[1]) < 0.02 and gap[2] == 0
    assert np.all(np.abs(p_a - p_b) <= np.abs(gap) + 1e-12)


def test_tie_search_on_the_real_reader_lands_where_its_two_top_classes_tie(quick):
    """find_tie with the quick reader on straight lines between two real digits it reads right."""
    dataset, models = quick
    reader = models.reader.module
    labels = dataset.test_labels.astype(np.int64)
    images = dataset.test_images / 255.0
    right = predict_proba(reader, images).argmax(axis=1) == labels
    rng = np.random.default_rng(3)
    source = np.concatenate([rng.choice(np.flatnonzero(right & (labels == d)), 3, replace=False) for d in range(10)])
    partner = np.array([rng.choice(np.flatnonzero(right & (labels != labels[i]))) for i in source])
    a, b, rows = labels[source], labels[partner], np.arange(len(source))

    def line(t: np.ndarray, some: np.ndarray = rows) -> np.ndarray:
        start, end = images[source[some]], images[partner[some]]
        return predict_proba(reader, (1 - t)[:, None, None] * start + t[:, None, None] * end)

    def gap(t: np.ndarray, some: np.ndarray) -> np.ndarray:
        probs = line(t, some)
        return muddle.tie_gap(probs, a[some], b[some])

    t, value = latent_walk.find_tie(gap, np.zeros(len(rows)), np.ones(len(rows)))
    probs = line(t)
    assert np.all(np.abs(value) <= muddle.Config().tie_tolerance) and np.all((t > 0) & (t < 1))
    assert np.all(np.abs(probs[rows, a] - probs[rows, b]) <= TIE)
    top_two = np.sort(np.argsort(probs, axis=1)[:, -2:], axis=1) == np.sort(np.stack([a, b], axis=1), axis=1)
    on_top = top_two.all(axis=1)
    assert on_top.sum() >= len(rows) // 3
    ranked = np.sort(probs, axis=1)
    assert np.all((ranked[:, -1] - ranked[:, -2])[on_top] <= TIE)


def test_diffusion_muddles_are_seeded_and_tie_where_they_say(quick):
    """The diffusion muddle redraws digit a under a blend of a and b; where it reports a tie, the reader's p(a) and
    p(b) are within the tolerance, and the same seed gives the same digits."""
    dataset, models = quick
    config = muddle.Config().quick()
    labels = dataset.test_labels.astype(np.int64)
    source = np.array([int(np.flatnonzero(labels == d)[0]) for d in (4, 7, 3, 1)])
    a, b = labels[source], np.array([9, 1, 8, 7])
    made = muddle.diffusion_muddles(models.diffusion.module, models.reader.module, dataset.test_images[source], a, b,
                                    config, seed=5)
    again = muddle.diffusion_muddles(models.diffusion.module, models.reader.module, dataset.test_images[source], a, b,
                                     config, seed=5)
    assert np.array_equal(made["image"], again["image"]) and np.array_equal(made["t"], again["t"])
    assert made["image"].shape == (4, 28, 28) and np.all((made["t"] >= 0) & (made["t"] <= 1))
    probs = predict_proba(models.reader.module, made["image"])
    gap = latent_walk.relative_gap(probs[np.arange(4), a], probs[np.arange(4), b])
    assert np.array_equal(made["tied"], np.abs(gap) <= config.tie_tolerance)


def test_muddle_boundaries_tie_wherever_the_path_changes_sign(quick):
    """End to end with the quick autoencoder: a tie is reported exactly where the sampled path has one to find."""
    dataset, models = quick
    z_a, z_b, a, b = some_pairs(dataset, models)
    autoencoder, reader = models.autoencoder.module, models.reader.module
    made = muddle.muddles(autoencoder, reader, z_a, z_b, a, b, muddle.Config())
    ts = np.linspace(0, 1, muddle.Config().path_steps)
    latents = (1 - ts)[None, :, None] * z_a[:, None] + ts[None, :, None] * z_b[:, None]
    path = predict_proba(reader, latent_walk.decode(autoencoder, latents.reshape(-1, z_a.shape[1])))
    path = path.reshape(len(a), len(ts), 10)
    rows = np.arange(len(a))
    gaps = path[rows, :, a] - path[rows, :, b]
    changes = ((gaps[:, :-1] > 0) != (gaps[:, 1:] > 0)).any(axis=1)
    tied = made["boundary"]["tied"]
    assert np.array_equal(tied, changes)
    probs = predict_proba(reader, made["boundary"]["image"])
    assert np.all(np.abs(probs[rows, a] - probs[rows, b])[tied] <= TIE)
    untied = ~tied                       # no crossing: the path's closest call is kept
    closest = ts[np.abs(latent_walk.relative_gap(path[rows, :, a], path[rows, :, b])).argmin(axis=1)]
    assert np.allclose(made["boundary"]["t"][untied], closest[untied])


def test_farthest_point_is_farthest_from_both_ends(quick):
    dataset, models = quick
    z_a, z_b, a, b = some_pairs(dataset, models, count=10)
    ts = np.linspace(0, 1, muddle.Config().path_steps)
    latents = (1 - ts)[None, :, None] * z_a[:, None] + ts[None, :, None] * z_b[:, None]
    path = latent_walk.decode(models.autoencoder.module,
                              latents.reshape(-1, z_a.shape[1])).reshape(len(a), len(ts), 28, 28)
    chosen = latent_walk.farthest_on_path(path)
    for row, k in enumerate(chosen):
        flat = path[row].reshape(len(ts), -1).astype(np.float64)
        distance = np.minimum(((flat - flat[0]) ** 2).mean(1), ((flat - flat[-1]) ** 2).mean(1))
        assert distance[k] == pytest.approx(distance.max())
        assert 0 < k < len(ts) - 1
    made = muddle.muddles(models.autoencoder.module, models.reader.module, z_a, z_b, a, b, muddle.Config())
    assert np.allclose(made["farthest"]["image"], path[np.arange(len(a)), chosen], atol=1e-5)
    # A path with a known answer: images equal to the ends except one bump.
    toy = np.zeros((1, 6, 4))
    toy[0, -1] = 1.0
    toy[0, 1:5] = [[0.1] * 4, [0.4] * 4, [0.6] * 4, [0.9] * 4]
    assert latent_walk.farthest_on_path(toy).tolist() == [2]


def test_pairs_are_seeded_and_partners_come_from_the_nearest_other_class():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20)
    latents = rng.normal(size=(200, 10)) + labels[:, None]
    means = muddle.latent_class_means(latents, labels)
    partner_class = muddle.nearest_other_class(latents, labels, means)
    for i in range(len(labels)):
        others = [d for d in range(10) if d != labels[i]]
        assert partner_class[i] == others[int(np.argmin([np.linalg.norm(latents[i] - means[d]) for d in others]))]
    first = muddle.choose_pairs(labels, partner_class, 3, np.random.default_rng(1))
    second = muddle.choose_pairs(labels, partner_class, 3, np.random.default_rng(1))
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    source, partner = first
    assert np.bincount(labels[source], minlength=10).tolist() == [3] * 10
    assert np.array_equal(labels[partner], partner_class[source])


def test_manifest_items_and_sprite_tiles(quick, quick_build, manifest):
    dataset, models = quick
    out = quick_build["out"]
    methods = {item["method"] for item in manifest}
    assert methods == {"original", "reconstruction", "source", "partner", *muddle.METHODS, "sample"}
    assert all(isinstance(item["looks_real"], bool) for item in manifest if item["kind"] == "muddle")
    muddles = [item for item in manifest if item["method"] in muddle.METHODS]
    assert len(muddles) == 4 * 10 * muddle.Config().quick().per_class
    muddles = [item for item in muddles if item["method"] != "diffusion"]     # the latent-path muddles
    sheets = {}
    by_id = {item["id"]: item for item in manifest}
    for item in muddles:
        a, b = item["pair"]
        assert a != b and item["label"] is None and 0 <= item["t"] <= 1
        assert isinstance(item["judge_top2_is_pair"], bool) and 0 <= item["judge_margin"] <= 1
        assert item["judge_margin"] == pytest.approx(abs(item["p_pair"]["judge"][0] - item["p_pair"]["judge"][1]),
                                                     abs=2e-4)
        image = item["image"]
        if image["sprite"] not in sheets:
            sheets[image["sprite"]] = np.asarray(Image.open(out / image["sprite"]))
        tile = sheets[image["sprite"]][image["y"]:image["y"] + 28, image["x"]:image["x"] + 28]
        # The tile is the decoding of the point t on the path between the encoded ends, as uint8.
        pair_id = item["id"].rsplit("-", 1)[0]
        ends = [int(np.flatnonzero(dataset.test_origin.index == by_id[f"{pair_id}-{end}"]["index"])[0])
                for end in ("source", "partner")]
        z = latent_walk.encode(models.autoencoder.module, dataset.test_images[ends])
        expected = to_uint8(latent_walk.decode(models.autoencoder.module,
                                               ((1 - item["t"]) * z[0] + item["t"] * z[1])[None]))[0]
        assert tile.shape == (28, 28) and np.abs(tile.astype(int) - expected).max() <= 2
    samples = [item for item in manifest if item["method"] == "sample"]
    assert len(samples) == 10 * muddle.Config().samples_per_class and all(len(s["latent"]) == 10 for s in samples)


def test_diffusion_muddles_redraw_the_boundary_muddles(quick_build, manifest):
    """Each diffusion muddle starts from its pair's boundary muddle re-noised part-way, so it keeps that digit's
    shape: it lies nearer, in pixels, to the boundary muddle than to either end of the pair."""
    out, sheets = quick_build["out"], {}

    def tile(item: dict) -> np.ndarray:
        image = item["image"]
        if image["sprite"] not in sheets:
            sheets[image["sprite"]] = np.asarray(Image.open(out / image["sprite"]), dtype=np.float64)
        return sheets[image["sprite"]][image["y"]:image["y"] + 28, image["x"]:image["x"] + 28]

    by_id = {item["id"]: item for item in manifest}
    distance = {end: [] for end in ("boundary", "source", "partner")}
    for item in (i for i in manifest if i["method"] == "diffusion"):
        pair_id = item["id"].rsplit("-", 1)[0]
        for end in distance:
            distance[end].append(((tile(item) - tile(by_id[f"{pair_id}-{end}"])) ** 2).mean())
    boundary = np.array(distance["boundary"])
    assert len(boundary) == 10 * muddle.Config().quick().per_class
    assert np.median(boundary) < np.median(distance["source"]) and np.median(boundary) < np.median(distance["partner"])


def test_page_states_each_methods_numbers_from_the_manifest(quick_build, manifest):
    html = (quick_build["out"] / "muddle.html").read_text()
    for method in muddle.METHODS:
        rows = [item for item in manifest if item["method"] == method]
        share = np.mean([item["judge_top2_is_pair"] for item in rows])
        margin = np.median([item["judge_margin"] for item in rows])
        realism = np.mean([item["looks_real"] for item in rows])
        row = re.search(rf'<th scope="row">{method}</th><td>([\d.]+)%</td><td>([\d.]+)</td>\s*<td>([\d.]+)</td>', html)
        assert row, method
        assert float(row.group(1)) == pytest.approx(100 * share, abs=0.5)
        assert float(row.group(2)) == pytest.approx(margin, abs=0.006)
        assert float(row.group(3)) == pytest.approx(realism, abs=0.006)
    assert html.count('class="muddle-row"') == 10 * muddle.Config().quick().per_class


def test_the_score_table_gives_each_method_its_seconds(quick_build):
    html = (quick_build["out"] / "muddle.html").read_text()
    seconds = {m: float(re.search(rf'<tr data-method="{m}">.*?<td>([\d.]+)</td></tr>', html, re.S).group(1))
               for m in muddle.METHODS}
    assert all(s >= 0 for s in seconds.values())
    assert seconds["diffusion"] > seconds["boundary"] > seconds["midpoint"]   # sampling > path search > one decode


def test_the_undecided_real_row_holds_the_held_out_digits_the_reader_hesitates_on(quick, quick_build):
    dataset, models = quick
    within = muddle.Config().undecided_within
    reference = Realism.of(models.judge.module, dataset.test_images)
    undecided = muddle.undecided_real(models.reader.module, reference, dataset.test_images, within)
    top_two = np.sort(predict_proba(models.reader.module, dataset.test_images), axis=1)[:, -2:]
    rows = np.flatnonzero(top_two[:, 1] - top_two[:, 0] <= within)
    assert undecided["count"] == len(rows) > 0                   # the quick build's one-epoch reader hesitates often
    left_out = reference.looks_real_left_out(rows).mean()
    assert undecided["realism"] == pytest.approx(left_out, abs=5e-4) and left_out < 1.0    # each among the others
    html = (quick_build["out"] / "muddle.html").read_text()
    row = re.search(r'data-method="undecided"><th scope="row">the (\d+) real held-out.*?</th>\s*<td colspan="2">–</td>'
                    r'<td>([\d.]+)</td>', html, re.S)
    assert row and int(row.group(1)) == len(rows)
    assert float(row.group(2)) == pytest.approx(undecided["realism"], abs=0.006)


@pytest.fixture(scope="module")
def explorer(browser, served_site):
    """One open muddle.html with both sessions loaded, and its console errors."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(served_site + "muddle.html", wait_until="networkidle")
    assert response is not None and response.ok
    page.evaluate("() => window.muddle.ready")
    page.evaluate("() => window.muddle.idle()")
    yield page, errors
    page.close()


def canvas_pixels(page) -> np.ndarray:
    """The 28x28 grey values of #muddle-canvas."""
    values = page.evaluate("""() => { const c = document.querySelector('#muddle-canvas');
        return Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0)); }""")
    return np.array(values, dtype=np.int64).reshape(28, 28)


def set_mix(page, value: float) -> None:
    page.fill("#mix", str(value))
    page.evaluate("() => window.muddle.idle()")


def test_moving_the_mix_redraws_the_decoded_digit(explorer, decoder_onnx):
    page, errors = explorer
    assert page.get_attribute("#muddle-status", "data-state") == "ready"
    shipped = json.loads(page.inner_text("#muddle-latents"))["samples"]
    latents = np.array([s["latent"] for s in shipped], dtype=np.float32)
    (decoded,) = decoder_onnx.run(None, {"latent": latents})
    grey = np.rint(decoded[:, 0] * 255).reshape(len(shipped), -1)
    apart = np.abs(grey[:, None] - grey[None]).sum(axis=2)          # the two samples whose decodings differ most
    first, second = np.unravel_index(apart.argmax(), apart.shape)
    page.select_option("#muddle-a", str(first))
    page.select_option("#muddle-b", str(second))
    pictures = {}
    for value in (0.0, 0.3, 1.0):
        set_mix(page, value)
        assert page.evaluate("() => window.muddle.shown.t") == pytest.approx(value)
        pictures[value] = canvas_pixels(page)
        latent = ((1 - value) * latents[first] + value * latents[second])[None]
        (expected,) = decoder_onnx.run(None, {"latent": latent})
        assert np.abs(pictures[value] - np.rint(expected[0, 0] * 255)).max() <= 1
    assert np.abs(pictures[0.0] - pictures[1.0]).sum() >= apart.max() / 2 > 0
    assert np.abs(pictures[0.3] - pictures[1.0]).sum() > 0
    assert page.inner_text("#mix-value") == "1.00"
    assert not errors, errors


def test_browser_decodes_shipped_latents_like_python(explorer, decoder_onnx, quick_build):
    page, _ = explorer
    shipped = json.loads(page.inner_text("#muddle-latents"))["samples"]
    assert len(shipped) == 10 * muddle.Config().samples_per_class
    latents = [s["latent"] for s in shipped[::7]]
    decoded = page.evaluate("async (latents) => { const out = []; for (const z of latents) "
                            "out.push(Array.from(await window.muddle.decode(z))); return out; }", latents)
    (expected,) = decoder_onnx.run(None, {"latent": np.array(latents, dtype=np.float32)})
    assert np.array(decoded).shape == (len(latents), 784)
    assert np.abs(np.array(decoded) - expected.reshape(len(latents), 784)).max() <= PARITY


def test_picking_another_pair_reads_it_like_python(explorer, quick_build):
    page, _ = explorer
    reader = ort.InferenceSession(str(quick_build["out"] / "models" / "reader.onnx"),
                                  providers=["CPUExecutionProvider"])
    shipped = json.loads(page.inner_text("#muddle-latents"))["samples"]
    b = next(n for n, s in enumerate(shipped) if s["label"] == 7)
    page.select_option("#muddle-b", str(b))
    set_mix(page, 0.5)
    shown = page.evaluate("() => ({b: window.muddle.shown.b, image: Array.from(window.muddle.shown.image), "
                          "probs: window.muddle.shown.probs})")
    assert shown["b"] == shipped[b]["id"]
    (logits,) = reader.run(None, {"image": np.array(shown["image"], dtype=np.float32).reshape(1, 1, 28, 28)})
    probs = np.exp(logits[0] - logits[0].max())
    probs /= probs.sum()
    assert np.abs(np.array(shown["probs"]) - probs).max() < 1e-4
    top = int(probs.argmax())
    assert page.locator(".muddle-reading .bars li.top").get_attribute("data-digit") == str(top)
    assert page.inner_text("#muddle-summary").startswith(f"Reads as {top} ")
