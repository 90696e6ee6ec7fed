"""Training one model of the table by its role, and the facts its card shows (curves, metrics, cost).

The model cache keys hash this module and everything it imports (the networks and the training loops), and
nothing else, so editing how models are loaded or used retrains nothing.
"""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import torch
from torch import nn

from generator.data.dataset import Dataset
from generator.digits import images_to_tensor
from generator.models import networks
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


def fit(module: nn.Module, role: str, config: TrainConfig | DiffusionConfig, dataset: Dataset, device: torch.device,
        name: str) -> dict:
    """Train ``module`` for ``role`` and describe the run (config, curves, metrics, time, device)."""
    train_x, test_x = images_to_tensor(dataset.train_images), images_to_tensor(dataset.test_images)
    train_y = torch.from_numpy(dataset.train_labels.astype(np.int64))
    test_y = torch.from_numpy(dataset.test_labels.astype(np.int64))
    started = time.perf_counter()
    if role == "diffusion":
        flow = train_flow(module, train_x, train_y, config, device, name)
        round_to_half(module)
        history = {"loss": flow.loss, "epoch_seconds": flow.seconds, "epochs": len(flow.loss),
                   "seconds_per_epoch": flow.total_seconds / max(1, len(flow.loss)), "images_seen": flow.images_seen,
                   "seconds": flow.total_seconds}
        metrics = {"velocity_mse": velocity_loss(module.cpu(), test_x, test_y)}
    elif role in ("autoencoder", "vae"):
        loss_fn = autoencoder_loss if role == "autoencoder" else vae_loss
        history = asdict(train_autoencoder(module, train_x, test_x, config, device, name, loss_fn))
        metrics = {"reconstruction_mse": reconstruction_error(module.cpu(), test_x)}
    else:
        history = asdict(train_classifier(module, (train_x, train_y), (test_x, test_y), config, device, name))
        loss, accuracy = evaluate(module.cpu(), test_x, test_y)
        metrics = {"test_accuracy": accuracy, "test_loss": loss}
    return {
        "train": asdict(config), "device": str(device), "seconds": time.perf_counter() - started,
        "history": history, "metrics": metrics, "parameters": networks.count_parameters(module),
        "flops": flops_per_image(module, role),
        "train_size": len(dataset.train_labels), "test_size": len(dataset.test_labels),
    }


def flops_per_image(module: nn.Module, role: str) -> int:
    """One forward pass's FLOPs for one digit."""
    return denoiser_flops(module) if role == "diffusion" else networks.count_flops(module)


def images_to_see(config: TrainConfig | DiffusionConfig, train_size: int) -> int:
    """How many digits a training run on ``train_size`` digits will see."""
    if isinstance(config, DiffusionConfig):
        return config.images
    count = min(train_size, config.train_limit or train_size)
    return config.epochs_for(count) * count


def round_to_half(module: nn.Module) -> None:
    """Keep every weight at float16 precision (as float32 values), so the site's half-size ONNX file computes
    exactly what the build computes."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(parameter.half().float())
