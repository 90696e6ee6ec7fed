"""The classifier page: model cards, training curves, confusion matrices and a scored sample of held-out digits."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from generator.data.dataset import Dataset
from generator.digits import images_to_tensor
from generator.models.metrics import confusion_matrix, predict_proba
from generator.models.table import Models, TrainedModel
from generator.site import charts
from generator.site.results import BuildInfo, PageResult, SpriteSheet, add_fields, scored_items


@dataclass(frozen=True)
class Config:
    """The classifier page's knobs."""

    sample_size: int = 50             # scored held-out digits shown at the end
    speed_batch: int = 500            # batch size of the CPU throughput measurement

    def quick(self) -> Config:
        """Nothing to shorten."""
        return self


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
            lines.append(f"{type(module).__name__}({module.in_channels}→{module.out_channels}, {k[0]}×{k[1]}, "
                         f"stride {module.stride[0]})")
        elif isinstance(module, torch.nn.Linear):
            lines.append(f"Linear({module.in_features}→{module.out_features})")
    return lines


def headline(metrics: dict, accuracy: float | None) -> str:
    """A model's headline number: held-out accuracy, or its reconstruction or velocity error."""
    if accuracy is not None:
        return f"{accuracy:.2%}"
    if "velocity_mse" in metrics:
        return f"velocity MSE {metrics['velocity_mse']:.4f}"
    return f"MSE {metrics['reconstruction_mse']:.4f}"


def trained_on(meta: dict) -> str:
    """Where a model trained: the device, and on a CPU the torch threads when recorded (a cold CPU build trains
    each model on one thread of a worker process)."""
    threads = meta.get("threads")
    if meta["device"] != "cpu" or threads is None:
        return meta["device"]
    return f"cpu, {threads} thread{'s' * (threads != 1)}"


def model_card(trained: TrainedModel, accuracy: float | None) -> dict:
    """The facts shown about one model."""
    meta = trained.meta
    return {
        "name": trained.spec.name, "role": trained.spec.role, "architecture": trained.spec.architecture,
        "layers": layer_summary(trained.module), "parameters": meta["parameters"],
        "mflops": round(meta["flops"] / 1e6, 2),
        "epochs": meta["history"]["epochs"], "images_seen": meta["history"]["images_seen"],
        "augmentation": meta["train"]["augmentation"], "seed": meta["train"]["seed"],
        "seconds": round(meta["seconds"], 1), "seconds_per_epoch": round(meta["history"]["seconds_per_epoch"], 2),
        "device": trained_on(meta), "accuracy": accuracy, "headline": headline(meta["metrics"], accuracy),
        "history": meta["history"],
    }


def curve_charts(card: dict) -> list[str]:
    """Train/test accuracy and loss per epoch of one classifier."""
    history, name = card["history"], card["name"]
    epochs = list(range(1, len(history["test_loss"]) + 1))
    return [charts.line_chart({"train accuracy": history["train_accuracy"], "test accuracy": history["test_accuracy"]},
                              f"{name}: accuracy per epoch", x_label="epoch", y_label="accuracy", x_values=epochs),
            charts.line_chart({"train loss": history["train_loss"], "test loss": history["test_loss"]},
                              f"{name}: loss per epoch", x_label="epoch", y_label="cross-entropy", x_values=epochs)]


def run(models: Models, dataset: Dataset, config: Config, build: BuildInfo) -> PageResult:
    """Evaluate every classifier on the held-out digits and describe them."""
    test_x = images_to_tensor(dataset.test_images)
    labels = dataset.test_labels
    cards, confusions = [], {}
    for trained in [models.reader, models.judge, *models.ensemble, *models.panel]:
        predicted = predict_proba(trained.module, test_x).argmax(1)
        cards.append(model_card(trained, round(float((predicted == labels).mean()), 4)))
        if trained.spec.role in ("reader", "judge"):
            confusions[trained.spec.name] = confusion_matrix(labels, predicted).tolist()
    cards += [model_card(t, None) for t in (models.autoencoder, models.vae, models.diffusion)]
    pick = np.sort(np.random.default_rng(build.seed).choice(len(labels), config.sample_size, replace=False))
    sample = SpriteSheet("classifier-sample", dataset.test_images[pick], columns=10)
    items = scored_items(sample, "held-out", [int(labels[i]) for i in pick], models.reader.module, models.judge.module,
                         ids=dataset.test_origin.ids(pick))
    add_fields(items, **dataset.test_origin.of(pick))
    data = {
        "cards": cards, "confusions": confusions, "test_size": len(labels), "speed_batch": config.speed_batch,
        "images_per_second": {t.spec.name: round(images_per_second(t.module, test_x, config.speed_batch))
                              for t in (models.reader, models.judge)},
    }
    return PageResult("classifier", items, [sample], [], data)


def context(result: PageResult) -> dict:
    """Model cards, curves and confusion heat maps of the classifier page."""
    data = result.data
    return {
        **data, "samples": result.items,
        "curves": {card["name"]: curve_charts(card) for card in data["cards"][:2]},
        "confusions": {name: charts.confusion_chart(f"{name}: confusion matrix on held-out digits", np.array(matrix))
                       for name, matrix in data["confusions"].items()},
    }
