"""The ``classify`` subcommand: digits in PNG files or a Kaggle test.csv, through the exported ONNX reader."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from generator.data import read_kaggle_test_csv
from generator.data.preprocess import load_image, mnist_style
from generator.errors import InputError


def session(model: Path) -> ort.InferenceSession:
    """An onnxruntime session for the reader, or a one-line error when the file is missing or broken."""
    if not model.exists():
        raise InputError(model, "no such model; run `make site` first or pass --model")
    try:
        return ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises several unrelated types for a bad file
        raise InputError(model, f"not a usable ONNX model ({type(error).__name__})") from None


def probabilities(sess: ort.InferenceSession, batch: np.ndarray) -> np.ndarray:
    """Softmax of the reader's logits for float32 [N,1,28,28] inputs (ink 1.0)."""
    (logits,) = sess.run(None, {sess.get_inputs()[0].name: batch.astype(np.float32)})
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def classify_images(sess: ort.InferenceSession, paths: list[Path]) -> list[tuple[Path, int, float]]:
    """(path, digit, confidence) for each image file, after MNIST-style preprocessing."""
    if not paths:
        return []
    batch = np.stack([mnist_style(load_image(p)) for p in paths])[:, None]
    probs = probabilities(sess, batch)
    return [(p, int(row.argmax()), float(row.max())) for p, row in zip(paths, probs)]


def classify_csv(sess: ort.InferenceSession, csv_path: Path, out: Path) -> int:
    """Write a Kaggle submission (ImageId,Label) for a test.csv; returns the number of rows."""
    images = read_kaggle_test_csv(csv_path)
    labels = probabilities(sess, images[:, None].astype(np.float32) / 255.0).argmax(axis=1)
    lines = ["ImageId,Label", *(f"{i},{label}" for i, label in enumerate(labels, start=1))]
    try:
        out.write_text("\n".join(lines) + "\n")
    except OSError as error:
        raise InputError(out, f"cannot write submission ({error.strerror})") from None
    return len(labels)
