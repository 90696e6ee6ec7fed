"""The anagram studio: the ambiguous page's "Make your own" panel (``templates/studio.html``), where
``static/studio.js`` runs the build's sampler (``generator/engines/sampler.py``) over the exported denoiser in the
browser and lets the reader pick the best of a few candidates.

Besides the panel's settings, this module holds the studio's reference in Python (for its tests and its bench):
the browser's seeded noise bit for bit, and the same request run by onnxruntime through the build's own sampler.
"""
from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from generator.engines.sampler import SamplerConfig, sample
from generator.site.results import MODEL_FILES

CANDIDATES = 4      # digits per request: 1.4 s a digit in headless Chromium on 2 busy cores (6: 2.1 s, 8: 2.7 s)
MASK = 0xFFFFFFFF


def studio_context(sampler: SamplerConfig, candidates: int = CANDIDATES) -> dict:
    """The panel's settings (site paths of the two models and the sampler's numbers), shipped to the page as JSON.
    The browser starts from pure noise and has no gradients: ``start_time`` and ``team_guidance`` must be 0."""
    if sampler.start_time != 0 or sampler.team_guidance != 0:
        raise ValueError("the studio samples from pure noise without team guidance (start_time 0, team_guidance 0)")
    return {"denoiser": MODEL_FILES["denoiser"], "reader": MODEL_FILES["reader"], "steps": sampler.steps,
            "guidance": sampler.guidance, "unguided_steps": sampler.unguided_steps, "candidates": candidates}


def mulberry32(seed: int):
    """studio.js's generator: an endless stream of 32-bit unsigned integers from a 32-bit seed."""
    a = seed & MASK
    while True:
        a = (a + 0x6D2B79F5) & MASK
        t = ((a ^ (a >> 15)) * (a | 1)) & MASK
        t ^= (t + ((t ^ (t >> 7)) * (t | 61))) & MASK
        yield (t ^ (t >> 14)) & MASK


def studio_noise(seed: int, candidates: int = CANDIDATES) -> np.ndarray:
    """The browser's starting noise [candidates, 1, 28, 28] float32 for a seed: uniforms (n + 1) / 2^32 from
    mulberry32, paired by Box–Muller into cos and sin normals."""
    numbers, values = mulberry32(seed), []
    while len(values) < candidates * 784:
        u1, u2 = (next(numbers) + 1) / 2 ** 32, (next(numbers) + 1) / 2 ** 32
        radius = math.sqrt(-2 * math.log(u1))
        values += [radius * math.cos(2 * math.pi * u2), radius * math.sin(2 * math.pi * u2)]
    return np.array(values[:candidates * 784], dtype=np.float32).reshape(candidates, 1, 28, 28)


class OnnxDenoiser(nn.Module):
    """An exported denoiser run by onnxruntime, callable as the ``Denoiser`` the sampler expects."""

    def __init__(self, session: ort.InferenceSession) -> None:
        super().__init__()
        self.session = session

    def forward(self, x: torch.Tensor, t: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        (velocity,) = self.session.run(None, {"x": x.numpy(), "t": t.numpy(), "label": label.numpy()})
        return torch.from_numpy(velocity)


def read_both_ways(reader: ort.InferenceSession, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reader's probabilities [N, 10] of images [N, 1, 28, 28] upright and turned 180°."""
    def probs(x: np.ndarray) -> np.ndarray:
        (logits,) = reader.run(None, {reader.get_inputs()[0].name: np.ascontiguousarray(x, dtype=np.float32)})
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return probs(images), probs(images[:, :, ::-1, ::-1])


def make_anagram(denoiser: ort.InferenceSession, reader: ort.InferenceSession, upright: int, rotated: int,
                 noise: np.ndarray, sampler: SamplerConfig) -> dict:
    """What the studio makes from starting ``noise`` [candidates, 1, 28, 28]: every candidate (clamped to [0, 1]),
    the reader's min(p(upright) upright, p(rotated) turned) of each, and the index of the best."""
    count = len(noise)
    images = sample(OnnxDenoiser(denoiser), torch.full((count,), upright), sampler, 0,
                    turned=torch.full((count,), rotated), noise=torch.from_numpy(noise)).numpy()
    up, down = read_both_ways(reader, images)
    scores = np.minimum(up[:, upright], down[:, rotated])
    return {"images": images, "scores": scores, "chosen": int(scores.argmax())}
