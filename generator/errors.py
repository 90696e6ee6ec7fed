"""The one exception type for bad user input: printed as a single line, exit status 2."""
from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A file or argument the user gave is unusable; the message names it and says why."""

    def __init__(self, source: str | Path, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = str(source)
        self.problem = problem


def one_line(text: object) -> str:
    """Collapse whitespace (newlines included) so that an error message stays on one line."""
    return " ".join(str(text).split())
