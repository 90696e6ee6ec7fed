#!/usr/bin/env python3
"""Design trials for the ambiguous grid's recipes, scored by the validation panel and by a *design classifier*
that takes no part in the build: trained on full-MNIST training digits 10,000-59,999 (none of the embedded
build's digits, which are training digits 0-9,999), with its own realism measure against full MNIST's test
digits. The judge is not loaded: recipes are designed without it and it only reports, on the built page.

    .venv/bin/python bench/ambiguous_design.py --recipes anagram-sdedit --candidates 8 16
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.data import load_dataset  # noqa: E402
from generator.data.idx import read_idx_dir  # noqa: E402
from generator.digits import images_to_tensor, rotate180, to_uint8  # noqa: E402
from generator.engines.optvis import Goal, Toolkit, make_toolkit, timed_generate  # noqa: E402
from generator.engines.sampler import sample  # noqa: E402
from generator.models import networks  # noqa: E402
from generator.models.realism import Realism  # noqa: E402
from generator.models.table import get_models  # noqa: E402
from generator.models.training import TrainConfig, evaluate, train_classifier  # noqa: E402
from generator.pages import ambiguous, dreams  # noqa: E402

OFF_DIAGONAL = ~np.eye(10, dtype=bool).ravel()


def arguments() -> argparse.Namespace:
    """Which recipes, with which overrides."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["prior-panel", "anagram-sdedit"])
    parser.add_argument("--candidates", type=int, nargs="*", default=[], help="override: candidates per pair")
    parser.add_argument("--start-times", type=float, nargs="*", default=[], help="override: SDEdit start")
    parser.add_argument("--team-guidance", type=float, nargs="*", default=[], help="override")
    parser.add_argument("--also", nargs="*", default=[], metavar="K:T",
                        help="override both: candidates K and SDEdit start T (e.g. 16:0.6)")
    parser.add_argument("--sampler", nargs="*", default=[], metavar="FIELD=V,...",
                        help="SamplerConfig overrides, a variant per argument (e.g. guidance=5,unguided_steps=5)")
    parser.add_argument("--inits", nargs="*", default=[], help="override: what SDEdit re-draws (prior, digits)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="sampling seeds (the panel's spread)")
    parser.add_argument("--skip-base", action="store_true", help="run only the overrides, not the page's recipes")
    parser.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "mnist")
    parser.add_argument("--design-model", type=Path, default=Path("/tmp/design_reader.pt"))
    parser.add_argument("--results", type=Path, default=Path("/tmp/ambiguous_design.jsonl"))
    parser.add_argument("--denoiser", type=Path, help="a denoiser state dict to use instead of the build's")
    parser.add_argument("--dreams", action="store_true",
                        help="also score 100 diffusion dreams per digit (the dreams page's samples) per seed")
    return parser.parse_args()


def design_classifier(args: argparse.Namespace) -> tuple[torch.nn.Module, Realism]:
    """The design classifier (trained once, then loaded) and realism in its features against MNIST's test set."""
    full = read_idx_dir(args.mnist)
    model = networks.Reader()
    if args.design_model.exists():
        model.load_state_dict(torch.load(args.design_model))
    else:
        x = images_to_tensor(full.train_images[10_000:])
        y = torch.from_numpy(full.train_labels[10_000:].astype(np.int64))
        test = images_to_tensor(full.test_images), torch.from_numpy(full.test_labels.astype(np.int64))
        config = TrainConfig(epochs=30, seed=4242, learning_rate=5e-3, data_growth=1.0)
        train_classifier(model, (x, y), test, config, torch.device("cpu"), "design classifier", curves=False)
        print(f"design classifier: {100 * evaluate(model, *test)[1]:.2f}% of MNIST's test set", flush=True)
        torch.save(model.state_dict(), args.design_model)
    model.eval()
    return model, Realism.of(model, full.test_images[:5000])


def embedded_models(roles: tuple[str, ...]):
    """The embedded data and the build's cached models of ``roles`` (trained when missing), on one thread."""
    torch.set_num_threads(1)
    dataset = load_dataset(None, ROOT / "models" / "data", node_modules=ROOT / "node_modules")
    return dataset, get_models(dataset, ROOT / "models" / "weights", torch.device("cpu"), roles=roles)


def record(args: argparse.Namespace, row: dict) -> None:
    """Print one trial's row and append it to the results file."""
    print(json.dumps(row), flush=True)
    with args.results.open("a") as out:
        out.write(json.dumps(row) + "\n")


def design_scores(model: torch.nn.Module, realism: Realism, cells: np.ndarray) -> dict:
    """The design classifier's alignment and both-ways count over the 90 off-diagonal cells, and realism."""
    upright, turned_label = np.repeat(np.arange(10), 10), np.tile(np.arange(10), 10)
    with torch.no_grad():
        up = model(images_to_tensor(cells)).softmax(1).numpy()
        down = model(images_to_tensor(rotate180(cells))).softmax(1).numpy()
    rows = np.arange(100)
    alignment = np.minimum(up[rows, upright], down[rows, turned_label])[OFF_DIAGONAL]
    both = ((up.argmax(1) == upright) & (down.argmax(1) == turned_label))[OFF_DIAGONAL]
    return {"design_alignment": round(float(alignment.mean()), 4), "design_both": int(both.sum()),
            "design_realism": round(float(realism.looks_real(cells[OFF_DIAGONAL]).mean()), 3)}


def dream_scores(toolkit: Toolkit, model: torch.nn.Module, realism: Realism, seed: int) -> dict:
    """The panel's and the design classifier's reading and realism of 100 unselected diffusion dreams per digit."""
    labels = torch.arange(10).repeat(100)
    config = next(r for r in dreams.RECIPES if r.space == "diffusion").sampler
    real = toolkit.real_digits() if config.realism_guidance else None
    tiles = to_uint8(sample(toolkit.denoiser, labels, config, seed, real=real)[:, 0].numpy())
    x, rows = images_to_tensor(tiles), torch.arange(len(labels))
    with torch.no_grad():
        design_p = model(x).softmax(1)[rows, labels]
    return {"dreams_panel_p": round(float(toolkit.panel.probabilities(x)[rows, labels].mean()), 4),
            "dreams_panel_realism": round(float(toolkit.panel.looks_real(tiles).mean()), 3),
            "dreams_design_p": round(float(design_p.mean()), 4),
            "dreams_design_realism": round(float(realism.looks_real(tiles).mean()), 3)}


def sampler_fields(text: str) -> dict[str, float | int]:
    """``"guidance=5,unguided_steps=5"`` -> ``{"guidance": 5.0, "unguided_steps": 5}``: SamplerConfig overrides."""
    return {key: float(value) if "." in value else int(value)
            for key, value in (item.split("=") for item in text.split(","))}


def variants(args: argparse.Namespace) -> list:
    """The page's named recipes, each with every override asked for."""
    by_name = {r.name: r for r in ambiguous.RECIPES}
    out = []
    for name in args.recipes:
        recipe = by_name[name]
        out += [] if args.skip_base else [recipe]
        out += [replace(recipe, name=f"{name}/k{k}", candidates=k) for k in args.candidates]
        out += [replace(recipe, name=f"{name}/t{t}", sampler=replace(recipe.sampler, start_time=t))
                for t in args.start_times]
        out += [replace(recipe, name=f"{name}/g{g}", sampler=replace(recipe.sampler, team_guidance=g))
                for g in args.team_guidance]
        out += [replace(recipe, name=f"{name}/{fields}", sampler=replace(recipe.sampler, **sampler_fields(fields)))
                for fields in args.sampler]
        out += [replace(recipe, name=f"{name}/{init}", init=init) for init in args.inits]
        out += [replace(recipe, name=f"{name}/{init}/{fields}", init=init,
                        sampler=replace(recipe.sampler, **sampler_fields(fields)))
                for init in args.inits for fields in args.sampler]
        for pair in args.also:
            k, t = pair.split(":")
            out.append(replace(recipe, name=f"{name}/k{k}t{t}", candidates=int(k),
                               sampler=replace(recipe.sampler, start_time=float(t))))
    return out


def main() -> None:
    args = arguments()
    dataset, models = embedded_models(("reader", "ensemble", "panel", "vae", "diffusion"))
    toolkit = make_toolkit(models, dataset, 0)
    if args.denoiser:
        toolkit.denoiser.load_state_dict(torch.load(args.denoiser))
    design, realism = design_classifier(args)
    goal = Goal(torch.tensor([i for i, _ in ambiguous.PAIRS]), torch.tensor([j for _, j in ambiguous.PAIRS]))
    for recipe, seed in itertools.product(variants(args), args.seeds):
        started = time.perf_counter()
        tiles, _ = timed_generate(recipe, goal, toolkit, seed)
        cells = ambiguous.grid_tiles(tiles)
        row = {"denoiser": str(args.denoiser or "build"), "recipe": recipe.name, "seed": seed,
               "seconds": round(time.perf_counter() - started, 1),
               "panel": ambiguous.panel_score(toolkit.panel, tiles), **design_scores(design, realism, cells)}
        if args.dreams:
            row.update(dream_scores(toolkit, design, realism, seed))
        record(args, row)


if __name__ == "__main__":
    main()
