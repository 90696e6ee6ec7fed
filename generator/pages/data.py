"""The data page (seed 004's exploration): class counts, mean digits, intensities, z-score maps."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.data.dataset import Dataset
from generator.digits import to_uint8
from generator.models.metrics import class_means
from generator.models.table import Models
from generator.site import charts
from generator.site.images import diverging_rgb
from generator.site.results import BuildInfo, PageResult, Picture, SpriteSheet, scored_items


@dataclass(frozen=True)
class Config:
    """The data page's knobs."""

    samples_per_class: int = 10       # the random sample: this many training digits of each class
    histogram_bins: int = 17          # bins of the ink-intensity histogram over 1..255

    def quick(self) -> Config:
        """Nothing to shorten: the page takes a second."""
        return self


def z_score_maps(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per class, how far each pixel's class mean sits from the overall mean, in overall standard deviations."""
    pixels = images.astype(np.float64) / 255.0
    overall_mean, overall_std = pixels.mean(axis=0), pixels.std(axis=0)
    means = np.stack([pixels[labels == d].mean(axis=0) for d in range(10)])
    return np.where(overall_std > 1e-6, (means - overall_mean) / np.maximum(overall_std, 1e-6), 0.0)


def z_map_sheet(maps: np.ndarray, scale: int = 4, gap: int = 4) -> np.ndarray:
    """Ten diverging-colour maps side by side, each enlarged ``scale`` times, RGB uint8."""
    limit = float(np.abs(maps).max())
    tiles = [np.kron(diverging_rgb(m, limit), np.ones((scale, scale, 1), dtype=np.uint8)) for m in maps]
    spacer = np.full((tiles[0].shape[0], gap, 3), 255, dtype=np.uint8)
    row = [part for tile in tiles for part in (tile, spacer)][:-1]
    return np.concatenate(row, axis=1)


def sample_digits(images: np.ndarray, labels: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """A seeded random sample of ``per_class`` digits of each class, class by class."""
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(labels == d), per_class, replace=False) for d in range(10)]
    order = np.stack(picks, axis=1).ravel()  # column d holds class d, so a 10-wide sheet has one class per column
    return images[order], [int(labels[i]) for i in order]


def run(models: Models, dataset: Dataset, config: Config, build: BuildInfo) -> PageResult:
    """Explore the training data and score the class means with the reader and judge."""
    images, labels = dataset.train_images, dataset.train_labels
    reader, judge = models.reader.module, models.judge.module
    means = class_means(images, labels)
    mean_sheet = SpriteSheet("data-means", to_uint8(np.concatenate([means, [images.mean(axis=0) / 255.0]])), columns=11)
    sample_tiles, sample_labels = sample_digits(images, labels, config.samples_per_class, build.seed)
    samples = SpriteSheet("data-samples", sample_tiles, columns=10)
    z_maps = z_score_maps(images, labels)
    counts, edges = np.histogram(images[images > 0], bins=np.linspace(0, 255, config.histogram_bins + 1))
    items = scored_items(mean_sheet, "class-mean", [*range(10), None], reader, judge,
                         ids=[f"mean-{d}" for d in range(10)] + ["mean-all"])
    items += scored_items(samples, "sample", sample_labels, reader, judge)
    train_counts = np.bincount(labels, minlength=10)
    data = {
        "train_size": len(labels), "test_size": len(dataset.test_labels),
        "train_counts": train_counts.tolist(), "test_counts": np.bincount(dataset.test_labels, minlength=10).tolist(),
        "histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
        "ink_share": round(float((images > 0).mean()), 4), "z_limit": round(float(np.abs(z_maps).max()), 2),
    }
    return PageResult("data", items, [mean_sheet, samples], [Picture("data-zscores", z_map_sheet(z_maps))], data)


def context(result: PageResult) -> dict:
    """Charts and captions of the data page."""
    data, means = result.data, [i for i in result.items if i["kind"] == "class-mean"]
    counts = data["train_counts"]
    return {
        **data, "means": means, "ink_percent": round(100 * data["ink_share"], 1),
        "rarest": counts.index(min(counts)), "commonest": counts.index(max(counts)),
        "means_read_right": {model: sum(i["scores"][model]["predicted"] == i["label"] for i in means[:10])
                             for model in ("reader", "judge")},
        "counts_chart": charts.bar_chart([str(d) for d in range(10)], counts, "Training digits per class",
                                         y_label="digits"),
        "histogram_chart": charts.histogram(data["histogram"]["counts"], data["histogram"]["edges"],
                                            "Intensity of the inked pixels", log_scale=True,
                                            x_label="pixel value (1–255)", y_label="pixels"),
    }
