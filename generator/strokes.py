"""Seed 004's Bézier-stroke digits, drawn as MNIST would have scanned them, thousands per call.

**Strokes.** Every digit 0–9 is a handful of quadratic and cubic Bézier strokes through the seed's
per-digit control points (``(row, col)`` in pixels of the 28×28 image). Each point moves by a random
offset within the jitter radius (uniform radius, uniform angle, as in the seed; some digits scale the
radius, as the seed did). Strokes that "should" be straight are quadratics whose middle control point
moves from the chord's midpoint by at most ``min(jitter, chord / k)`` with the seed's per-stroke ``k``,
so that jitter 0 draws the template exactly. Optional parts keep the seed's probabilities: the 1's
flag (1/2) and then its base (1/2), the 7's hook (0.15) and dash (0.10), the alternate 4 (0.15).
Pen widths are uniform in the seed's ranges (2.8 or 3.2 to 5 px).

**Rendering.** The pen puts full ink within a fifth of its width of the stroke's centre line, falling
linearly to nothing at its edge (half its width): ``ink = clip((h - d) / (h - 0.4 h), 0, 1)`` for the
distance ``d`` to the centre line and pen radius ``h``. Digits are drawn on a ``supersample``-times
finer grid and area-averaged down to 28×28. The strokes are resampled every ``SPACING`` px along
their length, and the distance from every fine pixel to the nearest sample is computed for a whole
batch at once: a soft minimum ``-T log Σ exp(-d²/T)`` over the samples, which factorises into
``exp(-Δrow²/T) · exp(-Δcol²/T)``, so that the sum over all samples for all pixels is one batched
matrix product. With ``T = 0.1 px²`` it is within a few hundredths of a pixel of the exact nearest
sample (``render_reference``, per-pixel Python loops, checks this).

**MNIST conventions.** Drawn at the seed's coordinates the digits are about 18 px tall and sit a pixel
high. So, as MNIST did with its scans, each digit is scaled (pen width kept) so that the longer side of
its ink is 20 px (``fit_box``), and after rendering moved by whole pixels so that its centre of mass is
nearest pixel (14, 14) (``centre``). Ink is bright (255) on black (0).
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from generator.cache import atomic_write
from generator.errors import InputError
from generator.render import sprite_sheet

SIDE = 28
SUPERSAMPLE = 4            # drawn on a 112x112 grid, area-averaged to 28x28
SPACING = 0.5              # px between samples along a stroke
SOFTNESS = 0.1             # T of the soft minimum, px²
REACH = 6.5                # px²: squared distances beyond this count as "no ink" (> largest pen radius²)
FINE_STEPS = 96            # polyline segments per stroke before resampling by arc length
FAR = -1000.0              # where the samples of strokes that are not drawn go
FULL_INK = 0.4             # full ink within this fraction of the pen radius
BOX = 20.0                 # MNIST: the longer side of every digit fits a 20x20 box...
CENTRE = 14.0              # ...and its centre of mass sits on pixel (14, 14), moved by whole pixels
MOST_ENLARGED = 3.0        # a digit squashed to a dot is not blown up more than this
CHUNK = 256                # digits per batched matrix product
# Torch threads while rendering. The work is mostly elementwise arithmetic on medium-sized tensors: on a
# 2-core machine a second thread was 1.5x faster when the machine was idle but 3-5x slower when other
# processes shared the cores (the threads wait on each other at every operation), so one thread is safer.
THREADS = 1

# Style bits: which optional parts a digit has.
FLAG, BAR, ALTERNATE = 1, 2, 4
STYLE_NAMES = {FLAG: "flag/hook", BAR: "base/dash", ALTERNATE: "open 4"}


# --------------------------------------------------------------------------------------------------
# Strokes: the seed's templates, jittered, as cubic Bézier control points for many digits at once.

def _cubic_from_line(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A straight line as cubic control points [n,4,2]."""
    return np.stack([a, a + (b - a) / 3, a + 2 * (b - a) / 3, b], axis=1)


def _cubic_from_quadratic(a: np.ndarray, c: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A quadratic Bézier (control point ``c``) raised to an exactly equal cubic [n,4,2]."""
    return np.stack([a, a + 2 * (c - a) / 3, b + 2 * (c - b) / 3, b], axis=1)


class _Hand:
    """Draws one class's strokes for ``n`` digits at once; every random choice is an array of ``n``."""

    def __init__(self, rng: np.random.Generator, jitter: np.ndarray, styles: bool) -> None:
        self.rng, self.jitter, self.styles = rng, jitter, styles
        self.n = len(jitter)
        self.strokes: list[tuple[np.ndarray, np.ndarray]] = []   # (cubic [n,4,2], drawn [n])
        self.style = np.zeros(self.n, dtype=np.int64)

    def near(self, centre: np.ndarray, radius: np.ndarray | float) -> np.ndarray:
        """``centre`` moved by a uniform radius in [0, radius] in a uniform direction (the seed's draw)."""
        r = self.rng.random(self.n) * radius
        angle = self.rng.random(self.n) * (2 * math.pi)
        return np.broadcast_to(centre, (self.n, 2)) + np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)

    def point(self, row: float, col: float, scale: float = 1.0) -> np.ndarray:
        """A template point jittered within ``scale`` times the jitter radius."""
        return self.near(np.array([row, col], dtype=np.float64), self.jitter * scale)

    def chance(self, p: float, bit: int, among: np.ndarray | bool = True) -> np.ndarray:
        """Per digit (of those ``among``), whether an optional part is drawn (probability ``p``); kept in ``style``."""
        drawn = (self.rng.random(self.n) < p) & self.styles & among
        self.style |= np.where(drawn, bit, 0)
        return drawn

    def _add(self, cubic: np.ndarray, when: np.ndarray | None) -> None:
        self.strokes.append((cubic, np.ones(self.n, dtype=bool) if when is None else when))

    def cubic(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, when: np.ndarray | None = None) -> None:
        """A curve from ``a`` to ``d`` pulled towards ``b`` and ``c``."""
        self._add(np.stack([a, b, c, d], axis=1), when)

    def quadratic(self, a: np.ndarray, c: np.ndarray, b: np.ndarray, when: np.ndarray | None = None) -> None:
        """A curve from ``a`` to ``b`` pulled towards ``c``."""
        self._add(_cubic_from_quadratic(a, c, b), when)

    def line(self, a: np.ndarray, b: np.ndarray, when: np.ndarray | None = None) -> None:
        """A straight stroke."""
        self._add(_cubic_from_line(a, b), when)

    def bend_radius(self, a: np.ndarray, b: np.ndarray, divisor: float) -> np.ndarray:
        """How far a middle control point may move: uniform in [0, min(jitter, |ab| / divisor)]."""
        return self.rng.random(self.n) * np.minimum(self.jitter, np.linalg.norm(b - a, axis=1) / divisor)

    def bent(self, a: np.ndarray, b: np.ndarray, divisor: float, when: np.ndarray | None = None) -> None:
        """A "straight" stroke drawn as a quadratic whose control point wanders from the midpoint."""
        control = self.near((a + b) / 2, self.bend_radius(a, b, divisor))
        self.quadratic(a, control, b, when)


def _zero(h: _Hand) -> None:
    p = [h.point(r, c, 2) for r, c in ((7, 14), (7, 7), (21, 7), (21, 14), (21, 21), (7, 21), (7, 13))]
    h.cubic(*p[0:4])
    h.cubic(*p[3:7])


def _one(h: _Hand) -> None:
    top = h.point(4, 15)
    flag = h.chance(0.5, FLAG)
    h.bent(h.point(6, 11), top, 2.1, when=flag)
    foot = h.point(21, 14, 3)
    h.bent(top, foot, 3.5)
    base = h.chance(0.5, BAR, among=flag)      # the seed draws a base only under a flag
    left = h.near(foot + [0, -4], h.jitter)
    right = h.near(foot + [0, 4], h.jitter)
    h.quadratic(left, foot, right, when=base)


def _two(h: _Hand) -> None:
    p = [h.point(r, c, 2) for r, c in ((7, 7), (5, 21), (16, 16), (21, 7), (18, 7), (19, 14), (21, 21))]
    h.cubic(*p[0:4])
    h.cubic(*p[3:7])


def _three(h: _Hand) -> None:
    p = [h.point(r, c, 2) for r, c in ((7, 9), (7, 24), (14, 24), (14, 11), (14, 24), (21, 24), (21, 9))]
    h.cubic(*p[0:4])
    h.cubic(*p[3:7])


def _four(h: _Hand) -> None:
    open_four = h.chance(0.15, ALTERNATE)
    a, b, c, d, e = (h.point(r, c) for r, c in ((7, 10), (14, 9), (14, 19), (7, 16), (21, 15)))
    h.bent(a, b, 4, when=~open_four)
    h.bent(b, c, 2.1, when=~open_four)
    h.bent(d, e, 4, when=~open_four)
    a, b, c, d = (h.point(r, c) for r, c in ((14, 18), (14, 9), (7, 15), (21, 14)))
    h.bent(a, b, 4, when=open_four)
    h.bent(b, c, 3.1, when=open_four)
    h.bent(c, d, 4, when=open_four)


def _five(h: _Hand) -> None:
    a, b = h.point(8, 8), h.point(7, 21)
    c = h.near(a, h.jitter * 0.5)
    d = h.point(14, 7, 2)
    e, f, g = h.point(14, 23), h.point(21, 21), h.point(21, 7)
    h.bent(a, b, 4)
    h.bent(c, d, 3.1)
    h.cubic(d, e, f, g)


def _six(h: _Hand) -> None:
    p = [h.point(r, c) for r, c in ((7, 21), (8, 5), (21, 9), (21, 21), (9, 23), (14, 12), (17, 10))]
    h.cubic(*p[0:4])
    h.cubic(*p[3:7])


def _seven(h: _Hand) -> None:
    a, b, c = h.point(7, 9), h.point(7, 21), h.point(21, 14)
    hook = h.chance(0.15, FLAG)
    h.line(a, a + [1.6, 0], when=hook)
    h.bent(a, b, 3)
    h.bent(b, c, 2.1)
    dash = h.chance(0.10, BAR)
    middle = (b + c) / 2
    spread = h.bend_radius(b, c, 7.1)
    h.quadratic(h.near(middle + [0, -2.5], spread), middle, h.near(middle + [0, 2.5], spread), when=dash)


def _eight(h: _Hand) -> None:
    spots = ((7, 17), (7, 8), (14, 8), (14, 13), (14, 20), (21, 20), (21, 13), (21, 8), (14, 8), (14, 14),
             (14, 20), (7, 20), (7, 17))
    p = [h.point(r, c, 1.0 if i == 6 else 2.0) for i, (r, c) in enumerate(spots)]
    for start in (0, 3, 6, 9):
        h.cubic(*p[start:start + 4])


def _nine(h: _Hand) -> None:
    a, b, c, d, e = (h.point(r, c) for r, c in ((7, 15), (6, 3), (21, 11), (7, 16), (21, 14)))
    h.cubic(a, b, c, d)
    h.bent(d, e, 3)


# Per digit: how to draw it and the seed's narrowest pen (every pen is at most 5 px wide).
TEMPLATES = {0: (_zero, 2.8), 1: (_one, 2.8), 2: (_two, 2.8), 3: (_three, 2.8), 4: (_four, 2.8),
             5: (_five, 2.8), 6: (_six, 2.8), 7: (_seven, 3.2), 8: (_eight, 3.2), 9: (_nine, 3.2)}
WIDEST_PEN = 5.0


@dataclass
class Strokes:
    """Many digits' strokes, ready to render: samples along every drawn stroke, padded with ``FAR``."""

    labels: np.ndarray      # [N] int64
    jitter: np.ndarray      # [N] float64 radius in px
    pen: np.ndarray         # [N] float64 pen width in px
    style: np.ndarray       # [N] int64 bits FLAG | BAR | ALTERNATE
    points: np.ndarray      # [N, M, 2] float32 (row, col) samples; rows of a class share one layout


def _bezier(control: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points [n, len(t), 2] of cubic Béziers ``control`` [n,4,2] at parameters ``t``."""
    s = 1 - t
    weights = np.stack([s**3, 3 * s**2 * t, 3 * s * t**2, t**3], axis=1)   # [T,4]
    return np.einsum("tk,nkd->ntd", weights, control)


def resample(control: np.ndarray, spacing: float = SPACING) -> np.ndarray:
    """Evenly spaced samples [n,K,2] along each cubic [n,4,2]; K from the longest, at most ``spacing`` apart."""
    fine = _bezier(control, np.linspace(0.0, 1.0, FINE_STEPS + 1))
    steps = np.linalg.norm(np.diff(fine, axis=1), axis=2)
    along = np.concatenate([np.zeros((len(fine), 1)), np.cumsum(steps, axis=1)], axis=1)
    length = along[:, -1]
    count = max(2, math.ceil(float(length.max(initial=0.0)) / spacing) + 1)
    # One searchsorted over all rows: offset row i by i * (longest + 1) so rows stay sorted and apart.
    offset = (np.arange(len(fine)) * (float(length.max(initial=0.0)) + 1.0))[:, None]
    wanted = np.linspace(0.0, 1.0, count)[None, :] * length[:, None]
    index = np.searchsorted((along + offset).ravel(), (wanted + offset).ravel(), side="right") - 1
    index = np.clip(index.reshape(len(fine), count) - np.arange(len(fine))[:, None] * (FINE_STEPS + 1), 0, FINE_STEPS - 1)
    rows = np.arange(len(fine))[:, None]
    start, seg = along[rows, index], steps[rows, index]
    frac = np.where(seg > 0, (wanted - start) / np.where(seg > 0, seg, 1.0), 0.0).clip(0.0, 1.0)[..., None]
    return fine[rows, index] * (1 - frac) + fine[rows, index + 1] * frac


def fit_box(points: np.ndarray, pen: np.ndarray) -> np.ndarray:
    """MNIST's size normalisation on strokes: scale each digit about its middle so that the longer side of
    its ink (samples plus the pen on both sides) is ``BOX`` px, centred in the image. Pens keep their width."""
    used = points[..., 0] > FAR / 2
    low = np.where(used[..., None], points, np.inf).min(axis=1)
    high = np.where(used[..., None], points, -np.inf).max(axis=1)
    empty = ~used.any(axis=1)
    low[empty], high[empty] = 0.0, 0.0
    extent = (high - low).max(axis=1) + pen
    scale = np.minimum(BOX / np.maximum(extent, 1e-6), MOST_ENLARGED)[:, None, None]
    middle = ((low + high) / 2)[:, None, :]
    fitted = (points - middle) * scale + SIDE / 2
    return np.where(used[..., None], fitted, FAR).astype(np.float32)


def draw_strokes(labels: np.ndarray | list[int], jitter: float | np.ndarray, rng: np.random.Generator, *,
                 pen: float | None = None, styles: bool = True, spacing: float = SPACING,
                 normalise: bool = True) -> Strokes:
    """Jittered strokes for every label (0–9): seeded by ``rng``, class by class in digit order.

    ``jitter`` is one radius or one per digit; ``pen`` fixes the pen width (else uniform in the seed's
    range); ``styles=False`` draws no optional parts (the plain templates); ``normalise`` fits every
    digit into MNIST's 20x20 box (``fit_box``), else the seed's coordinates are kept.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError("labels must be digits 0-9")
    radius = np.broadcast_to(np.asarray(jitter, dtype=np.float64), labels.shape).copy()
    if (radius < 0).any() or not np.isfinite(radius).all():
        raise ValueError("jitter must be finite and >= 0")
    pens = np.zeros(len(labels))
    style = np.zeros(len(labels), dtype=np.int64)
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        if not len(members):
            continue
        draw, narrowest = TEMPLATES[digit]
        hand = _Hand(rng, radius[members], styles)
        pens[members] = rng.uniform(narrowest, WIDEST_PEN, len(members)) if pen is None else pen
        draw(hand)
        style[members] = hand.style
        parts = []
        for cubic, drawn in hand.strokes:
            samples = resample(cubic, spacing)
            samples[~drawn] = FAR
            parts.append(samples)
        groups.append((members, np.concatenate(parts, axis=1)))
    width = max((g[1].shape[1] for g in groups), default=1)
    points = np.full((len(labels), width, 2), FAR, dtype=np.float32)
    for members, samples in groups:
        points[members, :samples.shape[1]] = samples
    if normalise:
        points = fit_box(points, pens)
    return Strokes(labels, radius, pens, style, points)


# --------------------------------------------------------------------------------------------------
# Rendering: the fast batched renderer and a plain per-pixel reference.

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
            top, bottom = max(0, int((row - radius) * supersample)), min(size - 1, int((row + radius) * supersample) + 1)
            left, right = max(0, int((col - radius) * supersample)), min(size - 1, int((col + radius) * supersample) + 1)
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
    images = to_bytes(render(strokes))
    return (centre(images) if options.get("normalise", True) else images), strokes


def to_bytes(ink: np.ndarray) -> np.ndarray:
    """Ink in [0,1] to uint8 0–255."""
    return np.clip(np.rint(ink * 255.0), 0, 255).astype(np.uint8)


def synthesize_batches(labels: np.ndarray, jitter: float, rng: np.random.Generator, batch: int = 10_000) -> np.ndarray:
    """``synthesize`` in batches of ``batch`` digits (bounded memory for any count): uint8 [N,28,28]."""
    parts = [synthesize(labels[start:start + batch], jitter, rng)[0] for start in range(0, len(labels), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, SIDE, SIDE), dtype=np.uint8)


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
