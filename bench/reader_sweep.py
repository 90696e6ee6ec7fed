#!/usr/bin/env python3
"""Many reader trials at once on the full-MNIST validation split (bench/full_recipe_trial.py's split and recipe):
recipes of bench/reader_variants.py with several seeds, spread over worker processes (one torch thread each; on
a GPU they share it). Each finished trial is appended to ``--results`` as one JSON line, so a run cut off at
``--deadline`` keeps what it finished. Not run by the tests.

    python bench/reader_sweep.py --device cuda --workers 12 --seeds 0 1 2 --deadline 300
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from full_recipe_trial import load_split, run_trial  # noqa: E402
from reader_variants import RECIPES  # noqa: E402

from generator.models.training import TrainConfig  # noqa: E402


def arguments() -> argparse.Namespace:
    """Where, how long and which trials."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N digits (smoke runs)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--deadline", type=float, default=None, help="seconds; unfinished trials are dropped")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "mnist")
    parser.add_argument("--results", type=Path, default=Path("/tmp/reader_sweep.jsonl"))
    return parser.parse_args()


def record(args: argparse.Namespace, row: dict) -> dict:
    """Append one result row to the results file and print it."""
    with args.results.open("a") as out:
        out.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)
    return row


def train_student(job: tuple[str, int, argparse.Namespace]) -> dict:
    """Train one recipe with one seed."""
    name, seed, args = job
    torch.set_num_threads(1)
    recipe, device = RECIPES[name], torch.device(args.device)
    split = load_split(args.data, args.limit)
    config = TrainConfig(**{"epochs": args.epochs, "seed": seed, "learning_rate": 5e-3, "data_growth": 1.0,
                            **dict(recipe.config)})
    torch.manual_seed(seed)
    row = run_trial(recipe.network(), config, split, device, f"{name}/{seed}")
    return record(args, {"recipe": name, "seed": seed, "epochs": args.epochs, "device": args.device, **row})


def run_all(pool, worker, jobs: list, deadline: float | None, started: float) -> bool:
    """Run ``jobs`` on the pool; False when the deadline cut them off."""
    pending = pool.imap_unordered(worker, jobs)
    for _ in jobs:
        left = None if deadline is None else deadline - (time.perf_counter() - started)
        try:
            pending.next(timeout=left)
        except multiprocessing.TimeoutError:
            print(f"deadline: {deadline} s reached", flush=True)
            return False
    return True


def main() -> None:
    args = arguments()
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        students = [(name, seed, args) for seed in args.seeds for name in args.recipes]
        run_all(pool, train_student, students, args.deadline, started)


if __name__ == "__main__":
    main()
