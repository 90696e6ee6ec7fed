"""Site assembly: render page results through the Jinja templates into a temporary folder, then swap it in whole."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from generator.cache import Entry, digest
from generator.errors import InputError
from generator.pages import PAGES
from generator.site.images import save_png, sprite_sheet
from generator.site.results import PageResult

STATIC_DIR = "static"
# The WASM-only onnxruntime-web build, and the source map that ort.wasm.min.js names (the package ships none for the
# Emscripten glue ort-wasm-simd-threaded.mjs, and a .wasm has no JavaScript source).
ORT_FILES = ("ort.wasm.min.js", "ort.wasm.min.js.map", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def vendor_files(node_modules: Path) -> dict[str, Path]:
    """Site path -> file in node_modules for the WASM-only onnxruntime-web build the browser pages load."""
    dist = node_modules / "onnxruntime-web" / "dist"
    missing = [name for name in ORT_FILES if not (dist / name).is_file()]
    if missing:
        raise InputError(dist / missing[0], "missing; run `npm ci` (the Try it page needs onnxruntime-web)")
    return {f"vendor/{name}": dist / name for name in ORT_FILES}


def environment(templates: Path) -> Environment:
    """Jinja environment with autoescaping and strict undefined variables."""
    env = Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["percent"] = lambda v, digits=2: "–" if v is None else f"{100 * v:.{digits}f}%"
    env.filters["thousands"] = lambda v: f"{v:,}"
    return env


def write_result(root: Path, result: PageResult, png_cache: Path | None = None) -> None:
    """Write a result's sprite sheets, pictures and manifest under ``root`` (PNGs encoded once, in ``png_cache``)."""
    for sheet in result.sprites:
        if len(sheet.tiles):
            write_png(root / sheet.path, sprite_sheet(sheet.tiles, sheet.columns), png_cache)
    for picture in result.pictures:
        write_png(root / picture.path, picture.pixels, png_cache)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / f"{result.page}.json").write_text(json.dumps(result.manifest(), indent=1))


def write_png(path: Path, pixels: np.ndarray, cache: Path | None) -> None:
    """``save_png``, or with a ``cache`` folder the bytes of the same pixels encoded before (optimised PNG
    encoding is most of a warm build's writing time)."""
    pixels = np.ascontiguousarray(pixels)
    entry = Entry(cache, f"png-{digest(pixels.shape, hashlib.sha256(pixels).hexdigest())}", "png") if cache else None
    hit = entry.load() if entry is not None else None
    if hit is None:
        save_png(path, pixels)
        if entry is not None:
            entry.store(path.read_bytes(), {"shape": list(pixels.shape)})
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(hit[0])


def copy_file(source: Path, target: Path) -> None:
    """Copy one file into the site, creating folders."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def render_pages(root: Path, templates: Path, results: dict[str, PageResult], facts: dict) -> None:
    """Render every page: its module's ``context(result)`` through its own template."""
    env = environment(templates)
    sheets = {s.path: s for r in results.values() for s in r.sprites}
    for page in PAGES:
        html = env.get_template(f"{page.name}.html").render(
            page=page, pages=PAGES, c=page.load().context(results[page.name]), facts=facts, sheets=sheets)
        (root / f"{page.name}.html").write_text(html)


def assemble(out_dir: Path, templates: Path, results: dict[str, PageResult], facts: dict, record: dict,
             files: dict[str, Path], blobs: dict[str, bytes], png_cache: Path | None = None) -> None:
    """Build the whole site in a sibling temporary folder and swap it in; on any failure ``out_dir`` is untouched.

    ``record`` (every config) goes to ``data/build.json``; ``files`` maps site-relative paths (e.g.
    ``models/reader.onnx``) to files to copy in, ``blobs`` to bytes to write; ``png_cache`` keeps encoded PNGs.
    """
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(templates / STATIC_DIR, tmp / STATIC_DIR)
        for result in results.values():
            write_result(tmp, result, png_cache)
        (tmp / "data" / "build.json").write_text(json.dumps({"facts": facts, **record}, indent=1))
        for relative, source in files.items():
            copy_file(source, tmp / relative)
        for relative, data in blobs.items():
            (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
            (tmp / relative).write_bytes(data)
        render_pages(tmp, templates, results, facts)
        swap_in(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def swap_in(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new`` with two renames; the old tree is deleted only afterwards."""
    old = target.with_name(f"{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def remove_leftovers(out_dir: Path) -> None:
    """Delete temporary folders that an interrupted earlier build left beside ``out_dir``."""
    for stale in out_dir.parent.glob(f"{out_dir.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in out_dir.parent.glob(f"{out_dir.name}.old-*"):
        if out_dir.exists():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.rename(out_dir)
