"""The ``Dataset`` type (a train/test split), its fingerprint, and the seeded stratified split."""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

SIDE = 28
PIXELS = SIDE * SIDE
TEST_FRACTION = 0.2  # embedded 10,000 -> 8,000/2,000; Kaggle train.csv -> 80/20


@dataclass(frozen=True)
class Origin:
    """Where each digit of a part of a split came from: its original set and its index there (0-based)."""

    split: str                  # "train" or "test" (MNIST's own sets) or "kaggle-train" (rows of a train.csv)
    index: np.ndarray           # int64 [N]

    def of(self, positions: np.ndarray | list[int]) -> dict[str, list]:
        """Manifest fields ``split`` and ``index`` for the digits at ``positions`` of this part."""
        index = self.index[np.asarray(positions, dtype=np.int64)]
        return {"split": [self.split] * len(index), "index": index.tolist()}

    def ids(self, positions: np.ndarray | list[int]) -> list[str]:
        """Manifest ids (and permalinks) of the digits at ``positions``: ``<split>-<index>``, e.g. ``train-7080``."""
        return [f"{self.split}-{i}" for i in self.index[np.asarray(positions, dtype=np.int64)]]


@dataclass(frozen=True)
class Dataset:
    """A train/test split of 28x28 uint8 digits (ink 255 on a 0 background) with uint8 labels 0-9, and where
    every digit came from. The fingerprint covers the four arrays (what models learn from), not the origins."""

    name: str
    source: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    fingerprint: str
    train_origin: Origin
    test_origin: Origin


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """sha256 hex over each array's dtype, shape and bytes, in order."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.data)
    return digest.hexdigest()


def make_dataset(name: str, source: str, arrays: tuple[np.ndarray, ...], origins: tuple[Origin, Origin]) -> Dataset:
    """A Dataset of (train_images, train_labels, test_images, test_labels) with its fingerprint and origins."""
    return Dataset(name, source, *arrays, fingerprint_arrays(*arrays), *origins)


def split_dataset(name: str, source: str, images: np.ndarray, labels: np.ndarray, seed: int,
                  origin: Origin) -> Dataset:
    """A Dataset from one labelled pool (whose digits came from ``origin``), split by stratified_split."""
    train, test = stratified_split(labels, TEST_FRACTION, seed)
    return make_dataset(name, source, (images[train], labels[train], images[test], labels[test]),
                        (Origin(origin.split, origin.index[train]), Origin(origin.split, origin.index[test])))


def _test_quotas(counts: list[int], test_fraction: float) -> list[int]:
    """Per-class test sizes: exact shares of round(n * fraction), largest remainders first (ties to lower classes)."""
    fraction = Fraction(str(test_fraction))
    shares = [count * fraction for count in counts]
    quotas = [math.floor(share) for share in shares]
    total = math.floor(sum(counts) * fraction + Fraction(1, 2))
    by_remainder = sorted(range(len(counts)), key=lambda i: (quotas[i] - shares[i], i))
    for i in by_remainder[: total - sum(quotas)]:
        quotas[i] += 1
    return quotas


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class split of indices into sorted (train_idx, test_idx); the test part has round(n * fraction)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    rng = np.random.default_rng(seed)
    picked = [np.empty(0, np.int64)]
    for cls, quota in zip(classes, _test_quotas(counts.tolist(), test_fraction)):
        picked.append(rng.permutation(np.flatnonzero(labels == cls))[:quota])
    in_test = np.zeros(len(labels), bool)
    in_test[np.concatenate(picked)] = True
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


