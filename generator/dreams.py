"""Placeholder: the dreams page is being built (shows 'coming soon')."""
from __future__ import annotations

from generator.data import Dataset
from generator.gallery import PageResult, RunContext
from generator.models import Models


def run(models: Models, dataset: Dataset, context: RunContext) -> PageResult:
    """Not built yet."""
    return PageResult("dreams", context={"coming_soon": True})
