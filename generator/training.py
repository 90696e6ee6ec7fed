"""Training loops for the classifiers and the autoencoder, and the augmentations they use.

Plain loops in the spirit of pytorch/examples: one ``train_*`` function per kind of
model, a seeded generator for every random choice, tqdm for progress.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (hashed into the model cache key)."""

    epochs: int
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    augmentation: str = "affine"        # "affine" (seed 004: rotation, zoom, shift), "elastic", or "none"
    label_smoothing: float = 0.0
    seed: int = 0
    train_limit: int | None = None      # train on a seeded random subset of N digits (quick builds)
    ema_decay: float = 0.0              # keep an exponential moving average of the weights and end with it
    clean_epochs: int = 0               # the last N epochs see un-augmented digits


@dataclass
class History:
    """Per-epoch curves and the final scores of one training run."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    seconds_per_epoch: float = 0.0


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N,28,28] (ink 255) -> float32 [N,1,28,28] (ink 1.0)."""
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


def random_affine(x: torch.Tensor, gen: torch.Generator, degrees: float = 10.0, zoom: float = 0.1, shift: float = 0.1) -> torch.Tensor:
    """Seed 004's augmentation: random rotation (±degrees), zoom (±zoom) and shift (±shift of the width)."""
    n = x.shape[0]
    u = torch.rand(n, 4, generator=gen, device=gen.device).to(x.device) * 2 - 1
    angle = u[:, 0] * math.radians(degrees)
    scale = 1.0 + u[:, 1] * zoom
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([
        torch.stack([cos, -sin, u[:, 2] * shift * 2], dim=1),
        torch.stack([sin, cos, u[:, 3] * shift * 2], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def random_elastic(x: torch.Tensor, gen: torch.Generator, alpha: float = 2.5, sigma: float = 4.0) -> torch.Tensor:
    """Simard-style elastic distortion: a smoothed random displacement field of about ``alpha`` pixels."""
    n, _, h, w = x.shape
    noise = (torch.rand(n, 2, h, w, generator=gen, device=gen.device).to(x.device) * 2 - 1)
    radius = int(2 * sigma)
    kernel_1d = torch.exp(-torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype) ** 2 / (2 * sigma**2))
    kernel_1d = kernel_1d / kernel_1d.sum()
    smooth = F.conv2d(noise.reshape(-1, 1, h, w), kernel_1d.view(1, 1, 1, -1), padding=(0, radius))
    smooth = F.conv2d(smooth, kernel_1d.view(1, 1, -1, 1), padding=(radius, 0)).reshape(n, 2, h, w)
    smooth = smooth / smooth.flatten(1).abs().amax(dim=1).clamp_min(1e-6).view(n, 1, 1, 1)
    base = F.affine_grid(torch.eye(2, 3, device=x.device).expand(n, 2, 3), list(x.shape), align_corners=False)
    grid = base + smooth.permute(0, 2, 3, 1) * (2 * alpha / w)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def augment(x: torch.Tensor, kind: str, gen: torch.Generator) -> torch.Tensor:
    """Apply the named augmentation to a batch."""
    if kind == "affine":
        return random_affine(x, gen)
    if kind == "elastic":
        return random_affine(random_elastic(x, gen), gen, degrees=15.0, zoom=0.12, shift=0.08)
    return x


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of a classifier on a whole set."""
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(x[start:start + batch_size])
            target = y[start:start + batch_size]
            total_loss += F.cross_entropy(logits, target, reduction="sum").item()
            correct += (logits.argmax(1) == target).sum().item()
    return total_loss / len(x), correct / len(x)


def predict_proba(model: nn.Module, x: torch.Tensor, batch_size: int = 2000) -> np.ndarray:
    """Softmax probabilities [N,10] as float64 numpy."""
    model.eval()
    with torch.no_grad():
        parts = [F.softmax(model(x[i:i + batch_size]), dim=1) for i in range(0, len(x), batch_size)]
    return torch.cat(parts).double().cpu().numpy()


def train_classifier(model: nn.Module, train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                     config: TrainConfig, device: torch.device, desc: str) -> History:
    """Train with AdamW and a one-cycle schedule; returns per-epoch curves on train and test."""
    torch.manual_seed(config.seed)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    x, y = (t.to(device) for t in train)
    test_x, test_y = (t.to(device) for t in test)
    if config.train_limit:
        keep = torch.randperm(len(x), generator=gen, device=device)[:config.train_limit]
        x, y = x[keep], y[keep]
    model.to(device)
    steps = math.ceil(len(x) / config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=config.epochs * steps)
    average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True) if config.ema_decay else None
    history, started = History(), time.perf_counter()
    for epoch in tqdm(range(config.epochs), desc=desc, unit="epoch", leave=False):
        model.train()
        order = torch.randperm(len(x), generator=gen, device=device)
        augmentation = "none" if epoch >= config.epochs - config.clean_epochs else config.augmentation
        loss_sum, correct = 0.0, 0
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size]
            logits = model(augment(x[idx], augmentation, gen))
            loss = F.cross_entropy(logits, y[idx], label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if average is not None:
                average.update_parameters(model)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y[idx]).sum().item()
        test_loss, test_accuracy = evaluate(average.module if average else model, test_x, test_y)
        history.train_loss.append(loss_sum / len(x))
        history.train_accuracy.append(correct / len(x))
        history.test_loss.append(test_loss)
        history.test_accuracy.append(test_accuracy)
    if average is not None:
        model.load_state_dict(average.module.state_dict())
    history.seconds = time.perf_counter() - started
    history.seconds_per_epoch = history.seconds / max(config.epochs, 1)
    model.eval()
    return history


def train_autoencoder(model: nn.Module, train: torch.Tensor, test: torch.Tensor, config: TrainConfig,
                      device: torch.device, desc: str) -> History:
    """Train to reconstruct its input (binary cross-entropy on pixels); curves hold per-pixel MSE."""
    torch.manual_seed(config.seed)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    x, test_x = train.to(device), test.to(device)
    if config.train_limit:
        x = x[torch.randperm(len(x), generator=gen, device=device)[:config.train_limit]]
    model.to(device)
    steps = math.ceil(len(x) / config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=config.epochs * steps)
    history, started = History(), time.perf_counter()
    for epoch in tqdm(range(config.epochs), desc=desc, unit="epoch", leave=False):
        model.train()
        order = torch.randperm(len(x), generator=gen, device=device)
        mse_sum = 0.0
        for start in range(0, len(x), config.batch_size):
            batch = augment(x[order[start:start + config.batch_size]], config.augmentation, gen)
            output = model(batch)
            loss = F.binary_cross_entropy(output, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            mse_sum += F.mse_loss(output, batch, reduction="sum").item() / 784
        history.train_loss.append(mse_sum / len(x))
        history.test_loss.append(reconstruction_error(model, test_x))
    history.seconds = time.perf_counter() - started
    history.seconds_per_epoch = history.seconds / max(config.epochs, 1)
    model.eval()
    return history


def reconstruction_error(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean per-pixel squared error of an autoencoder's reconstructions."""
    model.eval()
    with torch.no_grad():
        total = sum(F.mse_loss(model(x[i:i + batch_size]), x[i:i + batch_size], reduction="sum").item()
                    for i in range(0, len(x), batch_size))
    return total / x.numel()
