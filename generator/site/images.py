"""Pixels to PNG files: sprite sheets, colour maps, PNG writing.

Everything here is pure numpy except ``save_png`` (Pillow). Colour maps are hand-coded
few-stop linear interpolations so that the SVG charts (``generator.site.charts``) and the
browser can reproduce them exactly.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

# Sequential map (viridis key colours at 0, .25, .5, .75, 1): dark purple -> yellow.
HEAT_STOPS = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64
)
# Diverging map (RdBu-like) from -limit to +limit: blue -> near-white -> red.
DIVERGING_STOPS = np.array(
    [[33, 102, 172], [103, 169, 207], [247, 247, 247], [239, 138, 98], [178, 24, 43]],
    dtype=np.float64,
)
NAN_GREY = (128, 128, 128)


def sprite_sheet(tiles: np.ndarray, columns: int) -> np.ndarray:
    """Lay tiles ``[N,H,W]`` row-major into one 2-D image, no gaps, unused cells 0."""
    if tiles.ndim != 3 or columns < 1:
        raise ValueError(f"need tiles [N,H,W] and columns >= 1, got {tiles.shape}, {columns}")
    count, height, width = tiles.shape
    rows = math.ceil(count / columns)
    padded = np.zeros((rows * columns, height, width), dtype=tiles.dtype)
    padded[:count] = tiles
    grid = padded.reshape(rows, columns, height, width).transpose(0, 2, 1, 3)
    return grid.reshape(rows * height, columns * width)


def tile_position(index: int, columns: int, tile: int = 28) -> tuple[int, int]:
    """Pixel offset ``(x, y)`` of tile ``index`` in a sprite sheet of ``columns`` columns."""
    row, column = divmod(index, columns)
    return column * tile, row * tile


def _interpolate(t: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Map ``t`` in [0, 1] (NaN allowed) through evenly spaced RGB stops to uint8 ``[...,3]``."""
    positions = np.linspace(0.0, 1.0, len(stops))
    safe = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0)
    rgb = np.stack([np.interp(safe, positions, stops[:, c]) for c in range(3)], axis=-1)
    rgb = np.rint(rgb).astype(np.uint8)
    rgb[np.isnan(t)] = NAN_GREY
    return rgb


def diverging_rgb(values: np.ndarray, limit: float | None = None) -> np.ndarray:
    """2-D map to RGB: blue below 0, near-white at 0, red above; symmetric ``|v| <= limit``."""
    values = np.asarray(values, dtype=np.float64)
    if limit is None:
        finite = np.abs(values[np.isfinite(values)])
        limit = float(finite.max()) if finite.size else 0.0
    scale = limit if limit > 0 else 1.0
    return _interpolate(0.5 + 0.5 * values / scale, DIVERGING_STOPS)


def heat_rgb(values: np.ndarray, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """Sequential (viridis-like) colour map of ``values`` over ``[vmin, vmax]`` to uint8 RGB."""
    values = np.asarray(values, dtype=np.float64)
    span = vmax - vmin if vmax > vmin else 1.0
    return _interpolate((values - vmin) / span, HEAT_STOPS)


def save_png(path: Path, pixels: np.ndarray) -> None:
    """Write 2-D uint8 as greyscale or ``[H,W,3]`` uint8 as RGB PNG (same bytes each time)."""
    if pixels.dtype != np.uint8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise ValueError(f"need uint8 [H,W] or [H,W,3], got {pixels.dtype} {pixels.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(pixels)).save(path, format="PNG", optimize=True)
