"""Generated galleries: the judge never makes or chooses an image."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from generator.models.networks import Judge
from generator.pages import ambiguous, dreams
from generator.site.results import RunContext


@pytest.mark.parametrize("page", [ambiguous, dreams], ids=["ambiguous", "dreams"])
def test_swapping_the_judge_changes_scores_but_no_image(quick_models, page, monkeypatch):
    dataset, models = quick_models
    small = tuple(dataclasses.replace(r, samples=min(r.samples, 300), steps=min(r.steps, 3), restarts=min(r.restarts, 2))
                  for r in page.RECIPES)
    monkeypatch.setattr(page, "RECIPES", small)
    context = RunContext(seed=3, quick=True)
    first = page.run(models, dataset, context)
    torch.manual_seed(99)
    stranger = dataclasses.replace(models, judge=dataclasses.replace(models.judge, module=Judge().eval()))
    second = page.run(stranger, dataset, context)
    assert [s.name for s in first.sprites] == [s.name for s in second.sprites]
    for a, b in zip(first.sprites, second.sprites):
        assert (a.tiles == b.tiles).all(), a.name
    assert [i["scores"]["judge"] for i in first.items] != [i["scores"]["judge"] for i in second.items]
