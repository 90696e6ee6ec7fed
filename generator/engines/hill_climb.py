"""Identikits (seed 001): random-mask hill climbing from a blank image until the reader is sure.

Every step proposes ``candidates`` random perturbations of the current image (each
changes 16 random pixels, 2% of them, by up to ±1), reads all of them in one batch, and keeps
the best if it raises the reader's probability of the target digit. A run stops when
that probability reaches the threshold or at the step limit. All runs of all digits
climb together, one batch per step.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from generator.models.inference import in_batches

PIXELS_CHANGED = 16        # per candidate, drawn with replacement: 2% of the image


@dataclass
class Climbs:
    """The outcome of many hill-climbing runs, one entry per run."""

    images: np.ndarray          # float [R,28,28] in [0, 1]
    targets: np.ndarray         # int [R]
    confidence: np.ndarray      # the reader's final p(target) [R]
    steps: np.ndarray           # steps taken [R]
    converged: np.ndarray       # bool [R]: reached the threshold
    seconds: np.ndarray         # compute time per run: each step's time shared by the runs still climbing


def target_probability(reader: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The reader's p(target) for images ``[R,C,784]`` with one target per row, shape ``[R,C]``."""
    runs, count = images.shape[:2]
    flat = images.reshape(-1, 1, 28, 28)
    logits = in_batches(reader, flat)
    probs = F.softmax(logits, dim=1).view(runs, count, 10)
    return probs.gather(2, targets.view(-1, 1, 1).expand(-1, count, 1)).squeeze(2)


def propose(images: torch.Tensor, candidates: int, gen: torch.Generator) -> torch.Tensor:
    """``candidates`` perturbations ``[R,C,784]`` of each image ``[R,1,784]``: PIXELS_CHANGED random pixels each
    moved by a uniform amount in [-1, 1] and clamped to [0, 1] (drawing only the changed pixels' positions and
    amounts is several times cheaper than a random mask over every pixel)."""
    shape = (len(images), candidates, PIXELS_CHANGED)
    where = torch.randint(0, 784, shape, generator=gen)
    change = torch.rand(shape, generator=gen) * 2 - 1
    copies = images.expand(-1, candidates, -1)
    moved = (copies.gather(2, where) + change).clamp_(0, 1)
    return copies.contiguous().scatter_(2, where, moved)


def hill_climb(reader: nn.Module, targets: np.ndarray, candidates: int = 500, step_limit: int = 100,
               threshold: float = 0.99, seed: int = 0) -> Climbs:
    """Run one climb per entry of ``targets``, all in one batch, from blank images."""
    reader = reader.cpu().eval()
    gen = torch.Generator().manual_seed(seed)
    target = torch.as_tensor(targets, dtype=torch.int64)
    runs = len(target)
    images = torch.zeros(runs, 1, 784)
    steps, seconds = torch.zeros(runs, dtype=torch.int64), torch.zeros(runs, dtype=torch.float64)
    with torch.inference_mode():
        best = target_probability(reader, images, target).squeeze(1)
        for _ in tqdm(range(step_limit), desc="identikits", unit="step", leave=False):
            active = torch.nonzero(best < threshold).flatten()
            if not len(active):
                break
            started = time.perf_counter()
            proposals = propose(images[active], candidates, gen)
            value, pick = target_probability(reader, proposals, target[active]).max(1)
            better = value > best[active]
            images[active[better]] = proposals[better, pick[better]].unsqueeze(1)
            best[active[better]] = value[better]
            steps[active] += 1
            seconds[active] += (time.perf_counter() - started) / len(active)
    return Climbs(images.view(runs, 28, 28).numpy(), target.numpy(), best.double().numpy(), steps.numpy(),
                  (best >= threshold).numpy(), seconds.numpy())


def convergence_table(climbs: Climbs) -> list[dict]:
    """Per digit: runs, share that converged, median steps of the converged runs, median seconds per run."""
    rows = []
    for digit in range(10):
        mine = climbs.targets == digit
        done = mine & climbs.converged
        rows.append({"digit": digit, "runs": int(mine.sum()), "converged": int(done.sum()),
                     "success_rate": round(float(done.sum() / max(mine.sum(), 1)), 3),
                     "median_steps": float(np.median(climbs.steps[done])) if done.any() else None,
                     "median_seconds": round(float(np.median(climbs.seconds[mine])), 3) if mine.any() else None})
    return rows
