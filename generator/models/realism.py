"""How real generated digits look, in a classifier's penultimate-layer features (the judge's, on the pages).

*Realism* is the improved precision of Kynkäänniemi et al. (2019): an image counts as real-looking when its
features fall inside the k-nearest-neighbour ball (k = 3) of at least one held-out real digit, and a set's
realism is the share of its images that do. The *Fréchet distance* compares Gaussians fitted to the features of
a set and of the held-out digits; since it grows as sets shrink, ``floor`` gives the value for the same number
of other real digits. Both only report: nothing here makes or chooses an image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from generator.digits import images_to_tensor
from generator.models.inference import INFERENCE_BATCH

K = 3
CHUNK = 2048


def last_linear(model: nn.Module) -> nn.Linear:
    """The model's last linear layer (its input is what "features" means here)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


def features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Penultimate-layer features ``[N, F]`` of images ``x`` [N,1,28,28]: the input of the model's last linear
    layer (differentiable when called with gradients on)."""
    last = last_linear(model)
    captured: list[torch.Tensor] = []
    handle = last.register_forward_pre_hook(lambda _module, inputs: captured.append(inputs[0].flatten(1)))
    try:
        model(x)
    finally:
        handle.remove()
    return captured[0]


def penultimate(model: nn.Module, images: np.ndarray, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """Features ``[N, F]`` (float64) of uint8 digits ``[N,28,28]``: the input of the model's last linear layer."""
    model = model.cpu().eval()
    x = images_to_tensor(images)
    with torch.no_grad():
        parts = [features(model, x[start:start + batch_size]) for start in range(0, len(x), batch_size)]
    if not parts:
        return np.zeros((0, last_linear(model).in_features))
    return torch.cat(parts).double().numpy()


def nearest_distances(queries: np.ndarray, points: np.ndarray, k: int) -> np.ndarray:
    """Distance ``[Q, k]`` from each query to its k nearest points (ascending), in chunks."""
    base = torch.from_numpy(points)
    parts = [torch.cdist(torch.from_numpy(queries[s:s + CHUNK]), base).topk(k, dim=1, largest=False).values
             for s in range(0, len(queries), CHUNK)]
    return torch.cat(parts).numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``a`` and ``b``."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(0))) @ vectors.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(0)
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(cross).sum())


@dataclass
class Realism:
    """Held-out real digits in one model's features, with each one's k-NN radius; scores sets of images."""

    model: nn.Module
    features: np.ndarray        # [M, F] of the held-out real digits
    radii: np.ndarray           # [M]: distance to the k-th nearest other held-out digit

    @classmethod
    def of(cls, model: nn.Module, real_images: np.ndarray, k: int = K) -> Realism:
        """The reference: ``real_images`` (uint8) in ``model``'s penultimate features."""
        features = penultimate(model, real_images)
        radii = nearest_distances(features, features, k + 1)[:, k]      # column 0 is the digit itself
        return cls(model, features, radii)

    def looks_real(self, images: np.ndarray) -> np.ndarray:
        """Per uint8 digit: inside the k-NN ball of some held-out real digit (bool ``[N]``)."""
        if not len(images):
            return np.zeros(0, dtype=bool)
        return self._inside(penultimate(self.model, images))

    def looks_real_left_out(self, rows: np.ndarray) -> np.ndarray:
        """Per reference digit of ``rows``: inside the k-NN ball of some *other* reference digit (bool ``[N]``).

        Its own ball would always hold it; the others' give the same verdict with or without it (were it among a
        digit's k nearest, that ball only grows when it leaves), so this is realism with the digit left out."""
        return self._inside(self.features[rows], own=np.asarray(rows))

    def _inside(self, features: np.ndarray, own: np.ndarray | None = None) -> np.ndarray:
        """Whether each feature row falls in some reference ball; row n skips ball ``own[n]`` when given."""
        inside = np.zeros(len(features), dtype=bool)
        radii = torch.from_numpy(self.radii)
        for start in range(0, len(self.features), CHUNK):
            block = torch.cdist(torch.from_numpy(features), torch.from_numpy(self.features[start:start + CHUNK]))
            hits = block <= radii[start:start + CHUNK]
            if own is not None:
                hits &= torch.from_numpy(own)[:, None] != torch.arange(start, start + hits.shape[1])[None, :]
            inside |= hits.any(dim=1).numpy()
        return inside

    def frechet(self, images: np.ndarray) -> float:
        """Fréchet distance of a set of uint8 digits to the held-out real digits (needs at least 2 images)."""
        return frechet_distance(penultimate(self.model, images), self.features)

    def summary(self, images: np.ndarray, looks_real: np.ndarray | None = None) -> dict:
        """A set's realism (share of real-looking images) and Fréchet distance, rounded for the manifest."""
        real = self.looks_real(images) if looks_real is None else looks_real
        return {"realism": round(float(np.mean(real)), 3) if len(real) else None,
                "frechet": round(self.frechet(images), 1) if len(images) > 1 else None}

    def floor(self, other_real: np.ndarray, count: int, seed: int = 0) -> dict:
        """The same numbers for ``count`` other real digits (seeded draw): what a perfect generator would get."""
        pick = np.random.default_rng(seed).choice(len(other_real), size=min(count, len(other_real)), replace=False)
        return self.summary(other_real[pick])
