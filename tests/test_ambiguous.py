"""The ambiguous grid: cell symmetry, alignment scores, the judge's independence, the page and the flip in Chromium."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from generator.pages import ambiguous

OFF_DIAGONAL = ~np.eye(10, dtype=bool).ravel()


def manifest(quick_build) -> dict:
    return json.loads((quick_build["out"] / "data" / "ambiguous.json").read_text())


def test_55_images_fill_100_cells_with_the_transpose_turned_over():
    tiles = np.random.default_rng(0).integers(0, 256, (len(ambiguous.PAIRS), 28, 28), dtype=np.uint8)
    cells = ambiguous.grid_tiles(tiles).reshape(10, 10, 28, 28)
    assert len(ambiguous.PAIRS) == 55
    for n, (i, j) in enumerate(ambiguous.PAIRS):
        assert (cells[i, j] == tiles[n]).all()
        if i != j:
            assert (cells[j, i] == tiles[n][::-1, ::-1]).all()


def test_summary_counts_only_the_90_off_diagonal_cells():
    scores = {f"{m}_{view}": np.full(100, 0.2) for m in ("reader", "judge") for view in ("upright", "rotated")}
    scores |= {f"{m}_both": np.zeros(100, dtype=bool) for m in ("reader", "judge")}
    diagonal = np.arange(10) * 11
    scores["judge_upright"][diagonal] = scores["judge_rotated"][diagonal] = 1.0
    scores["judge_both"][diagonal] = True
    scores["judge_rotated"][1] = 0.05                   # cell (0, 1): the weaker reading counts
    result = ambiguous.summary(scores)
    assert result["judge_both_right"] == 0
    assert result["judge_alignment"] == pytest.approx((89 * 0.2 + 0.05) / 90, abs=1e-4)


def test_manifest_cells_read_upright_and_rotated(quick_build):
    items = manifest(quick_build)["items"]
    assert sorted({i["method"] for i in items}) == sorted(ambiguous.GRIDS)
    for method in ambiguous.GRIDS:
        cells = {(i["upright"], i["rotated"]): i for i in items if i["method"] == method}
        assert len(cells) == 100
        with Image.open(quick_build["out"] / cells[0, 0]["image"]["sprite"]) as sheet:
            pixels = np.asarray(sheet)

        def tile(item, pixels=pixels):
            y, x = item["image"]["y"], item["image"]["x"]
            return pixels[y:y + 28, x:x + 28]

        for (i, j), item in cells.items():
            assert item["label"] == i
            judge_up, judge_rot = item["scores"]["judge"]["p_label"], item["scores_rotated"]["judge"]["p_label"]
            assert item["alignment"] == pytest.approx(min(judge_up, judge_rot), abs=1e-4)
            if i != j:
                assert (tile(cells[j, i]) == tile(item)[::-1, ::-1]).all()
                assert cells[j, i]["scores"]["judge"]["p_label"] == pytest.approx(judge_rot, abs=1e-3)


def test_page_states_both_grids_means_from_the_manifest(quick_build):
    items = manifest(quick_build)["items"]
    html = (quick_build["out"] / "ambiguous.html").read_text()
    for method in ambiguous.GRIDS:
        cells = [i for i in items if i["method"] == method]
        mean = np.mean([c["alignment"] for c, off in zip(cells, OFF_DIAGONAL) if off])
        both = sum(c["judge_both_right"] for c, off in zip(cells, OFF_DIAGONAL) if off)
        assert f"{mean:.3f}" in html or f"{mean - 5e-5:.3f}" in html or f"{mean + 5e-5:.3f}" in html
        assert f"{both} / 90" in html
    assert len(re.findall(r'<button type="button" class="flip"', html)) == 200


def test_a_cell_turns_over_on_click_and_on_enter(served_site, browser):
    page = browser.new_page()
    page.goto(served_site + "ambiguous.html")
    cell = page.locator("button.flip").nth(12)
    rotation = "el => getComputedStyle(el.querySelector('svg')).transform"
    assert cell.get_attribute("aria-pressed") == "false"
    cell.click()
    assert cell.get_attribute("aria-pressed") == "true"
    page.wait_for_timeout(700)
    assert page.evaluate(f"({rotation})", cell.element_handle()).startswith("matrix(-1")
    cell.focus()
    page.keyboard.press("Enter")
    assert cell.get_attribute("aria-pressed") == "false"
    page.close()
