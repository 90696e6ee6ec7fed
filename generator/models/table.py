"""Which models the build trains, and getting each one trained or from the cache.

The roles (SPEC "Models"): the *reader* that galleries optimise against, an unlike
*judge* that only scores, an *ensemble* of further small readers for the improved
generators, the *autoencoder* of the muddle gallery, and a *vae* (trained on upright and
upside-down digits) whose latent space the improved generators search.
"""
from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from generator.cache import Entry, code_version, digest
from generator.data.dataset import Dataset
from generator.digits import images_to_tensor
from generator.models import networks
from generator.models.training import (
    TrainConfig,
    autoencoder_loss,
    evaluate,
    reconstruction_error,
    train_autoencoder,
    train_classifier,
    vae_loss,
)

QUICK_TRAIN_LIMIT = 2000
MODEL_CODE = code_version("generator.models.table")   # networks, training and this table, hashed at import


@dataclass(frozen=True)
class ModelSpec:
    """A named architecture with its constructor arguments and training recipe."""

    name: str
    role: str                       # "reader", "judge", "ensemble", "autoencoder" or "vae"
    architecture: str               # a class name in generator.models.networks
    kwargs: tuple = ()              # constructor arguments as (name, value) pairs
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))

    def build(self) -> nn.Module:
        """A freshly initialised network (seeded, so initial weights are reproducible)."""
        torch.manual_seed(self.train.seed)
        return getattr(networks, self.architecture)(**dict(self.kwargs))


SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("reader", "reader", "Reader", train=TrainConfig(epochs=30, seed=0)),
    ModelSpec("judge", "judge", "Judge",
              train=TrainConfig(epochs=30, seed=7919, learning_rate=2e-3, augmentation="elastic")),
    ModelSpec("ensemble-wide", "ensemble", "Reader", (("widths", (24, 48, 64)),), TrainConfig(epochs=15, seed=101)),
    ModelSpec("ensemble-k5", "ensemble", "Reader", (("kernel", 5),), TrainConfig(epochs=15, seed=202)),
    ModelSpec("ensemble-smooth", "ensemble", "Reader", (("dropout", 0.4),),
              TrainConfig(epochs=15, seed=303, label_smoothing=0.1)),
    ModelSpec("autoencoder", "autoencoder", "Autoencoder", train=TrainConfig(epochs=20, seed=404, augmentation="none")),
    ModelSpec("vae", "vae", "VariationalAutoencoder",
              train=TrainConfig(epochs=30, seed=505, augmentation="upside-down")),
)


@dataclass
class TrainedModel:
    """A ready network with the facts the site shows about it."""

    spec: ModelSpec
    module: nn.Module
    meta: dict
    cached: bool


@dataclass
class Models:
    """Every trained model of one build, by role; a page gets only the roles it declares, the others None."""

    reader: TrainedModel | None
    judge: TrainedModel | None
    ensemble: list[TrainedModel] | None
    autoencoder: TrainedModel | None
    vae: TrainedModel | None

    def all(self) -> list[TrainedModel]:
        """Every model present, in build order."""
        every = (self.reader, self.judge, *(self.ensemble or ()), self.autoencoder, self.vae)
        return [m for m in every if m is not None]

    def only(self, roles: Sequence[str]) -> Models:
        """The same models with only ``roles`` present."""
        return Models(**{f.name: getattr(self, f.name) if f.name in roles else None for f in fields(self)})


def resolve_device(choice: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: no CUDA device is available")
    return torch.device(choice)


def quick_spec(spec: ModelSpec) -> ModelSpec:
    """The same model trained for one epoch on a small subset (tests and previews)."""
    return replace(spec, train=replace(spec.train, epochs=1, train_limit=QUICK_TRAIN_LIMIT))


def cache_key(spec: ModelSpec, dataset: Dataset) -> str:
    """Hash of data + config + code version: any change trains anew."""
    return digest(dataset.fingerprint, spec.name, spec.architecture, spec.kwargs, asdict(spec.train),
                  MODEL_CODE)


def get_model(spec: ModelSpec, dataset: Dataset, cache_dir: Path, device: torch.device) -> TrainedModel:
    """Load ``spec`` from the cache when its entry is intact, else train it and store it."""
    entry = Entry(cache_dir, f"{spec.name}-{cache_key(spec, dataset)}", "pt")
    module = spec.build()
    hit = entry.load()
    if hit is not None:
        data, meta = hit
        module.load_state_dict(torch.load(io.BytesIO(data), weights_only=True))
        return TrainedModel(spec, module.eval(), meta, cached=True)
    meta = train(spec, module, dataset, device)
    module.cpu().eval()
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    entry.store(buffer.getvalue(), meta)
    return TrainedModel(spec, module, meta, cached=False)


def train(spec: ModelSpec, module: nn.Module, dataset: Dataset, device: torch.device) -> dict:
    """Train one model and describe the run (config, curves, metrics, time, device)."""
    train_x, test_x = images_to_tensor(dataset.train_images), images_to_tensor(dataset.test_images)
    train_y = torch.from_numpy(dataset.train_labels.astype(np.int64))
    test_y = torch.from_numpy(dataset.test_labels.astype(np.int64))
    started = time.perf_counter()
    if spec.role in ("autoencoder", "vae"):
        loss_fn = autoencoder_loss if spec.role == "autoencoder" else vae_loss
        history = train_autoencoder(module, train_x, test_x, spec.train, device, spec.name, loss_fn)
        metrics = {"reconstruction_mse": reconstruction_error(module.cpu(), test_x)}
    else:
        history = train_classifier(module, (train_x, train_y), (test_x, test_y), spec.train, device, spec.name)
        loss, accuracy = evaluate(module.cpu(), test_x, test_y)
        metrics = {"test_accuracy": accuracy, "test_loss": loss}
    return {
        "name": spec.name, "role": spec.role, "architecture": spec.architecture, "kwargs": dict(spec.kwargs),
        "train": asdict(spec.train), "device": str(device), "seconds": time.perf_counter() - started,
        "history": asdict(history), "metrics": metrics, "parameters": networks.count_parameters(module),
        "flops": networks.count_flops(module), "train_size": len(dataset.train_labels),
        "test_size": len(dataset.test_labels),
    }


def get_models(dataset: Dataset, cache_dir: Path, device: torch.device, quick: bool = False) -> Models:
    """Every model of the build, trained or loaded."""
    specs = [quick_spec(s) if quick else s for s in SPECS]
    trained = [get_model(s, dataset, cache_dir, device) for s in specs]
    roles = {role: [t for t in trained if t.spec.role == role]
             for role in ("reader", "judge", "ensemble", "autoencoder", "vae")}
    return Models(roles["reader"][0], roles["judge"][0], roles["ensemble"], roles["autoencoder"][0], roles["vae"][0])
