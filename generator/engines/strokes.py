"""Seed 004's Bézier-stroke digits as strokes: templates, jitter, pen widths and optional parts, many digits at once.

**Strokes.** Every digit 0–9 is a handful of quadratic and cubic Bézier strokes through the seed's
per-digit control points (``(row, col)`` in pixels of the 28×28 image). Each point moves by a random
offset within the jitter radius (uniform radius, uniform angle, as in the seed; some digits scale the
radius, as the seed did). Strokes that "should" be straight are quadratics whose middle control point
moves from the chord's midpoint by at most ``min(jitter, chord / k)`` with the seed's per-stroke ``k``,
so that jitter 0 draws the template exactly. Optional parts keep the seed's probabilities: the 1's
flag (1/2) and then its base (1/2), the 7's hook (0.15) and dash (0.10), the alternate 4 (0.15).
Pen widths are uniform in the seed's ranges (2.8 or 3.2 to 5 px).

**MNIST conventions.** Drawn at the seed's coordinates the digits are about 18 px tall and sit a pixel
high. So, as MNIST did with its scans, each digit is scaled (pen width kept) so that the longer side of
its ink is 20 px (``fit_box``), and after rendering moved by whole pixels so that its centre of mass is
nearest pixel (14, 14) (``pen.centre``). Ink is bright (255) on black (0).


Drawing them into pixels is ``generator.engines.pen``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SIDE = 28
SPACING = 0.5              # px between samples along a stroke
FINE_STEPS = 96            # polyline segments per stroke before resampling by arc length
FAR = -1000.0              # where the samples of strokes that are not drawn go
BOX = 20.0                 # MNIST: the longer side of every digit fits a 20x20 box
MOST_ENLARGED = 3.0        # a digit squashed to a dot is not blown up more than this

# Style bits: which optional parts a digit has.
FLAG, BAR, ALTERNATE = 1, 2, 4


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
    index = index.reshape(len(fine), count) - np.arange(len(fine))[:, None] * (FINE_STEPS + 1)
    index = np.clip(index, 0, FINE_STEPS - 1)
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

