"""The dreams page (seeds 000, 001): what the reader imagines each digit looks like, and whether the judge agrees.

Per digit: the class mean; gradient ascent on the reader's log-probability from noise and
from the data's mean image (the seed's two attempts); the improved dream; and identikits,
random-mask hill climbing from a blank image (``generator.engines.hill_climb``). Every recipe of the
ablation is one ``optvis.generate`` call, the diffusion recipe among them: it samples the denoiser
``candidates`` times per digit, and all those samples go into the manifest. The validation panel keeps
the best candidate and names the recipe it finds most convincing "improved"; the judge only scores,
beside its realism measure (``generator.models.realism``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from generator.data.dataset import Dataset
from generator.digits import images_to_tensor, to_uint8
from generator.engines import hill_climb
from generator.engines.optvis import Goal, Recipe, Toolkit, diffusion_candidates, generate, make_toolkit
from generator.engines.sampler import SamplerConfig
from generator.models.metrics import class_means
from generator.models.realism import Realism
from generator.models.table import Models
from generator.site import charts
from generator.site.results import BuildInfo, PageResult, SpriteSheet, add_fields, scored_items

RECIPES = (
    Recipe("noise", start="noise", steps=200, learning_rate=0.01, origin="seed 000's first attempt"),
    Recipe("mean", start="mean", steps=200, learning_rate=0.01, origin="seed 000's second attempt"),
    Recipe("pixels-ensemble", team="ensemble", jitter=True, smoothness=0.01, steps=200, learning_rate=0.01),
    Recipe("latent-reader", space="latent", prior=1.0, restarts=4, steps=150, learning_rate=0.05),
    Recipe("latent-ensemble", space="latent", team="ensemble", jitter=True, prior=1.0, restarts=2, steps=150,
           learning_rate=0.05),
    Recipe("prior-search", space="prior", team="ensemble", samples=20_000, shortlist=16),
    # guidance 2.5 and realism guidance 6: the panel's best score over 1,000 unselected samples among the 10 of 13
    # settings whose Fréchet distance in its features is no worse than guidance 3.5 alone (AMBIGUOUS.md, eighth round)
    Recipe("diffusion", space="diffusion", candidates=100, sampler=SamplerConfig(guidance=2.5, realism_guidance=6.0)),
)
COLUMNS = {"class-mean": "class mean", "noise": "noise dream", "mean": "mean dream", "improved": "improved dream",
           "identikit": "identikit"}                  # the main grid's columns, left to right, and their names


@dataclass(frozen=True)
class Config:
    """The dreams page's knobs: the ablation's recipes (the panel names one "improved"), the identikit climbs."""

    recipes: tuple[Recipe, ...] = RECIPES
    samples_shown: int = 10           # diffusion samples per digit on the contact sheet (all are in the manifest)
    identikit_runs: int = 10          # climbs per digit
    candidates: int = 500             # random perturbations read per step
    step_limit: int = 100
    threshold: float = 0.99           # a climb stops once the reader is this sure

    def quick(self) -> Config:
        """Cheap recipes, two short climbs per digit."""
        return replace(self, recipes=tuple(r.quick() for r in self.recipes), identikit_runs=2, candidates=100,
                       step_limit=15)


def run_recipe(recipe: Recipe, toolkit: Toolkit, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A recipe's ten dreams (uint8 ``[10,28,28]``), all its candidates (``[candidates, 10, 28, 28]``; diffusion
    only, else empty) and its seconds."""
    goal = Goal(torch.arange(10))
    started = time.perf_counter()
    if recipe.space == "diffusion":
        candidates = diffusion_candidates(recipe, goal, toolkit, seed)
        chosen = toolkit.panel.choose(candidates, goal.upright)
        samples = to_uint8(candidates[:, :, 0].numpy())
    else:
        chosen, samples = generate(recipe, goal, toolkit, seed), np.zeros((0, 10, 28, 28), np.uint8)
    return to_uint8(chosen[:, 0].numpy()), samples, time.perf_counter() - started


def panel_scores(tiles: dict[str, np.ndarray], toolkit: Toolkit) -> dict[str, float]:
    """Per recipe, the validation panel's mean score of its ten dreams (the judge has no say)."""
    digits = torch.arange(10)
    return {name: round(float(toolkit.panel.scores(images_to_tensor(t), digits).mean()), 4)
            for name, t in tiles.items()}


def panel_realism(toolkit: Toolkit, samples: np.ndarray, held_out: np.ndarray, seed: int) -> dict:
    """The share of ``samples`` that look real in the validation panel's features (training digits are its
    reference), beside the same share of as many real held-out digits: the panel's reading of what the judge's
    realism measures."""
    panel = toolkit.panel
    return {"panel_realism": round(float(panel.looks_real(samples).mean()), 3) if len(samples) else None,
            "panel_floor": round(panel.realism_floor(held_out, len(samples), seed), 3)}


def mean_scores(items: list[dict]) -> dict[str, float]:
    """Mean reader and judge probability of the intended digit, and the share the judge's features find real."""
    return {**{model: round(float(np.mean([i["scores"][model]["p_label"] for i in items])), 4)
               for model in ("reader", "judge")},
            "realism": round(float(np.mean([i["looks_real"] for i in items])), 3)}


def run(models: Models, dataset: Dataset, config: Config, build: BuildInfo) -> PageResult:
    """Dream every digit with every recipe, climb identikits, and score all of it with the reader and the judge."""
    reader, judge = models.reader.module, models.judge.module
    toolkit = make_toolkit(models, dataset, build.seed)
    made = {r.name: run_recipe(r, toolkit, build.seed) for r in config.recipes}
    tiles = {name: chosen for name, (chosen, _, _) in made.items()}
    panel = panel_scores(tiles, toolkit)
    improved = max(panel, key=panel.get)
    climbs, kits, shown_kit = identikits(reader, config, build.seed)
    columns = {"class-mean": to_uint8(class_means(dataset.train_images, dataset.train_labels)), "noise": tiles["noise"],
               "mean": tiles["mean"], "improved": tiles[improved], "identikit": kits[shown_kit]}
    rows = SpriteSheet("dreams-rows", np.stack([columns[m] for m in COLUMNS], axis=1).reshape(-1, 28, 28),
                       columns=len(COLUMNS))
    ablation = SpriteSheet("dreams-ablation", np.concatenate([tiles[r.name] for r in config.recipes]), columns=10)
    kit_sheet = SpriteSheet("dreams-identikits", kits, columns=config.identikit_runs)
    samples = np.concatenate([s for _, s, _ in made.values()], axis=0)          # [candidates, 10, 28, 28]
    sample_sheet = SpriteSheet("dreams-diffusion", samples.transpose(1, 0, 2, 3).reshape(-1, 28, 28),
                               columns=max(1, len(samples)))
    digits = list(range(10))
    items = add_fields(scored_items(rows, "dream", [d for d in digits for _ in COLUMNS], reader, judge,
                                    ids=[f"{m}-{d}" for d in digits for m in COLUMNS]),
                       method=list(COLUMNS) * 10, target=[d for d in digits for _ in COLUMNS])
    items += add_fields(scored_items(ablation, "ablation", digits * len(config.recipes), reader, judge,
                                     ids=[f"ablation-{r.name}-{d}" for r in config.recipes for d in digits]),
                        method=[r.name for r in config.recipes for _ in digits], target=digits * len(config.recipes))
    items += identikit_items(kit_sheet, climbs, reader, judge, config.identikit_runs)
    sample_targets = [d for d in digits for _ in range(len(samples))]
    items += add_fields(scored_items(sample_sheet, "diffusion-sample", sample_targets, reader, judge,
                                     ids=[f"diffusion-{d}-{n}" for d in digits for n in range(len(samples))]),
                        method=["diffusion"] * len(sample_targets), target=sample_targets,
                        sample=[n for _ in digits for n in range(len(samples))])
    realism = Realism.of(judge, dataset.test_images)
    sheets = [rows, ablation, kit_sheet, sample_sheet]
    looks_real = np.concatenate([realism.looks_real(sheet.tiles) for sheet in sheets])
    items = add_fields(items, looks_real=looks_real.tolist())
    data = {
        "recipes": [{"name": r.name, "description": r.describe(), "improved": r.name == improved,
                     "panel": panel[r.name], "seconds": round(made[r.name][2], 1)} for r in config.recipes],
        "samples": {"per_digit": len(samples), "shown": min(config.samples_shown, len(samples)),
                    "sampler": next((r.sampler.describe() for r in config.recipes if r.space == "diffusion"), ""),
                    **realism.summary(sample_sheet.tiles, looks_real[-len(sample_sheet.tiles):]),
                    "floor": realism.floor(dataset.train_images, len(sample_sheet.tiles), build.seed),
                    **panel_realism(toolkit, sample_sheet.tiles, dataset.test_images, build.seed)},
        **identikit_data(climbs, config),
    }
    return PageResult("dreams", items, sheets, [], data)


def identikits(reader: torch.nn.Module, config: Config, seed: int) -> tuple[hill_climb.Climbs, np.ndarray, list[int]]:
    """Every identikit climb, its images and, per digit, the run the reader is surest of."""
    runs = config.identikit_runs
    climbs = hill_climb.hill_climb(reader, np.repeat(np.arange(10), runs), config.candidates, config.step_limit,
                                   config.threshold, seed=seed)
    shown = [d * runs + int(np.argmax(climbs.confidence[d * runs:(d + 1) * runs])) for d in range(10)]
    return climbs, to_uint8(climbs.images), shown


def identikit_items(sheet: SpriteSheet, climbs: hill_climb.Climbs, reader: torch.nn.Module, judge: torch.nn.Module,
                    runs: int) -> list[dict]:
    """Manifest items of every identikit run."""
    return add_fields(scored_items(sheet, "identikit", climbs.targets.tolist(), reader, judge,
                                   ids=[f"identikit-{t}-{n % runs}" for n, t in enumerate(climbs.targets)]),
                      method=["identikit"] * len(sheet.tiles), target=climbs.targets.tolist(),
                      run=[n % runs for n in range(len(sheet.tiles))], steps=climbs.steps.tolist(),
                      converged=climbs.converged.tolist())


def identikit_data(climbs: hill_climb.Climbs, config: Config) -> dict:
    """The identikits' numbers for the page."""
    return {"convergence": hill_climb.convergence_table(climbs), "identikit_runs": config.identikit_runs,
            "identikit_candidates": config.candidates, "identikit_step_limit": config.step_limit,
            "identikit_threshold": config.threshold, "identikit_seconds": round(float(climbs.seconds.sum()), 1),
            "identikit_success": round(float(climbs.converged.mean()), 3)}


def context(result: PageResult) -> dict:
    """The grid by digit, per-column means and their chart, the ablation with its dreams, the diffusion samples
    by digit (the first ``shown`` of each), the identikits by digit."""
    data, items = result.data, result.items
    of = {(i["kind"], i["method"], i["target"]): i for i in items if i["kind"] in ("dream", "ablation")}
    methods = [{"method": m, "name": name, **mean_scores([of["dream", m, d] for d in range(10)])}
               for m, name in COLUMNS.items()]
    ablation = [{**r, **mean_scores([of["ablation", r["name"], d] for d in range(10)]),
                 "dreams": [of["ablation", r["name"], d] for d in range(10)]} for r in data["recipes"]]
    by_method = {m["method"]: m for m in methods}
    samples = [i for i in items if i["kind"] == "diffusion-sample"]
    return {
        **data, "methods": methods, "noise": by_method["noise"], "improved_row": by_method["improved"],
        "class_mean": by_method["class-mean"], "improved": next(a for a in ablation if a["improved"]),
        "ablation": ablation,
        "grid": [{"digit": d, "cells": [{**of["dream", m, d], "name": name} for m, name in COLUMNS.items()]}
                 for d in range(10)],
        "kits": [{"digit": d, "runs": [i for i in items if i["kind"] == "identikit" and i["target"] == d]}
                 for d in range(10)],
        "sample_rows": [{"digit": d, "samples": [i for i in samples if i["target"] == d][:data["samples"]["shown"]]}
                        for d in range(10)],
        "sample_scores": {**mean_scores(samples), "count": len(samples),
                          "judge_right": sum(i["scores"]["judge"]["predicted"] == i["target"] for i in samples)}
        if samples else None,
        "total_runs": sum(r["runs"] for r in data["convergence"]),
        "total_converged": sum(r["converged"] for r in data["convergence"]),
        "judge_chart": charts.bar_chart([m["name"] for m in methods], [m["judge"] for m in methods],
                                        "Judge's mean confidence in the intended digit", value_format="{:.2f}",
                                        y_label="judge p(digit)"),
    }
