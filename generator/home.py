"""The home page: a hero strip of the best images the other pages produced."""
from __future__ import annotations

from generator.gallery import PageResult

HERO_KINDS = ("sample",)


def run(results: dict[str, PageResult]) -> PageResult:
    """Per digit, the item of a hero kind that the judge is most sure of (highest p(label))."""
    best: dict[int, dict] = {}
    for result in results.values():
        for item in result.items:
            if item["kind"] in HERO_KINDS and item["label"] is not None:
                current = best.get(item["label"])
                if current is None or item["scores"]["judge"]["p_label"] > current["scores"]["judge"]["p_label"]:
                    best[item["label"]] = item
    hero = [{**best[d], "id": f"hero-{d}", "source": best[d]["id"]} for d in sorted(best)]
    return PageResult("index", hero)
