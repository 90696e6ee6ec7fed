"""Numbers shared by several pages: a model's probabilities, confusion matrices and class means."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generator.digits import images_to_tensor
from generator.models.inference import INFERENCE_BATCH, in_batches


def predict_proba(model: nn.Module, x: torch.Tensor | np.ndarray, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """Softmax probabilities ``[N,10]`` (float64 numpy) of a tensor ``[N,1,28,28]`` or digits ``[N,28,28]``."""
    if isinstance(x, np.ndarray):
        x = images_to_tensor(x)
    model = model.cpu().eval()
    with torch.no_grad():
        return F.softmax(in_batches(model, x, batch_size), dim=1).double().numpy()


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Counts ``[true, predicted]`` of a 10-class problem."""
    matrix = np.zeros((10, 10), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


def class_means(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean image of each class, float ``[10,28,28]`` in [0,1]."""
    return np.stack([images[labels == d].mean(axis=0) / 255.0 for d in range(10)])
