"""Inline SVG charts: well-formed, accessible, CSP-safe, one shape per datum."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from generator.site.charts import GROUP_COLOURS, bar_chart, heatmap, histogram, line_chart, scatter


def _parse(svg: str) -> ET.Element:
    """Parse a chart as XML inside a wrapper, as it sits in an HTML page."""
    return ET.fromstring(f"<div>{svg}</div>")[0]


def _check_common(svg: str, title: str, role: str = "img") -> ET.Element:
    """Assertions every chart must pass; returns the parsed root. A chart is an image, or a group when it holds links
    (an image's content is presentational: links inside one are nested controls)."""
    assert svg.startswith("<svg")
    root = _parse(svg)
    assert root.tag == "svg" and root.get("role") == role and root.get("viewBox")
    assert root.get("width") is None and root.get("height") is None
    assert root.get("aria-label") == title
    assert root.find("title").text == title
    assert "style=" not in svg and "<script" not in svg.lower() and "http" not in svg
    return root


def test_bar_chart_one_rect_per_bar_and_escaped_title() -> None:
    title = 'Class counts <"train"> & more'
    svg = bar_chart([str(d) for d in range(10)], [float(800 + d) for d in range(10)], title,
                    value_format="{:.0f}", y_label="images")
    root = _check_common(svg, title)
    assert len(root.findall(".//rect")) == 10
    assert all(r.get("class") == "bar" for r in root.iter("rect"))
    texts = [t.text for t in root.iter("text")]
    assert "809" in texts and "images" in texts


def test_bar_chart_negative_values() -> None:
    root = _check_common(bar_chart(["a", "b"], [-3.0, 2.0], "signed"), "signed")
    heights = [float(r.get("height")) for r in root.iter("rect")]
    assert all(h > 0 for h in heights)


@pytest.mark.parametrize("log_scale", [False, True])
def test_histogram(log_scale: bool) -> None:
    counts, edges = np.histogram(np.random.default_rng(0).random(500) ** 3, bins=16, range=(0, 1))
    counts[3] = 0
    svg = histogram(counts.tolist(), edges.tolist(), "Pixel intensities", log_scale=log_scale,
                    x_label="intensity", y_label="pixels")
    root = _check_common(svg, "Pixel intensities")
    assert len(root.findall(".//rect")) == 16


def test_histogram_rejects_mismatched_edges() -> None:
    with pytest.raises(ValueError):
        histogram([1, 2], [0, 1], "bad")


def test_line_chart_series_legend_and_ticks() -> None:
    series = {"train loss": [1.0, 0.5, 0.3, float("nan"), 0.2], "test loss": [1.1, 0.6, 0.4, 0.35, 0.3]}
    svg = line_chart(series, "Loss", x_label="epoch", y_label="loss", x_values=[1, 2, 3, 4, 5])
    root = _check_common(svg, "Loss")
    paths = [p for p in root.iter("path") if p.get("class", "").startswith("series-")]
    assert [p.get("class") for p in paths] == ["series-0", "series-1"]
    assert paths[0].get("d").count("M") == 2  # the NaN breaks the line
    texts = [t.text for t in root.iter("text")]
    assert "train loss" in texts and "test loss" in texts and "epoch" in texts
    assert 3 <= sum(t.get("class") == "tick" and t.get("text-anchor") == "end" for t in root.iter("text")) <= 8


def test_line_chart_y_range_and_compact_numbers() -> None:
    svg = line_chart({"acc": [0.1 * k for k in range(1, 10)]}, "Accuracy", y_range=(0.0, 1.0))
    root = _check_common(svg, "Accuracy")
    ticks = [float(t.text) for t in root.iter("text") if t.get("text-anchor") == "end"]
    assert min(ticks) == 0.0 and max(ticks) == 1.0
    assert "0000000" not in svg and "9999999" not in svg


def test_heatmap_cells_links_and_tooltips() -> None:
    matrix = np.arange(100, dtype=float).reshape(10, 10)
    labels = [str(d) for d in range(10)]
    svg = heatmap(matrix, "Confusion", row_labels=labels, col_labels=labels, row_title="true",
                  col_title="predicted", links=lambda i, j: f"hard.html#t{i}p{j}" if i != j else None)
    root = _check_common(svg, "Confusion", role="group")
    rects = root.findall(".//rect")
    assert len(rects) == 100 and all(r.get("class") == "cell" for r in rects)
    assert all(r.get("fill").startswith("#") and len(r.get("fill")) == 7 for r in rects)
    assert svg.count('<a href="hard.html#t') == 90
    assert root.find(".//rect/title").text == "true 0, predicted 0: 0"
    inks = {t.get("fill") for t in root.iter("text") if t.get("class") == "cell-value"}
    assert inks == {"#000", "#fff"}


def test_heatmap_without_annotation_and_label_check() -> None:
    matrix = np.array([[0.2, np.nan], [0.9, 1.0]])
    root = _check_common(heatmap(matrix, "m", row_labels=["a", "b"], col_labels=["c", "d"], annotate=False), "m")
    assert len(root.findall(".//rect")) == 4
    assert not [t for t in root.iter("text") if t.get("class") == "cell-value"]
    with pytest.raises(ValueError):
        heatmap(matrix, "m", row_labels=["a"], col_labels=["c", "d"])


def test_scatter_points_coloured_by_group_with_labelled_marks() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(10), 7)
    points = rng.normal(size=(70, 2)) + groups[:, None]
    marks = np.array([points[groups == g].mean(axis=0) for g in range(10)])
    svg = scatter(points, groups, "Latent map <PCA>", marks=marks, x_label="first axis", y_label="second axis")
    root = _check_common(svg, "Latent map <PCA>")
    dots = [c for c in root.iter("circle") if c.get("class", "").startswith("point") and c.get("r") == "2.5"]
    assert len(dots) == 70
    assert [c.get("class") for c in dots] == [f"point group-{g}" for g in groups]
    assert all(c.get("fill") == GROUP_COLOURS[g] for c, g in zip(dots, groups))
    # Every point lies inside the plot area.
    xs, ys = [float(c.get("cx")) for c in dots], [float(c.get("cy")) for c in dots]
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    assert min(xs) > 0 and max(xs) < width and min(ys) > 0 and max(ys) < height
    # The point of group 9 with the largest x is drawn right of the one of group 0 with the smallest x.
    assert xs[int(np.argmax(points[:, 0]))] == max(xs) and xs[int(np.argmin(points[:, 0]))] == min(xs)
    assert ys[int(np.argmax(points[:, 1]))] == min(ys)      # SVG y grows downwards
    marked = root.findall(".//g[@class]")
    mark_groups = [g for g in marked if g.get("class", "").startswith("mark")]
    assert [g.find("text").text for g in mark_groups] == [str(d) for d in range(10)]
    texts = [t.text for t in root.iter("text")]
    assert "first axis" in texts and "second axis" in texts


def test_scatter_rejects_mismatched_groups() -> None:
    with pytest.raises(ValueError):
        scatter(np.zeros((3, 2)), [0, 1], "bad")
    with pytest.raises(ValueError):
        scatter(np.zeros((3, 3)), [0, 1, 2], "bad")
