"""Candidate reader recipes for full MNIST (bench only; the build's reader lives in generator/models/table.py).

Each network stays within the reader's budget (≤ 5 MFLOP an image, ONNX ≤ 500 KB); recipes differ in where the
depth goes and in the training knobs (``TrainConfig`` fields). Knowledge distillation from the ensemble was tried
too (commit d34f572; bench/FULL_MNIST.md) and left out: it did not help.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from torch import nn

from generator.models.networks import MaskDropout, Normalize, Reader, conv_block


def stacked(stages: list[list[int]], dropout: float = 0.2, kernel: int = 3) -> nn.Module:
    """Conv blocks at 28, 14 and 7 px (one list of output widths per size; max-pool between sizes), then one
    linear layer on the whole 7x7 map: the reader's shape with more than one convolution at a size."""
    layers: list[nn.Module] = [Normalize()]
    c_in = 1
    for size, widths in enumerate(stages):
        for i, width in enumerate(widths):
            last = i == len(widths) - 1
            layers += conv_block(c_in, width, kernel, pool=last and size < 2)
            c_in = width
    return nn.Sequential(*layers, nn.Flatten(), MaskDropout(dropout), nn.Linear(c_in * 7 * 7, 10))


class Recipe(NamedTuple):
    """A network and its TrainConfig overrides."""

    network: Callable[[], nn.Module]
    config: tuple = ()              # (field, value) pairs


def base() -> nn.Module:
    """The build's reader."""
    return Reader((16, 32, 64))


RECIPES: dict[str, Recipe] = {
    "base": Recipe(base),
    "wide96": Recipe(lambda: Reader((16, 32, 96))),
    "drop04": Recipe(lambda: Reader((16, 32, 64), dropout=0.4)),
    "k5": Recipe(lambda: Reader((16, 32, 64), kernel=5)),
    "deep7": Recipe(lambda: stacked([[16], [32], [40, 48]])),
    "deep14": Recipe(lambda: stacked([[8], [24, 24], [48]])),
    "deep28": Recipe(lambda: stacked([[8, 8], [32], [64]])),
    "deep5": Recipe(lambda: stacked([[8], [16, 24], [40, 48]])),
    "deep14w": Recipe(lambda: stacked([[8], [24, 32], [40]])),
    "wide96-drop04": Recipe(lambda: Reader((16, 32, 96), dropout=0.4)),
}
