"""The validation panel: readers trained to choose, never to make, and never shown as the judge.

The panel picks the best of a recipe's candidates, the shortlist of a prior search, and the recipe a page calls
"improved". A candidate convinces it when the panel's mean probability of the intended digit is high in every
view the goal asks for (upright, and turned over for anagrams) and when each view falls among real digits in each
member's features (``Realism`` with *training* digits as the reference; the held-out digits are the judge's): the
panel's realism, like its probabilities, is its members' mean. The judge takes no part in any of it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generator.digits import rotate180, to_uint8
from generator.models.realism import Realism

REFERENCE_SIZE = 2000       # training digits that define "real" in the panel's features


@dataclass
class Panel:
    """The panel's members and its notion of real-looking."""

    members: list[nn.Module]
    realisms: list[Realism]         # per member: the reference digits in its features
    realism_weight: float = 0.5     # a view that looks real to every member adds this to a candidate's score
    reference_rows: np.ndarray | None = None    # the training digits (rows) that define "real" for the panel

    @classmethod
    def of(cls, members: list[nn.Module], train_images: np.ndarray, seed: int = 0) -> Panel:
        """A panel of frozen ``members`` whose real-digit reference is a seeded sample of training digits."""
        members = [m.cpu().eval().requires_grad_(False) for m in members]
        pick = np.random.default_rng(seed).choice(len(train_images), min(REFERENCE_SIZE, len(train_images)),
                                                  replace=False)
        rows = np.sort(pick)
        return cls(members, [Realism.of(m, train_images[rows]) for m in members], reference_rows=rows)

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Mean softmax ``[N,10]`` of the members for images ``[N,1,28,28]`` in [0, 1]."""
        with torch.no_grad():
            return torch.stack([F.softmax(m(images), dim=1) for m in self.members]).mean(0)

    def looks_real(self, images: np.ndarray) -> np.ndarray:
        """Per uint8 digit ``[N,28,28]``: the share of members in whose features it falls among real digits."""
        return np.mean([realism.looks_real(images) for realism in self.realisms], axis=0)

    def realism_floor(self, real_images: np.ndarray, count: int, seed: int = 0) -> float:
        """The members' mean realism of ``count`` of ``real_images`` (a seeded draw): what real digits get."""
        return float(np.mean([realism.floor(real_images, count, seed)["realism"] for realism in self.realisms]))

    def scores(self, images: torch.Tensor, upright: torch.Tensor, turned: torch.Tensor | None = None) -> np.ndarray:
        """Per image: the least panel probability of the intended digit over the views, plus ``realism_weight``
        times the share of views and members in whose features the image looks real."""
        views = [(images, upright)] + ([] if turned is None else [(rotate180(images), turned)])
        rows = torch.arange(len(images))
        alignment = np.min([self.probabilities(view)[rows, digits].numpy() for view, digits in views], axis=0)
        real = np.mean([self.looks_real(to_uint8(view[:, 0].numpy())) for view, _ in views], axis=0)
        return alignment + self.realism_weight * real

    def choose(self, candidates: torch.Tensor, upright: torch.Tensor,
               turned: torch.Tensor | None = None) -> torch.Tensor:
        """From ``candidates`` [K, count, 1, 28, 28] (K per target), the one per target the panel rates best."""
        k, count = candidates.shape[:2]
        flat = candidates.reshape(k * count, 1, 28, 28)
        scores = self.scores(flat, upright.repeat(k), None if turned is None else turned.repeat(k)).reshape(k, count)
        return candidates[torch.from_numpy(scores.argmax(0)), torch.arange(count)]
