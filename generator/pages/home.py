"""The home page: a hero strip of the best images the other pages produced."""
from __future__ import annotations

from generator.site.results import PageResult


def hero_candidates(results: dict[str, PageResult]) -> list[dict]:
    """The improved dreams when the dreams page made them, else the data page's real training samples."""
    dreams = results.get("dreams", PageResult("dreams")).items
    return ([i for i in dreams if i.get("method") == "improved"]
            or [i for r in results.values() for i in r.items if i["kind"] == "sample"])


def run(results: dict[str, PageResult]) -> PageResult:
    """Per digit, the first hero candidate: the improved dream, which the validation panel chose (the judge
    picks nothing), or the first real sample."""
    best: dict[int, dict] = {}
    for item in hero_candidates(results):
        if item["label"] is not None:
            best.setdefault(item["label"], item)
    hero = [{**best[d], "id": f"hero-{d}", "source": best[d]["id"]} for d in sorted(best)]
    return PageResult("index", hero)


def context(result: PageResult) -> dict:
    """The hero strip and whether it shows dreams or real digits."""
    return {"hero": result.items, "dreamed": bool(result.items) and "method" in result.items[0]}
