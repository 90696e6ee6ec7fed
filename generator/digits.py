"""Small array helpers for 28×28 digits, shared by every stage: bytes ↔ floats ↔ tensors, and the 180° turn.

Conventions: uint8 digits are ink 255 on 0; float digits are ink 1.0 on 0.0; tensors are float32 ``[N,1,28,28]``.
"""
from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

Images = TypeVar("Images", np.ndarray, torch.Tensor)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (any shape) to uint8 ``round(v * 255)``, clipped; NaN -> 0."""
    scaled = np.rint(np.nan_to_num(np.asarray(images, dtype=np.float64), nan=0.0) * 255.0)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """Digits ``[N,28,28]`` (uint8 ink 255, or float ink 1.0) -> float32 ``[N,1,28,28]`` (ink 1.0)."""
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32) / scale).unsqueeze(1)


def rotate180(images: Images) -> Images:
    """Images ``[..., H, W]`` (numpy or torch) turned upside down; numpy results are contiguous copies."""
    if isinstance(images, torch.Tensor):
        return torch.flip(images, dims=(-2, -1))
    return np.ascontiguousarray(images[..., ::-1, ::-1])
