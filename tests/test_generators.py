"""Generated galleries: the judge never makes or chooses an image."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from generator.digits import images_to_tensor, rotate180
from generator.engines.optvis import Goal, Recipe, digit_shortlist, generate, make_toolkit
from generator.engines.sampler import SamplerConfig
from generator.models.networks import Judge
from generator.pages import ambiguous, dreams, muddle
from generator.site.results import BuildInfo


@pytest.mark.parametrize("page", [ambiguous, dreams, muddle], ids=["ambiguous", "dreams", "muddle"])
def test_swapping_the_judge_changes_scores_but_no_image(quick_models, page):
    """Every image, every panel choice and the improved recipe stay the same when the judge is a stranger."""
    dataset, models = quick_models
    config = page.Config().quick()
    if page is not muddle:
        small = tuple(dataclasses.replace(r, samples=min(r.samples, 300), steps=min(r.steps, 3),
                                          restarts=min(r.restarts, 2), candidates=min(r.candidates, 3))
                      for r in page.Config().recipes)
        config = dataclasses.replace(config, recipes=small)
    if page is dreams:
        config = dataclasses.replace(config, identikit_runs=1, step_limit=3, candidates=50)
    build = BuildInfo(seed=3)
    first = page.run(models, dataset, config, build)
    torch.manual_seed(99)
    stranger = dataclasses.replace(models, judge=dataclasses.replace(models.judge, module=Judge().eval()))
    second = page.run(stranger, dataset, config, build)
    assert [s.name for s in first.sprites] == [s.name for s in second.sprites]
    for a, b in zip(first.sprites, second.sprites):
        assert (a.tiles == b.tiles).all(), a.name
    assert [i["scores"]["judge"] for i in first.items] != [i["scores"]["judge"] for i in second.items]
    assert improved(first) == improved(second)


def improved(result) -> list[str]:
    """The recipes a page marks improved (chosen by the validation panel)."""
    rows = result.data.get("ablation") or result.data.get("recipes") or []
    return [r["name"] for r in rows if r.get("improved")]


def test_digit_shortlist_is_the_teams_best_and_skips_the_panels_reference(quick_models):
    """Real-digit starts: per pair, training digits (upright or turned) ranked by the team's loss, best first, and
    never one of the digits that define "real" for the panel (it would take a re-drawn copy for real)."""
    dataset, models = quick_models
    toolkit = make_toolkit(models, dataset, seed=0)
    goal = Goal(torch.tensor([6, 1]), torch.tensor([9, 7]))
    recipe = Recipe("digits", space="diffusion", team="ensemble", init="digits")
    shortlist = digit_shortlist(recipe, goal, toolkit, 3)
    assert shortlist.shape == (3, 2, 1, 28, 28)
    losses = torch.stack([goal.loss(toolkit.team("ensemble"), shortlist[k]) for k in range(3)])
    assert (losses[:-1] <= losses[1:] + 1e-5).all()
    pool = images_to_tensor(dataset.train_images)
    pool = torch.cat([pool, rotate180(pool)])
    reference = images_to_tensor(dataset.train_images[toolkit.panel.reference_rows])
    reference = torch.cat([reference, rotate180(reference)]).flatten(1)
    for image in shortlist.flatten(0, 1).flatten(1):
        assert (pool.flatten(1) == image).all(1).any()
        assert not (reference == image).all(1).any()


def test_a_pool_keeps_the_panels_best_of_its_recipes_candidates(quick_models):
    """A pool samples nothing: per target it keeps, of the candidates its recipes made, the one the panel rates
    best, so it is never rated below either recipe's own pick; it refuses to run before its recipes."""
    dataset, models = quick_models
    toolkit = make_toolkit(models, dataset, seed=0)
    goal = Goal(torch.tensor([6, 1, 3]), torch.tensor([9, 7, 8]))
    quick = SamplerConfig(steps=3, start_time=0.5)
    made = [Recipe("from-prior", space="diffusion", samples=200, candidates=2, sampler=quick),
            Recipe("from-digits", space="diffusion", init="digits", candidates=2, sampler=quick)]
    pool = Recipe("both", space="pool", pool=("from-prior", "from-digits"))
    with pytest.raises(ValueError, match="run them first"):
        generate(pool, goal, toolkit, seed=1)
    picks = [generate(recipe, goal, toolkit, seed=1) for recipe in made]
    pooled = generate(pool, goal, toolkit, seed=1)
    candidates = torch.cat([toolkit.candidates[r.name, 1, goal.key()] for r in made])
    assert candidates.shape == (4, 3, 1, 28, 28)
    for target in range(3):
        assert (candidates[:, target] == pooled[target]).flatten(1).all(1).any()
    scores = [toolkit.panel.scores(images, goal.upright, goal.rotated) for images in (*picks, pooled)]
    assert (scores[2] >= np.maximum(scores[0], scores[1]) - 1e-6).all()
