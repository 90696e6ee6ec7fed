#!/usr/bin/env python3
"""Design trials for the diffusion muddle, scored by the design classifier of bench/ambiguous_design.py (outside
the build; the judge is not loaded). Variants: which models' tie the blend weight is bisected on (the reader, or
the reader with the ensemble), and how many noise draws per pair the validation panel chooses among.

    .venv/bin/python bench/muddle_design.py --candidates 1 4
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ambiguous_design import design_classifier, embedded_models, record, sampler_fields  # noqa: E402

from generator.digits import images_to_tensor, to_uint8  # noqa: E402
from generator.engines.latent_walk import encode  # noqa: E402
from generator.engines.nearest_real import RealDigits  # noqa: E402
from generator.engines.panel import Panel  # noqa: E402
from generator.models.metrics import predict_proba  # noqa: E402
from generator.pages import muddle  # noqa: E402


class MeanReading(nn.Module):
    """Several classifiers as one: the log of their mean probabilities."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([F.softmax(m(x), dim=1) for m in self.members]).mean(0).log()


def arguments() -> argparse.Namespace:
    """Which variants."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--ties", nargs="+", default=["reader", "team"], choices=("reader", "team"))
    parser.add_argument("--starts", type=float, nargs="+", default=[0.5])
    parser.add_argument("--team-guidance", type=float, nargs="+", default=[0.0],
                        help="weight of the ensemble's guidance towards reading as both a and b")
    parser.add_argument("--guidance", type=float, nargs="+", default=[3.5], help="classifier-free guidance")
    parser.add_argument("--sampler", nargs="+", default=[""], metavar="FIELD=V,...",
                        help="SamplerConfig overrides, a variant per argument (e.g. steps=48,team_blur=1.0)")
    parser.add_argument("--inits", nargs="+", default=["source"],
                        choices=("source", "overlay", "brighter", *muddle.METHODS[:3]),
                        help="what is re-noised: digit a itself, the mean or the brighter of digits a and b pixel by "
                             "pixel, or one of the autoencoder's muddles of the pair")
    parser.add_argument("--per-class", type=int, default=muddle.Config.per_class, help="source digits per class")
    parser.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "mnist")
    parser.add_argument("--design-model", type=Path, default=Path("/tmp/design_reader.pt"))
    parser.add_argument("--results", type=Path, default=Path("/tmp/muddle_design.jsonl"))
    parser.add_argument("--denoiser", type=Path, help="a denoiser state dict to use instead of the build's")
    parser.add_argument("--real", default="label", choices=("label", "any"),
                        help="realism guidance's pull: towards the nearest real a and b, or the nearest real digit")
    return parser.parse_args()


def panel_pick(panel: Panel, candidates: list[np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair, the candidate the panel finds the best muddle: the lesser of its p(a) and p(b), plus half a
    point when it looks real."""
    rows = np.arange(len(a))
    scores = []
    for images in candidates:
        probs = panel.probabilities(images_to_tensor(images)).numpy()
        real = panel.looks_real(to_uint8(images))
        scores.append(np.minimum(probs[rows, a], probs[rows, b]) + panel.realism_weight * real)
    best = np.argmax(scores, axis=0)
    return np.stack(candidates)[best, rows]


def main() -> None:
    args = arguments()
    dataset, models = embedded_models(("reader", "ensemble", "panel", "autoencoder", "diffusion"))
    panel = Panel.of([m.module for m in models.panel], dataset.train_images, 0)
    if args.denoiser:
        models.diffusion.module.load_state_dict(torch.load(args.denoiser))
    design, realism = design_classifier(args)
    config = muddle.Config(per_class=args.per_class)
    rng = np.random.default_rng([0, 2])
    labels = dataset.test_labels.astype(np.int64)
    autoencoder = models.autoencoder.module
    latents = encode(autoencoder, dataset.test_images)
    means = muddle.latent_class_means(encode(autoencoder, dataset.train_images), dataset.train_labels.astype(np.int64))
    muddle.reconstruction_strip(autoencoder, models.reader.module, models.reader.module, dataset, latents,
                                config.reconstructions_per_class, rng)      # the page's draws, in its order
    source, partner = muddle.choose_pairs(labels, muddle.nearest_other_class(latents, labels, means),
                                          config.per_class, rng)
    a, b = labels[source], labels[partner]
    tie_models = {"reader": models.reader.module,
                  "team": MeanReading([models.reader.module, *(m.module for m in models.ensemble)])}
    team = [m.module for m in models.ensemble]
    real = RealDigits.of(models.reader.module, dataset.train_images, dataset.train_labels)
    if args.real == "any":                      # every label's pool is all the reference digits
        everyone = torch.cat(list(real.by_label.values()))
        real = RealDigits(real.model, dict.fromkeys(range(10), everyone), real.radius)
    made = muddle.muddles(autoencoder, models.reader.module, latents[source], latents[partner], a, b, config)
    first, second = dataset.test_images[source], dataset.test_images[partner]
    inits = {"source": first, "overlay": ((first.astype(np.uint16) + second) // 2).astype(np.uint8),
             "brighter": np.maximum(first, second), **{m: to_uint8(made[m]["image"]) for m in made}}
    for init, start, tie, k, team_weight, guidance, fields in itertools.product(
            args.inits, args.starts, args.ties, args.candidates, args.team_guidance, args.guidance, args.sampler):
        started = time.perf_counter()
        sampler = replace(config.diffusion, team_guidance=team_weight, guidance=guidance,
                          **(sampler_fields(fields) if fields else {}))
        runs = [muddle.diffusion_muddles(models.diffusion.module, tie_models[tie], inits[init], a, b,
                                         replace(config, diffusion_start=start, diffusion=sampler), seed,
                                         team, real)
                for seed in range(k)]
        images = runs[0]["image"] if k == 1 else panel_pick(panel, [run["image"] for run in runs], a, b)
        reading = muddle.pair_reading(predict_proba(design, images), a, b)
        panel_reading = muddle.pair_reading(panel.probabilities(images_to_tensor(images)).numpy(), a, b)
        row = {"denoiser": str(args.denoiser or "build"), "pairs": len(a), "sampler": fields, "real": args.real,
               "init": init, "start": start, "tie": tie, "candidates": k,
               "team_guidance": team_weight,
               "guidance": guidance, "seconds": round(time.perf_counter() - started, 1),
               "reader_tied": round(float(runs[0]["tied"].mean()), 3),
               "panel_pair_share": round(float(panel_reading["top2_is_pair"].mean()), 3),
               "panel_realism": round(float(panel.looks_real(to_uint8(images)).mean()), 3),
               "design_pair_share": round(float(reading["top2_is_pair"].mean()), 3),
               "design_median_margin": round(float(np.median(reading["margin"])), 3),
               "design_realism": round(float(realism.looks_real(to_uint8(images)).mean()), 3)}
        record(args, row)


if __name__ == "__main__":
    main()
