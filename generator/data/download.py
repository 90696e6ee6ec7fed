"""Opt-in download of the four full-MNIST IDX files: mirrors in order, md5 verified before a file takes its name."""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from generator.errors import InputError, one_line

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
_CHUNK = 1 << 20



def file_md5(path: Path) -> str:
    """The md5 hex digest of a file's bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _has_md5(path: Path, expected: str) -> bool:
    """Whether path is a readable file whose md5 is expected."""
    try:
        return path.is_file() and file_md5(path) == expected.lower()
    except OSError:
        return False


def _fetch_verified(url: str, final: Path, expected: str, timeout: float) -> str | None:
    """Download url to a temp file beside final, rename it there if the md5 matches; return the problem or None."""
    try:
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    except OSError as exc:
        raise InputError(final.parent, f"cannot write: {one_line(exc.strerror or exc)}") from None
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if got != expected.lower():
            return f"checksum mismatch: expected {expected.lower()} got {got}"
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        return None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return one_line(exc) or type(exc).__name__
    finally:
        tmp.unlink(missing_ok=True)


def _download_one(name: str, dest_dir: Path, mirrors: Sequence[str], expected: str, timeout: float) -> None:
    """Fetch one file from the first mirror that serves it with the right checksum, or raise InputError."""
    failures = []
    for mirror in mirrors:
        url = (mirror if mirror.endswith("/") else mirror + "/") + name
        problem = _fetch_verified(url, dest_dir / name, expected, timeout)
        if problem is None:
            return
        failures.append((url, problem))
    if len(failures) == 1:
        raise InputError(*failures[0])
    detail = "; ".join(f"{url}: {problem}" for url, problem in failures) or "no mirrors given"
    raise InputError(dest_dir / name, f"all mirrors failed: {detail}")


def download_mnist(
    dest_dir: Path,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    checksums: Mapping[str, str] = MNIST_MD5,
    timeout: float = 30,
) -> Path:
    """Make dest_dir hold every file in checksums with its md5, downloading what is missing or wrong; returns it."""
    dest_dir = Path(dest_dir)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(dest_dir, f"cannot create directory: {one_line(exc.strerror or exc)}") from None
    for name, expected in checksums.items():
        path = dest_dir / name
        if _has_md5(path, expected):
            continue
        _download_one(name, dest_dir, mirrors, expected, timeout)
    return dest_dir
