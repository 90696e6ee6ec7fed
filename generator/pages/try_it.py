"""The "Try it" page: the reader in the browser (onnxruntime-web, WASM), upright and upside down.

The experiment itself is small (the site layer vendors onnxruntime-web): it picks a handful
of held-out digits that are interesting upside down (6s and 9s, 0s, 8s, 1s, ...) for the gallery under the drawing pad.
Each sample tile is the held-out digit itself (already MNIST-style), which the page reads exactly
as it is when loaded onto the pad, scored by reader and judge upright and rotated 180°.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.data.dataset import Dataset
from generator.digits import images_to_tensor, rotate180
from generator.models.metrics import predict_proba
from generator.models.table import Models
from generator.site.results import MODEL_FILES, BuildInfo, PageResult, SpriteSheet, add_fields, score, scored_items


@dataclass(frozen=True)
class Config:
    """The Try it page's sample gallery."""

    featured: tuple[int, ...] = (6, 9, 0, 8, 1)   # digits that read as something upside down, in gallery order
    per_digit: int = 2
    wildcards: int = 2                # the best other digits whose rotated reading is also confident
    columns: int = 12
    pool: int = 2000                  # candidates: the first held-out digits (all of them on the embedded split)

    def quick(self) -> Config:
        """Nothing to shorten."""
        return self


def pick_samples(upright: np.ndarray, rotated: np.ndarray, labels: np.ndarray, config: Config) -> list[int]:
    """Indices of digits read right upright and confidently when rotated, best first per featured digit.

    ``upright`` and ``rotated`` are the reader's probabilities ``[N,10]``. A digit's merit is
    min(p(label) upright, top probability rotated); ties go to the lower index.
    """
    merit = np.minimum(upright[np.arange(len(labels)), labels], rotated.max(axis=1))
    correct = upright.argmax(axis=1) == labels
    order = [int(i) for i in np.lexsort((np.arange(len(labels)), -merit)) if correct[i]]  # best first, then by index
    picks: list[int] = []
    for digit in config.featured:
        picks += [i for i in order if labels[i] == digit][:config.per_digit]
    picks += [i for i in order if labels[i] not in config.featured][:config.wildcards]
    return picks


def run(models: Models, dataset: Dataset, config: Config, build: BuildInfo) -> PageResult:
    """Choose the sample digits for the Try it page and read them both ways."""
    reader, judge = models.reader.module, models.judge.module
    images = dataset.test_images[:config.pool]
    labels = dataset.test_labels[:config.pool].astype(np.int64)
    tensors = images_to_tensor(images)
    upright = predict_proba(reader, tensors)
    rotated = predict_proba(reader, rotate180(tensors))
    picks = pick_samples(upright, rotated, labels, config)
    tiles = images[picks]
    sheet = SpriteSheet("try-samples", tiles, columns=config.columns)
    sample_labels = [int(labels[i]) for i in picks]
    items = scored_items(sheet, "try-sample", sample_labels, reader, judge, ids=dataset.test_origin.ids(picks))
    turned = rotate180(tiles)
    rotated_scores = {"reader": score(reader, turned), "judge": score(judge, turned)}
    add_fields(items, **dataset.test_origin.of(picks),
               rotated_reading=[{m: rotated_scores[m][n] for m in ("reader", "judge")} for n in range(len(picks))])
    return PageResult("try", items, [sheet], [], {"pool": len(labels)})


def context(result: PageResult) -> dict:
    """The sample gallery and where the reader's ONNX file is."""
    return {**result.data, "samples": result.items, "model": MODEL_FILES["reader"]}
