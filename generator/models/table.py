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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from torch import nn

from generator.cache import Entry, code_version, digest
from generator.data.dataset import Dataset
from generator.models import networks
from generator.models.denoiser import Denoiser
from generator.models.fitting import fit, flops_per_image, images_to_see
from generator.models.flow_matching import DiffusionConfig
from generator.models.inference import for_inference
from generator.models.training import TrainConfig

QUICK_TRAIN_LIMIT = 2000
QUICK_DIFFUSION_IMAGES = 4000
ROLES = ("reader", "judge", "ensemble", "panel", "autoencoder", "vae", "diffusion")
ARCHITECTURES = {cls.__name__: cls for cls in (networks.Reader, networks.Judge, networks.Perceptron,
                                                 networks.Autoencoder, networks.VariationalAutoencoder, Denoiser)}
MODEL_CODE = code_version("generator.models.fitting")    # the networks and how they are trained, hashed at import


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


# Full-data recipes chosen on full MNIST's training digits 55,000-59,999 (validation, never the test set;
# bench/FULL_MNIST.md): the ensemble keeps its epochs; the judge sees 30 epochs on full MNIST and 20 on the embedded
# 8,000 digits (where it reads the same 98.75% of the held-out digits as at 30, in two thirds of the time): growth
# 1.2 turns 20 epochs on 8,000 digits into 30 on 60,000. The reader, regularised (dropout 0.3 before its linear
# layer, weight decay 0.05), sees 45 epochs on full MNIST and 30 on the embedded digits, by the same growth.
SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("reader", "reader", "Reader", (("dropout", 0.3),),
              TrainConfig(epochs=30, seed=0, learning_rate=5e-3, weight_decay=0.05, data_growth=1.2)),
    ModelSpec("judge", "judge", "Judge", train=TrainConfig(epochs=20, seed=7919, learning_rate=2e-3,
                                                           augmentation="elastic", data_growth=1.2)),
    ModelSpec("ensemble-wide", "ensemble", "Reader", (("stages", ((24,), (48,), (64,))),),
              TrainConfig(epochs=10, seed=101, data_growth=1.0)),
    ModelSpec("ensemble-k5", "ensemble", "Reader", (("stages", networks.SHALLOW), ("kernel", 5)),
              TrainConfig(epochs=10, seed=202, data_growth=1.0)),
    ModelSpec("ensemble-smooth", "ensemble", "Reader", (("stages", networks.SHALLOW), ("dropout", 0.4)),
              TrainConfig(epochs=10, seed=303, label_smoothing=0.1, data_growth=1.0)),
    ModelSpec("panel-elastic", "panel", "Reader", (("stages", ((16,), (32,), (48,))),),
              TrainConfig(epochs=10, seed=606, augmentation="elastic")),
    ModelSpec("panel-mlp", "panel", "Perceptron", train=TrainConfig(epochs=10, seed=707)),
    ModelSpec("autoencoder", "autoencoder", "Autoencoder", train=TrainConfig(epochs=12, seed=404, augmentation="none")),
    ModelSpec("vae", "vae", "VariationalAutoencoder",
              train=TrainConfig(epochs=20, seed=505, augmentation="upside-down")),
    # each training digit turned by up to ±10°: the validation panel's pick for the anagrams (bench/AMBIGUOUS.md)
    ModelSpec("diffusion", "diffusion", "Denoiser", train=DiffusionConfig(seed=808, augmentation="rotate")),
)


@dataclass
class TrainedModel:
    """A ready network with the facts the site shows about it."""

    spec: ModelSpec
    module: nn.Module           # ``inference.for_inference`` of the trained weights
    meta: dict
    cached: bool
    weights: dict = field(default_factory=dict, repr=False)    # the trained state dict (batch norm not folded)

    def trainable(self) -> nn.Module:
        """A fresh copy of the trained network as it was trained (batch norm not folded), to train on."""
        module = self.spec.build()
        module.load_state_dict(self.weights)
        return module


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


def model_entry(spec: ModelSpec, dataset: Dataset, cache_dir: Path) -> Entry:
    """Where ``spec``'s weights trained on ``dataset`` are cached."""
    return Entry(cache_dir, f"{spec.name}-{cache_key(spec, dataset)}", "pt")


def get_model(spec: ModelSpec, dataset: Dataset, cache_dir: Path, device: torch.device) -> TrainedModel:
    """Load ``spec`` from the cache when its entry is intact, else train it and store it."""
    entry = model_entry(spec, dataset, cache_dir)
    module = spec.build()
    hit = entry.load()
    if hit is not None:
        data, meta = hit
        weights = torch.load(io.BytesIO(data), weights_only=True)
        module.load_state_dict(weights)
        return TrainedModel(spec, for_inference(module), meta, cached=True, weights=weights)
    meta = {"name": spec.name, "role": spec.role, "architecture": spec.architecture, "kwargs": dict(spec.kwargs),
            **fit(module, spec.role, spec.train, dataset, device, spec.name), "threads": torch.get_num_threads()}
    module.cpu().eval()
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    entry.store(buffer.getvalue(), meta)
    return TrainedModel(spec, for_inference(module), meta, cached=False, weights=module.state_dict())


def training_work(spec: ModelSpec, train_size: int) -> float:
    """Roughly how much computing training ``spec`` takes (FLOPs of the forward passes), to start the longest
    first."""
    return flops_per_image(spec.build(), spec.role) * images_to_see(spec.train, train_size)


def model_specs(quick: bool = False) -> list[ModelSpec]:
    """The build's models, in build order: the table, or its quick variants."""
    return [quick_spec(s) if quick else s for s in SPECS]


def get_models(dataset: Dataset, cache_dir: Path, device: torch.device, quick: bool = False,
               roles: Sequence[str] = ROLES) -> Models:
    """The models of ``roles`` (default: every model of the build), trained or loaded; the others None."""
    trained = [get_model(s, dataset, cache_dir, device) for s in model_specs(quick) if s.role in roles]
    members = {role: [t for t in trained if t.spec.role == role] for role in ROLES}
    return Models(**{role: (found if role in ("ensemble", "panel") else found[0]) if found else None
                     for role, found in members.items()})
