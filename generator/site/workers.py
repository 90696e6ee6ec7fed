"""Running a cold build's independent steps on several single-threaded worker processes at once.

Small networks keep one CPU core much busier than two: on the two-core reference machine, two processes of one
torch thread each train and generate about 1.2-1.3x as much a second as one process with two threads. So a cold
CPU build hands every missing model and page to a pool of such workers, models first and a page as soon as the
models it reads are cached; each task stores its result in the cache, and the build then reads everything from
there, as a warm build would.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass

from tqdm import tqdm


@dataclass(frozen=True)
class Task:
    """One step for a worker: ``run`` (picklable: a module-level function or a partial of one) stores its result
    in the cache; it starts once every task named in ``needs`` has finished."""

    name: str
    run: Callable[[], None]
    needs: frozenset[str] = frozenset()
    rank: tuple = ()            # smaller starts first among the tasks that are ready


def core_count() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def quiet_worker(setup: Callable[..., None], *args: object) -> None:
    """A worker's start: its own progress bars off (the build shows one bar over the tasks), a watch that ends
    it when the build is killed, then ``setup``."""
    sys.stderr = open(os.devnull, "w")      # noqa: SIM115 (held for the worker's whole life)
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
    setup(*args)


def exit_with_parent(parent: int) -> None:
    """End this process as soon as its parent is gone (a killed build leaves no worker computing)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def run_tasks(tasks: Sequence[Task], jobs: int, setup: Callable[..., None],
              args: tuple) -> dict[str, tuple[float, float]]:
    """Run ``tasks`` on ``jobs`` worker processes, each started with ``setup(*args)``; a task's error is raised
    here once the tasks already running have stopped. Returns each task's start and end, in seconds from the
    pool's start (a task is handed over only when a worker is free, so its span is its run)."""
    pending, running, done = {t.name: t for t in tasks}, {}, set()
    opened, starts, spans = time.perf_counter(), {}, {}
    context = multiprocessing.get_context("spawn")          # no forked copies of torch's thread pools
    bar = tqdm(total=len(tasks), desc=f"building on {jobs} workers", unit="step")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=quiet_worker,
                             initargs=(setup, *args)) as pool:
        try:
            while pending or running:
                start_ready(pool, pending, running, done, jobs)
                for task in running.values():
                    starts.setdefault(task.name, time.perf_counter() - opened)
                if not running:
                    raise RuntimeError(f"steps waiting on steps that never run: {sorted(pending)}")
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = running.pop(future)
                    future.result()
                    done.add(task.name)
                    spans[task.name] = (starts[task.name], time.perf_counter() - opened)
                    bar.set_postfix_str(task.name)
                    bar.update()
        finally:
            pool.shutdown(cancel_futures=True)
            bar.close()
    return spans


def start_ready(pool: ProcessPoolExecutor, pending: dict[str, Task], running: dict[Future, Task], done: set[str],
                jobs: int) -> None:
    """Submit the ready tasks, best rank first, while fewer than ``jobs`` run."""
    ready = sorted((t for t in pending.values() if t.needs <= done), key=lambda t: t.rank)
    for task in ready[:max(0, jobs - len(running))]:
        running[pool.submit(task.run)] = pending.pop(task.name)
