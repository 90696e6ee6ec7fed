"""Placeholder: the ambiguous page is being built (shows 'coming soon')."""
from __future__ import annotations

from generator.data import Dataset
from generator.gallery import PageResult, RunContext
from generator.models import Models


def run(models: Models, dataset: Dataset, context: RunContext) -> PageResult:
    """Not built yet."""
    return PageResult("ambiguous", context={"coming_soon": True})
