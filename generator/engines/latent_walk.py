"""Walking a decoder's latent space: encoding and decoding in batches, points along a straight path, the point
farthest from both ends, and a search for where two classifier readings tie. Nothing page-specific."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from generator.digits import images_to_tensor
from generator.models.inference import in_batches


def encode(autoencoder: nn.Module, images: np.ndarray) -> np.ndarray:
    """Latent vectors ``[N, 10]`` (float32) of uint8 digits ``[N, 28, 28]``."""
    autoencoder = autoencoder.cpu().eval()
    x = images_to_tensor(images)
    with torch.no_grad():
        return in_batches(autoencoder.encoder, x).numpy()


def decode(autoencoder: nn.Module, latents: np.ndarray) -> np.ndarray:
    """Decoded digits ``[N, 28, 28]`` in [0, 1] (float32) of latent vectors ``[N, 10]``."""
    autoencoder = autoencoder.cpu().eval()
    z = torch.from_numpy(np.ascontiguousarray(latents, dtype=np.float32))
    with torch.no_grad():
        return in_batches(autoencoder.decoder, z)[:, 0].numpy()


def farthest_on_path(path: np.ndarray) -> np.ndarray:
    """Index of the point farthest from both ends of each sampled path.

    ``path`` is ``[P, S, ...]``: P paths of S decoded images, the first and last being the ends.
    The chosen point maximises min(MSE to the first image, MSE to the last image); ties go to the
    earlier point.
    """
    flat = path.reshape(path.shape[0], path.shape[1], -1).astype(np.float64)
    to_start = ((flat - flat[:, :1]) ** 2).mean(axis=2)
    to_end = ((flat - flat[:, -1:]) ** 2).mean(axis=2)
    return np.minimum(to_start, to_end).argmax(axis=1)


def bracket(gaps: np.ndarray, ts: np.ndarray,
            strength: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sign change of each row of ``gaps`` ``[P, S]`` sampled at ``ts``: (lo, hi, found).

    Without ``strength`` the first sign change; with it (``[P, S]``, e.g. p(a) + p(b)) the change whose
    weaker end is strongest, so that a flicker between two tiny probabilities loses to the real
    crossing. Where a row never changes sign, lo = hi = the sampled t with the smallest |gap| and
    found is False.
    """
    positive = gaps > 0
    change = positive[:, :-1] != positive[:, 1:]
    found = change.any(axis=1)
    weight = np.ones(change.shape) if strength is None else np.minimum(strength[:, :-1], strength[:, 1:])
    chosen = np.where(change, weight, -np.inf).argmax(axis=1)          # ties: the first
    closest = np.abs(gaps).argmin(axis=1)
    lo = np.where(found, ts[chosen], ts[closest])
    hi = np.where(found, ts[np.minimum(chosen + 1, len(ts) - 1)], ts[closest])
    return lo, hi, found


def find_tie(gap: Callable[[np.ndarray, np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, *,
             tolerance: float = 0.01, steps: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Roots of ``gap`` between ``lo`` and ``hi``, many at once, by regula falsi (Illinois variant): (t, gap(t)).

    ``gap(t, rows)`` maps positions ``t`` of the rows ``rows`` (indices) to values (here the reader's relative
    p(a) - p(b) along each pair's path). Each round tries, per row, where the straight line through its bracket's
    ends crosses zero and keeps the half that still changes sign; an end kept twice in a row has its value halved,
    so the bracket closes from both sides (bisection's safety, far fewer rounds on smooth gaps). A row stops once
    |gap| <= ``tolerance``, or at once when its ends do not change sign (its better end is returned); later rounds
    evaluate only the rows still searching. After ``steps`` rounds each row returns the best point it saw.
    """
    lo, hi = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    every = np.arange(len(lo))
    f_lo = np.asarray(gap(lo, every), dtype=np.float64)
    f_hi = np.asarray(gap(hi, every), dtype=np.float64)
    low_better = np.abs(f_lo) <= np.abs(f_hi)
    t, value = np.where(low_better, lo, hi), np.where(low_better, f_lo, f_hi)
    done = (np.abs(value) <= tolerance) | (np.sign(f_lo) == np.sign(f_hi))
    kept = np.zeros(len(lo), dtype=np.int8)          # the end kept in the last round: -1 low, +1 high, 0 neither
    for _ in range(steps):
        rows = np.flatnonzero(~done)
        if not len(rows):
            break
        a, b, fa, fb = lo[rows], hi[rows], f_lo[rows], f_hi[rows]
        c = np.clip((a * fb - b * fa) / (fb - fa), np.minimum(a, b), np.maximum(a, b))
        f_c = np.asarray(gap(c, rows), dtype=np.float64)
        better = np.abs(f_c) < np.abs(value[rows])
        t[rows], value[rows] = np.where(better, c, t[rows]), np.where(better, f_c, value[rows])
        done[rows] = np.abs(f_c) <= tolerance
        keep_low = np.sign(f_c) == np.sign(fb)       # the sign change is between the low end and c
        lo[rows], f_lo[rows] = np.where(keep_low, a, c), np.where(keep_low, fa, f_c)
        hi[rows], f_hi[rows] = np.where(keep_low, c, b), np.where(keep_low, f_c, fb)
        f_lo[rows] = np.where(keep_low & (kept[rows] == -1), f_lo[rows] / 2, f_lo[rows])
        f_hi[rows] = np.where(~keep_low & (kept[rows] == 1), f_hi[rows] / 2, f_hi[rows])
        kept[rows] = np.where(keep_low, -1, 1)
    return t, value


def pca(points: np.ndarray, dims: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal axes by SVD: (centre, components ``[dims, D]``, signs fixed, explained variance share ``[dims]``)."""
    centre = points.mean(axis=0)
    _, singular, vt = np.linalg.svd(points - centre, full_matrices=False)
    largest = np.abs(vt[:dims]).argmax(axis=1)
    components = vt[:dims] * np.sign(vt[np.arange(dims), largest])[:, None]   # each axis's largest entry positive
    return centre, components, (singular ** 2 / (singular ** 2).sum())[:dims]


def relative_gap(p_a: np.ndarray, p_b: np.ndarray) -> np.ndarray:
    """(p_a - p_b) / (p_a + p_b): the sign says which leads; near 0 only at a real tie, never merely where both
    are tiny.

    |relative gap| <= tol implies |p_a - p_b| <= tol.
    """
    return (p_a - p_b) / np.maximum(p_a + p_b, 1e-30)
