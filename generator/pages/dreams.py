"""The dreams page (seeds 000, 001): what the reader imagines each digit looks like, and whether the judge agrees.

Per digit: the class mean; gradient ascent on the reader's log-probability from noise and
from the data's mean image (the seed's two attempts); the improved dream; and identikits,
random-mask hill climbing from a blank image (``generator.engines.hill_climb``). Every recipe of the
ablation is one ``optvis.generate`` call; which one is "improved" was decided by the
ablation's judge scores, never inside a build.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from generator.data.dataset import Dataset
from generator.digits import to_uint8
from generator.engines import hill_climb
from generator.engines.optvis import Goal, Recipe, make_toolkit, timed_generate
from generator.models.metrics import class_means
from generator.models.table import Models
from generator.site import charts
from generator.site.results import BuildInfo, PageResult, SpriteSheet, add_fields, scored_items

RECIPES = (
    Recipe("noise", start="noise", steps=200, learning_rate=0.01, origin="seed 000's first attempt"),
    Recipe("mean", start="mean", steps=200, learning_rate=0.01, origin="seed 000's second attempt"),
    Recipe("pixels-ensemble", team="ensemble", jitter=True, smoothness=0.01, steps=200, learning_rate=0.01),
    Recipe("latent-reader", space="latent", prior=1.0, restarts=4, steps=150, learning_rate=0.05),
    Recipe("latent-ensemble", space="latent", team="ensemble", jitter=True, prior=1.0, restarts=4, steps=150,
           learning_rate=0.05),
    Recipe("prior-search", space="prior", team="ensemble", samples=20_000),
)
COLUMNS = {"class-mean": "class mean", "noise": "noise dream", "mean": "mean dream", "improved": "improved dream",
           "identikit": "identikit"}                  # the main grid's columns, left to right, and their names


@dataclass(frozen=True)
class Config:
    """The dreams page's knobs: the ablation's recipes, which one is "improved", and the identikit climbs."""

    recipes: tuple[Recipe, ...] = RECIPES
    improved: str = "prior-search"    # chosen by the ablation when the page was designed, never inside a build
    identikit_runs: int = 10          # climbs per digit
    candidates: int = 500             # random perturbations read per step
    step_limit: int = 100
    threshold: float = 0.99           # a climb stops once the reader is this sure

    def quick(self) -> Config:
        """Cheap recipes, two short climbs per digit."""
        return replace(self, recipes=tuple(r.quick() for r in self.recipes), identikit_runs=2, candidates=100,
                       step_limit=15)


def run_recipes(models: Models, dataset: Dataset, config: Config,
                seed: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every recipe's ten dreams (uint8 ``[10,28,28]``) and its seconds."""
    toolkit = make_toolkit(models, dataset)
    goal = Goal(torch.arange(10))
    tiles, seconds = {}, {}
    for recipe in config.recipes:
        tiles[recipe.name], seconds[recipe.name] = timed_generate(recipe, goal, toolkit, seed)
    return tiles, seconds


def mean_scores(items: list[dict]) -> dict[str, float]:
    """Mean reader and judge probability of the intended digit."""
    return {model: round(float(np.mean([i["scores"][model]["p_label"] for i in items])), 4)
            for model in ("reader", "judge")}


def run(models: Models, dataset: Dataset, config: Config, build: BuildInfo) -> PageResult:
    """Dream every digit with every recipe, climb identikits, and score all of it with the reader and the judge."""
    reader, judge = models.reader.module, models.judge.module
    tiles, seconds = run_recipes(models, dataset, config, build.seed)
    runs = config.identikit_runs
    climbs = hill_climb.hill_climb(reader, np.repeat(np.arange(10), runs), config.candidates, config.step_limit,
                                   config.threshold, seed=build.seed)
    kits = to_uint8(climbs.images)
    shown_kit = [d * runs + int(np.argmax(climbs.confidence[d * runs:(d + 1) * runs])) for d in range(10)]
    columns = {"class-mean": to_uint8(class_means(dataset.train_images, dataset.train_labels)), "noise": tiles["noise"],
               "mean": tiles["mean"], "improved": tiles[config.improved], "identikit": kits[shown_kit]}
    rows = SpriteSheet("dreams-rows", np.stack([columns[m] for m in COLUMNS], axis=1).reshape(-1, 28, 28),
                       columns=len(COLUMNS))
    ablation = SpriteSheet("dreams-ablation", np.concatenate([tiles[r.name] for r in config.recipes]), columns=10)
    kit_sheet = SpriteSheet("dreams-identikits", kits, columns=runs)
    digits = list(range(10))
    items = add_fields(scored_items(rows, "dream", [d for d in digits for _ in COLUMNS], reader, judge,
                                    ids=[f"{m}-{d}" for d in digits for m in COLUMNS]),
                       method=list(COLUMNS) * 10, target=[d for d in digits for _ in COLUMNS])
    items += add_fields(scored_items(ablation, "ablation", digits * len(config.recipes), reader, judge,
                                     ids=[f"ablation-{r.name}-{d}" for r in config.recipes for d in digits]),
                        method=[r.name for r in config.recipes for _ in digits], target=digits * len(config.recipes))
    items += add_fields(scored_items(kit_sheet, "identikit", climbs.targets.tolist(), reader, judge,
                                     ids=[f"identikit-{t}-{n % runs}" for n, t in enumerate(climbs.targets)]),
                        method=["identikit"] * len(kits), target=climbs.targets.tolist(),
                        run=[n % runs for n in range(len(kits))], steps=climbs.steps.tolist(),
                        converged=climbs.converged.tolist())
    data = {
        "recipes": [{"name": r.name, "description": r.describe(), "improved": r.name == config.improved,
                     "seconds": round(seconds[r.name], 1)} for r in config.recipes],
        "convergence": hill_climb.convergence_table(climbs), "identikit_runs": runs,
        "identikit_candidates": config.candidates, "identikit_step_limit": config.step_limit,
        "identikit_threshold": config.threshold, "identikit_seconds": round(float(climbs.seconds.sum()), 1),
        "identikit_success": round(float(climbs.converged.mean()), 3),
    }
    return PageResult("dreams", items, [rows, ablation, kit_sheet], [], data)


def context(result: PageResult) -> dict:
    """The grid by digit, per-column means and their chart, the ablation with its dreams, the identikits by digit."""
    data, items = result.data, result.items
    of = {(i["kind"], i["method"], i["target"]): i for i in items if i["kind"] != "identikit"}
    methods = [{"method": m, "name": name, **mean_scores([of["dream", m, d] for d in range(10)])}
               for m, name in COLUMNS.items()]
    ablation = [{**r, **mean_scores([of["ablation", r["name"], d] for d in range(10)]),
                 "dreams": [of["ablation", r["name"], d] for d in range(10)]} for r in data["recipes"]]
    by_method = {m["method"]: m for m in methods}
    return {
        **data, "methods": methods, "noise": by_method["noise"], "improved_row": by_method["improved"],
        "class_mean": by_method["class-mean"], "improved": next(a for a in ablation if a["improved"]),
        "ablation": ablation,
        "grid": [{"digit": d, "cells": [{**of["dream", m, d], "name": name} for m, name in COLUMNS.items()]}
                 for d in range(10)],
        "kits": [{"digit": d, "runs": [i for i in items if i["kind"] == "identikit" and i["target"] == d]}
                 for d in range(10)],
        "total_runs": sum(r["runs"] for r in data["convergence"]),
        "total_converged": sum(r["converged"] for r in data["convergence"]),
        "judge_chart": charts.bar_chart([m["name"] for m in methods], [m["judge"] for m in methods],
                                        "Judge's mean confidence in the intended digit", value_format="{:.2f}",
                                        y_label="judge p(digit)"),
    }
