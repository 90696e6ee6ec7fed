"""MNIST-style preprocessing of an arbitrary drawing or photo, and reading image files.

``mnist_style`` is the one algorithm shared by the Python ``classify`` command and the
browser drawing pad (JavaScript), so every step is plain arithmetic that JS reproduces:

1. Scale to float in [0, 1] (uint8 / 255; floats clipped). Invert (``1 - v``) when asked, or,
   when ``invert`` is None, when the mean of the border pixels (first and last row and
   column) is above 0.5: dark ink on light paper becomes light ink on black.
2. Pixels >= 0.05 count as ink, only to find the bounding box; no ink -> all zeros.
3. Crop to the ink's bounding box (keeping every pixel value inside it).
4. Resize so that the longer side is 20 px; the shorter side is ``max(1, floor(s * 20 / L + 0.5))``
   (JS ``Math.round``). Each output pixel is the area-weighted mean of the input pixels it
   covers, with fractional coverage at its edges (separable: rows, then columns).
5. Centre of mass (cy, cx) of the resized image in pixel-index coordinates; paste it into a
   28x28 zero canvas at offset ``floor(14 - c + 0.5 - 1e-6)`` per axis, dropping pixels that fall
   outside. The ink's centre of mass then lies within half a pixel of index (14, 14).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from generator.errors import InputError

SIZE = 28
BOX = 20
INK_THRESHOLD = 0.05
TIE = 1e-6  # a centre of mass exactly on a half pixel (a straight stroke's) rounds down, whatever the float noise


def _to_unit(gray: np.ndarray) -> np.ndarray:
    """A 2-D uint8 or float image as float64 in [0, 1]."""
    if gray.ndim != 2:
        raise ValueError(f"need a 2-D grey image, got shape {gray.shape}")
    if gray.dtype == np.uint8:
        return gray.astype(np.float64) / 255.0
    return np.clip(gray.astype(np.float64), 0.0, 1.0)


def _border_mean(image: np.ndarray) -> float:
    """Mean of the pixels on the image's outer frame."""
    mask = np.ones(image.shape, dtype=bool)
    mask[1:-1, 1:-1] = False
    return float(image[mask].mean())


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """Matrix ``[n_out, n_in]``: row i holds each input pixel's coverage of output pixel i, summing to 1."""
    scale = n_in / n_out
    starts = np.arange(n_out)[:, None] * scale
    pixels = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(starts + scale, pixels + 1) - np.maximum(starts, pixels), 0.0, None)
    return overlap / scale


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted mean (row, column) in pixel-index coordinates."""
    total = image.sum()
    rows = np.arange(image.shape[0]) @ image.sum(axis=1) / total
    cols = np.arange(image.shape[1]) @ image.sum(axis=0) / total
    return float(rows), float(cols)


def mnist_style(gray: np.ndarray, *, invert: bool | None = None) -> np.ndarray:
    """Any 2-D grey image to a float32 28x28 MNIST-style digit, ink 1.0 on 0.0 (steps above)."""
    image = _to_unit(np.asarray(gray))
    if invert is None:
        invert = _border_mean(image) > 0.5
    if invert:
        image = 1.0 - image
    ink = image >= INK_THRESHOLD
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    if not ink.any():
        return canvas
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    height, width = crop.shape
    longer = max(height, width)
    new_h, new_w = (max(1, math.floor(side * BOX / longer + 0.5)) for side in (height, width))
    small = _area_weights(height, new_h) @ crop @ _area_weights(width, new_w).T
    cy, cx = _centre_of_mass(small)
    top, left = math.floor(SIZE / 2 - cy + 0.5 - TIE), math.floor(SIZE / 2 - cx + 0.5 - TIE)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + new_h, SIZE), min(left + new_w, SIZE)
    canvas[y0:y1, x0:x1] = small[y0 - top:y1 - top, x0 - left:x1 - left]
    return canvas


def load_image(path: Path) -> np.ndarray:
    """Any Pillow-readable image as 2-D float32 grey in [0, 1], transparency composited on white."""
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGBA")
    except UnidentifiedImageError:
        raise InputError(path, "not an image: unrecognised file format") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(path, f"not an image: {reason}") from None
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    grey = Image.alpha_composite(white, image).convert("L")
    return np.asarray(grey, dtype=np.float32) / 255.0
