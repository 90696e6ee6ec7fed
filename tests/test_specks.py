"""Speck removal keeps a digit's strokes and drops the islands of ink beside them."""
from __future__ import annotations

import torch

from generator.engines.specks import islands, remove_specks


def stroke_and_speck() -> torch.Tensor:
    """One image: a 15×3 stroke with a faint halo pixel beside it, a 2×2 speck far away, and a 4×4 blob."""
    image = torch.zeros(1, 1, 28, 28)
    image[0, 0, 5:20, 10:13] = 1.0
    image[0, 0, 12, 13] = 0.1           # halo: touches the stroke, too faint to be ink
    image[0, 0, 24:26, 24:26] = 0.9     # speck: 3.6 of ink against the stroke's 45
    image[0, 0, 1:5, 20:24] = 1.0       # blob: 16 of ink, a third of the stroke's
    return image


def test_islands_are_eight_connected() -> None:
    ink = torch.zeros(1, 1, 28, 28, dtype=torch.bool)
    ink[0, 0, 3, 3] = ink[0, 0, 4, 4] = True        # diagonal neighbours: one island
    ink[0, 0, 10, 10] = True                        # alone: another
    labels = islands(ink)
    assert labels[0, 0, 3, 3] == labels[0, 0, 4, 4] != labels[0, 0, 10, 10]
    assert set(labels.unique().tolist()) == {0, labels[0, 0, 4, 4].item(), labels[0, 0, 10, 10].item()}


def test_specks_go_and_strokes_stay() -> None:
    image = stroke_and_speck()
    cleaned = remove_specks(image, keep=0.2)
    assert torch.equal(cleaned[0, 0, 5:20, 10:13], image[0, 0, 5:20, 10:13])
    assert cleaned[0, 0, 12, 13] == image[0, 0, 12, 13]         # the stroke's halo stays
    assert cleaned[0, 0, 24:26, 24:26].abs().sum() == 0          # the speck is gone
    assert torch.equal(cleaned[0, 0, 1:5, 20:24], image[0, 0, 1:5, 20:24])   # a third of the ink: kept
    assert remove_specks(image, keep=0.5)[0, 0, 1:5, 20:24].abs().sum() == 0  # under half: dropped


def test_keep_zero_is_the_identity() -> None:
    image = stroke_and_speck()
    assert remove_specks(image, keep=0.0) is image
