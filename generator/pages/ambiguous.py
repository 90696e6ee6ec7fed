"""The ambiguous grid (seed 000): digits that read as i upright and as j turned 180°.

Cell (i, j) needs an image x with x read as i and rot180(x) read as j; cell (j, i) is then
rot180(x), so 55 images (45 pairs and 10 digits that must read as themselves both ways)
fill all 100 cells. The naive grid is the seed's: pixels from the mean image, against the
reader alone. The diffusion recipes sample visual anagrams (``generator.engines.sampler``) from noise, or from
VAE prior draws or real training digits re-noised part-way (steered by the reader and the ensemble and pulled
towards real training digits in the reader's features), several candidates per pair of which the validation
panel keeps one; a pool lets it choose among two recipes' candidates together. The panel also names the recipe
the page calls "improved"; the judge never takes part in making or choosing an image and only scores, beside its
realism measure (``generator.models.realism``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from generator.data.dataset import Dataset
from generator.digits import images_to_tensor
from generator.engines.optvis import Goal, Recipe, make_toolkit, timed_generate
from generator.engines.panel import Panel
from generator.engines.sampler import SamplerConfig
from generator.models.realism import Realism
from generator.models.table import Models
from generator.pages.studio import studio_context
from generator.site import charts
from generator.site.results import BuildInfo, PageResult, SpriteSheet, add_fields, score, scored_items

PAIRS = [(i, j) for i in range(10) for j in range(i, 10)]
# 16 candidates re-noised to t = 0.65, team guidance 8 on every step: the validation panel's top of 25 variants
# (bench/AMBIGUOUS.md); realism guidance 4, the panel's top of weights 0-4 (seventh round); the judge took no part.
SDEDIT = Recipe("anagram-sdedit", space="diffusion", team="ensemble", candidates=16, samples=30_000,
                sampler=SamplerConfig(team_guidance=8.0, realism_guidance=4.0, start_time=0.65))
# the same from real training digits (upright or turned over; none of the panel's reference digits), re-noised to
# t = 0.5: the panel's top in the fourth round; realism guidance 3 of weights 0-6 (seventh round)
DIGITS = Recipe("anagram-digits", space="diffusion", team="ensemble", candidates=16, init="digits",
                sampler=SamplerConfig(team_guidance=8.0, realism_guidance=3.0, start_time=0.5))
RECIPES = (
    Recipe("naive", start="mean", steps=200, learning_rate=0.01, origin="seed 000"),
    Recipe("pixels-ensemble", team="ensemble", jitter=True, views=2, smoothness=0.01, steps=100, learning_rate=0.01),
    Recipe("latent-ensemble", space="latent", team="ensemble", jitter=True, views=2, prior=1.0, steps=100,
           learning_rate=0.05),
    Recipe("prior-ensemble", space="prior", team="ensemble", samples=30_000),
    Recipe("prior-panel", space="prior", team="ensemble", samples=30_000, shortlist=16),
    Recipe("anagram", space="diffusion", candidates=8),
    SDEDIT,
    DIGITS,
    # both starts' 32 candidates together (eighth round): made by the two recipes above, chosen by the panel
    Recipe("anagram-both", space="pool", pool=(SDEDIT.name, DIGITS.name)),
)
GRIDS = ("naive", "improved")


@dataclass(frozen=True)
class Config:
    """The ambiguous page's knobs: the ablation's recipes and the seed's (the panel picks the improved one)."""

    recipes: tuple[Recipe, ...] = RECIPES
    naive: str = "naive"              # the seed's method

    def quick(self) -> Config:
        """Cheap recipes."""
        return replace(self, recipes=tuple(r.quick() for r in self.recipes))


def grid_tiles(pair_tiles: np.ndarray) -> np.ndarray:
    """The 100 cells, row i = upright i, column j = rotated j, from the 55 pair images (i <= j)."""
    cells = np.zeros((10, 10, 28, 28), dtype=np.uint8)
    for (i, j), tile in zip(PAIRS, pair_tiles):
        cells[j, i] = tile[::-1, ::-1]
        cells[i, j] = tile
    return cells.reshape(100, 28, 28)


def cell_scores(models: Models, cells: np.ndarray) -> dict[str, np.ndarray]:
    """Per cell and model, p(i | upright) and p(j | rotated), and whether the model's argmax matches both."""
    upright, rotated = np.repeat(np.arange(10), 10), np.tile(np.arange(10), 10)
    turned = np.ascontiguousarray(cells[:, ::-1, ::-1])
    out = {}
    for name, model in (("reader", models.reader.module), ("judge", models.judge.module)):
        up, down = score(model, cells, upright), score(model, turned, rotated)
        out[f"{name}_upright"] = np.array([s["p_label"] for s in up])
        out[f"{name}_rotated"] = np.array([s["p_label"] for s in down])
        out[f"{name}_both"] = np.array([a["predicted"] == i and b["predicted"] == j
                                        for a, b, i, j in zip(up, down, upright, rotated)])
    return out


def summary(scores: dict[str, np.ndarray]) -> dict:
    """Mean alignment (min of the two readings) over the 90 off-diagonal cells, and cells read right both ways."""
    off = ~np.eye(10, dtype=bool).ravel()
    return {f"{m}_{key}": value for m in ("reader", "judge") for key, value in (
        ("alignment", round(float(np.minimum(scores[f"{m}_upright"], scores[f"{m}_rotated"])[off].mean()), 4)),
        ("both_right", int(scores[f"{m}_both"][off].sum())))}


def panel_score(panel: Panel, pair_tiles: np.ndarray) -> float:
    """How convincing the validation panel finds a recipe's 55 pair images (both views; never the judge)."""
    upright, turned = torch.tensor([i for i, _ in PAIRS]), torch.tensor([j for _, j in PAIRS])
    return round(float(panel.scores(images_to_tensor(pair_tiles), upright, turned).mean()), 4)


def realism_summary(realism: Realism, cells: np.ndarray) -> dict:
    """The judge-feature realism of a grid's 90 off-diagonal cells, upright and turned (each cell's turned view
    is another cell upright, so this is the upright 90), with the Fréchet distance of the same images."""
    off = ~np.eye(10, dtype=bool).ravel()
    return realism.summary(cells[off])


def alignment_chart(cells: list[dict], title: str) -> str:
    """Heat map of the judge's min(p(i) upright, p(j) rotated) per cell, from a grid's 100 items in row order."""
    alignment = np.array([c["alignment"] for c in cells]).reshape(10, 10)
    digits = [str(d) for d in range(10)]
    return charts.heatmap(alignment.round(2), title, row_labels=digits, col_labels=digits, row_title="upright",
                          col_title="rotated 180°", vmin=0.0, vmax=1.0)


def grid_items(sheet: SpriteSheet, grid: str, models: Models, scores: dict[str, np.ndarray],
               looks_real: np.ndarray) -> list[dict]:
    """Manifest items for one grid's 100 cells, in row order."""
    upright, rotated = [i for i in range(10) for _ in range(10)], list(range(10)) * 10
    items = scored_items(sheet, "ambiguous", upright, models.reader.module, models.judge.module,
                         ids=[f"{grid}-{i}-{j}" for i, j in zip(upright, rotated)])
    return add_fields(items, method=[grid] * 100, upright=upright, rotated=rotated,
                      scores_rotated=[{m: {"p_label": round(float(scores[f"{m}_rotated"][n]), 4)}
                                       for m in ("reader", "judge")} for n in range(100)],
                      alignment=np.minimum(scores["judge_upright"], scores["judge_rotated"]).round(4).tolist(),
                      judge_both_right=scores["judge_both"].tolist(), looks_real=looks_real.tolist())


def run(models: Models, dataset: Dataset, config: Config, build: BuildInfo) -> PageResult:
    """Make the 55 pair images with every recipe, score the 100 cells of each grid, keep the naive grid and the
    one the panel finds most convincing."""
    toolkit = make_toolkit(models, dataset, build.seed)
    realism = Realism.of(models.judge.module, dataset.test_images)
    goal = Goal(torch.tensor([i for i, _ in PAIRS]), torch.tensor([j for _, j in PAIRS]))
    ablation, grids = [], {}
    for recipe in config.recipes:
        tiles, seconds = timed_generate(recipe, goal, toolkit, build.seed)
        cells = grid_tiles(tiles)
        scores = cell_scores(models, cells)
        ablation.append({"name": recipe.name, "description": recipe.describe(), "seconds": round(seconds, 1),
                         "naive": recipe.name == config.naive, "panel": panel_score(toolkit.panel, tiles),
                         **summary(scores), **realism_summary(realism, cells)})
        grids[recipe.name] = (cells, scores)
    improved = max((r for r in ablation if not r["naive"]), key=lambda r: r["panel"])
    for row in ablation:
        row["improved"] = row is improved
    sheets, items = [], []
    for grid, recipe in zip(GRIDS, (config.naive, improved["name"])):
        cells, scores = grids[recipe]
        sheet = SpriteSheet(f"ambiguous-{grid}", cells, columns=10)
        sheets.append(sheet)
        items += grid_items(sheet, grid, models, scores, realism.looks_real(cells))
    return PageResult("ambiguous", items, sheets, [], {"ablation": ablation,
                                                       "real_floor": realism.floor(dataset.train_images, 90)})


def context(result: PageResult) -> dict:
    """Both grids row by row with their summaries and heat maps, and the ablation."""
    ablation = result.data["ablation"]
    chosen = {"naive": next(r for r in ablation if r["naive"]), "improved": next(r for r in ablation if r["improved"])}
    grids = []
    for grid in GRIDS:
        cells = [i for i in result.items if i["method"] == grid]
        grids.append({"grid": grid, "recipe": chosen[grid], "rows": [cells[10 * i:10 * i + 10] for i in range(10)],
                      "chart": alignment_chart(cells, f"Judge's alignment per cell, {grid} grid")})
    return {"ablation": ablation, **chosen, "grids": grids, "real_floor": result.data["real_floor"],
            "naive_reader_percent": round(100 * chosen["naive"]["reader_alignment"]),
            "studio": studio_context(SamplerConfig())}
