"""The home page's hero strip: the improved dreams when there are any, else real samples."""
from __future__ import annotations

from generator.pages import home
from generator.site.results import PageResult


def item(kind: str, label: int, judge: float, method: str | None = None) -> dict:
    extra = {"method": method} if method else {}
    return {"id": f"{kind}-{label}-{judge}", "kind": kind, "label": label,
            "scores": {"judge": {"p_label": judge}}, **extra}


def test_hero_shows_the_improved_dream_of_each_digit():
    dreams = PageResult("dreams", [item("dream", d, 0.5, "improved") for d in range(10)]
                        + [item("dream", 3, 0.9, "noise")])
    data = PageResult("data", [item("sample", d, 0.99) for d in range(10)])
    hero = home.run({"data": data, "dreams": dreams}).items
    assert [h["label"] for h in hero] == list(range(10))
    assert all(h["method"] == "improved" for h in hero)


def test_hero_falls_back_to_the_first_real_sample_and_the_judge_picks_nothing():
    data = PageResult("data", [item("sample", 1, 0.7), item("sample", 1, 0.95), item("sample", 2, 0.8)])
    hero = home.run({"data": data}).items
    assert [(h["label"], h["scores"]["judge"]["p_label"]) for h in hero] == [(1, 0.7), (2, 0.8)]
    assert hero[0]["source"] == "sample-1-0.7"
