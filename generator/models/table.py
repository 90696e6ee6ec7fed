"""Which models the build trains, and getting each one trained or from the cache.

The roles (SPEC "Models"): the *reader* that galleries optimise against, an unlike
*judge* that only scores, an *ensemble* of further small readers for the improved
generators, a *panel* of other readers that chooses (recipes, shortlists, candidates) and
never makes, the *autoencoder* of the muddle gallery, a *vae* (trained on upright and
upside-down digits) whose latent space the improved generators search, and the *diffusion*
denoiser whose samples are pen strokes.
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
from generator.models.denoiser import Denoiser
from generator.models.denoiser import count_flops as denoiser_flops
from generator.models.flow_matching import DiffusionConfig, train_flow, velocity_loss
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
QUICK_DIFFUSION_IMAGES = 4000
ROLES = ("reader", "judge", "ensemble", "panel", "autoencoder", "vae", "diffusion")
ARCHITECTURES = {cls.__name__: cls for cls in (networks.Reader, networks.Judge, networks.Perceptron,
                                                 networks.Autoencoder, networks.VariationalAutoencoder, Denoiser)}
MODEL_CODE = code_version("generator.models.table")   # networks, training and this table, hashed at import


@dataclass(frozen=True)
class ModelSpec:
    """A named architecture with its constructor arguments and training recipe."""

    name: str
    role: str                       # one of ROLES
    architecture: str               # a class name in ARCHITECTURES
    kwargs: tuple = ()              # constructor arguments as (name, value) pairs
    train: TrainConfig | DiffusionConfig = field(default_factory=lambda: TrainConfig(epochs=1))

    def build(self) -> nn.Module:
        """A freshly initialised network (seeded, so initial weights are reproducible)."""
        torch.manual_seed(self.train.seed)
        return ARCHITECTURES[self.architecture](**dict(self.kwargs))


SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("reader", "reader", "Reader", train=TrainConfig(epochs=30, seed=0)),
    ModelSpec("judge", "judge", "Judge",
              train=TrainConfig(epochs=30, seed=7919, learning_rate=2e-3, augmentation="elastic")),
    ModelSpec("ensemble-wide", "ensemble", "Reader", (("widths", (24, 48, 64)),), TrainConfig(epochs=15, seed=101)),
    ModelSpec("ensemble-k5", "ensemble", "Reader", (("kernel", 5),), TrainConfig(epochs=15, seed=202)),
    ModelSpec("ensemble-smooth", "ensemble", "Reader", (("dropout", 0.4),),
              TrainConfig(epochs=15, seed=303, label_smoothing=0.1)),
    ModelSpec("panel-elastic", "panel", "Reader", (("widths", (16, 32, 48)),),
              TrainConfig(epochs=10, seed=606, augmentation="elastic")),
    ModelSpec("panel-mlp", "panel", "Perceptron", train=TrainConfig(epochs=10, seed=707)),
    ModelSpec("autoencoder", "autoencoder", "Autoencoder", train=TrainConfig(epochs=20, seed=404, augmentation="none")),
    ModelSpec("vae", "vae", "VariationalAutoencoder",
              train=TrainConfig(epochs=30, seed=505, augmentation="upside-down")),
    ModelSpec("diffusion", "diffusion", "Denoiser", train=DiffusionConfig(seed=808)),
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
    panel: list[TrainedModel] | None
    autoencoder: TrainedModel | None
    vae: TrainedModel | None
    diffusion: TrainedModel | None

    def all(self) -> list[TrainedModel]:
        """Every model present, in build order."""
        every = (self.reader, self.judge, *(self.ensemble or ()), *(self.panel or ()), self.autoencoder, self.vae,
                 self.diffusion)
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
    """The same model trained for one epoch on a small subset, or the denoiser on a few thousand images."""
    if isinstance(spec.train, DiffusionConfig):
        return replace(spec, train=replace(spec.train, images=QUICK_DIFFUSION_IMAGES))
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
    if spec.role == "diffusion":
        flow = train_flow(module, train_x, train_y, spec.train, device, spec.name)
        round_to_half(module)
        history = {"loss": flow.loss, "epoch_seconds": flow.seconds, "epochs": len(flow.loss),
                   "seconds_per_epoch": flow.total_seconds / max(1, len(flow.loss)), "images_seen": flow.images_seen,
                   "seconds": flow.total_seconds}
        metrics = {"velocity_mse": velocity_loss(module.cpu(), test_x, test_y)}
    elif spec.role in ("autoencoder", "vae"):
        loss_fn = autoencoder_loss if spec.role == "autoencoder" else vae_loss
        history = asdict(train_autoencoder(module, train_x, test_x, spec.train, device, spec.name, loss_fn))
        metrics = {"reconstruction_mse": reconstruction_error(module.cpu(), test_x)}
    else:
        history = asdict(train_classifier(module, (train_x, train_y), (test_x, test_y), spec.train, device,
                                          spec.name))
        loss, accuracy = evaluate(module.cpu(), test_x, test_y)
        metrics = {"test_accuracy": accuracy, "test_loss": loss}
    return {
        "name": spec.name, "role": spec.role, "architecture": spec.architecture, "kwargs": dict(spec.kwargs),
        "train": asdict(spec.train), "device": str(device), "seconds": time.perf_counter() - started,
        "history": history, "metrics": metrics, "parameters": networks.count_parameters(module),
        "flops": denoiser_flops(module) if spec.role == "diffusion" else networks.count_flops(module),
        "train_size": len(dataset.train_labels), "test_size": len(dataset.test_labels),
    }


def round_to_half(module: nn.Module) -> None:
    """Keep every weight at float16 precision (as float32 values), so the site's half-size ONNX file computes
    exactly what the build computes."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(parameter.half().float())


def get_models(dataset: Dataset, cache_dir: Path, device: torch.device, quick: bool = False) -> Models:
    """Every model of the build, trained or loaded."""
    specs = [quick_spec(s) if quick else s for s in SPECS]
    trained = [get_model(s, dataset, cache_dir, device) for s in specs]
    roles = {role: [t for t in trained if t.spec.role == role] for role in ROLES}
    return Models(**{role: members if role in ("ensemble", "panel") else members[0]
                     for role, members in roles.items()})
