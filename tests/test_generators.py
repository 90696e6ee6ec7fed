"""Generated galleries: the judge never makes or chooses an image."""
from __future__ import annotations

import dataclasses

import pytest
import torch

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
