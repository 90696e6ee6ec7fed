"""Full MNIST as the four standard IDX files (plain or gzipped), each checked before use."""
from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from generator.data.dataset import SIDE, Dataset, Origin, make_dataset
from generator.errors import InputError, one_line

IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension


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
        raise InputError(path, f"cannot read: {one_line(exc.strerror or exc)}") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(path, f"corrupt gzip data ({one_line(exc)})") from None


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
    origins = (Origin("train", np.arange(len(train[1]))), Origin("test", np.arange(len(test[1]))))
    return make_dataset("idx", str(directory), (*train, *test), origins)
