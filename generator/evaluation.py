"""The classifier page: model cards, training curves, confusion matrices and a scored sample of held-out digits."""
from __future__ import annotations

import time

import numpy as np
import torch

from generator import charts
from generator.data import Dataset
from generator.gallery import PageResult, RunContext, SpriteSheet, scored_items
from generator.models import Models, TrainedModel
from generator.training import images_to_tensor, predict_proba

SAMPLE_SIZE = 50


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Counts [true, predicted] of a 10-class problem."""
    matrix = np.zeros((10, 10), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


def images_per_second(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 500, repeats: int = 3) -> float:
    """CPU inference throughput at a fixed batch size (best of ``repeats``)."""
    model = model.cpu().eval()
    batch = images[:batch_size]
    with torch.no_grad():
        model(batch)
        best = min(_timed(lambda: model(batch)) for _ in range(repeats))
    return len(batch) / best


def _timed(call) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def layer_summary(model: torch.nn.Module) -> list[str]:
    """One line per weighted layer, e.g. ``Conv2d(1→16, 3×3)``."""
    lines = []
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            k = module.kernel_size
            lines.append(f"{type(module).__name__}({module.in_channels}→{module.out_channels}, {k[0]}×{k[1]}, stride {module.stride[0]})")
        elif isinstance(module, torch.nn.Linear):
            lines.append(f"Linear({module.in_features}→{module.out_features})")
    return lines


def model_card(trained: TrainedModel, accuracy: float | None) -> dict:
    """The facts shown about one model."""
    meta = trained.meta
    return {
        "name": trained.spec.name, "role": trained.spec.role, "architecture": trained.spec.architecture,
        "layers": layer_summary(trained.module), "parameters": meta["parameters"], "flops": meta["flops"],
        "epochs": meta["train"]["epochs"], "augmentation": meta["train"]["augmentation"], "seed": meta["train"]["seed"],
        "seconds": round(meta["seconds"], 1), "seconds_per_epoch": round(meta["history"]["seconds_per_epoch"], 2),
        "device": meta["device"], "accuracy": accuracy, "metrics": meta["metrics"],
    }


def curves_chart(trained: TrainedModel) -> str:
    """Train/test loss and accuracy per epoch of one classifier."""
    history = trained.meta["history"]
    series = {"train accuracy": history["train_accuracy"], "test accuracy": history["test_accuracy"]}
    return charts.line_chart(series, f"{trained.spec.name}: accuracy per epoch", x_label="epoch", y_label="accuracy",
                             x_values=list(range(1, len(history["test_accuracy"]) + 1)))


def loss_chart(trained: TrainedModel) -> str:
    """Train/test loss per epoch of one classifier."""
    history = trained.meta["history"]
    series = {"train loss": history["train_loss"], "test loss": history["test_loss"]}
    return charts.line_chart(series, f"{trained.spec.name}: loss per epoch", x_label="epoch", y_label="cross-entropy",
                             x_values=list(range(1, len(history["test_loss"]) + 1)))


def confusion_chart(name: str, matrix: np.ndarray) -> str:
    """A confusion matrix as an annotated heat map (colour capped so off-diagonal cells stay visible)."""
    off_diagonal = matrix[~np.eye(10, dtype=bool)]
    return charts.heatmap(matrix, f"{name}: confusion matrix on held-out digits", row_labels=[str(d) for d in range(10)],
                          col_labels=[str(d) for d in range(10)], row_title="true", col_title="predicted",
                          vmin=0, vmax=float(max(off_diagonal.max(), 1) * 2))


def run(models: Models, dataset: Dataset, context: RunContext) -> PageResult:
    """Evaluate every classifier on the held-out digits and describe them."""
    test_x = images_to_tensor(dataset.test_images)
    labels = dataset.test_labels
    classifiers = [models.reader, models.judge, *models.ensemble]
    cards, confusions, accuracies = [], {}, {}
    for trained in classifiers:
        predicted = predict_proba(trained.module, test_x).argmax(1)
        accuracies[trained.spec.name] = float((predicted == labels).mean())
        cards.append(model_card(trained, round(accuracies[trained.spec.name], 4)))
        if trained.spec.role in ("reader", "judge"):
            confusions[trained.spec.name] = confusion_chart(trained.spec.name, confusion_matrix(labels, predicted))
    cards += [model_card(models.autoencoder, None), model_card(models.vae, None)]
    rng = np.random.default_rng(context.seed)
    pick = np.sort(rng.choice(len(labels), SAMPLE_SIZE, replace=False))
    sample = SpriteSheet("classifier-sample", dataset.test_images[pick], columns=10)
    items = scored_items(sample, "held-out", [int(labels[i]) for i in pick], models.reader.module, models.judge.module,
                         ids=[f"test-{i}" for i in pick])
    for item, index in zip(items, pick):
        item["index"] = int(index)
    context = {
        "cards": cards, "accuracies": accuracies, "confusions": confusions,
        "curves": {t.spec.name: [curves_chart(t), loss_chart(t)] for t in (models.reader, models.judge)},
        "reader_images_per_second": round(images_per_second(models.reader.module, test_x)),
        "judge_images_per_second": round(images_per_second(models.judge.module, test_x)),
        "test_size": int(len(labels)),
    }
    return PageResult("classifier", items, [sample], [], context)
