"""Euler sampling of the flow-matching denoiser: classifier-free guidance, visual anagrams and SDEdit starts.

The denoiser predicts the velocity ``v(x, t, label)`` of the path ``x_t = (1 - t) * noise + t * digit``; the
sampler integrates ``dx/dt = v`` from noise at t = 0 (or a re-noised image at ``start_time``) to a digit at
t = 1 with uniform Euler steps. Guidance ``w`` mixes the conditional and the "no class" velocity,
``v = v_uncond + w * (v_cond - v_uncond)`` (w = 1: the conditional velocity alone; w = 0: the unconditional).

Visual anagrams (Geng, Park & Owens 2024): each step averages the guided velocity of the image read as digit i
and, turned 180°, that of the turned image read as digit j, turned back; the result reads as i upright and as j
upside down. *Team guidance* (classifier guidance on top of the learned prior) adds to each guided step the
gradient of a team of classifiers' log-probability of the intended digits (both views for anagrams) at the
predicted clean image ``x + (1 - t) v``; *realism guidance* adds the gradient of its closeness to the nearest
real training digit of each intended label (``nearest_real``). *Label mixing* (muddles) blends the guided
velocities of two labels by a weight per image. Every random number comes from one seeded ``torch.Generator``,
drawn before any batching, so a seed gives the same digits whatever the batch size.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from generator.engines.nearest_real import RealDigits
from generator.models.denoiser import NULL_CLASS

Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]     # (images, labels) -> a score per image


@dataclass(frozen=True)
class SamplerConfig:
    """The knobs of one sampling run."""

    steps: int = 20                 # Euler steps over the whole path [0, 1] (25 read the same to the panel)
    guidance: float = 3.5           # w of classifier-free guidance
    unguided_steps: int = 0         # the last steps use w = 1 (the conditional velocity, no extrapolation)
    start_time: float = 0.0         # SDEdit: > 0 starts from (1 - t0) * noise + t0 * image
    team_guidance: float = 0.0      # weight of the team's log-probability gradient (guided steps only)
    realism_guidance: float = 0.0   # weight of the closeness-to-real-digits gradient (guided steps only)
    batch_size: int = 48            # images per network call (a call holds 2, 3 or 4 × as many rows; on two CPU
                                    # cores ~100-200 rows a call run 1.5x as fast as 1,000)

    def describe(self) -> str:
        """The sampler in words."""
        text = f"{self.steps} Euler steps, guidance {self.guidance:g}"
        text += f", the last {self.unguided_steps} unguided" if self.unguided_steps else ""
        text += f", team guidance {self.team_guidance:g}" if self.team_guidance else ""
        text += (f", realism guidance {self.realism_guidance:g} (towards the nearest real training digits in the "
                 "reader's features)" if self.realism_guidance else "")
        return text + (f", from t = {self.start_time:g}" if self.start_time else "")


def generator_for(seed: int | torch.Generator) -> torch.Generator:
    """A CPU generator: ``seed`` itself when it is one, else a new one seeded with it."""
    return seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)


def draw_noise(count: int, seed: int | torch.Generator) -> torch.Tensor:
    """Standard normal noise [count, 1, 28, 28] from the seed."""
    return torch.randn(count, 1, 28, 28, generator=generator_for(seed))


def guided_velocity(model: nn.Module, x: torch.Tensor, t: float, labels: torch.Tensor,
                    guidance: float) -> torch.Tensor:
    """Velocity [N,1,28,28] of images ``x`` at time ``t`` for ``labels`` [N] (0–10) with guidance ``guidance``;
    one network call on 2N rows (conditional and "no class"), or N rows when ``guidance`` is 1."""
    n = x.shape[0]
    times = torch.full((n,), float(t))
    if guidance == 1.0:
        return model(x, times, labels)
    null = torch.full_like(labels, NULL_CLASS)
    both = model(torch.cat([x, x]), torch.cat([times, times]), torch.cat([labels, null]))
    cond, uncond = both[:n], both[n:]
    return uncond + guidance * (cond - uncond)


def anagram_velocity(model: nn.Module, x: torch.Tensor, t: float, upright: torch.Tensor, turned: torch.Tensor,
                     guidance: float) -> torch.Tensor:
    """Mean of the guided velocity of ``x`` as ``upright`` [N] and, turned back, of ``x`` turned 180° as
    ``turned`` [N]; one network call on the two views (2N or 4N rows)."""
    n = x.shape[0]
    both = guided_velocity(model, torch.cat([x, torch.flip(x, dims=(-2, -1))]), t, torch.cat([upright, turned]),
                           guidance)
    return 0.5 * (both[:n] + torch.flip(both[n:], dims=(-2, -1)))


def mixed_velocity(model: nn.Module, x: torch.Tensor, t: float, labels: torch.Tensor, others: torch.Tensor,
                   weight: torch.Tensor, guidance: float) -> torch.Tensor:
    """Guided velocity of the label blend ``(1 - weight) * labels + weight * others`` (weights [N] in [0, 1]):
    the "no class" velocity plus ``guidance`` times the weighted conditional velocities' offset; 3N rows."""
    n = x.shape[0]
    times = torch.full((3 * n,), float(t))
    out = model(torch.cat([x, x, x]), times, torch.cat([labels, others, torch.full_like(labels, NULL_CLASS)]))
    w = weight.view(-1, 1, 1, 1)
    cond = (1 - w) * out[:n] + w * out[n:2 * n]
    return out[2 * n:] + guidance * (cond - out[2 * n:])


def team_log_prob(team: Sequence[nn.Module], images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over the team of log p(label | image), per image [N]."""
    rows = torch.arange(len(labels))
    return torch.stack([F.log_softmax(m(images), dim=1)[rows, labels] for m in team]).mean(0)


def guidance_gradient(scores: Sequence[tuple[float, Score]], clean: torch.Tensor, cond: Conditioning) -> torch.Tensor:
    """Gradient, with respect to the predicted clean images ``clean`` [N,1,28,28], of the weighted ``scores`` of
    every reading ``cond`` asks for (the image as its labels, turned over as ``cond.turned``, as ``cond.others``)."""
    with torch.inference_mode(False), torch.enable_grad():    # the denoiser runs in inference mode; this does not
        image = clean.clamp(0, 1).requires_grad_(True)
        total = sum(weight * score(view, labels).sum() for weight, score in scores
                    for view, labels in cond.readings(image))
        (gradient,) = torch.autograd.grad(total, image)
    return gradient


@dataclass
class Conditioning:
    """What an Euler run is conditioned on: the labels and, optionally, turned labels or a blend of two labels."""

    labels: torch.Tensor
    turned: torch.Tensor | None = None      # anagrams: the digit upside down
    others: torch.Tensor | None = None      # label mixing: the second label ...
    weight: torch.Tensor | None = None      # ... and its weight per image

    def readings(self, image: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(view, labels) for every reading of ``image`` the goal asks for: as its labels, turned over as
        ``turned`` (anagrams), and as ``others`` (a blend should read as both of its labels)."""
        out = [(image, self.labels)]
        if self.turned is not None:
            out.append((torch.flip(image, dims=(-2, -1)), self.turned))
        if self.others is not None:
            out.append((image, self.others))
        return out

    def part(self, rows: slice) -> Conditioning:
        """The same conditioning for a batch of rows."""
        values = (self.labels, self.turned, self.others, self.weight)
        return Conditioning(*(None if v is None else v[rows] for v in values))

    def velocity(self, model: nn.Module, x: torch.Tensor, t: float, guidance: float) -> torch.Tensor:
        """The guided velocity of ``x`` at time ``t`` under this conditioning."""
        if self.others is not None:
            return mixed_velocity(model, x, t, self.labels, self.others, self.weight, guidance)
        if self.turned is not None:
            return anagram_velocity(model, x, t, self.labels, self.turned, guidance)
        return guided_velocity(model, x, t, self.labels, guidance)


def steering(config: SamplerConfig, team: Sequence[nn.Module], real: RealDigits | None) -> list[tuple[float, Score]]:
    """The weighted scores whose gradient guided steps add: the team's log-probability, the closeness to real
    digits (each when its weight is set and its models are given)."""
    scores: list[tuple[float, Score]] = []
    if config.team_guidance and team:
        scores.append((config.team_guidance, partial(team_log_prob, team)))
    if config.realism_guidance and real is not None:
        scores.append((config.realism_guidance, real.closeness))
    return scores


def euler(model: nn.Module, x: torch.Tensor, cond: Conditioning, config: SamplerConfig,
          team: Sequence[nn.Module] = (), real: RealDigits | None = None) -> torch.Tensor:
    """Integrate from ``x`` [N,1,28,28] at ``config.start_time`` to t = 1 in ``round(steps * (1 - t0))`` (at
    least 1) uniform steps, the last ``unguided_steps`` of them with w = 1 and no team or realism guidance.
    Returns the images at t = 1."""
    scores = steering(config, team, real)
    count = max(1, round(config.steps * (1 - config.start_time)))
    dt = (1 - config.start_time) / count
    for step in range(count):
        t = config.start_time + step * dt
        guided = step < count - config.unguided_steps
        v = cond.velocity(model, x, t, config.guidance if guided else 1.0)
        if guided and scores:
            v = v + guidance_gradient(scores, x + (1 - t) * v, cond)
        x = x + dt * v
    return x


def sample(model: nn.Module, labels: torch.Tensor, config: SamplerConfig, seed: int | torch.Generator, *,
           turned: torch.Tensor | None = None, init: torch.Tensor | None = None, noise: torch.Tensor | None = None,
           others: torch.Tensor | None = None, weight: torch.Tensor | None = None,
           team: Sequence[nn.Module] = (), real: RealDigits | None = None) -> torch.Tensor:
    """Digits [N,1,28,28] in [0, 1] (clamped) for ``labels`` [N] (0–9, or NULL_CLASS for unconditional).

    ``turned`` [N]: visual anagrams that read as ``labels`` upright and ``turned`` upside down. ``others`` and
    ``weight`` [N]: blends of two labels. ``init`` [N,1,28,28]: the images an SDEdit start re-noises (needed
    when ``config.start_time`` > 0). ``noise``: the starting noise, else drawn from ``seed``. ``team``: the
    classifiers of team guidance (frozen; used when ``config.team_guidance`` > 0); ``real``: the reference of
    realism guidance (used when ``config.realism_guidance`` > 0).
    """
    labels = torch.as_tensor(labels, dtype=torch.long)
    weight = None if weight is None else torch.as_tensor(weight, dtype=torch.float32)
    cond = Conditioning(labels, turned, others, weight)
    x_start = draw_noise(len(labels), seed) if noise is None else noise
    if config.start_time > 0:
        if init is None:
            raise ValueError("an SDEdit start (start_time > 0) needs the init images")
        x_start = (1 - config.start_time) * x_start + config.start_time * init
    model.eval()
    parts = []
    with torch.inference_mode():        # ~25% faster network calls than no_grad
        for start in range(0, len(labels), config.batch_size):
            rows = slice(start, start + config.batch_size)
            parts.append(euler(model, x_start[rows], cond.part(rows), config, team, real))
    return torch.cat(parts).clamp(0, 1) if parts else x_start.clamp(0, 1)


def network_calls(config: SamplerConfig, anagram: bool = False) -> int:
    """Forward passes per image of one sampling run (for timing and FLOP budgets)."""
    count = max(1, round(config.steps * (1 - config.start_time)))
    guided = count - min(config.unguided_steps, count)
    per_view = guided * (1 if config.guidance == 1.0 else 2) + (count - guided)
    return per_view * (2 if anagram else 1)
