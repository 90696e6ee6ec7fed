"""Inline SVG charts as strings: bar chart, histogram, line chart, heat map, scatter plot.

Each chart is one ``<svg>`` element with a ``viewBox`` (no fixed size: CSS sets the width), ``role="img"``
(``role="group"`` for a heat map with links: an image may hold no links), ``aria-label`` and ``<title>``; no
``style=`` attributes, no scripts, no external references (not even ``xmlns``: inline SVG in HTML needs none), so it
passes a strict Content-Security-Policy. Axes and text use ``currentColor`` (light and dark mode). Data colours are
presentation attributes (``fill``/``stroke``) that the site CSS may override.

Class names for the site stylesheet:
    chart       the ``<svg>`` root
    axis        axis lines and tick marks (stroke ``currentColor``)
    grid        horizontal grid lines (light ``currentColor``; CSS may soften them)
    tick        tick label text
    axis-label  axis title text
    bar         bars of bar charts and histograms (default fill a mid blue)
    value       value labels above bars
    series-0 .. series-5   line chart series paths, markers and legend swatches
    legend      legend group; legend-label  its text
    cell        heat map cells (fill from the ``render.heat_rgb`` stops)
    cell-value  text inside heat map cells (fill black or white by cell brightness)
    point       scatter plot points; group-0 .. group-9 their group (default fills ``GROUP_COLOURS``)
    mark        a scatter plot's labelled discs (e.g. class means); mark-label  their text
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

import numpy as np

from generator.site.images import heat_rgb

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 48
BAR_FILL = "#4c78a8"
SERIES_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2", "#9d755d")
CELL = 40
GROUP_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
                 "#bab0ac")   # ten categories (Tableau 10)
MARKER_LIMIT = 25


def _n(value: float) -> str:
    """A number compactly: integers exactly (below 1e7), others in at most 4 significant digits."""
    if float(value).is_integer() and abs(value) < 1e7:
        return str(int(value))
    return f"{value:.4g}"


def _svg(width: float, height: float, title: str, body: list[str], role: str = "img") -> str:
    """Wrap chart elements in the accessible ``<svg>`` root (``role="group"`` when it holds links or controls)."""
    label = escape(title)
    return (
        f'<svg class="chart" viewBox="0 0 {_n(width)} {_n(height)}" role="{role}" aria-label="{label}" '
        f'font-size="12" font-family="sans-serif"><title>{label}</title>{"".join(body)}</svg>'
    )


def _text(x: float, y: float, text: str, cls: str, anchor: str = "middle", extra: str = "") -> str:
    """One ``<text>`` element with escaped content."""
    return (
        f'<text class="{cls}" x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" '
        f'fill="currentColor"{extra}>{escape(text)}</text>'
    )


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[low, high]`` (first <= low, last >= high)."""
    if not high > low:
        low, high = low - 0.5, high + 0.5
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def _scale(low: float, high: float, out_low: float, out_high: float) -> Callable[[float], float]:
    """Linear map from data ``[low, high]`` to pixels ``[out_low, out_high]``."""
    span = high - low or 1.0
    return lambda v: out_low + (v - low) / span * (out_high - out_low)


def _y_axis(ticks: Sequence[float], y: Callable[[float], float], label: str,
            names: Sequence[str] = ()) -> list[str]:
    """Y grid lines, tick labels (``names`` overrides the numbers) and the rotated axis title."""
    parts = []
    for i, tick in enumerate(ticks):
        py = y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(py)}" y2="{_n(py)}" '
                     f'stroke="currentColor" stroke-opacity="0.15"/>')
        parts.append(_text(LEFT - 6, py + 4, names[i] if names else _n(tick), "tick", "end"))
    if label:
        mid = (TOP + HEIGHT - BOTTOM) / 2
        parts.append(_text(14, mid, label, "axis-label", extra=f' transform="rotate(-90 14 {_n(mid)})"'))
    return parts


def _x_axis(ticks: Sequence[tuple[float, str]], label: str) -> list[str]:
    """Axis frame, x tick marks with labels at pixel positions, and the x axis title."""
    base = HEIGHT - BOTTOM
    parts = [f'<path class="axis" d="M{LEFT} {TOP}V{base}H{WIDTH - RIGHT}" fill="none" stroke="currentColor"/>']
    for px, name in ticks:
        parts.append(f'<line class="axis" x1="{_n(px)}" x2="{_n(px)}" y1="{base}" y2="{base + 4}" '
                     'stroke="currentColor"/>')
        parts.append(_text(px, base + 17, name, "tick"))
    if label:
        parts.append(_text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 8, label, "axis-label"))
    return parts


def _bar(x: float, y: float, width: float, height: float, tip: str) -> str:
    """One bar ``<rect>`` with a tooltip."""
    return (f'<rect class="bar" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" '
            f'fill="{BAR_FILL}"><title>{escape(tip)}</title></rect>')


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, *,
              value_format: str = "{:g}", y_label: str = "") -> str:
    """Vertical bars, one per label, with the value written above each bar."""
    ticks = _nice_ticks(min(0.0, *values), max(0.0, *values))
    y = _scale(ticks[0], ticks[-1], HEIGHT - BOTTOM, TOP)
    slot = (WIDTH - RIGHT - LEFT) / len(values)
    body = _y_axis(ticks, y, y_label)
    for i, (name, value) in enumerate(zip(labels, values, strict=True)):
        top, bottom = sorted((y(value), y(0.0)))
        text = value_format.format(value)
        body.append(_bar(LEFT + (i + 0.1) * slot, top, 0.8 * slot, bottom - top, f"{name}: {text}"))
        body.append(_text(LEFT + (i + 0.5) * slot, top - 4, text, "value"))
    return _svg(WIDTH, HEIGHT, title, body + _x_axis([(LEFT + (i + 0.5) * slot, n) for i, n in enumerate(labels)], ""))


def histogram(counts: Sequence[float], edges: Sequence[float], title: str, *,
              log_scale: bool = False, x_label: str = "", y_label: str = "") -> str:
    """Adjacent bars over bin ``edges`` (one more edge than counts); optional log10 y axis."""
    if len(edges) != len(counts) + 1:
        raise ValueError(f"need len(edges) == len(counts) + 1, got {len(edges)} and {len(counts)}")
    positive = [c for c in counts if c > 0] or [1.0]
    if log_scale:
        low = math.ceil(math.log10(min(positive))) - 1  # the smallest count keeps a visible bar
        ticks = [float(p) for p in range(low, math.ceil(math.log10(max(positive))) + 1)]
        names = [_n(10.0 ** p) for p in ticks]
        levels = [math.log10(c) if c > 0 else ticks[0] for c in counts]
    else:
        ticks, names, levels = _nice_ticks(0.0, max(positive)), [], list(counts)
    y = _scale(ticks[0], ticks[-1], HEIGHT - BOTTOM, TOP)
    x = _scale(edges[0], edges[-1], LEFT, WIDTH - RIGHT)
    body = _y_axis(ticks, y, y_label, names)
    for count, level, left, right in zip(counts, levels, edges[:-1], edges[1:]):
        top = y(level)
        body.append(_bar(x(left), top, x(right) - x(left), HEIGHT - BOTTOM - top,
                         f"[{_n(left)}, {_n(right)}): {_n(count)}"))
    x_ticks = [(x(t), _n(t)) for t in _nice_ticks(edges[0], edges[-1]) if edges[0] <= t <= edges[-1]]
    return _svg(WIDTH, HEIGHT, title, body + _x_axis(x_ticks, x_label))


def _line_path(points: list[tuple[float, float]]) -> str:
    """SVG path data through the points, broken at non-finite values."""
    parts, pen_down = [], False
    for px, py in points:
        if math.isfinite(py):
            parts.append(f"{'L' if pen_down else 'M'}{_n(px)} {_n(py)}")
        pen_down = math.isfinite(py)
    return "".join(parts)


def line_chart(series: Mapping[str, Sequence[float]], title: str, *, x_label: str = "", y_label: str = "",
               x_values: Sequence[float] | None = None, y_range: tuple[float, float] | None = None) -> str:
    """Named series (classes ``series-0`` ..) over shared x values, with a legend above the plot."""
    length = max(len(v) for v in series.values())
    xs = list(x_values) if x_values is not None else list(range(length))
    finite = [v for values in series.values() for v in values if math.isfinite(v)] or [0.0]
    low, high = y_range or (min(finite), max(finite))
    ticks = [t for t in _nice_ticks(low, high) if y_range is None or low - 1e-9 <= t <= high + 1e-9]
    if y_range is None:
        low, high = ticks[0], ticks[-1]
    y = _scale(low, high, HEIGHT - BOTTOM, TOP + 16)
    x = _scale(xs[0], xs[-1], LEFT + 8, WIDTH - RIGHT - 8)
    body = _y_axis(ticks, y, y_label)
    legend, legend_x = ['<g class="legend">'], float(LEFT + 8)
    for i, (name, values) in enumerate(series.items()):
        cls, colour = f"series-{i % 6}", SERIES_COLOURS[i % 6]
        points = [(x(xs[k]), y(v)) for k, v in enumerate(values)]
        body.append(f'<path class="{cls}" d="{_line_path(points)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if len(points) <= MARKER_LIMIT:
            body.extend(f'<circle class="{cls}" cx="{_n(px)}" cy="{_n(py)}" r="3" fill="{colour}"/>'
                        for px, py in points if math.isfinite(py))
        legend.append(f'<line class="{cls}" x1="{_n(legend_x)}" x2="{_n(legend_x + 18)}" y1="{TOP}" y2="{TOP}" '
                      f'stroke="{colour}" stroke-width="3"/>')
        legend.append(_text(legend_x + 22, TOP + 4, name, "legend-label", "start"))
        legend_x += 40 + 7 * len(name)
    x_ticks = [(x(t), _n(t)) for t in _nice_ticks(min(xs), max(xs)) if min(xs) <= t <= max(xs)]
    return _svg(WIDTH, HEIGHT, title, body + legend + ["</g>"] + _x_axis(x_ticks, x_label))


def _cell(x: float, y: float, rgb: np.ndarray, text: str, tip: str, annotate: bool) -> str:
    """One heat map cell: coloured ``<rect>`` with tooltip and, if wanted, its value."""
    fill = "#{:02x}{:02x}{:02x}".format(*rgb)
    ink = "#000" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 else "#fff"
    parts = [f'<rect class="cell" x="{_n(x)}" y="{_n(y)}" width="{CELL}" height="{CELL}" fill="{fill}">'
             f'<title>{escape(tip)}</title></rect>']
    if annotate and text:
        parts.append(f'<text class="cell-value" x="{_n(x + CELL / 2)}" y="{_n(y + CELL / 2 + 4)}" '
                     f'text-anchor="middle" fill="{ink}" font-size="11">{escape(text)}</text>')
    return "".join(parts)


def heatmap(matrix: np.ndarray, title: str, *, row_labels: Sequence[str], col_labels: Sequence[str],
            row_title: str = "", col_title: str = "", annotate: bool = True, value_format: str = "{:g}",
            vmin: float | None = None, vmax: float | None = None,
            links: Callable[[int, int], str | None] | None = None) -> str:
    """Grid of coloured cells (``render.heat_rgb`` stops), labelled rows and columns, optional links."""
    matrix = np.asarray(matrix, dtype=np.float64)
    rows, cols = matrix.shape
    if (len(row_labels), len(col_labels)) != (rows, cols):
        raise ValueError(f"labels {len(row_labels)}x{len(col_labels)} do not match matrix {rows}x{cols}")
    finite = matrix[np.isfinite(matrix)]
    low = vmin if vmin is not None else float(finite.min()) if finite.size else 0.0
    high = vmax if vmax is not None else float(finite.max()) if finite.size else 1.0
    colours = heat_rgb(matrix, low, high)
    left, top = 56 + (20 if row_title else 0), 24 + (20 if col_title else 0)
    width, height = left + cols * CELL + 8, top + rows * CELL + 8
    body = [_text(left + (j + 0.5) * CELL, top - 8, name, "tick") for j, name in enumerate(col_labels)]
    body += [_text(left - 8, top + (i + 0.5) * CELL + 4, name, "tick", "end") for i, name in enumerate(row_labels)]
    if col_title:
        body.append(_text(left + cols * CELL / 2, 16, col_title, "axis-label"))
    if row_title:
        mid = top + rows * CELL / 2
        body.append(_text(14, mid, row_title, "axis-label", extra=f' transform="rotate(-90 14 {_n(mid)})"'))
    linked = False
    for i in range(rows):
        for j in range(cols):
            value = matrix[i, j]
            text = value_format.format(value) if math.isfinite(value) else ""
            tip = f"{row_title or 'row'} {row_labels[i]}, {col_title or 'col'} {col_labels[j]}: {text or 'n/a'}"
            cell = _cell(left + j * CELL, top + i * CELL, colours[i, j], text, tip, annotate)
            href = links(i, j) if links else None
            body.append(f'<a href="{escape(href)}">{cell}</a>' if href else cell)
            linked = linked or bool(href)
    return _svg(width, height, title, body, role="group" if linked else "img")


def scatter(points: np.ndarray, groups: Sequence[int], title: str, *, group_names: Sequence[str] = (),
            marks: np.ndarray | None = None, x_label: str = "", y_label: str = "", radius: float = 2.5) -> str:
    """Points ``[N,2]`` coloured by group (classes ``group-0`` ..), a legend above, and optional marks.

    ``marks`` ``[G,2]`` puts one labelled disc per group (e.g. its mean), drawn over the points and
    labelled with ``group_names[g]`` (or ``g``). Points are drawn in the order given, so callers
    shuffle them when no group should hide another.
    """
    points = np.asarray(points, dtype=np.float64)
    groups = [int(g) for g in groups]
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(groups):
        raise ValueError(f"need points [N,2] and N groups, got {points.shape} and {len(groups)}")
    count = max(groups, default=-1) + 1 if marks is None else max(max(groups, default=-1) + 1, len(marks))
    names = list(group_names) or [str(g) for g in range(count)]
    everything = points if marks is None else np.concatenate([points, np.asarray(marks, dtype=np.float64)])
    if not len(everything):
        everything = np.zeros((1, 2))
    x_ticks, y_ticks = (_nice_ticks(float(everything[:, k].min()), float(everything[:, k].max())) for k in (0, 1))
    x = _scale(x_ticks[0], x_ticks[-1], LEFT + 8, WIDTH - RIGHT - 8)
    y = _scale(y_ticks[0], y_ticks[-1], HEIGHT - BOTTOM, TOP + 20)
    body = _y_axis(y_ticks, y, y_label)
    for (px, py), group in zip(points, groups):
        body.append(f'<circle class="point group-{group % 10}" cx="{_n(round(x(px), 1))}" cy="{_n(round(y(py), 1))}" '
                    f'r="{_n(radius)}" fill="{GROUP_COLOURS[group % 10]}" fill-opacity="0.7"/>')
    for group, (px, py) in enumerate([] if marks is None else np.asarray(marks, dtype=np.float64)):
        name = names[group] if group < len(names) else str(group)
        colour = GROUP_COLOURS[group % 10]
        rgb = [int(colour[k:k + 2], 16) for k in (1, 3, 5)]
        ink = "#000" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 else "#fff"
        cx, cy = _n(round(x(px), 1)), _n(round(y(py), 1))
        body.append(f'<g class="mark group-{group % 10}"><title>{escape(name)}</title>'
                    f'<circle cx="{cx}" cy="{cy}" r="9" fill="{colour}" stroke="currentColor" stroke-width="1.5"/>'
                    f'<text class="mark-label" x="{cx}" y="{_n(round(y(py), 1) + 4)}" text-anchor="middle" '
                    f'fill="{ink}" font-weight="700">{escape(name)}</text></g>')
    legend, legend_x = ['<g class="legend">'], float(LEFT + 8)
    for group in range(count):
        name = names[group] if group < len(names) else str(group)
        legend.append(f'<circle class="point group-{group % 10}" cx="{_n(legend_x + 5)}" cy="{TOP}" r="5" '
                      f'fill="{GROUP_COLOURS[group % 10]}"/>')
        legend.append(_text(legend_x + 14, TOP + 4, name, "legend-label", "start"))
        legend_x += 28 + 7 * len(name)
    x_axis = _x_axis([(x(t), _n(t)) for t in x_ticks], x_label)
    return _svg(WIDTH, HEIGHT, title, body + legend + ["</g>"] + x_axis)


def confusion_chart(title: str, matrix: np.ndarray, *, row_title: str = "true", col_title: str = "predicted",
                    links: Callable[[int, int], str | None] | None = None) -> str:
    """A 10×10 confusion matrix as an annotated heat map, its colour capped at twice the largest mistake so that
    the off-diagonal cells stay visible."""
    matrix = np.asarray(matrix)
    digits = [str(d) for d in range(10)]
    largest_mistake = float(matrix[~np.eye(10, dtype=bool)].max())
    return heatmap(matrix, title, row_labels=digits, col_labels=digits, row_title=row_title, col_title=col_title,
                   vmin=0, vmax=max(largest_mistake, 1) * 2, links=links)
