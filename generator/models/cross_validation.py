"""Out-of-fold readings and confident learning: which training labels look wrong.

Every digit gets probabilities from a small reader that never saw it (K-fold cross-validation). A digit is a
label-issue candidate when its given label's probability is below that class's average self-confidence while
some other class's probability reaches that other class's threshold (confident learning).
"""
from __future__ import annotations

import io
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from generator.cache import Entry, code_version, digest
from generator.data.dataset import Dataset
from generator.digits import images_to_tensor
from generator.models.metrics import predict_proba
from generator.models.networks import SHALLOW, Reader
from generator.models.training import TrainConfig, train_classifier

CODE = code_version("generator.models.cross_validation")


def fold_of(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Seeded stratified fold number (0..folds-1) of every digit."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        fold[members] = np.arange(len(members)) % folds
    return fold


def out_of_fold_probabilities(images: np.ndarray, labels: np.ndarray, config: TrainConfig, folds: int,
                              device: torch.device, seed: int) -> np.ndarray:
    """Probabilities [N,10] for every digit from a reader that never saw it (K-fold cross-validation)."""
    x, y = images_to_tensor(images), torch.from_numpy(labels.astype(np.int64))
    fold = fold_of(labels, folds, seed)
    probs = np.zeros((len(labels), 10))
    for k in range(folds):
        held = torch.from_numpy(fold == k)
        torch.manual_seed(config.seed + k)
        model = Reader(SHALLOW)
        train_classifier(model, (x[~held], y[~held]), (x[held], y[held]), config, device,
                         f"cross-validation {k + 1}/{folds}", curves=False)
        probs[fold == k] = predict_proba(model.cpu(), x[held])
    return probs


def label_issues(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confident-learning candidates: (indices ranked most contradicted first, suggested labels, thresholds)."""
    thresholds = np.array([probs[labels == d, d].mean() for d in range(10)])
    given = probs[np.arange(len(labels)), labels]
    confident = probs >= thresholds[None, :]
    confident[np.arange(len(labels)), labels] = False
    candidate = (given < thresholds[labels]) & confident.any(axis=1)
    suggested = np.where(confident, probs, -1.0).argmax(axis=1)
    contradiction = probs[np.arange(len(labels)), suggested] - given
    ranked = np.flatnonzero(candidate)[np.argsort(-contradiction[candidate], kind="stable")]
    return ranked, suggested, thresholds


def cached_out_of_fold(dataset: Dataset, config: TrainConfig, folds: int, count: int | None, cache: Path | None,
                       device: str, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Out-of-fold probabilities of ``count`` seeded training digits (None: all), the indices they cover, and the
    seconds they took; cached under ``cache`` by data, recipe and this module's code."""
    total = len(dataset.train_labels)
    indices = np.sort(np.random.default_rng(seed).permutation(total)[:count or total])
    key = digest(dataset.fingerprint, asdict(config), len(indices), seed, folds, CODE)
    entry = Entry(cache, f"oof-{key}", "npz") if cache is not None else None
    hit = entry.load() if entry is not None else None
    if hit is not None:
        with np.load(io.BytesIO(hit[0])) as npz:
            return npz["probs"], indices, hit[1]["seconds"]
    started = time.perf_counter()
    probs = out_of_fold_probabilities(dataset.train_images[indices], dataset.train_labels[indices], config, folds,
                                      torch.device(device), seed)
    seconds = time.perf_counter() - started
    if entry is not None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, probs=probs)
        entry.store(buffer.getvalue(), {"seconds": seconds, "count": len(indices)})
    return probs, indices, seconds
