"""The cold build's worker pool: tasks start after what they need, errors reach the build, nothing waits forever."""
from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from generator.site.workers import Task, run_tasks

FOLDER: dict[str, Path] = {}


def setup(folder: Path) -> None:
    FOLDER["path"] = folder


def write(name: str, needs: tuple[str, ...] = ()) -> None:
    """Record which of ``needs`` had finished (their files exist) when this task ran."""
    folder = FOLDER["path"]
    present = [need for need in needs if (folder / need).exists()]
    (folder / name).write_text(",".join(present))


def fail() -> None:
    raise ValueError("this step is broken")


def test_tasks_start_after_what_they_need(tmp_path):
    tasks = [Task("a", partial(write, "a")), Task("b", partial(write, "b", ("a",)), frozenset({"a"})),
             Task("c", partial(write, "c", ("a", "b")), frozenset({"a", "b"})), Task("d", partial(write, "d"))]
    spans = run_tasks(tasks, 2, setup, (tmp_path,))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c", "d"]
    assert (tmp_path / "b").read_text() == "a"
    assert (tmp_path / "c").read_text() == "a,b"
    assert sorted(spans) == ["a", "b", "c", "d"] and all(0 <= start <= end for start, end in spans.values())
    assert spans["b"][0] >= spans["a"][1] and spans["c"][0] >= max(spans["a"][1], spans["b"][1])


def test_a_failing_task_fails_the_run(tmp_path):
    with pytest.raises(ValueError, match="this step is broken"):
        run_tasks([Task("a", fail), Task("b", partial(write, "b"))], 2, setup, (tmp_path,))


def test_needs_that_no_task_meets_are_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="never run"):
        run_tasks([Task("a", partial(write, "a"), frozenset({"missing"}))], 2, setup, (tmp_path,))
    assert not (tmp_path / "a").exists()
