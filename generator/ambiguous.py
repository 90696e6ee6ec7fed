"""The ambiguous grid (seed 000): digits that read as i upright and as j turned 180°.

Cell (i, j) needs an image x with x read as i and rot180(x) read as j; cell (j, i) is then
rot180(x), so 55 images (45 pairs and 10 digits that must read as themselves both ways)
fill all 100 cells. The naive grid is the seed's: pixels from the mean image, against the
reader alone. The improved grid is the recipe the ablation below ranks first by the judge's
alignment; the judge never takes part in making or choosing an image.
"""
from __future__ import annotations

import numpy as np
import torch

from generator import charts
from generator.data import Dataset
from generator.gallery import PageResult, RunContext, SpriteSheet, score, scored_items
from generator.models import Models
from generator.optvis import Goal, Recipe, make_toolkit, quick_recipe, timed_generate

PAIRS = [(i, j) for i in range(10) for j in range(i, 10)]
RECIPES = (
    Recipe("naive", start="mean", steps=200, learning_rate=0.01),
    Recipe("pixels-ensemble", team="ensemble", jitter=True, views=2, smoothness=0.01, steps=100, learning_rate=0.01),
    Recipe("latent-ensemble", space="latent", team="ensemble", jitter=True, views=2, prior=1.0, restarts=2, steps=100,
           learning_rate=0.05),
    Recipe("prior-reader", space="prior", samples=30_000),
    Recipe("prior-ensemble", space="prior", team="ensemble", samples=30_000),
    Recipe("prior-robust", space="prior", team="ensemble", jitter=True, samples=30_000),
)
NAIVE, IMPROVED = "naive", "prior-robust"
DESCRIPTIONS = {
    "naive": "pixels from the mean training digit, against the reader alone (seed 000)",
    "pixels-ensemble": "pixels from the mean, against reader + 3 ensemble readers, random shifts/rotations/zooms each step, total-variation penalty",
    "latent-ensemble": "gradient descent on the VAE's 16-d latent against reader + ensemble, with jitter and a Gaussian prior; the ensemble keeps the better of 2 restarts",
    "prior-reader": "decode 30,000 draws from the VAE's prior and keep, per pair, the one the reader alone likes best both ways",
    "prior-ensemble": "the same, chosen by reader + ensemble together",
    "prior-robust": "the same, then the 16 best draws per pair ranked again by reader + ensemble on 8 randomly shifted, rotated and zoomed views",
}


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


def alignment_chart(scores: dict[str, np.ndarray], title: str) -> str:
    """Heat map of the judge's min(p(i) upright, p(j) rotated) per cell."""
    alignment = np.minimum(scores["judge_upright"], scores["judge_rotated"]).reshape(10, 10)
    digits = [str(d) for d in range(10)]
    return charts.heatmap(alignment.round(2), title, row_labels=digits, col_labels=digits, row_title="upright",
                          col_title="rotated 180°", vmin=0.0, vmax=1.0)


def grid_items(sheet: SpriteSheet, method: str, models: Models, scores: dict[str, np.ndarray]) -> list[dict]:
    """Manifest items for one grid's 100 cells."""
    upright = [i for i in range(10) for _ in range(10)]
    items = scored_items(sheet, "ambiguous", upright, models.reader.module, models.judge.module,
                         ids=[f"{method}-{i}-{j}" for i in range(10) for j in range(10)])
    for n, item in enumerate(items):
        i, j = divmod(n, 10)
        item.update(method=method, upright=i, rotated=j, scores_rotated={
            m: {"p_label": round(float(scores[f"{m}_rotated"][n]), 4)} for m in ("reader", "judge")},
            alignment=round(float(min(scores["judge_upright"][n], scores["judge_rotated"][n])), 4),
            judge_both_right=bool(scores["judge_both"][n]))
    return items


def run(models: Models, dataset: Dataset, context: RunContext) -> PageResult:
    """Make the 55 pair images with every recipe, score all 100 cells of each grid, keep the naive and improved grids."""
    toolkit = make_toolkit(models, dataset)
    goal = Goal(torch.tensor([i for i, _ in PAIRS]), torch.tensor([j for _, j in PAIRS]))
    ablation, grids = [], {}
    for recipe in RECIPES:
        tiles, seconds = timed_generate(quick_recipe(recipe) if context.quick else recipe, goal, toolkit, context.seed)
        cells = grid_tiles(tiles)
        scores = cell_scores(models, cells)
        ablation.append({"name": recipe.name, "description": DESCRIPTIONS[recipe.name], "seconds": round(seconds, 1),
                         "improved": recipe.name == IMPROVED, "naive": recipe.name == NAIVE, **summary(scores)})
        grids[recipe.name] = (cells, scores)
    sheets, items, charts_ = [], [], {}
    for method in (NAIVE, IMPROVED):
        cells, scores = grids[method]
        sheet = SpriteSheet(f"ambiguous-{method}", cells, columns=10)
        sheets.append(sheet)
        items += grid_items(sheet, method, models, scores)
        charts_[method] = alignment_chart(scores, f"Judge's alignment per cell, {method} grid")
    by_name = {row["name"]: row for row in ablation}
    page_context = {"ablation": ablation, "naive": by_name[NAIVE], "improved": by_name[IMPROVED],
                    "charts": charts_, "improved_name": IMPROVED}
    return PageResult("ambiguous", items, sheets, [], page_context)
