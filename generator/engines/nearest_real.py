"""Realism guidance: a pull of a digit being drawn towards the nearest real training digit of its label.

In one generator model's penultimate-layer features (the reader's; never a panel member's or the judge's), a
digit's *closeness* to real handwriting is minus its squared distance to the nearest real training digit of the
intended label, in units of the real digits' median k-nearest-neighbour radius. The sampler adds the gradient
of the closeness of the predicted clean image (every view the goal asks for) to its guided steps, so the strokes
drift towards shapes that real writers make. The reference is training digits only: the judge's realism is
measured against held-out digits, and the panel's in its own member's features. On full MNIST a seeded sample
of at most ``PER_LABEL`` digits a label stands in for the 6,000, since the search runs on every guided step; the
embedded data (at most 902 a label) is used whole.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from generator.models.realism import K, features, nearest_distances, penultimate

RADIUS_SAMPLE = 500        # digits whose k-NN radius (among all reference digits) sets the unit of distance
PER_LABEL = 1000           # reference digits a label at most


@dataclass
class RealDigits:
    """Real training digits in one model's features, by label, with the unit of distance."""

    model: nn.Module
    by_label: dict[int, torch.Tensor]   # label -> features [M_label, F] (float32) of its real digits
    radius: float                       # median distance of a sample of digits to their k-th nearest other digit

    @classmethod
    def of(cls, model: nn.Module, images: np.ndarray, labels: np.ndarray, seed: int = 0) -> RealDigits:
        """The reference: uint8 ``images`` [M,28,28] with ``labels`` [M] in ``model``'s features (at most
        ``PER_LABEL`` a label, in their original order)."""
        kept = reference_rows(labels, PER_LABEL, seed)
        images, labels = images[kept], labels[kept]
        found = penultimate(model, images).astype(np.float32)
        pick = np.random.default_rng(seed).choice(len(found), min(RADIUS_SAMPLE, len(found)), replace=False)
        radius = float(np.median(nearest_distances(found[pick], found, K + 1)[:, K]))    # column 0: itself
        by_label = {int(label): torch.from_numpy(found[labels == label]) for label in np.unique(labels)}
        return cls(model.eval().requires_grad_(False), by_label, radius)

    def closeness(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per image [N,1,28,28] in [0, 1]: -(distance to the nearest real digit of its label / radius)²
        (differentiable in the images; the nearest digit is found without gradients)."""
        found = features(self.model, images)
        with torch.no_grad():
            nearest = torch.empty_like(found)
            for label in labels.unique().tolist():
                rows, pool = labels == label, self.by_label[label]
                nearest[rows] = pool[torch.cdist(found[rows], pool).argmin(1)]
        return -((found - nearest) ** 2).sum(1) / self.radius ** 2


def reference_rows(labels: np.ndarray, per_label: int, seed: int) -> np.ndarray:
    """Row indices, ascending, that keep at most ``per_label`` rows of each label (a seeded sample where more)."""
    rng = np.random.default_rng(seed)
    rows = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    kept = [found if len(found) <= per_label else rng.choice(found, per_label, replace=False) for found in rows]
    return np.sort(np.concatenate(kept))
