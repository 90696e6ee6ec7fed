"""What a page returns: sprite sheets of digits, other pictures, manifest items and the numbers behind its charts.

Every page module has one entry point ``run(models, dataset, config, build: BuildInfo) -> PageResult``
(see ``generator.pages``); the site layer only writes what a ``PageResult`` holds. Results hold data,
never markup, and round-trip through one ``.npz`` so the build can cache them.

Manifest item schema (``site/data/<page>.json`` → ``items``)::

    {"id": str, "kind": str, "label": int | None,          # what the image is meant to be
     "image": {"sprite": "img/<sheet>.png", "x": int, "y": int, "w": 28, "h": 28},
     "scores": {"reader": Score, "judge": Score}, ...}    # experiments may add fields
    Score = {"predicted": int, "confidence": float, "p_label": float | None}
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from generator.models.metrics import predict_proba
from generator.site.images import tile_position

TILE = 28


MODEL_FILES = {"reader": "models/reader.onnx", "decoder": "models/decoder.onnx",
               "denoiser": "models/denoiser.onnx"}       # exported models, site paths


@dataclass(frozen=True)
class BuildInfo:
    """What a page may know about the build besides models, data and its config."""

    seed: int = 0
    cache: Path | None = None           # a folder where the page may cache models it trains itself
    device: str = "cpu"                 # torch device for any training it does


@dataclass
class SpriteSheet:
    """Many 28x28 digits (uint8, ink 255) in one greyscale PNG, ``columns`` tiles wide."""

    name: str
    tiles: np.ndarray
    columns: int = 10

    @property
    def path(self) -> str:
        """Site-relative path of the PNG."""
        return f"img/{self.name}.png"

    def ref(self, index: int) -> dict:
        """Where tile ``index`` lives: the manifest's ``image`` field."""
        x, y = tile_position(index, self.columns, TILE)
        return {"sprite": self.path, "x": x, "y": y, "w": TILE, "h": TILE}

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the sheet in pixels."""
        rows = -(-len(self.tiles) // self.columns)
        return self.columns * TILE, rows * TILE


@dataclass
class Picture:
    """A non-digit image (e.g. an RGB z-score map): ``img/<name>.png``."""

    name: str
    pixels: np.ndarray

    @property
    def path(self) -> str:
        """Site-relative path of the PNG."""
        return f"img/{self.name}.png"


@dataclass
class PageResult:
    """Everything one page shows, as data."""

    page: str
    items: list[dict] = field(default_factory=list)
    sprites: list[SpriteSheet] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    data: dict = field(default_factory=dict)       # JSON-ready numbers and lists for ``context(result)``

    def manifest(self) -> dict:
        """The JSON written to ``site/data/<page>.json``."""
        return {"page": self.page, "schema": 1, "items": self.items}

    def to_bytes(self) -> bytes:
        """Serialise (for the build cache)."""
        arrays = {f"sprite_{i}": s.tiles for i, s in enumerate(self.sprites)}
        arrays |= {f"picture_{i}": p.pixels for i, p in enumerate(self.pictures)}
        meta = {"page": self.page, "items": self.items, "data": self.data,
                "sprites": [(s.name, s.columns) for s in self.sprites], "pictures": [p.name for p in self.pictures]}
        buffer = io.BytesIO()
        np.savez_compressed(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> PageResult:
        """Inverse of ``to_bytes``."""
        with np.load(io.BytesIO(data)) as npz:
            meta = json.loads(npz["meta"].tobytes())
            sprites = [SpriteSheet(name, npz[f"sprite_{i}"], columns)
                       for i, (name, columns) in enumerate(meta["sprites"])]
            pictures = [Picture(name, npz[f"picture_{i}"]) for i, name in enumerate(meta["pictures"])]
        return cls(meta["page"], meta["items"], sprites, pictures, meta["data"])


def score(model: nn.Module, images: np.ndarray, labels: np.ndarray | None = None) -> list[dict]:
    """One model's reading of uint8 digits: predicted class, its probability, and p(label) when known."""
    probs = predict_proba(model, images)
    predicted = probs.argmax(1)
    return [{"predicted": int(p), "confidence": round(float(row[p]), 4),
             "p_label": None if labels is None or labels[i] is None else round(float(row[int(labels[i])]), 4)}
            for i, (p, row) in enumerate(zip(predicted, probs))]


def scored_items(sheet: SpriteSheet, kind: str, labels: list[int | None], reader: nn.Module, judge: nn.Module,
                 ids: list[str] | None = None) -> list[dict]:
    """Manifest items for every tile of ``sheet``, with reader and judge scores."""
    if not len(sheet.tiles):
        return []
    label_array = np.array(labels, dtype=object)
    reader_scores = score(reader, sheet.tiles, label_array)
    judge_scores = score(judge, sheet.tiles, label_array)
    return [{"id": ids[i] if ids else f"{sheet.name}-{i}", "kind": kind, "label": labels[i], "image": sheet.ref(i),
             "scores": {"reader": reader_scores[i], "judge": judge_scores[i]}}
            for i in range(len(sheet.tiles))]


def add_fields(items: list[dict], **fields: list) -> list[dict]:
    """Set per-item fields, one list per field name in item order (numpy scalars become Python numbers)."""
    for name, values in fields.items():
        if len(values) != len(items):
            raise ValueError(f"{name}: {len(values)} values for {len(items)} items")
        for item, value in zip(items, values):
            item[name] = value.item() if isinstance(value, np.generic) else value
    return items
