"""The hard-digits page (seeds 003, 004): the reader's mistakes, suspect training labels, and the closest calls.

Label-issue candidates come from out-of-fold probabilities (K-fold cross-validation
of small readers) and the confident-learning rule: a digit is a candidate when its
given label's probability is below that class's average self-confidence while some
other class's probability reaches that other class's threshold.
"""
from __future__ import annotations

import io
import time
from dataclasses import asdict

import numpy as np
import torch

from generator import charts
from generator.cache import Entry, code_hash, digest
from generator.data import Dataset
from generator.evaluation import confusion_matrix
from generator.gallery import PageResult, RunContext, SpriteSheet, scored_items
from generator.models import Models
from generator.networks import Reader
from generator.training import TrainConfig, images_to_tensor, predict_proba, train_classifier

FOLDS = 4
CV_TRAIN = TrainConfig(epochs=5, seed=11)
QUICK_CV_TRAIN = TrainConfig(epochs=1, seed=11)
QUICK_CV_SIZE = 1200
SHOWN_LABEL_ISSUES = 40
CLOSE_CALLS = 30


def fold_of(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Seeded stratified fold number (0..folds-1) of every digit."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        fold[members] = np.arange(len(members)) % folds
    return fold


def out_of_fold_probabilities(images: np.ndarray, labels: np.ndarray, config: TrainConfig, device: torch.device,
                              seed: int) -> np.ndarray:
    """Probabilities [N,10] for every digit from a reader that never saw it (K-fold cross-validation)."""
    x, y = images_to_tensor(images), torch.from_numpy(labels.astype(np.int64))
    fold = fold_of(labels, FOLDS, seed)
    probs = np.zeros((len(labels), 10))
    for k in range(FOLDS):
        held = torch.from_numpy(fold == k)
        torch.manual_seed(config.seed + k)
        model = Reader()
        train_classifier(model, (x[~held], y[~held]), (x[held], y[held]), config, device, f"cross-validation {k + 1}/{FOLDS}")
        probs[fold == k] = predict_proba(model.cpu(), x[held])
    return probs


def label_issues(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confident-learning candidates: (indices ranked most contradicted first, suggested labels, thresholds)."""
    thresholds = np.array([probs[labels == d, d].mean() for d in range(10)])
    given = probs[np.arange(len(labels)), labels]
    confident = probs >= thresholds[None, :]
    confident[np.arange(len(labels)), labels] = False
    candidate = (given < thresholds[labels]) & confident.any(axis=1)
    suggested = np.where(confident, probs, -1.0).argmax(axis=1)
    contradiction = probs[np.arange(len(labels)), suggested] - given
    ranked = np.flatnonzero(candidate)[np.argsort(-contradiction[candidate], kind="stable")]
    return ranked, suggested, thresholds


def cached_out_of_fold(dataset: Dataset, context: RunContext) -> tuple[np.ndarray, np.ndarray, float]:
    """Out-of-fold probabilities and the indices they cover, from the cache or computed (with seconds taken)."""
    config = QUICK_CV_TRAIN if context.quick else CV_TRAIN
    count = min(QUICK_CV_SIZE, len(dataset.train_labels)) if context.quick else len(dataset.train_labels)
    indices = np.sort(np.random.default_rng(context.seed).permutation(len(dataset.train_labels))[:count])
    key = digest(dataset.fingerprint, asdict(config), count, context.seed, FOLDS, code_hash("hard", "networks", "training"))
    entry = Entry(context.cache, f"oof-{key}", "npz")
    hit = entry.load()
    if hit is not None:
        with np.load(io.BytesIO(hit[0])) as npz:
            return npz["probs"], indices, hit[1]["seconds"]
    started = time.perf_counter()
    probs = out_of_fold_probabilities(dataset.train_images[indices], dataset.train_labels[indices], config,
                                      torch.device(context.device), context.seed)
    seconds = time.perf_counter() - started
    buffer = io.BytesIO()
    np.savez_compressed(buffer, probs=probs)
    entry.store(buffer.getvalue(), {"seconds": seconds, "count": count})
    return probs, indices, seconds


def misclassified(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Wrongly read digits, grouped by true label, most confidently wrong first."""
    predicted = probs.argmax(1)
    wrong = np.flatnonzero(predicted != labels)
    return wrong[np.lexsort((-probs[wrong].max(1), labels[wrong]))]


def closest_calls(probs: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Correctly read digits with the smallest margin between the top two classes."""
    top2 = np.sort(probs, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    right = np.flatnonzero(probs.argmax(1) == labels)
    return right[np.argsort(margin[right], kind="stable")[:count]]


def annotate(items: list[dict], indices: np.ndarray, probs: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> list[dict]:
    """Add the data-set index, the reader's prediction and any extra per-item fields to manifest items."""
    for n, (item, index) in enumerate(zip(items, indices)):
        item["index"] = int(index)
        item["predicted"] = int(probs[n].argmax())
        for name, values in (extra or {}).items():
            item[name] = values[n].item() if hasattr(values[n], "item") else values[n]
    return items


def run(models: Models, dataset: Dataset, context: RunContext) -> PageResult:
    """Find the reader's mistakes, suspicious training labels and closest calls."""
    reader, judge = models.reader.module, models.judge.module
    test_probs = predict_proba(reader, images_to_tensor(dataset.test_images))
    labels = dataset.test_labels.astype(np.int64)
    wrong = misclassified(test_probs, labels)
    close = closest_calls(test_probs, labels, CLOSE_CALLS)
    oof, covered, cv_seconds = cached_out_of_fold(dataset, context)
    covered_labels = dataset.train_labels[covered].astype(np.int64)
    ranked, suggested, thresholds = label_issues(oof, covered_labels)
    shown = ranked[:SHOWN_LABEL_ISSUES]

    wrong_sheet = SpriteSheet("hard-misclassified", dataset.test_images[wrong])
    close_sheet = SpriteSheet("hard-close-calls", dataset.test_images[close])
    issue_sheet = SpriteSheet("hard-label-issues", dataset.train_images[covered[shown]])
    items = annotate(scored_items(wrong_sheet, "misclassified", labels[wrong].tolist(), reader, judge,
                                  ids=[f"test-{i}" for i in wrong]), wrong, test_probs[wrong])
    items += annotate(scored_items(close_sheet, "close-call", labels[close].tolist(), reader, judge,
                                   ids=[f"test-{i}" for i in close]), close, test_probs[close])
    items += annotate(scored_items(issue_sheet, "label-issue", covered_labels[shown].tolist(), reader, judge,
                                   ids=[f"train-{covered[i]}" for i in shown]), covered[shown], oof[shown],
                      {"suggested": suggested[shown], "p_given": oof[shown, covered_labels[shown]].round(4),
                       "p_suggested": oof[shown, suggested[shown]].round(4)})
    seen_cells = set()
    for item in items:
        if item["kind"] == "label-issue":
            item["predicted"] = item["suggested"]
        if item["kind"] == "misclassified" and (item["label"], item["predicted"]) not in seen_cells:
            seen_cells.add((item["label"], item["predicted"]))
            item["anchor"] = f"miss-{item['label']}-{item['predicted']}"
    matrix = confusion_matrix(labels, test_probs.argmax(1))
    confusion = charts.heatmap(matrix, "Reader's confusion matrix on held-out digits", row_labels=[str(d) for d in range(10)],
                               col_labels=[str(d) for d in range(10)], row_title="true", col_title="predicted",
                               vmin=0, vmax=float(max(matrix[~np.eye(10, dtype=bool)].max(), 1) * 2),
                               links=lambda t, p: f"#miss-{t}-{p}" if t != p and matrix[t, p] else None)
    judge_agrees = sum(i["scores"]["judge"]["predicted"] == i["predicted"] for i in items if i["kind"] == "misclassified")
    context_data = {
        "test_size": int(len(labels)), "misclassified": int(len(wrong)), "judge_same_mistake": int(judge_agrees),
        "judge_right": int(sum(i["scores"]["judge"]["predicted"] == i["label"] for i in items if i["kind"] == "misclassified")),
        "label_issue_count": int(len(ranked)), "cv_size": int(len(covered)), "cv_folds": FOLDS,
        "cv_seconds": round(cv_seconds, 1), "cv_accuracy": round(float((oof.argmax(1) == covered_labels).mean()), 4),
        "thresholds": [round(float(t), 3) for t in thresholds], "shown_label_issues": int(len(shown)),
        "confusion_chart": confusion, "full_mnist": dataset.name == "idx",
        "flagged_test_indices": [int(i) for i in wrong], "flagged_train_indices": [int(covered[i]) for i in ranked],
        "groups": [{"digit": d, "count": int((labels[wrong] == d).sum())} for d in range(10)],
    }
    return PageResult("hard", items, [wrong_sheet, close_sheet, issue_sheet], [], context_data)
