"""Owns the training data: the embedded npm digits (and their .npz cache), full-MNIST IDX files, Kaggle CSVs,
the seeded stratified split and the dataset fingerprint. Every bad input raises a one-line InputError."""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import math
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from generator.download import MNIST_MD5, MNIST_MIRRORS, download_mnist
from generator.errors import InputError

__all__ = [
    "Dataset", "load_dataset", "embedded_dataset", "read_idx_dir", "read_kaggle_train_csv",
    "read_kaggle_test_csv", "stratified_split", "download_mnist", "MNIST_MIRRORS", "MNIST_MD5",
]

SIDE = 28
PIXELS = SIDE * SIDE
IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
TEST_FRACTION = 0.2  # embedded 10,000 -> 8,000/2,000; Kaggle train.csv -> 80/20
TRAIN_HEADER = ("label", *(f"pixel{i}" for i in range(PIXELS)))
TEST_HEADER = TRAIN_HEADER[1:]
_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
_CACHE_VERSION = 1
_JSON_TOLERANCE = 0.0005 * 255 + 1e-6  # three decimals of b/255 put v*255 within this of the byte b
_CACHE_ERRORS = (OSError, ValueError, EOFError, KeyError, TypeError, AttributeError, zipfile.BadZipFile, zlib.error)
_INT_FIELD = re.compile(r"\s*[+-]?\d+\s*", re.ASCII)
_LONG_NUMBER = re.compile(r"\d{5}")  # 5+ digits: out of every range, may not fit int16


@dataclass(frozen=True)
class Dataset:
    """A train/test split of 28x28 uint8 digits (ink 255 on a 0 background) with uint8 labels 0-9."""

    name: str
    source: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    fingerprint: str


def _one_line(text: object) -> str:
    """Collapse whitespace (newlines included) so an error message stays on one line."""
    return " ".join(str(text).split())


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """sha256 hex over each array's dtype, shape and bytes, in order."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.data)
    return digest.hexdigest()


def _make_dataset(name: str, source: str, *arrays: np.ndarray) -> Dataset:
    """A Dataset of (train_images, train_labels, test_images, test_labels) with its fingerprint."""
    return Dataset(name, source, *arrays, fingerprint_arrays(*arrays))


def _split_dataset(name: str, source: str, images: np.ndarray, labels: np.ndarray, seed: int) -> Dataset:
    """A Dataset from one labelled pool, split by stratified_split with TEST_FRACTION."""
    train, test = stratified_split(labels, TEST_FRACTION, seed)
    return _make_dataset(name, source, images[train], labels[train], images[test], labels[test])


# ---------------------------------------------------------------- split

def _test_quotas(counts: list[int], test_fraction: float) -> list[int]:
    """Per-class test sizes: exact shares of round(n * fraction), largest remainders first (ties to lower classes)."""
    fraction = Fraction(str(test_fraction))
    shares = [count * fraction for count in counts]
    quotas = [math.floor(share) for share in shares]
    total = math.floor(sum(counts) * fraction + Fraction(1, 2))
    by_remainder = sorted(range(len(counts)), key=lambda i: (quotas[i] - shares[i], i))
    for i in by_remainder[: total - sum(quotas)]:
        quotas[i] += 1
    return quotas


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class split of indices into sorted (train_idx, test_idx); the test part has round(n * fraction)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    rng = np.random.default_rng(seed)
    picked = [np.empty(0, np.int64)]
    for cls, quota in zip(classes, _test_quotas(counts.tolist(), test_fraction)):
        picked.append(rng.permutation(np.flatnonzero(labels == cls))[:quota])
    in_test = np.zeros(len(labels), bool)
    in_test[np.concatenate(picked)] = True
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


# ---------------------------------------------------------------- embedded npm digits

def _mnist_package(node_modules: Path) -> tuple[Path, str]:
    """The npm mnist package's digits directory and version; InputError saying to run npm ci when it is absent."""
    package = Path(node_modules) / "mnist"
    digits = package / "src" / "digits"
    if not digits.is_dir():
        raise InputError(package, "npm package mnist is not installed (run `npm ci`)")
    try:
        version = str(json.loads((package / "package.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError):
        version = "unknown"
    return digits, version


def _decode_digit_file(path: Path) -> np.ndarray:
    """One digits/N.json as uint8 [n,28,28], checking each value is a byte/255 rounded to three decimals."""
    try:
        values = np.asarray(json.loads(path.read_bytes())["data"], dtype=np.float64)
    except FileNotFoundError:
        raise InputError(path, "missing file (run `npm ci`)") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {_one_line(exc.strerror or exc)}") from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise InputError(path, f'expected {{"data": [numbers]}} ({_one_line(exc)})') from None
    if values.ndim != 1 or values.size == 0 or values.size % PIXELS:
        raise InputError(path, f"{values.size} values, not a positive multiple of {PIXELS}")
    nearest = np.round(values * 255)
    good = (np.abs(values * 255 - nearest) <= _JSON_TOLERANCE) & (values >= 0) & (values <= 1)
    if not good.all():
        i = int(np.flatnonzero(~good)[0])
        raise InputError(path, f"value {float(values[i])!r} at index {i} is not a pixel byte/255 to three decimals")
    return nearest.astype(np.uint8).reshape(-1, SIDE, SIDE)


def _decode_embedded(digits: Path) -> tuple[np.ndarray, np.ndarray]:
    """All ten digit files as (images, labels), class 0 first, in file order."""
    parts = [_decode_digit_file(digits / f"{digit}.json") for digit in range(10)]
    labels = np.concatenate([np.full(len(part), digit, np.uint8) for digit, part in enumerate(parts)])
    return np.concatenate(parts), labels


def _cache_path(cache_dir: Path, version: str, seed: int) -> Path:
    """Where the decoded, split embedded digits for this package version and seed are cached."""
    version = re.sub(r"[^\w.-]", "_", version)
    return Path(cache_dir) / f"mnist-npm-{version}-seed{seed}-v{_CACHE_VERSION}.npz"


def _valid_split(arrays: dict[str, np.ndarray]) -> bool:
    """Whether cached arrays have the shapes, dtypes and label range of a split."""
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.dtype != np.uint8 or labels.dtype != np.uint8 or images.shape[1:] != (SIDE, SIDE):
            return False
        if labels.shape != images.shape[:1] or (labels.size and labels.max() > 9):
            return False
    return True


def _load_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached split, or None when there is none; a damaged cache file is deleted."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as file, np.load(file, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in _ARRAYS}
        if _valid_split(arrays):
            return arrays
    except _CACHE_ERRORS:
        pass
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def _save_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the split as a compressed .npz atomically (temp file, then rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise InputError(path.parent, f"cannot write data cache: {_one_line(exc.strerror or exc)}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez_compressed(out, **arrays)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as exc:
        raise InputError(path, f"cannot write data cache: {_one_line(exc.strerror or exc)}") from None
    finally:
        Path(temp).unlink(missing_ok=True)


def embedded_dataset(node_modules: Path, cache_dir: Path, seed: int = 0) -> Dataset:
    """The npm mnist digits split 8,000/2,000 (stratified, seeded), read from the .npz cache when it is intact."""
    digits, version = _mnist_package(node_modules)
    cache = _cache_path(cache_dir, version, seed)
    arrays = _load_cache(cache)
    if arrays is None:
        images, labels = _decode_embedded(digits)
        train, test = stratified_split(labels, TEST_FRACTION, seed)
        arrays = dict(zip(_ARRAYS, (images[train], labels[train], images[test], labels[test])))
        _save_cache(cache, arrays)
    total = len(arrays["train_labels"]) + len(arrays["test_labels"])
    source = f"npm mnist@{version} (first {total:,} MNIST training digits)"
    return _make_dataset("embedded", source, *(arrays[key] for key in _ARRAYS))


# ---------------------------------------------------------------- IDX files

def _find_idx_file(directory: Path, stem: str) -> Path:
    """The file for one standard IDX name: plain or .gz, also the dotted spelling (t10k-images.idx3-ubyte)."""
    dotted = stem.replace("-idx", ".idx")
    names = (stem, f"{stem}.gz", dotted, f"{dotted}.gz")
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise InputError(directory / stem, f"missing file (looked for {', '.join(names)})")


def _read_maybe_gzip(path: Path) -> bytes:
    """A file's bytes, gunzipped when they start with the gzip magic (whatever the name says)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {_one_line(exc.strerror or exc)}") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(path, f"corrupt gzip data ({_one_line(exc)})") from None


def _read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """An IDX file's uint8 payload shaped by its header, after checking magic number, 28x28 and exact length."""
    data = _read_maybe_gzip(path)
    ndim = expected_magic & 0xFF
    kind = "images" if ndim == 3 else "labels"
    header_size = 4 + 4 * ndim
    magic = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if magic is not None and magic != expected_magic:
        raise InputError(path, f"bad magic number {magic} (expected {expected_magic} for {kind})")
    if len(data) < header_size:
        raise InputError(path, f"truncated: {len(data)} bytes, shorter than the {header_size}-byte IDX header")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if dims[1:] not in ((), (SIDE, SIDE)):
        raise InputError(path, f"images are {dims[1]}x{dims[2]} (expected {SIDE}x{SIDE})")
    if dims[0] == 0:
        raise InputError(path, f"no {kind} (header count is 0)")
    size = header_size + math.prod(dims)
    if len(data) < size:
        raise InputError(path, f"truncated: {len(data):,} bytes, header declares {size:,}")
    if len(data) > size:
        raise InputError(path, f"{len(data) - size:,} trailing bytes after the {size:,} the header declares")
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(dims).copy()


def _read_idx_pair(image_path: Path, label_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from two IDX files, checking counts agree and labels are 0-9."""
    images, labels = _read_idx(image_path, IMAGE_MAGIC), _read_idx(label_path, LABEL_MAGIC)
    if len(images) != len(labels):
        raise InputError(label_path, f"{len(labels):,} labels but {image_path.name} has {len(images):,} images")
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise InputError(label_path, f"label value {labels[bad[0]]} at index {bad[0]} out of range 0-9")
    return images, labels


def read_idx_dir(directory: Path) -> Dataset:
    """The four standard MNIST IDX files in a directory (plain or .gz) as their own train/test split."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "not a directory")
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    paths = [_find_idx_file(directory, stem) for stem in stems]
    train, test = _read_idx_pair(*paths[:2]), _read_idx_pair(*paths[2:])
    return _make_dataset("idx", str(directory), *train, *test)


# ---------------------------------------------------------------- Kaggle CSV

def _read_lines(path: Path) -> list[str]:
    """A text file's lines (UTF-8, BOM tolerated)."""
    try:
        return Path(path).read_bytes().decode("utf-8-sig").splitlines()
    except OSError as exc:
        raise InputError(path, f"cannot read: {_one_line(exc.strerror or exc)}") from None
    except UnicodeDecodeError:
        raise InputError(path, "not a UTF-8 text file") from None


def _check_header(path: Path, line: str, header: tuple[str, ...]) -> None:
    """InputError unless line is exactly the expected CSV header."""
    fields = [field.strip().strip('"') for field in line.split(",")]
    if fields == list(header):
        return
    expected = f"{header[0]},{header[1]},...,{header[-1]}"
    if not line.strip() or _INT_FIELD.fullmatch(fields[0]):
        raise InputError(f"{path} line 1", f"missing header row (expected {expected})")
    if len(fields) != len(header):
        raise InputError(f"{path} line 1", f"header has {len(fields)} columns (expected {len(header)}: {expected})")
    column = next(i for i, (got, want) in enumerate(zip(fields, header)) if got != want)
    raise InputError(f"{path} line 1", f"header column {column + 1} is {fields[column][:40]!r} (expected {header[column]!r})")


def _range_problem(name: str, value: object) -> str:
    """The message for a value outside its column's range (labels 0-9, pixels 0-255)."""
    if name == "label":
        return f"label value {value} out of range 0-9"
    return f"pixel value {value} out of range 0-255 (column {name})"


def _field_problem(line: str, header: tuple[str, ...]) -> str | None:
    """What is wrong with a line's first bad field: not an integer, or too many digits to fit any range."""
    for name, field in zip(header, line.split(",")):
        if not _INT_FIELD.fullmatch(field):
            return f"{name} value {field.strip()[:40]!r} is not an integer"
        if len(field.strip().lstrip("+-").lstrip("0")) > 4:
            return _range_problem(name, field.strip()[:40])
    return None


def _plain_digits(line: str) -> bool:
    """Whether a line is only non-empty fields of ASCII digits (the common case, cheap to check)."""
    digits = line.replace(",", "")
    return digits.isascii() and digits.isdigit() and ",," not in line and line[0] != "," and line[-1] != ","


def _row_problem(path: Path, rows: list[str], header: tuple[str, ...]) -> InputError | None:
    """The first row with an empty line, the wrong column count or a bad field, as an InputError naming its line."""
    for number, line in enumerate(rows, start=2):
        columns = line.count(",") + 1
        if not line.strip():
            return InputError(f"{path} line {number}", "empty line")
        if columns != len(header):
            return InputError(f"{path} line {number}", f"{columns} columns (expected {len(header)})")
        if not _plain_digits(line) and (problem := _field_problem(line, header)):
            return InputError(f"{path} line {number}", problem)
    for number, line in enumerate(rows, start=2):  # plain digits can still overflow int16
        if _LONG_NUMBER.search(line) and (problem := _field_problem(line, header)):
            return InputError(f"{path} line {number}", problem)
    return None


def _read_int_csv(path: Path, header: tuple[str, ...]) -> np.ndarray:
    """The int16 rows of a CSV with exactly this header; line numbers in errors count the header as line 1."""
    lines = _read_lines(path)
    _check_header(path, lines[0] if lines else "", header)
    rows = lines[1:]
    while rows and not rows[-1].strip():
        rows.pop()
    if not rows:
        raise InputError(path, "no data rows after the header")
    try:
        values = np.loadtxt(rows, delimiter=",", dtype=np.int16, comments=None, ndmin=2)
        failure = f"shape {values.shape}"
    except (ValueError, OverflowError) as exc:
        values, failure = None, _one_line(exc)
    if values is not None and values.shape == (len(rows), len(header)):
        return values
    raise _row_problem(path, rows, header) or InputError(path, f"cannot parse as integers: {failure}")


def _check_ranges(path: Path, values: np.ndarray, header: tuple[str, ...]) -> np.ndarray:
    """The values, after an InputError naming the line and column of the first label or pixel out of range."""
    highs = np.array([9 if name == "label" else 255 for name in header])
    bad = np.argwhere((values < 0) | (values > highs))
    if bad.size:
        row, column = bad[0]
        raise InputError(f"{path} line {row + 2}", _range_problem(header[column], values[row, column]))
    return values


def read_kaggle_train_csv(path: Path, seed: int = 0) -> Dataset:
    """A Kaggle train.csv (label,pixel0..pixel783) split 80/20, stratified and seeded."""
    values = _check_ranges(path, _read_int_csv(path, TRAIN_HEADER), TRAIN_HEADER).astype(np.uint8)
    return _split_dataset("csv", str(path), values[:, 1:].reshape(-1, SIDE, SIDE), values[:, 0].copy(), seed)


def read_kaggle_test_csv(path: Path) -> np.ndarray:
    """A Kaggle test.csv (pixel0..pixel783, no label) as uint8 [N,28,28]."""
    values = _check_ranges(path, _read_int_csv(path, TEST_HEADER), TEST_HEADER)
    return values.astype(np.uint8).reshape(-1, SIDE, SIDE)


# ---------------------------------------------------------------- dispatch

def load_dataset(source: str | Path | None, cache_dir: Path, *, node_modules: Path, seed: int = 0) -> Dataset:
    """The data --data names: None -> embedded npm digits, a directory -> IDX files, a .csv file -> Kaggle train.csv."""
    if source is None:
        return embedded_dataset(node_modules, cache_dir, seed)
    path = Path(source)
    if path.is_dir():
        return read_idx_dir(path)
    if not path.exists():
        raise InputError(path, "no such file or directory")
    if path.suffix.lower() == ".csv":
        return read_kaggle_train_csv(path, seed)
    raise InputError(path, "expected a directory of MNIST IDX files or a Kaggle train.csv file")
