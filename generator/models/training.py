"""Training loops for the classifiers and the autoencoder, and the augmentations they use.

Plain loops in the spirit of pytorch/examples: one ``train_*`` function per kind of
model, a seeded generator for every random choice, tqdm for progress.
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

from generator.models.inference import in_batches

REFERENCE_SIZE = 8_000      # the embedded split's training digits, for which recipes give their epochs


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (hashed into the model cache key)."""

    epochs: int                         # on up to REFERENCE_SIZE digits; more data gets fewer (``epochs_for``)
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    augmentation: str = "affine"        # "affine" (seed 004: rotation, zoom, shift), "rotate" (±10° only), "elastic",
                                        # "upside-down" or "none"
    label_smoothing: float = 0.0
    seed: int = 0
    train_limit: int | None = None      # train on a seeded random subset of N digits (quick builds)
    data_growth: float = 0.5            # above REFERENCE_SIZE digits the images seen grow with count ** data_growth

    def epochs_for(self, count: int) -> int:
        """Epochs on ``count`` training digits: ``epochs`` up to REFERENCE_SIZE digits, then scaled by
        (REFERENCE_SIZE / count) ** (1 - data_growth): on 60,000 digits a growth of 0.5 sees 2.7× the images of
        8,000, a growth of 1.0 keeps the epochs (7.5×)."""
        return max(1, round(self.epochs * min(1.0, REFERENCE_SIZE / count) ** (1 - self.data_growth)))


@dataclass
class History:
    """Per-epoch curves and the final scores of one training run."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    seconds_per_epoch: float = 0.0
    epochs: int = 0
    images_seen: int = 0


def random_affine(x: torch.Tensor, gen: torch.Generator, degrees: float = 10.0, zoom: float = 0.1,
                  shift: float = 0.1) -> torch.Tensor:
    """Seed 004's augmentation: random rotation (±degrees), zoom (±zoom) and shift (±shift of the width)."""
    n = x.shape[0]
    u = torch.rand(n, 4, generator=gen, device=x.device) * 2 - 1
    angle = u[:, 0] * math.radians(degrees)
    scale = 1.0 + u[:, 1] * zoom
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([
        torch.stack([cos, -sin, u[:, 2] * shift * 2], dim=1),
        torch.stack([sin, cos, u[:, 3] * shift * 2], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def random_elastic(x: torch.Tensor, gen: torch.Generator, alpha: float = 2.0, sigma: float = 4.0) -> torch.Tensor:
    """Simard-style elastic distortion: a smoothed random displacement field of about ``alpha`` pixels."""
    n, _, h, w = x.shape
    noise = torch.rand(n, 2, h, w, generator=gen, device=x.device) * 2 - 1
    radius = int(2 * sigma)
    kernel_1d = torch.exp(-torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype) ** 2 / (2 * sigma**2))
    kernel_1d = kernel_1d / kernel_1d.sum()
    smooth = F.conv2d(noise.reshape(-1, 1, h, w), kernel_1d.view(1, 1, 1, -1), padding=(0, radius))
    smooth = F.conv2d(smooth, kernel_1d.view(1, 1, -1, 1), padding=(radius, 0)).reshape(n, 2, h, w)
    smooth = smooth / smooth.flatten(1).abs().amax(dim=1).clamp_min(1e-6).view(n, 1, 1, 1)
    base = F.affine_grid(torch.eye(2, 3, device=x.device).expand(n, 2, 3), list(x.shape), align_corners=False)
    grid = base + smooth.permute(0, 2, 3, 1) * (2 * alpha / w)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def random_half_turn(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each image of the batch rotated 180° with probability 1/2."""
    turn = torch.rand(x.shape[0], generator=gen, device=x.device) < 0.5
    return torch.where(turn.view(-1, 1, 1, 1), torch.flip(x, dims=(2, 3)), x)


def augment(x: torch.Tensor, kind: str, gen: torch.Generator) -> torch.Tensor:
    """Apply the named augmentation to a batch."""
    if kind == "upside-down":
        return random_half_turn(x, gen)
    if kind == "affine":
        return random_affine(x, gen)
    if kind == "rotate":            # turned about the centre only: MNIST's digits stay centred and their size
        return random_affine(x, gen, zoom=0.0, shift=0.0)
    if kind == "elastic":
        return random_affine(random_elastic(x, gen), gen, degrees=12.0, zoom=0.1, shift=0.08)
    return x


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of a classifier on a whole set (channels-last batches of
    ``INFERENCE_BATCH``: on the CPU about twice as fast as batches of 1,000 in the default layout)."""
    model.eval()
    with torch.inference_mode():
        logits = in_batches(model, channels_last(x))
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).sum().item() / len(y)


def _setup(model: nn.Module, tensors: list[torch.Tensor], config: TrainConfig, device: torch.device):
    """Seed, move data and model to the device, take the quick-build subset, make optimiser and schedule."""
    torch.manual_seed(config.seed)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    tensors = [t.to(device) for t in tensors]
    if config.train_limit:
        keep = torch.randperm(len(tensors[0]), generator=gen, device=device)[:config.train_limit]
        tensors = [t[keep] for t in tensors]
    model.to(device).to(memory_format=torch.channels_last)   # 1.4-1.7x the training throughput of NCHW on CPU
    steps = config.epochs_for(len(tensors[0])) * math.ceil(len(tensors[0]) / config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=steps)
    return gen, tensors, optimizer, schedule


def channels_last(batch: torch.Tensor) -> torch.Tensor:
    """A batch ``[N,1,28,28]`` in the channels-last memory layout that the CPU's convolution kernels prefer."""
    return batch.contiguous(memory_format=torch.channels_last)


def _batches(count: int, config: TrainConfig, gen: torch.Generator) -> list[torch.Tensor]:
    """One epoch's shuffled index batches."""
    order = torch.randperm(count, generator=gen, device=gen.device)
    return [order[start:start + config.batch_size] for start in range(0, count, config.batch_size)]


def _step(optimizer: torch.optim.Optimizer, schedule, loss: torch.Tensor) -> None:
    """One optimisation step and one schedule step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()


def _finish(model: nn.Module, history: History, started: float, epochs: int, count: int) -> History:
    """Record the timing and the images seen, and leave the model in eval mode."""
    history.seconds = time.perf_counter() - started
    history.seconds_per_epoch = history.seconds / max(epochs, 1)
    history.epochs, history.images_seen = epochs, epochs * count
    model.eval()
    return history


def train_classifier(model: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                     test: tuple[torch.Tensor, torch.Tensor], config: TrainConfig, device: torch.device,
                     desc: str, curves: bool = True) -> History:
    """Train with AdamW and a one-cycle schedule; returns per-epoch curves on train and test (``curves`` False:
    the test set is read after the last epoch only, which leaves the training itself unchanged)."""
    gen, (x, y), optimizer, schedule = _setup(model, list(train), config, device)
    test_x, test_y = (t.to(device) for t in test)
    history, started = History(), time.perf_counter()
    epochs = config.epochs_for(len(x))
    for epoch in tqdm(range(epochs), desc=desc, unit="epoch", leave=False):
        model.train()
        loss_sum, correct = 0.0, 0
        for idx in _batches(len(x), config, gen):
            logits = model(channels_last(augment(x[idx], config.augmentation, gen)))
            loss = F.cross_entropy(logits, y[idx], label_smoothing=config.label_smoothing)
            _step(optimizer, schedule, loss)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y[idx]).sum().item()
        history.train_loss.append(loss_sum / len(x))
        history.train_accuracy.append(correct / len(x))
        if curves or epoch == epochs - 1:
            test_loss, test_accuracy = evaluate(model, test_x, test_y)
            history.test_loss.append(test_loss)
            history.test_accuracy.append(test_accuracy)
    return _finish(model, history, started, epochs, len(x))


ReconstructionLoss = Callable[[nn.Module, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def autoencoder_loss(model: nn.Module, batch: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruction and its mean pixel binary cross-entropy."""
    output = model(batch)
    return output, F.binary_cross_entropy(output, batch)


def vae_loss(model: nn.Module, batch: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruction of a sampled latent and the negative evidence lower bound (pixel BCE + KL to N(0, I)) per
    image."""
    mean, log_var = model.encode(batch)
    z = mean + torch.randn(mean.shape, generator=gen, device=batch.device) * torch.exp(0.5 * log_var)
    output = model.decoder(z)
    kl = -0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).sum()
    return output, (F.binary_cross_entropy(output, batch, reduction="sum") + kl) / len(batch)


def train_autoencoder(model: nn.Module, train: torch.Tensor, test: torch.Tensor, config: TrainConfig,
                      device: torch.device, desc: str, loss_fn: ReconstructionLoss = autoencoder_loss) -> History:
    """Train to reconstruct its input with ``loss_fn`` (plain or variational); curves hold per-pixel MSE."""
    gen, (x,), optimizer, schedule = _setup(model, [train], config, device)
    test_x = test.to(device)
    history, started = History(), time.perf_counter()
    epochs = config.epochs_for(len(x))
    for _ in tqdm(range(epochs), desc=desc, unit="epoch", leave=False):
        model.train()
        mse_sum = 0.0
        for idx in _batches(len(x), config, gen):
            batch = channels_last(augment(x[idx], config.augmentation, gen))
            output, loss = loss_fn(model, batch, gen)
            _step(optimizer, schedule, loss)
            mse_sum += F.mse_loss(output, batch, reduction="sum").item() / 784
        history.train_loss.append(mse_sum / len(x))
        history.test_loss.append(reconstruction_error(model, test_x))
    return _finish(model, history, started, epochs, len(x))


def reconstruction_error(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean per-pixel squared error of an autoencoder's reconstructions."""
    model.eval()
    with torch.no_grad():
        total = sum(F.mse_loss(model(x[i:i + batch_size]), x[i:i + batch_size], reduction="sum").item()
                    for i in range(0, len(x), batch_size))
    return total / x.numel()
