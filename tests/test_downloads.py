"""Downloadable data sets and permalinks: every generated digit can be taken away and linked to."""
from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from generator.pages import GALLERIES, PAGES

OFFERED = [p for p in GALLERIES if p.download]
NO_ELEMENT = {"sample", "example", "explorer-sample"}        # shown inside one picture or a list, not one by one


def manifest(out, page: str) -> list[dict]:
    return json.loads((out / "data" / f"{page}.json").read_text())["items"]


def sprite_tile(out, image: dict, cache: dict) -> np.ndarray:
    if image["sprite"] not in cache:
        with Image.open(out / image["sprite"]) as sheet:
            cache[image["sprite"]] = np.asarray(sheet)
    return cache[image["sprite"]][image["y"]:image["y"] + 28, image["x"]:image["x"] + 28]


def test_the_four_generator_pages_offer_downloads():
    assert sorted(p.name for p in OFFERED) == ["ambiguous", "dreams", "muddle", "synthetic"]


@pytest.mark.parametrize("page", OFFERED, ids=lambda p: p.name)
def test_each_data_set_matches_its_page_manifest(quick_build, page):
    out = quick_build["out"]
    items = [i for i in manifest(out, page.name) if i["kind"] in page.download]
    with np.load(out / "downloads" / f"{page.name}.npz") as npz:
        data = {key: npz[key] for key in npz.files}
    assert data["ids"].tolist() == [i["id"] for i in items]
    assert data["images"].dtype == np.uint8 and data["images"].shape == (len(items), 28, 28)
    sheets: dict = {}
    for n, item in enumerate(items):
        assert np.array_equal(data["images"][n], sprite_tile(out, item["image"], sheets))
        assert data["labels"][n] == (-1 if item["label"] is None else item["label"])
        for model in ("reader", "judge"):
            probs, score = data[f"{model}_probs"][n], item["scores"][model]
            assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-4
            assert probs[score["predicted"]] == pytest.approx(score["confidence"], abs=2e-4)
    if page.name == "ambiguous":
        assert data["upright"].tolist() == [i["upright"] for i in items]
        rows = np.arange(len(items))
        assert data["judge_probs_rotated"][rows, data["rotated"]] == pytest.approx(
            [i["scores_rotated"]["judge"]["p_label"] for i in items], abs=2e-4)
    if page.name == "muddle":
        assert data["pair"].tolist() == [i["pair"] for i in items]
    html = (out / f"{page.name}.html").read_text()
    assert f'href="downloads/{page.name}.npz"' in html and f'href="downloads.html#{page.name}"' in html


def test_the_datasheet_describes_every_file(quick_build):
    out = quick_build["out"]
    html = (out / "downloads.html").read_text()
    for page in OFFERED:
        path = out / "downloads" / f"{page.name}.npz"
        with np.load(path) as npz:
            fields = npz.files
        assert f'id="{page.name}"' in html and f"{path.stat().st_size / 1024:,.0f} KB" in html
        assert all(f"<code>{name}</code>" in html for name in fields)
    assert "Licence" in html


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_digit_has_a_unique_permalink(quick_build, page):
    out = quick_build["out"]
    html = (out / f"{page.name}.html").read_text()
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    assert not [name for name, count in ids.items() if count > 1]
    missing = [i["id"] for i in manifest(out, page.name) if i["kind"] not in NO_ELEMENT and i["id"] not in ids]
    assert not missing


def test_opening_a_permalink_scrolls_to_the_digit_and_rings_it(browser, served_site):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(served_site + "ambiguous.html#improved-6-9", wait_until="load")
    target = page.locator("#improved-6-9")
    box = target.bounding_box()
    assert box is not None and 0 <= box["y"] <= 800 - box["height"]
    assert target.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    assert page.locator("#improved-9-6").evaluate("e => getComputedStyle(e).outlineStyle") == "none"
    page.close()
