"""Speck removal: drop the small islands of ink that generated digits leave beside their strokes.

Real MNIST digits are one or two strokes; samplers that average two views or two labels scatter specks, which
read to no person as part of the digit and push images out among no real digits. ``remove_specks`` labels the
8-connected islands of ink (pixels above ``INK``) by max-pooling pixel indices until they settle, keeps every
island holding at least ``keep`` times the ink of the image's largest one, and clears all other pixels except
the faint halo (one pixel) around what it kept.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

INK = 0.2       # a pixel at least this dark is ink for the islands


def islands(ink: torch.Tensor) -> torch.Tensor:
    """Per pixel of ``ink`` (bool ``[N,1,H,W]``), the label of its 8-connected island (the largest flat pixel
    index in it, counted from 1), or 0 off the ink."""
    n, _, h, w = ink.shape
    index = torch.arange(1, h * w + 1, dtype=torch.float32).view(1, 1, h, w).expand(n, 1, h, w)
    labels = torch.where(ink, index, 0.0)
    while True:
        spread = torch.where(ink, F.max_pool2d(labels, 3, stride=1, padding=1), 0.0)
        if torch.equal(spread, labels):
            return labels.long()
        labels = spread


def remove_specks(images: torch.Tensor, keep: float) -> torch.Tensor:
    """``images`` [N,1,H,W] in [0, 1] without the islands of ink smaller than ``keep`` × the largest island's ink
    (sum of pixel values); ``keep`` 0 returns them unchanged."""
    if keep <= 0:
        return images
    n, _, h, w = images.shape
    labels = islands(images > INK)
    mass = torch.zeros(n, h * w + 1).scatter_add_(1, labels.flatten(1), images.flatten(1))
    mass[:, 0] = 0.0                                            # the background is no island
    kept = mass >= keep * mass.amax(dim=1, keepdim=True)
    kept[:, 0] = False
    strokes = torch.gather(kept, 1, labels.flatten(1)).view(n, 1, h, w).float()
    halo = F.max_pool2d(strokes, 3, stride=1, padding=1)
    return images * halo
