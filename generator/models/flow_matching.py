"""Training the class-conditional denoiser by flow matching, in the style of ``training.py``.

One seeded ``torch.Generator`` draws every random choice (batch order, label dropout, times, noise); AdamW with a
one-cycle schedule; tqdm for progress. Each step takes digits ``x`` (ink 1.0 on 0.0), noise ``z``, times ``t``
and regresses the network on the velocity ``x - z`` at ``x_t = (1 - t) * z + t * x`` (mean squared error per
pixel). A fraction of the labels is replaced by ``NULL_CLASS`` so that the same network learns the
unconditional velocity that classifier-free guidance needs.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from generator.models.denoiser import NULL_CLASS
from generator.models.training import augment


@dataclass(frozen=True)
class DiffusionConfig:
    """Everything that decides a denoiser's training run (printable with ``dataclasses.asdict``)."""

    images: int = 180_000               # images to see: ceil(images / batch_size) steps (an epoch's last batch
                                        # may be smaller); 4.3 minutes on 2 quiet cores (see bench/DIFFUSION.md)
    batch_size: int = 64
    learning_rate: float = 5e-3         # the one-cycle schedule's peak
    weight_decay: float = 1e-4
    label_dropout: float = 0.1          # fraction of labels replaced by NULL_CLASS
    time_sampling: str = "logit-normal"     # t = sigmoid(N(0, 1)) (more weight on mid-path), or "uniform" U(0, 1)
    augmentation: str = "none"          # a ``training.augment`` kind; "none" keeps the digits as they are
    ema_decay: float = 0.0              # > 0: the returned weights are an exponential moving average
    seed: int = 0

    @property
    def steps(self) -> int:
        """Optimisation steps of the run."""
        return math.ceil(self.images / self.batch_size)


@dataclass
class FlowHistory:
    """Per-epoch mean losses (velocity MSE per pixel) and seconds, and the totals of one run."""

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    images_seen: int = 0
    total_seconds: float = 0.0


def sample_times(count: int, kind: str, gen: torch.Generator) -> torch.Tensor:
    """Training times [count] in [0, 1]: uniform, or logit-normal (more weight on the middle of the path)."""
    if kind == "logit-normal":
        return torch.sigmoid(torch.randn(count, generator=gen, device=gen.device))
    if kind == "uniform":
        return torch.rand(count, generator=gen, device=gen.device)
    raise ValueError(f"unknown time sampling {kind!r}")


def flow_loss(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, config: DiffusionConfig,
              gen: torch.Generator) -> torch.Tensor:
    """Mean squared velocity error per pixel of a batch: digits ``x`` [N,1,28,28] in [0, 1] and labels [N] (0–9),
    a ``config.label_dropout`` fraction of them swapped for NULL_CLASS, at times drawn by ``config.time_sampling``."""
    n = x.shape[0]
    drop = torch.rand(n, generator=gen, device=x.device) < config.label_dropout
    labels = torch.where(drop, torch.full_like(labels, NULL_CLASS), labels)
    t = sample_times(n, config.time_sampling, gen).to(x.device)
    noise = torch.randn(x.shape, generator=gen, device=x.device)
    x_t = (1 - t.view(-1, 1, 1, 1)) * noise + t.view(-1, 1, 1, 1) * x
    return F.mse_loss(model(x_t, t, labels), x - noise)


class Ema:
    """An exponential moving average of a model's parameters, with the usual warm-up
    (decay ``min(decay, (1 + step) / (10 + step))``) so early weights fade fast."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay, self.step = decay, 0
        self.params = [p.detach().clone() for p in model.parameters()]

    def update(self, model: nn.Module) -> None:
        """Move the average towards the model's current parameters."""
        self.step += 1
        decay = min(self.decay, (1 + self.step) / (10 + self.step))
        for average, current in zip(self.params, model.parameters()):
            average.lerp_(current.detach(), 1 - decay)

    def copy_to(self, model: nn.Module) -> None:
        """Overwrite the model's parameters with the average."""
        with torch.no_grad():
            for target, value in zip(model.parameters(), self.params):
                target.copy_(value)


def _optimiser(model: nn.Module, config: DiffusionConfig) -> tuple[torch.optim.Optimizer,
                                                                   torch.optim.lr_scheduler.LRScheduler]:
    """AdamW (fused on CPU) and a one-cycle schedule over ``config.steps`` steps."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay,
                                  fused=True)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=config.steps,
                                                   pct_start=0.15)
    return optimizer, schedule


def _epoch(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, config: DiffusionConfig,
           gen: torch.Generator, update: Callable[[torch.Tensor, int], None], steps_left: int) -> list[float]:
    """One pass over a fresh shuffle, at most ``steps_left`` steps; ``update(loss, batch size)`` steps the
    optimiser. Returns the batch losses."""
    order = torch.randperm(len(images), generator=gen, device=gen.device)
    losses = []
    for start in range(0, len(images), config.batch_size)[:steps_left]:
        idx = order[start:start + config.batch_size]
        loss = flow_loss(model, augment(images[idx], config.augmentation, gen), labels[idx], config, gen)
        update(loss, len(idx))
        losses.append(loss.item())
    return losses


def train_flow(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, config: DiffusionConfig,
               device: torch.device | str = "cpu", desc: str = "denoiser") -> FlowHistory:
    """Train ``model`` on digits ``images`` [N,1,28,28] (ink 1.0) with ``labels`` [N] (int64, 0–9) for
    ``config.images`` images; leaves it in eval mode (holding the EMA weights when ``ema_decay`` > 0)."""
    torch.manual_seed(config.seed)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    images, labels = images.to(device), labels.to(device)
    model.to(device).to(memory_format=torch.channels_last).train()
    optimizer, schedule = _optimiser(model, config)
    ema = Ema(model, config.ema_decay) if config.ema_decay > 0 else None
    history, started, done = FlowHistory(), time.perf_counter(), 0
    with tqdm(total=config.steps, desc=desc, unit="step", leave=False) as progress:

        def update(loss: torch.Tensor, count: int) -> None:
            """One optimiser, schedule and EMA step on a batch of ``count`` digits."""
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if ema is not None:
                ema.update(model)
            history.images_seen += count
            progress.update()

        while done < config.steps:
            epoch_started = time.perf_counter()
            losses = _epoch(model, images, labels, config, gen, update, config.steps - done)
            done += len(losses)
            history.loss.append(sum(losses) / len(losses))
            history.seconds.append(time.perf_counter() - epoch_started)
    if ema is not None:
        ema.copy_to(model)
    history.total_seconds = time.perf_counter() - started
    model.eval()
    return history


def velocity_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, seed: int = 0,
                  batch_size: int = 500) -> float:
    """Mean velocity MSE of ``model`` on a fixed set (seeded noise and uniform times, no label dropout)."""
    gen = torch.Generator().manual_seed(seed)
    config = DiffusionConfig(label_dropout=0.0, time_sampling="uniform")
    model.eval()
    with torch.no_grad():
        total = sum(flow_loss(model, images[i:i + batch_size], labels[i:i + batch_size], config, gen).item()
                    * len(images[i:i + batch_size]) for i in range(0, len(images), batch_size))
    return total / len(images)
