"""The generated digits as data sets (``site/downloads/<page>.npz``), made from a page's manifest items and sprites.

Every file holds ``images`` (uint8 N×28×28, ink 255 on 0), ``ids`` and ``kind`` and ``method`` (strings),
``labels`` (the intended digit, -1 for none), ``reader_probs`` and ``judge_probs`` (float32 N×10), and, where the
items have them, ``upright``/``rotated`` with the probabilities of the turned-over image (ambiguous), ``pair``
(muddles: the two digits), ``index`` (the MNIST index of a real digit, -1 otherwise), ``t`` and ``jitter``.
"""
from __future__ import annotations

import io

import numpy as np
from torch import nn

from generator.digits import rotate180
from generator.models.metrics import predict_proba
from generator.site.results import TILE, PageResult

NUMERIC_FIELDS = ("index", "t", "jitter", "upright", "rotated")


def tile(result: PageResult, image: dict) -> np.ndarray:
    """The 28×28 uint8 tile a manifest ``image`` reference points at."""
    sheet = next(s for s in result.sprites if s.path == image["sprite"])
    return sheet.tiles[image["y"] // TILE * sheet.columns + image["x"] // TILE]


def page_arrays(result: PageResult, kinds: tuple[str, ...], reader: nn.Module,
                judge: nn.Module) -> dict[str, np.ndarray]:
    """The page's items of ``kinds`` as arrays, with the reader's and the judge's full probabilities."""
    items = [i for i in result.items if i["kind"] in kinds]
    images = np.stack([tile(result, i["image"]) for i in items]).astype(np.uint8)
    arrays = {
        "images": images, "ids": np.array([i["id"] for i in items]), "kind": np.array([i["kind"] for i in items]),
        "method": np.array([i.get("method") or "" for i in items]),
        "labels": np.array([-1 if i["label"] is None else i["label"] for i in items], dtype=np.int16),
        "reader_probs": predict_proba(reader, images).astype(np.float32),
        "judge_probs": predict_proba(judge, images).astype(np.float32),
    }
    for name in NUMERIC_FIELDS:
        if any(i.get(name) is not None for i in items):
            values = [np.nan if i.get(name) is None else i[name] for i in items]
            arrays[name] = np.array(values, dtype=np.float32 if name in ("t", "jitter") else np.float64)
            if name not in ("t", "jitter"):
                arrays[name] = np.nan_to_num(arrays[name], nan=-1).astype(np.int64)
    if any(i.get("pair") for i in items):
        arrays["pair"] = np.array([i.get("pair") or (-1, -1) for i in items], dtype=np.int16)
    if "rotated" in arrays:
        turned = rotate180(images)
        arrays["reader_probs_rotated"] = predict_proba(reader, turned).astype(np.float32)
        arrays["judge_probs_rotated"] = predict_proba(judge, turned).astype(np.float32)
    return arrays


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A compressed .npz of ``arrays``, as bytes."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
