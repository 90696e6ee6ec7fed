"""The "Try it" page: the reader in the browser (onnxruntime-web, WASM), upright and upside down.

The experiment itself is small (the site layer vendors onnxruntime-web): it picks a handful
of held-out digits that are interesting upside down (6s and 9s, 0s, 8s, 1s, ...) for the gallery under the drawing pad.
Each sample tile is the held-out digit itself (already MNIST-style), which the page reads exactly
as it is when loaded onto the pad, scored by reader and judge upright and rotated 180°.
"""
from __future__ import annotations

import numpy as np
import torch

from generator.data import Dataset
from generator.gallery import PageResult, RunContext, SpriteSheet, score, scored_items
from generator.models import Models
from generator.training import predict_proba

#: Digits that read as something upside down, in gallery order, and how many of each.
FEATURED = (6, 9, 0, 8, 1)
PER_DIGIT = 2
WILDCARDS = 2                 # the best other digits whose rotated reading is also confident
SAMPLE_COLUMNS = 12
POOL = 2000                   # candidates: the first held-out digits (all of them on the embedded split)


def rotate180(images: np.ndarray) -> np.ndarray:
    """Each image ``[..., H, W]`` turned upside down (rotated 180°)."""
    return images[..., ::-1, ::-1]


def pick_samples(upright: np.ndarray, rotated: np.ndarray, labels: np.ndarray) -> list[int]:
    """Indices of digits read right upright and confidently when rotated, best first per featured digit.

    ``upright`` and ``rotated`` are the reader's probabilities ``[N,10]``. A digit's merit is
    min(p(label) upright, top probability rotated); ties go to the lower index.
    """
    merit = np.minimum(upright[np.arange(len(labels)), labels], rotated.max(axis=1))
    correct = upright.argmax(axis=1) == labels
    order = [int(i) for i in np.lexsort((np.arange(len(labels)), -merit)) if correct[i]]  # best first, then by index
    picks: list[int] = []
    for digit in FEATURED:
        picks += [i for i in order if labels[i] == digit][:PER_DIGIT]
    picks += [i for i in order if labels[i] not in FEATURED][:WILDCARDS]
    return picks


def run(models: Models, dataset: Dataset, context: RunContext) -> PageResult:
    """Vendor onnxruntime-web and choose the sample digits for the Try it page."""
    reader, judge = models.reader.module, models.judge.module
    images = dataset.test_images[:POOL]
    labels = dataset.test_labels[:POOL].astype(np.int64)
    tensors = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    upright = predict_proba(reader.cpu(), tensors)
    rotated = predict_proba(reader.cpu(), torch.flip(tensors, dims=(2, 3)))
    picks = pick_samples(upright, rotated, labels)
    tiles = images[picks]
    sheet = SpriteSheet("try-samples", tiles, columns=SAMPLE_COLUMNS)
    sample_labels = [int(labels[i]) for i in picks]
    items = scored_items(sheet, "try-sample", sample_labels, reader, judge, ids=[f"try-{i}" for i in picks])
    turned = np.ascontiguousarray(rotate180(tiles))
    rotated_scores = {"reader": score(reader, turned), "judge": score(judge, turned)}
    for n, (item, index) in enumerate(zip(items, picks)):
        item["index"] = index
        item["rotated_reading"] = {model: rotated_scores[model][n] for model in ("reader", "judge")}
    page_context = {"samples": len(items), "test_size": int(len(labels)), "model": "models/reader.onnx"}
    return PageResult("try", items, [sheet], [], page_context)
