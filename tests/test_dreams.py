"""The dreams page: identikit hill climbing, the optvis render loop and prior search, the manifest and the page's
numbers.

Unit tests use tiny hand-made networks (fast, with known behaviour); page tests read the quick build.
"""
from __future__ import annotations

import html
import json
import re
from itertools import product

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from generator.engines import hill_climb as identikit
from generator.engines import optvis
from generator.engines.optvis import Goal, Jitter, Pixels, Recipe, Toolkit
from generator.engines.panel import Panel
from generator.pages import dreams

QUICK = dreams.Config().quick()          # the fixture is a quick build

THRESHOLD = 0.9


def linear_net(seed: int, outputs: int = 10) -> nn.Module:
    """A seeded linear classifier on 28x28 images."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Sequential(nn.Flatten(), nn.Linear(784, outputs))


def ink_reader() -> nn.Module:
    """A linear reader whose every class likes ink somewhere, except 9, which no ink can make more likely."""
    model = linear_net(0)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(10, 784, generator=gen).abs() * 0.3)
        model[1].weight[9] = 0
        model[1].bias.zero_()
        model[1].bias[9] = -5
    return model


def p_target(reader: nn.Module, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The reader's probability of each image's target."""
    with torch.no_grad():
        probs = torch.softmax(reader(torch.from_numpy(images).float().unsqueeze(1)), dim=1).numpy()
    return probs[np.arange(len(targets)), targets]


# Identikits ---------------------------------------------------------------------------------------------------------

TARGETS = np.repeat(np.arange(10), 2)


@pytest.fixture(scope="module")
def climbs() -> identikit.Climbs:
    return identikit.hill_climb(ink_reader(), TARGETS, candidates=40, step_limit=40, threshold=THRESHOLD, seed=0)


def test_identikits_stop_at_the_threshold_or_the_step_limit(climbs):
    reader = ink_reader()
    assert np.array_equal(climbs.converged, climbs.confidence >= THRESHOLD)
    assert climbs.converged[TARGETS != 9].all() and not climbs.converged[TARGETS == 9].any()
    assert np.all((climbs.steps >= 1) & (climbs.steps <= 40))
    assert np.all(climbs.steps[~climbs.converged] == 40)
    # The reported confidence is the reader's reading of the returned image.
    assert np.allclose(climbs.confidence, p_target(reader, climbs.images, TARGETS), atol=1e-6)
    assert climbs.images.min() >= 0 and climbs.images.max() <= 1
    # A run that has converged takes no further steps: cutting the limit to the last converged run's steps changes
    # nothing.
    last = int(climbs.steps[climbs.converged].max())
    again = identikit.hill_climb(reader, TARGETS, candidates=40, step_limit=last, threshold=THRESHOLD, seed=0)
    done = climbs.converged
    assert (np.array_equal(again.images[done], climbs.images[done])
            and np.array_equal(again.steps[done], climbs.steps[done]))
    # ... and one step fewer leaves the slowest run short of the threshold.
    short = identikit.hill_climb(reader, TARGETS, candidates=40, step_limit=last - 1, threshold=THRESHOLD, seed=0)
    assert not short.converged[done & (climbs.steps == last)].any()


def test_identikit_confidence_never_falls_from_the_blank_start():
    reader = ink_reader()
    blank = p_target(reader, np.zeros((len(TARGETS), 28, 28), dtype=np.float32), TARGETS)
    start = identikit.hill_climb(reader, TARGETS, candidates=20, step_limit=0, seed=3)
    assert np.allclose(start.confidence, blank, atol=1e-6) and not start.images.any() and not start.steps.any()
    previous = blank
    for limit in range(1, 9):
        run = identikit.hill_climb(reader, TARGETS, candidates=20, step_limit=limit, seed=3)
        assert np.all(run.confidence >= previous - 1e-7)
        previous = run.confidence
    assert np.all(previous[TARGETS != 9] > blank[TARGETS != 9] + 0.1)
    # The impossible 9 never accepts a candidate: its image stays blank.
    assert not run.images[TARGETS == 9].any()


def test_identikits_are_deterministic_for_a_seed():
    reader = ink_reader()
    first, second, other = (identikit.hill_climb(reader, TARGETS, candidates=20, step_limit=5, seed=s)
                            for s in (1, 1, 2))
    assert np.array_equal(first.images, second.images) and np.array_equal(first.steps, second.steps)
    assert not np.array_equal(first.images, other.images)


def test_convergence_table_counts_runs_successes_and_medians():
    climbs = identikit.Climbs(
        images=np.zeros((6, 28, 28)), targets=np.array([0, 0, 0, 1, 1, 2]),
        confidence=np.array([.99, .995, .5, .2, .3, 1.0]),
        steps=np.array([3, 6, 100, 100, 100, 1]), converged=np.array([True, True, False, False, False, True]),
        seconds=np.array([0.3, 0.6, 10.0, 9.0, 11.0, 0.1]))
    rows = identikit.convergence_table(climbs)
    assert [r["digit"] for r in rows] == list(range(10))
    assert rows[0] == {"digit": 0, "runs": 3, "converged": 2, "success_rate": 0.667, "median_steps": 4.5,
                       "median_seconds": 0.6}
    assert rows[1] == {"digit": 1, "runs": 2, "converged": 0, "success_rate": 0.0, "median_steps": None,
                       "median_seconds": 10.0}
    assert rows[2]["success_rate"] == 1.0 and rows[2]["median_steps"] == 1.0
    assert all(r["runs"] == 0 and r["success_rate"] == 0 and r["median_steps"] is None and r["median_seconds"] is None
               for r in rows[3:])


# optvis -------------------------------------------------------------------------------------------------------------

LATENT = 4


@pytest.fixture
def toolkit() -> Toolkit:
    """A reader, two ensemble readers, a decoder and a two-member panel, all linear and seeded."""
    with torch.random.fork_rng():
        torch.manual_seed(5)
        decoder = nn.Sequential(nn.Linear(LATENT, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))
    references = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    panel = Panel.of([linear_net(4), linear_net(5)], references)
    return Toolkit(linear_net(1), [linear_net(2), linear_net(3)], decoder, LATENT, torch.full((1, 1, 28, 28), 0.2),
                   panel, None)


def test_goal_loss_is_the_table_on_matching_pairs(toolkit):
    team = toolkit.team("ensemble")
    images = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))     # two repeats of three targets
    for goal in (Goal(torch.tensor([3, 1, 4])), Goal(torch.tensor([3, 1, 4]), torch.tensor([1, 5, 9]))):
        loss, table = goal.loss(team, images), goal.table(team, images)
        assert table.shape == (6, 3)
        assert torch.allclose(loss, table[torch.arange(6), torch.arange(6) % 3], atol=1e-6)
    # Upright only, one model: the loss is the cross-entropy of the intended digit.
    reader = toolkit.team("reader")
    expected = nn.functional.cross_entropy(reader[0](images), torch.tensor([3, 1, 4, 3, 1, 4]), reduction="none")
    assert torch.allclose(Goal(torch.tensor([3, 1, 4])).loss(reader, images), expected, atol=1e-6)


def test_render_with_pixels_stays_in_range_and_lowers_the_loss(toolkit):
    team = toolkit.team("ensemble")
    weights = [m[1].weight.clone() for m in team]
    goal = Goal(torch.arange(10))
    start = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(1))

    def objective(views: torch.Tensor) -> torch.Tensor:
        return goal.loss(team, views)

    for smoothness, jitter in ((0.0, None), (0.01, None), (0.0, Jitter(samples=2))):
        pixels = Pixels(start, smoothness)
        before = objective(start) + pixels.penalty().detach()
        images = optvis.render(pixels, objective, steps=30, learning_rate=0.05, jitter=jitter, seed=0)
        assert images.shape == (10, 1, 28, 28) and not images.requires_grad
        # Every step projects the parameters back into [0, 1], so the result needs no clamping at the end.
        assert pixels.pixels.min() >= 0 and pixels.pixels.max() <= 1 and torch.equal(images, pixels.pixels.detach())
        after = objective(images) + Pixels(images, smoothness).penalty()
        if jitter is None:
            assert torch.all(after < before)
        else:       # optimised for random views: the unjittered loss falls on average
            assert after.mean() < before.mean()
    assert all(torch.equal(w, m[1].weight) for w, m in zip(weights, team))       # only the images were optimised


@pytest.mark.parametrize("recipe", [
    Recipe("pixels", start="noise", restarts=3, steps=5, learning_rate=0.05),
    Recipe("latent", space="latent", team="ensemble", jitter=True, views=2, prior=1.0, restarts=2, steps=4,
           learning_rate=0.05),
], ids=lambda r: r.name)
def test_generate_keeps_the_restart_the_panel_likes_best(toolkit, recipe):
    goal = Goal(torch.tensor([0, 7, 7, 2]))
    images = optvis.generate(recipe, goal, toolkit, seed=4)
    assert images.shape == (4, 1, 28, 28)
    assert torch.equal(images, optvis.generate(recipe, goal, toolkit, seed=4))
    candidates = optvis.restart_candidates(recipe, goal, toolkit, seed=4)
    assert candidates.shape == (recipe.restarts, 4, 1, 28, 28)
    scores = np.stack([toolkit.panel.scores(c, goal.upright) for c in candidates])       # [restarts, 4]
    for i in range(4):
        kept = [r for r in range(recipe.restarts) if torch.equal(images[i], candidates[r, i])]
        assert kept == [int(scores[:, i].argmax())]
    assert not torch.equal(candidates[0], candidates[1])                 # restarts start from different draws


def test_prior_searches_share_their_draws_and_give_what_a_fresh_search_gives(toolkit):
    goal = Goal(torch.tensor([3, 6]), torch.tensor([8, 9]))
    first = optvis.search_prior(Recipe("a", space="prior", team="ensemble", samples=500, shortlist=4), goal, toolkit,
                                seed=1)
    second = optvis.search_prior(Recipe("b", space="prior", team="ensemble", samples=500), goal, toolkit, seed=1)
    assert len(toolkit.prior_tables) == 1
    toolkit.prior_tables.clear()
    assert torch.equal(second, optvis.search_prior(Recipe("b", space="prior", team="ensemble", samples=500), goal,
                                                   toolkit, seed=1))
    assert torch.equal(first, optvis.search_prior(Recipe("a", space="prior", team="ensemble", samples=500,
                                                         shortlist=4), goal, toolkit, seed=1))
    optvis.search_prior(Recipe("c", space="prior", team="reader", samples=500), goal, toolkit, seed=1)
    assert len(toolkit.prior_tables) == 2                                          # another team: another table


def test_prior_shortlist_is_the_teams_best_and_the_panel_keeps_one(toolkit):
    recipe = Recipe("prior", space="prior", team="ensemble", samples=600, shortlist=5)
    goal = Goal(torch.tensor([1, 8]), torch.tensor([1, 6]))
    found = optvis.search_prior(recipe, goal, toolkit, seed=2)
    latents = optvis.prior_latents(recipe, toolkit, torch.Generator().manual_seed(2))
    with torch.no_grad():
        decoded = toolkit.decoder(latents)
        top = goal.table(toolkit.team("ensemble"), decoded).topk(5, dim=0, largest=False).indices     # [5, 2]
    for target in range(2):
        shortlist = decoded[top[:, target]]
        scores = toolkit.panel.scores(shortlist, goal.upright[target].repeat(5), goal.rotated[target].repeat(5))
        assert torch.allclose(found[target], shortlist[int(scores.argmax())], atol=1e-6)


def test_search_prior_keeps_the_lowest_table_loss_per_target(toolkit):
    samples = optvis.INFERENCE_BATCH + 100                                             # two batches
    recipe = Recipe("prior", space="prior", team="ensemble", samples=samples)
    goal = Goal(torch.arange(10))
    found = optvis.search_prior(recipe, goal, toolkit, seed=7)
    latents = optvis.prior_latents(recipe, toolkit, torch.Generator().manual_seed(7))
    team = toolkit.team("ensemble")
    with torch.no_grad():
        decoded = toolkit.decoder(latents)
        table = goal.table(team, decoded)
        best, pick = table.min(0)
        assert found.shape == (10, 1, 28, 28)
        assert torch.allclose(goal.loss(team, found), best, atol=1e-5)
        assert torch.allclose(found, decoded[pick], atol=1e-5)
    assert len(set(pick.tolist())) > 1                                                 # not one picture for every digit


# The quick build's page ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifest(quick_build) -> list[dict]:
    return json.loads((quick_build["out"] / "data" / "dreams.json").read_text())["items"]


@pytest.fixture(scope="module")
def page(quick_build) -> str:
    return (quick_build["out"] / "dreams.html").read_text()


def of_kind(manifest: list[dict], kind: str) -> list[dict]:
    return [item for item in manifest if item["kind"] == kind]


def improved_recipe(page: str) -> str:
    """The recipe the page marks improved (the panel's choice)."""
    (name,) = re.findall(r'<tr data-recipe="([\w-]+)" class="improved">', page)
    return name


def test_manifest_has_ten_digits_by_five_methods(manifest):
    rows = of_kind(manifest, "dream")
    assert sorted((i["target"], i["method"]) for i in rows) == sorted(product(range(10), dreams.COLUMNS))
    ablation = of_kind(manifest, "ablation")
    assert [(i["method"], i["target"]) for i in ablation] == [(r.name, d) for r in QUICK.recipes for d in range(10)]
    kits = of_kind(manifest, "identikit")
    runs = QUICK.identikit_runs
    assert sorted((i["target"], i["run"]) for i in kits) == sorted(product(range(10), range(runs)))
    for item in rows + ablation + kits:
        assert item["label"] == item["target"]
        for model in ("reader", "judge"):
            assert 0 <= item["scores"][model]["p_label"] <= 1
    for item in kits:
        assert item["method"] == "identikit" and isinstance(item["converged"], bool)
        assert 1 <= item["steps"] <= QUICK.step_limit            # the fixture is a quick build
        assert item["converged"] or item["steps"] == QUICK.step_limit


def test_row_tiles_come_from_their_recipes(quick_build, manifest, page):
    sheets: dict[str, np.ndarray] = {}

    def tile(item: dict) -> np.ndarray:
        image = item["image"]
        if image["sprite"] not in sheets:
            sheets[image["sprite"]] = np.asarray(Image.open(quick_build["out"] / image["sprite"]))
        return sheets[image["sprite"]][image["y"]:image["y"] + 28, image["x"]:image["x"] + 28]

    rows = {(i["method"], i["target"]): tile(i) for i in of_kind(manifest, "dream")}
    ablation = {(i["method"], i["target"]): tile(i) for i in of_kind(manifest, "ablation")}
    kits = of_kind(manifest, "identikit")
    for d in range(10):
        assert not np.array_equal(rows["improved", d], rows["noise", d])
        assert np.array_equal(rows["improved", d], ablation[improved_recipe(page), d])
        assert (np.array_equal(rows["noise", d], ablation["noise", d])
                and np.array_equal(rows["mean", d], ablation["mean", d]))
        assert any(np.array_equal(rows["identikit", d], tile(k)) for k in kits if k["target"] == d)


def numbers(cells: str) -> list[str]:
    return re.findall(r"<td>([^<]*)</td>", cells)


def test_page_states_every_methods_numbers_from_the_manifest(page, manifest):
    for method in dreams.COLUMNS:
        items = [i for i in of_kind(manifest, "dream") if i["method"] == method]
        row = re.search(rf'<tr data-method="{method}"><th scope="row">[^<]+</th>(.*?)</tr>', page)
        assert row, method
        shown = [float(v) for v in numbers(row.group(1))]
        expected = [np.mean([i["scores"][m]["p_label"] for i in items]) for m in ("reader", "judge")]
        expected.append(np.mean([i["looks_real"] for i in items]))
        assert shown == pytest.approx(expected, abs=0.051), method
    # Every tile of the main grid shows the reader's and the judge's confidence in the intended digit, not their top
    # answer.
    cells = re.findall(r'<td data-method="([\w-]+)">(.*?)</td>', page, flags=re.S)
    rows = of_kind(manifest, "dream")
    assert [method for method, _ in cells] == [i["method"] for i in rows]
    for (_, cell), item in zip(cells, rows):
        r, j = re.findall(r"</abbr> ([\d.]+)", cell)
        assert (float(r), float(j)) == pytest.approx((item["scores"]["reader"]["p_label"],
                                                      item["scores"]["judge"]["p_label"]), abs=0.0051)
    for k, recipe in enumerate(QUICK.recipes):
        row = re.search(rf'<tr data-recipe="{recipe.name}"( class="improved")?>.*?</tr>', page, flags=re.S)
        assert row and bool(row.group(1)) == (recipe.name == improved_recipe(page))
        items = of_kind(manifest, "ablation")[10 * k:10 * (k + 1)]
        reader, judge, realism, _panel, _seconds = (float(v) for v in numbers(row.group(0)))   # after td.how
        assert (reader, judge) == pytest.approx([np.mean([i["scores"][m]["p_label"] for i in items])
                                                 for m in ("reader", "judge")], abs=0.0051)
        assert realism == pytest.approx(np.mean([i["looks_real"] for i in items]), abs=0.051)


def test_convergence_table_agrees_with_the_identikits(page, manifest):
    kits = of_kind(manifest, "identikit")
    for d in range(10):
        mine = [i for i in kits if i["target"] == d]
        done = [i for i in mine if i["converged"]]
        row = re.search(rf'<tr data-digit="{d}"><th scope="row">{d}</th>(.*?)</tr>', page, flags=re.S)
        assert row, d
        runs, converged, rate, steps, _seconds = numbers(row.group(1))
        assert (int(runs), int(converged)) == (len(mine), len(done))
        assert float(rate.rstrip("%")) == pytest.approx(100 * len(done) / len(mine), abs=0.5)
        assert steps == ("–" if not done else f"{np.median([i['steps'] for i in done]):g}")
    assert page.count('class="dream-tile kit') == len(kits)
    assert page.count('data-converged="false"') == sum(not i["converged"] for i in kits)
    samples = of_kind(manifest, "diffusion-sample")
    shown = min(QUICK.samples_shown, len(samples) // 10)
    assert page.count('class="digit') == len(manifest) - len(samples) + 10 * shown


def test_diffusion_samples_and_the_panels_pick(quick_build, quick_models, manifest):
    """Every sample is in the manifest; the ablation's diffusion dream is the sample the panel scores highest."""
    dataset, models = quick_models
    samples = of_kind(manifest, "diffusion-sample")
    per_digit = next(r for r in QUICK.recipes if r.space == "diffusion").candidates
    assert sorted((i["target"], i["sample"]) for i in samples) == sorted(product(range(10), range(per_digit)))
    assert all(isinstance(i["looks_real"], bool) for i in manifest)
    sheet = np.asarray(Image.open(quick_build["out"] / "img" / "dreams-diffusion.png"))
    ablation = np.asarray(Image.open(quick_build["out"] / "img" / "dreams-ablation.png"))
    panel = Panel.of([m.module for m in models.panel], dataset.train_images, seed=0)
    for item in of_kind(manifest, "ablation"):
        if item["method"] != "diffusion":
            continue
        d = item["target"]
        mine = [i for i in samples if i["target"] == d]
        tiles = np.stack([sheet[i["image"]["y"]:i["image"]["y"] + 28, i["image"]["x"]:i["image"]["x"] + 28]
                          for i in mine])
        scores = panel.scores(torch.from_numpy(tiles / 255.0).float().unsqueeze(1), torch.full((len(mine),), d))
        image = item["image"]
        chosen = ablation[image["y"]:image["y"] + 28, image["x"]:image["x"] + 28]
        assert np.array_equal(chosen, tiles[int(scores.argmax())]), d


def test_page_states_the_panels_realism_of_the_samples_beside_the_judges(quick_build, quick_models, manifest, page):
    dataset, models = quick_models
    sheet = np.asarray(Image.open(quick_build["out"] / "img" / "dreams-diffusion.png"))
    tiles = np.stack([sheet[i["image"]["y"]:i["image"]["y"] + 28, i["image"]["x"]:i["image"]["x"] + 28]
                      for i in of_kind(manifest, "diffusion-sample")])
    panel = Panel.of([m.module for m in models.panel], dataset.train_images, seed=0)
    samples, held_out = panel.looks_real(tiles).mean(), panel.realism_floor(dataset.test_images, len(tiles))
    stated = re.search(r"In the validation panel's features \(the mean over its networks\), whose real digits are "
                       r"training digits, ([\d.]+)%\s+do "
                       r"\(as many real held-out digits: ([\d.]+)%\)", page)
    assert stated, "the panel's realism is not stated"
    assert float(stated.group(1)) == pytest.approx(100 * samples, abs=0.51)
    assert float(stated.group(2)) == pytest.approx(100 * held_out, abs=0.51)
    sampler = next(r for r in QUICK.recipes if r.space == "diffusion").sampler
    assert sampler.realism_guidance, "the quick build's diffusion dreams are pulled towards real digits too"
    assert sampler.describe() in html.unescape(page), "the page does not state the samples' sampler"
