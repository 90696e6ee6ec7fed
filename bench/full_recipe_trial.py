#!/usr/bin/env python3
"""Trial of a classifier recipe on full MNIST (not run by the tests): train on training digits 0-54,999, score on
55,000-59,999 (the validation digits that choose full-data recipes) and, for the record only, the test set.
Appends one JSON line to ``--results``; bench/FULL_MNIST.md holds the runs that chose the build's recipes.

    .venv/bin/python bench/full_recipe_trial.py reader --epochs 30              # one thread; two trials at once
    .venv/bin/python bench/full_recipe_trial.py judge --epochs 20 --arch Judge --augmentation elastic --lr 2e-3
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from reader_variants import RECIPES  # noqa: E402

from generator.data.idx import read_idx_dir  # noqa: E402
from generator.digits import images_to_tensor  # noqa: E402
from generator.models import networks  # noqa: E402
from generator.models.training import TrainConfig, evaluate, train_classifier  # noqa: E402

VALIDATION = 5_000


def arguments() -> argparse.Namespace:
    """The recipe's knobs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--epochs", type=int, required=True, help="epochs on the 55,000 training digits")
    parser.add_argument("--arch", default="Reader", choices=("Reader", "Judge"))
    parser.add_argument("--network", default="deep5", choices=list(RECIPES), help="Reader shape (reader_variants)")
    parser.add_argument("--augmentation", default="affine")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "mnist")
    parser.add_argument("--results", type=Path, default=Path("/tmp/full_recipe_trials.jsonl"))
    return parser.parse_args()


def load_split(data: Path, limit: int | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Full MNIST as fit (training 0-54,999, or its first ``limit``), validation (55,000-59,999) and test."""
    dataset = read_idx_dir(data)
    x, y = images_to_tensor(dataset.train_images), torch.from_numpy(dataset.train_labels.astype(np.int64))
    end = len(y) - VALIDATION
    return {"fit": (x[:limit or end], y[:limit or end]), "validation": (x[end:], y[end:]),
            "test": (images_to_tensor(dataset.test_images), torch.from_numpy(dataset.test_labels.astype(np.int64)))}


def run_trial(model: torch.nn.Module, config: TrainConfig, split: dict, device: torch.device, desc: str) -> dict:
    """Train ``model`` on the fit digits; its seconds, validation and (recorded only) test accuracy, MFLOP."""
    started = time.perf_counter()
    train_classifier(model, split["fit"], split["validation"], config, device, desc, curves=False)
    seconds = time.perf_counter() - started
    model.cpu()
    return {"seconds": round(seconds, 1), "validation": evaluate(model, *split["validation"])[1],
            "test": evaluate(model, *split["test"])[1], "mflop": networks.count_flops(model) / 1e6}


def main() -> None:
    args = arguments()
    torch.set_num_threads(1)
    config = TrainConfig(epochs=args.epochs, seed=0, learning_rate=args.lr, augmentation=args.augmentation,
                         label_smoothing=args.label_smoothing, batch_size=args.batch_size, data_growth=1.0)
    torch.manual_seed(0)
    model = networks.Judge() if args.arch == "Judge" else RECIPES[args.network].network()
    row = {"name": args.name, **vars(args), "data": str(args.data), "results": None,
           **run_trial(model, config, load_split(args.data), torch.device("cpu"), args.name)}
    print(json.dumps(row))
    with args.results.open("a") as out:
        out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
