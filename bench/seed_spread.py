#!/usr/bin/env python3
"""How much the ambiguous page's numbers move with the experiment seed alone: the page's recipes that make the
improved grid (the pool and its two members) re-run on the embedded build's cached models for several seeds,
each grid scored as the page scores it — the validation panel's score, the judge's alignment, cells read right
both ways and realism.

The judge only reports here, as on the page: nothing is chosen from these numbers, and the build keeps seed 0.
Seed 0 reproduces the built page's rows.

    .venv/bin/python bench/seed_spread.py --seeds 0 1 2 3 4
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.data import load_dataset  # noqa: E402
from generator.engines.optvis import Goal, make_toolkit, timed_generate  # noqa: E402
from generator.models.realism import Realism  # noqa: E402
from generator.models.table import get_models  # noqa: E402
from generator.pages import ambiguous  # noqa: E402

RECIPES = ("anagram-sdedit", "anagram-digits", "anagram-both")     # the pool last: it re-uses its members'


def seed_rows(seed: int, recipes: list, models, dataset, realism: Realism) -> list[dict]:
    """One row per recipe for one experiment seed, scored as the page scores it."""
    toolkit = make_toolkit(models, dataset, seed)
    goal = Goal(torch.tensor([i for i, _ in ambiguous.PAIRS]), torch.tensor([j for _, j in ambiguous.PAIRS]))
    rows = []
    for recipe in recipes:
        tiles, seconds = timed_generate(recipe, goal, toolkit, seed)
        cells = ambiguous.grid_tiles(tiles)
        judged = ambiguous.summary(ambiguous.cell_scores(models, cells))
        rows.append({"seed": seed, "recipe": recipe.name, "seconds": round(seconds, 1),
                     "panel": ambiguous.panel_score(toolkit.panel, tiles),
                     "judge_alignment": judged["judge_alignment"], "judge_both_right": judged["judge_both_right"],
                     "realism": round(ambiguous.realism_summary(realism, cells)["realism"], 3)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--results", type=Path, default=Path("/tmp/seed_spread.jsonl"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = load_dataset(None, ROOT / "models" / "data", node_modules=ROOT / "node_modules")
    models = get_models(dataset, ROOT / "models" / "weights", torch.device("cpu"),
                        roles=("reader", "judge", "ensemble", "panel", "vae", "diffusion"))
    realism = Realism.of(models.judge.module, dataset.test_images)
    by_name = {r.name: r for r in ambiguous.RECIPES}
    rows = [row for seed in args.seeds
            for row in seed_rows(seed, [by_name[n] for n in RECIPES], models, dataset, realism)]
    args.results.write_text("".join(json.dumps(row) + "\n" for row in rows))
    for name in RECIPES:
        mine = [r for r in rows if r["recipe"] == name]
        print(f"{name}: " + ", ".join(
            f"{key} {np.mean([r[key] for r in mine]):.3f} ({min(r[key] for r in mine)}–{max(r[key] for r in mine)})"
            for key in ("panel", "judge_alignment", "judge_both_right", "realism")))


if __name__ == "__main__":
    main()
