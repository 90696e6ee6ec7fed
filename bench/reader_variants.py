"""Candidate reader recipes for full MNIST (bench only; the build's reader lives in generator/models/table.py).

Each network stays within the reader's budget (≤ 5 MFLOP an image, ONNX ≤ 500 KB); recipes differ in where the
depth goes (``Reader``'s stages: the output widths of the convolutions at 28, 14 and 7 px) and in the training
knobs (``TrainConfig`` fields). Knowledge distillation from the ensemble was tried too (commit d34f572;
bench/FULL_MNIST.md) and left out: it did not help.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from torch import nn

from generator.models.networks import SHALLOW, Reader


class Recipe(NamedTuple):
    """A network and its TrainConfig overrides."""

    network: Callable[[], nn.Module]
    config: tuple = ()              # (field, value) pairs


WIDE = ((16,), (32,), (96,))
RECIPES: dict[str, Recipe] = {
    "base": Recipe(lambda: Reader(SHALLOW)),
    "wide96": Recipe(lambda: Reader(WIDE)),
    "drop04": Recipe(lambda: Reader(SHALLOW, dropout=0.4)),
    "k5": Recipe(lambda: Reader(SHALLOW, kernel=5)),
    "deep7": Recipe(lambda: Reader(((16,), (32,), (40, 48)))),
    "deep14": Recipe(lambda: Reader(((8,), (24, 24), (48,)))),
    "deep28": Recipe(lambda: Reader(((8, 8), (32,), (64,)))),
    "deep5": Recipe(lambda: Reader(((8,), (16, 24), (40, 48)))),
    "deep14w": Recipe(lambda: Reader(((8,), (24, 32), (40,)))),
    "wide96-drop04": Recipe(lambda: Reader(WIDE, dropout=0.4)),
    "deep5-wd05": Recipe(Reader, (("weight_decay", 0.05),)),
    "deep5-lr1e2": Recipe(Reader, (("learning_rate", 1e-2),)),
    "deep5-reg": Recipe(lambda: Reader(dropout=0.3), (("weight_decay", 0.05), ("label_smoothing", 0.05))),
    "deep5-reg-nols": Recipe(lambda: Reader(dropout=0.3), (("weight_decay", 0.05),)),
}
