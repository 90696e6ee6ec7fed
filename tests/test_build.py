"""End-to-end: a quick build writes every page, image, sprite and manifest, and all links resolve."""
from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag

import pytest
import torch
from jinja2 import UndefinedError
from PIL import Image

from conftest import run_cli
from generator.pages import PAGES
from generator.site.pipeline import SOURCE_LINKS
from generator.site.workers import core_count

DATA_SOURCES = set(SOURCE_LINKS.values())
PAGE_FILES = [f"{p.name}.html" for p in PAGES]


class LinkCollector(HTMLParser):
    """Every href/src in a page (and, apart, links to where the data came from), and every <img> without alt text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.outbound: list[str] = []
        self.images_without_alt: list[str] = []
        self.inline_handlers: list[str] = []
        self.csp = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and "source-link" in (values.get("class") or "").split():
            self.outbound.append(values.get("href") or "")       # a navigation away, never loaded by the page
        else:
            self.links += [v for k, v in attrs if k in ("href", "src") and v]
        if tag == "img" and values.get("alt") is None:
            self.images_without_alt.append(values.get("src", "?"))
        self.inline_handlers += [k for k, _ in attrs if k.startswith("on")]
        if tag == "meta" and values.get("http-equiv") == "Content-Security-Policy":
            self.csp = True


def parse(page: Path) -> LinkCollector:
    collector = LinkCollector()
    collector.feed(page.read_text())
    return collector


def test_every_page_exists(quick_build):
    out = quick_build["out"]
    assert sorted(p.name for p in out.glob("*.html")) == sorted(PAGE_FILES)


@pytest.mark.parametrize("page", PAGE_FILES)
def test_links_and_images_resolve_locally(quick_build, page):
    out = quick_build["out"]
    collector = parse(out / page)
    assert collector.csp, f"{page} has no Content-Security-Policy"
    assert not collector.images_without_alt
    assert not collector.inline_handlers
    assert all(link in DATA_SOURCES for link in collector.outbound), collector.outbound
    for link in collector.links:
        assert not re.match(r"^[a-z]+:|^//|^/", link), f"{page}: non-relative link {link}"
        target = urldefrag(link).url
        if target:
            assert (out / target).is_file(), f"{page}: broken link {link}"


@pytest.mark.parametrize("page", [p.name for p in PAGES])
def test_manifest_follows_schema(quick_build, page):
    out = quick_build["out"]
    manifest = json.loads((out / "data" / f"{page}.json").read_text())
    assert manifest["page"] == page and manifest["schema"] == 1
    for item in manifest["items"]:
        assert {"id", "kind", "label", "image", "scores"} <= item.keys()
        image = item["image"]
        with Image.open(out / image["sprite"]) as sheet:
            assert sheet.mode == "L"
            assert 0 <= image["x"] <= sheet.width - 28 and 0 <= image["y"] <= sheet.height - 28
            assert image["x"] % 28 == 0 and image["y"] % 28 == 0 and image["w"] == image["h"] == 28
        if "index" in item:                                     # a real digit: where it came from
            assert item["split"] in ("train", "test") and isinstance(item["index"], int) and item["index"] >= 0
            if item["kind"] in ("held-out", "misclassified", "close-call", "label-issue", "try-sample"):
                assert item["id"] == f"{item['split']}-{item['index']}"
        for judge in ("reader", "judge"):
            score = item["scores"][judge]
            assert 0 <= score["predicted"] <= 9 and 0.0 <= score["confidence"] <= 1.0
            assert (score["p_label"] is None) == (item["label"] is None)


def test_core_pages_have_items_and_charts(quick_build):
    out = quick_build["out"]
    for page in ("data", "classifier"):
        assert json.loads((out / "data" / f"{page}.json").read_text())["items"]
        assert "<svg" in (out / f"{page}.html").read_text()
    assert len(json.loads((out / "data" / "index.json").read_text())["items"]) == 10


def test_model_cards_say_the_workers_trained_on_one_thread(quick_build):
    """The quick build trains on a pool of single-threaded workers wherever there are two cores or more."""
    html = (quick_build["out"] / "classifier.html").read_text()
    assert ("s on cpu, 1 thread" in html) == (core_count() > 1)


def test_reader_onnx_is_in_the_site(quick_build):
    model = quick_build["out"] / "models" / "reader.onnx"
    assert model.is_file() and 10_000 < model.stat().st_size <= 500_000
    assert not list((quick_build["out"] / "models").glob("*.data"))


def test_summary_table_reports_every_step(quick_build):
    stdout = quick_build["stdout"]
    for step in ("data", "model reader", "model judge", "model autoencoder", "onnx reader",
                 "page data", "site", "total"):
        assert re.search(rf"^{step}\s", stdout, re.M), step
    if core_count() > 1:        # a cold build on one core makes every step in its own process, without workers
        assert re.search(r"^workers\s+[\d.]+\s+\d+ steps on \d+ workers: [\d,]+ s of work, \d+% busy$", stdout, re.M)


def test_warm_rebuild_uses_the_cache(quick_build, tmp_path):
    """A second build with nothing changed loads every model, export and page from the cache (into its own folder,
    so the shared quick site stays as the fixture made it)."""
    result = run_cli("build", "--quick", "--device", "cpu", "--out", str(tmp_path / "site"),
                     "--cache", str(quick_build["cache"]))
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    cacheable = [row for row in rows if row[0] in ("model", "onnx", "page")]
    assert len(cacheable) >= 7 + 3 + 8
    assert all(row[2] == "cached" for row in cacheable), cacheable
    # The pages still say what their content cost when it was made, not what this warm build took.
    first, again = (json.loads((site / "data" / "build.json").read_text())["facts"]
                    for site in (quick_build["out"], tmp_path / "site"))
    assert again["training_seconds"] == first["training_seconds"] > 0
    assert again["generation_seconds"] == first["generation_seconds"] > 0
    assert again["build_seconds"] < first["build_seconds"]
    assert f"models trained in {first['training_seconds']:,} s" in (tmp_path / "site" / "index.html").read_text()


def test_template_change_rerenders_pages_only(quick_build, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(Path(__file__).resolve().parent.parent / "templates", templates)
    base = templates / "base.html"
    base.write_text(base.read_text().replace("Skip to content", "Skip to the gallery"))
    out = tmp_path / "site"
    from generator.site.pipeline import Settings, build
    summary = build(Settings(out=out, cache=quick_build["cache"], templates=templates, device="cpu", quick=True))
    statuses = {row[0]: row[1] for row in summary.rows}
    assert all(statuses[s] == "cached" for s in statuses if s.startswith(("model ", "page ")))
    assert "Skip to the gallery" in (out / "data.html").read_text()


def test_bad_data_leaves_the_previous_site_untouched(quick_build, tmp_path):
    out = quick_build["out"]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    bad = tmp_path / "train.csv"
    bad.write_text("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n" + "3," + ",".join(["0"] * 783) + "\n")
    result = run_cli("build", "--quick", "--data", str(bad), "--out", str(out), "--cache", str(quick_build["cache"]))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "train.csv" in result.stderr and "Traceback" not in result.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_missing_data_folder_is_one_line_error(tmp_path):
    result = run_cli("build", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "site"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "nowhere" in result.stderr
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--seed", "-1"], "must be from 0"),
    (["--seed", "seven"], "is not a whole number"),
    (["--seed", str(2**32)], "must be from 0"),
    (["--device", "tpu"], "invalid choice"),
    (["--no-such-option"], "unrecognized arguments"),
])
def test_bad_options_are_usage_errors_with_status_2(args, message):
    result = run_cli("build", *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert re.match(r"build\.py( build)?: error: ", result.stderr.strip().splitlines()[-1])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_one_line_error(tmp_path):
    result = run_cli("build", "--quick", "--device", "cuda", "--out", str(tmp_path / "site"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no CUDA device" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "site").exists()


def test_help_lists_every_option():
    result = run_cli("build", "--help")
    for option in ("--data", "--download", "--out", "--cache", "--device", "--seed", "--quick"):
        assert option in result.stdout
    assert "classify" in run_cli("--help").stdout


def test_failed_render_leaves_the_previous_site_untouched(quick_build, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(Path(__file__).resolve().parent.parent / "templates", templates)
    (templates / "classifier.html").write_text("{% extends 'base.html' %}"
                                               "{% block content %}{{ no_such_value.x }}{% endblock %}")
    out = quick_build["out"]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    from generator.site.pipeline import Settings, build
    with pytest.raises(UndefinedError):
        build(Settings(out=out, cache=quick_build["cache"], templates=templates, device="cpu", quick=True))
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    assert not list(out.parent.glob("site.tmp-*")) and not list(out.parent.glob("site.old-*"))


def test_leftovers_of_a_killed_build_are_cleaned_up(tmp_path):
    from generator.site.writer import remove_leftovers
    out = tmp_path / "site"
    (tmp_path / "site.tmp-123").mkdir()
    (tmp_path / "site.old-456").mkdir()
    (tmp_path / "site.old-456" / "index.html").write_text("previous")
    remove_leftovers(out)  # killed between the two renames: the previous site is restored
    assert (out / "index.html").read_text() == "previous"
    assert not list(tmp_path.glob("site.*-*"))
