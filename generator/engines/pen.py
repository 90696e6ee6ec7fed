"""The pen: seed 004's strokes rendered to MNIST-style 28×28 digits, thousands per call.

**Rendering.** The pen puts full ink within a fifth of its width of the stroke's centre line, falling
linearly to nothing at its edge (half its width): ``ink = clip((h - d) / (h - 0.4 h), 0, 1)`` for the
distance ``d`` to the centre line and pen radius ``h``. Digits are drawn on a ``supersample``-times
finer grid and area-averaged down to 28×28. The strokes are resampled every ``SPACING`` px along
their length, and the distance from every fine pixel to the nearest sample is computed for a whole
batch at once: a soft minimum ``-T log Σ exp(-d²/T)`` over the samples, which factorises into
``exp(-Δrow²/T) · exp(-Δcol²/T)``, so that the sum over all samples for all pixels is one batched
matrix product. With ``T = 0.1 px²`` it is within a few hundredths of a pixel of the exact nearest
sample (``render_reference``, per-pixel Python loops, checks this).
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch

from generator.digits import to_uint8
from generator.engines.strokes import FAR, SIDE, Strokes, draw_strokes

SUPERSAMPLE = 4            # drawn on a 112x112 grid, area-averaged to 28x28
SOFTNESS = 0.1             # T of the soft minimum, px²
REACH = 6.5                # px²: squared distances beyond this count as "no ink" (> largest pen radius²)
FULL_INK = 0.4             # full ink within this fraction of the pen radius
CENTRE = 14.0              # MNIST: each digit's centre of mass is moved by whole pixels to (14, 14)
CHUNK = 256                # digits per batched matrix product
# Torch threads while rendering. The work is mostly elementwise arithmetic on medium-sized tensors: on a
# 2-core machine a second thread was 1.5x faster when the machine was idle but 3-5x slower when other
# processes shared the cores (the threads wait on each other at every operation), so one thread is safer.
THREADS = 1


def _axis_weights(coord: torch.Tensor, supersample: int) -> torch.Tensor:
    """``exp((REACH/2 - gap²) / T)`` from every sample coordinate [n,M] to every fine grid line: [n,M,size].

    Only the lines within reach of a sample (a window of ``2·sqrt(REACH)`` px) are computed and the rest
    stay 0; the ``REACH/2`` shift keeps every product of a row and a column factor within float32 range.
    """
    size, half = SIDE * supersample, math.sqrt(REACH) * supersample
    window = int(math.ceil(2 * half)) + 1
    lines = torch.floor(coord * supersample - half)[..., None] + torch.arange(window, dtype=coord.dtype)
    gap = ((lines + 0.5) / supersample - coord[..., None]).square_()
    weights = gap.mul(-1.0 / SOFTNESS).add_(REACH / 2 / SOFTNESS).exp_().mul_(gap < REACH)
    # Lines off the grid land in a margin of ``window`` on either side, cut off afterwards.
    index = lines.long().add_(window).clamp_(0, size + 2 * window - 1)
    dense = coord.new_zeros(*coord.shape, size + 2 * window).scatter_(2, index, weights)
    return dense[..., window:window + size]


def _render_chunk(points: torch.Tensor, pen: torch.Tensor, supersample: int) -> torch.Tensor:
    """Ink [n,28,28] in [0,1] for one chunk of sample points [n,M,2] and pen widths [n]."""
    rows, cols = _axis_weights(points[..., 0], supersample), _axis_weights(points[..., 1], supersample)
    total = torch.bmm(rows.transpose(1, 2), cols)                     # Σ over samples, [n,size,size]
    # Soft-min squared distance to the samples (+inf where none is within reach), then the distance.
    distance = total.log_().mul_(-SOFTNESS).add_(REACH).clamp_(min=0).sqrt_()
    # Pen profile: 1 within FULL_INK·h of the centre line, falling linearly to 0 at h.
    radius = (pen / 2).view(-1, 1, 1)
    ink = distance.div_(-(1 - FULL_INK) * radius).add_(1 / (1 - FULL_INK)).clamp_(0, 1)
    return ink.view(-1, SIDE, supersample, SIDE, supersample).mean(dim=(2, 4))


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """Run torch's CPU operations on ``threads`` threads for a while (None: leave the setting alone)."""
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def render(strokes: Strokes, supersample: int = SUPERSAMPLE, chunk: int = CHUNK,
           threads: int | None = THREADS) -> np.ndarray:
    """Float32 ink [N,28,28] in [0,1] (bright on black), ``chunk`` digits per batched product.

    Each digit's samples are packed to the front and digits with similar sample counts share a chunk,
    so a chunk is only as wide as its busiest digit. ``threads``: torch CPU threads while rendering
    (None keeps torch's setting).
    """
    out = np.zeros((len(strokes.labels), SIDE, SIDE), dtype=np.float32)
    used = strokes.points[..., 0] > FAR / 2
    packed = np.take_along_axis(strokes.points, np.argsort(~used, axis=1, kind="stable")[..., None], axis=1)
    counts = used.sum(axis=1)
    order = np.argsort(counts, kind="stable")
    with torch.no_grad(), _torch_threads(threads):
        for start in range(0, len(order), chunk):
            part = order[start:start + chunk]
            width = max(int(counts[part].max()), 1)
            points = torch.from_numpy(np.ascontiguousarray(packed[part, :width]))
            pen = torch.from_numpy(strokes.pen[part].astype(np.float32))
            out[part] = _render_chunk(points, pen, supersample).numpy()
    return out


def render_reference(strokes: Strokes, supersample: int = SUPERSAMPLE) -> np.ndarray:
    """The same digits, one pixel at a time in plain Python (the seed's way): slow, exact nearest sample.

    For every sample along every stroke, every fine pixel within the pen's reach takes the darker of its
    ink and the pen's ink at that distance; then each 28×28 pixel is the mean of its fine pixels.
    """
    size = SIDE * supersample
    images = np.zeros((len(strokes.labels), SIDE, SIDE), dtype=np.float32)
    for n in range(len(strokes.labels)):
        radius = float(strokes.pen[n]) / 2
        full = FULL_INK * radius
        fine = [[0.0] * size for _ in range(size)]
        for row, col in strokes.points[n].tolist():
            if row < FAR / 2:
                continue
            top = max(0, int((row - radius) * supersample))
            bottom = min(size - 1, int((row + radius) * supersample) + 1)
            left = max(0, int((col - radius) * supersample))
            right = min(size - 1, int((col + radius) * supersample) + 1)
            for i in range(top, bottom + 1):
                y = (i + 0.5) / supersample
                for j in range(left, right + 1):
                    x = (j + 0.5) / supersample
                    distance = math.sqrt((y - row) ** 2 + (x - col) ** 2)
                    if distance >= radius:
                        continue
                    ink = 1.0 if distance <= full else (radius - distance) / (radius - full)
                    if ink > fine[i][j]:
                        fine[i][j] = ink
        for r in range(SIDE):
            for c in range(SIDE):
                total = 0.0
                for i in range(r * supersample, (r + 1) * supersample):
                    for j in range(c * supersample, (c + 1) * supersample):
                        total += fine[i][j]
                images[n, r, c] = total / supersample**2
    return images


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    """(row, col) centre of mass [N,2] of each image's ink, in pixel indices; (14, 14) when blank."""
    ink = images.astype(np.float64)
    mass = ink.sum(axis=(1, 2))
    safe = np.where(mass > 0, mass, 1.0)
    index = np.arange(images.shape[1], dtype=np.float64)
    rows = (ink.sum(axis=2) * index).sum(axis=1) / safe
    cols = (ink.sum(axis=1) * index).sum(axis=1) / safe
    return np.where((mass > 0)[:, None], np.stack([rows, cols], axis=1), CENTRE)


def centre(images: np.ndarray) -> np.ndarray:
    """MNIST's centring: move each image by whole pixels so that its centre of mass is nearest (14, 14)."""
    count, side = images.shape[0], images.shape[1]
    shift = np.rint(CENTRE - centre_of_mass(images)).astype(np.int64).clip(-side + 1, side - 1)
    padded = np.zeros((count, 3 * side, 3 * side), dtype=images.dtype)
    padded[:, side:2 * side, side:2 * side] = images
    rows = np.arange(side)[None, :] + side - shift[:, :1]             # [N,28]
    cols = np.arange(side)[None, :] + side - shift[:, 1:]
    return padded[np.arange(count)[:, None, None], rows[:, :, None], cols[:, None, :]]


def synthesize(labels: np.ndarray | list[int], jitter: float | np.ndarray, rng: np.random.Generator,
               **options) -> tuple[np.ndarray, Strokes]:
    """uint8 digits [N,28,28] (ink 255 on 0) drawn, area-averaged and centred the MNIST way, and their strokes."""
    strokes = draw_strokes(labels, jitter, rng, **options)
    images = to_uint8(render(strokes))
    return (centre(images) if options.get("normalise", True) else images), strokes



def synthesize_batches(labels: np.ndarray, jitter: float, rng: np.random.Generator, batch: int = 10_000) -> np.ndarray:
    """``synthesize`` in batches of ``batch`` digits (bounded memory for any count): uint8 [N,28,28]."""
    parts = [synthesize(labels[start:start + batch], jitter, rng)[0] for start in range(0, len(labels), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, SIDE, SIDE), dtype=np.uint8)

