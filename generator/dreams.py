"""The dreams page (seeds 000, 001): what the reader imagines each digit looks like, and whether the judge agrees.

Per digit: the class mean; gradient ascent on the reader's log-probability from noise and
from the data's mean image (the seed's two attempts); the improved dream; and identikits,
random-mask hill climbing from a blank image (``generator.identikit``). Every recipe of the
ablation is one ``optvis.generate`` call; which one is "improved" was decided by the
ablation's judge scores, never inside a build.
"""
from __future__ import annotations

import numpy as np
import torch

from generator import charts, identikit
from generator.data import Dataset
from generator.explore import class_means
from generator.gallery import PageResult, RunContext, SpriteSheet, scored_items
from generator.models import Models
from generator.optvis import Goal, Recipe, make_toolkit, quick_recipe, timed_generate
from generator.render import to_uint8

RECIPES = (
    Recipe("noise", start="noise", steps=200, learning_rate=0.01),
    Recipe("mean", start="mean", steps=200, learning_rate=0.01),
    Recipe("pixels-ensemble", team="ensemble", jitter=True, smoothness=0.01, steps=200, learning_rate=0.01),
    Recipe("latent-reader", space="latent", prior=1.0, restarts=4, steps=150, learning_rate=0.05),
    Recipe("latent-ensemble", space="latent", team="ensemble", jitter=True, prior=1.0, restarts=4, steps=150,
           learning_rate=0.05),
    Recipe("prior-search", space="prior", team="ensemble", samples=20_000),
)
IMPROVED = "prior-search"
DESCRIPTIONS = {
    "noise": "pixels, from uniform noise, against the reader (seed 000's first attempt)",
    "mean": "pixels, from the mean training digit, against the reader (seed 000's second attempt)",
    "pixels-ensemble": "pixels from the mean, against reader + 3 ensemble readers, random shifts/rotations/zooms each step, total-variation penalty",
    "latent-reader": "gradient descent on the VAE's 16-d latent, against the reader, Gaussian prior penalty, best of 4 restarts",
    "latent-ensemble": "the same against reader + ensemble with random shifts/rotations/zooms",
    "prior-search": "decode 20,000 draws from the VAE's prior and keep, per digit, the one reader + ensemble find most convincing",
}
ROW_METHODS = ("class-mean", "noise", "mean", "improved", "identikit")
IDENTIKIT_RUNS, QUICK_IDENTIKIT_RUNS = 10, 2
CANDIDATES, QUICK_CANDIDATES = 500, 100
STEP_LIMIT, QUICK_STEP_LIMIT = 100, 15
THRESHOLD = 0.99


def run_recipes(models: Models, dataset: Dataset, context: RunContext) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every recipe's ten dreams (uint8 ``[10,28,28]``) and its seconds."""
    toolkit = make_toolkit(models, dataset)
    goal = Goal(torch.arange(10))
    tiles, seconds = {}, {}
    for recipe in RECIPES:
        recipe = quick_recipe(recipe) if context.quick else recipe
        tiles[recipe.name], seconds[recipe.name] = timed_generate(recipe, goal, toolkit, context.seed)
    return tiles, seconds


def mean_scores(items: list[dict]) -> dict[str, float]:
    """Mean reader and judge probability of the intended digit."""
    return {model: round(float(np.mean([i["scores"][model]["p_label"] for i in items])), 4) for model in ("reader", "judge")}


def judge_chart(methods: list[dict]) -> str:
    """Bar chart of the judge's mean confidence in the intended digit, one bar per column of the page."""
    return charts.bar_chart([m["method"].replace("-", " ") for m in methods], [m["judge"] for m in methods],
                            "Judge's mean confidence in the intended digit", value_format="{:.2f}", y_label="judge p(digit)")


def run(models: Models, dataset: Dataset, context: RunContext) -> PageResult:
    """Dream every digit with every recipe, climb identikits, and score all of it with the reader and the judge."""
    reader, judge = models.reader.module, models.judge.module
    tiles, seconds = run_recipes(models, dataset, context)
    runs = QUICK_IDENTIKIT_RUNS if context.quick else IDENTIKIT_RUNS
    step_limit = QUICK_STEP_LIMIT if context.quick else STEP_LIMIT
    climbs = identikit.hill_climb(reader, np.repeat(np.arange(10), runs), QUICK_CANDIDATES if context.quick else CANDIDATES,
                                  step_limit, THRESHOLD, seed=context.seed)
    kits = to_uint8(climbs.images)
    shown_kit = [d * runs + int(np.argmax(climbs.confidence[d * runs:(d + 1) * runs])) for d in range(10)]
    columns = {"class-mean": to_uint8(class_means(dataset.train_images, dataset.train_labels)), "noise": tiles["noise"],
               "mean": tiles["mean"], "improved": tiles[IMPROVED], "identikit": kits[shown_kit]}
    rows = SpriteSheet("dreams-rows", np.stack([columns[m] for m in ROW_METHODS], axis=1).reshape(-1, 28, 28),
                       columns=len(ROW_METHODS))
    ablation = SpriteSheet("dreams-ablation", np.concatenate([tiles[r.name] for r in RECIPES]), columns=10)
    kit_sheet = SpriteSheet("dreams-identikits", kits, columns=runs)
    digits = list(range(10))
    items = scored_items(rows, "dream", [d for d in digits for _ in ROW_METHODS], reader, judge,
                         ids=[f"{m}-{d}" for d in digits for m in ROW_METHODS])
    for n, item in enumerate(items):
        item["method"], item["target"] = ROW_METHODS[n % len(ROW_METHODS)], item["label"]
    ablation_items = scored_items(ablation, "ablation", digits * len(RECIPES), reader, judge,
                                  ids=[f"ablation-{r.name}-{d}" for r in RECIPES for d in digits])
    kit_items = scored_items(kit_sheet, "identikit", climbs.targets.tolist(), reader, judge,
                             ids=[f"identikit-{t}-{n % runs}" for n, t in enumerate(climbs.targets)])
    for n, item in enumerate(ablation_items):
        item["method"], item["target"] = RECIPES[n // 10].name, item["label"]
    for n, item in enumerate(kit_items):
        item.update(method="identikit", target=item["label"], run=n % runs, steps=int(climbs.steps[n]),
                    converged=bool(climbs.converged[n]))
    methods = [{"method": m, **mean_scores([i for i in items if i["method"] == m])} for m in ROW_METHODS]
    page_context = {
        "methods": methods, "judge_chart": judge_chart(methods),
        "ablation": [{"name": r.name, "description": DESCRIPTIONS[r.name], "improved": r.name == IMPROVED,
                      "seconds": round(seconds[r.name], 1), **mean_scores(ablation_items[k * 10:(k + 1) * 10])}
                     for k, r in enumerate(RECIPES)],
        "convergence": identikit.convergence_table(climbs), "identikit_runs": runs,
        "identikit_candidates": QUICK_CANDIDATES if context.quick else CANDIDATES, "identikit_step_limit": step_limit,
        "identikit_threshold": THRESHOLD,
        "identikit_seconds": round(float(climbs.seconds.sum()), 1),
        "identikit_success": round(float(climbs.converged.mean()), 3),
    }
    return PageResult("dreams", items + ablation_items + kit_items, [rows, ablation, kit_sheet], [], page_context)
