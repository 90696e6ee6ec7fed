"""The ``synth`` subcommand's helpers: which digits, where to write, the .npz and the contact sheet."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np

from generator.cache import atomic_write
from generator.errors import InputError
from generator.site.images import sprite_sheet


def check_writable(path: Path, option: str) -> None:
    """InputError unless ``path`` can be written: an existing, writable folder and not itself a folder."""
    if path.is_dir():
        raise InputError(path, f"{option} is a folder, not a file")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(path, f"{option}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(path, f"{option}: cannot write in {folder}")


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write a compressed .npz at exactly ``path`` (no suffix added), atomically; OSError → InputError."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    try:
        atomic_write(path, buffer.getvalue())
    except OSError as error:
        raise InputError(path, f"cannot write: {error.strerror or error}") from None


def contact_sheet(images: np.ndarray, columns: int, scale: int = 2) -> np.ndarray:
    """Digits side by side, ``columns`` wide, each pixel enlarged ``scale`` times (for eyes, not models)."""
    sheet = sprite_sheet(images, columns)
    return np.kron(sheet, np.ones((scale, scale), dtype=np.uint8))


def parse_digits(spec: str) -> list[int]:
    """``"0-9"``, ``"3"``, ``"1,4,7"`` or ``"0-4,7"`` → sorted distinct digits; ValueError otherwise."""
    digits: set[int] = set()
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d)\s*(?:-\s*(\d)\s*)?", part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a digit 0-9 or a range like 0-9")
        low, high = int(match[1]), int(match[2] if match[2] is not None else match[1])
        if high < low:
            raise ValueError(f"range {low}-{high} runs backwards")
        digits.update(range(low, high + 1))
    return sorted(digits)
