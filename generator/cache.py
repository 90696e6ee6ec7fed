"""The build cache in ``models/``: content-addressed files with a checksummed metadata record.

An entry is ``<stem>.<ext>`` plus ``<stem>.json``; the JSON, written last, holds the
payload's SHA-256. A payload whose checksum does not match (truncated, corrupt,
half-written) is deleted and reported as a miss, so the caller rebuilds it.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


def digest(*parts: Any) -> str:
    """A short, stable hash of JSON-serialisable parts (configs, fingerprints, code hashes)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def module_file(module: str, root: Path = PACKAGE_DIR) -> Path | None:
    """The source file of a dotted ``generator...`` module under ``root`` (a package's ``__init__.py``), or None."""
    parts = module.split(".")[1:]
    for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
        if parts and candidate.is_file():
            return candidate
    return None


def package_imports(module: str, root: Path = PACKAGE_DIR) -> set[str]:
    """The ``generator`` modules that ``module``'s source imports directly: ``from generator.x import y`` names
    ``generator.x.y`` when y is a module itself, else ``generator.x``."""
    path = module_file(module, root)
    stat = path.stat()
    return set(imports_in(path, stat.st_mtime_ns, stat.st_size, root))


@functools.cache
def imports_in(path: Path, mtime_ns: int, size: int, root: Path) -> frozenset[str]:
    """``package_imports`` of one version of one file (parsed once a process; the build hashes ~30 modules for
    its pages, models and exports, most of them many times)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [f"{node.module}.{a.name}" if module_file(f"{node.module}.{a.name}", root) else node.module
                       for a in node.names]
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
        found |= {n for n in names if n.split(".")[0] == "generator" and module_file(n, root)}
    return frozenset(found)


def code_modules(*modules: str, root: Path = PACKAGE_DIR, skip: Collection[str] = ()) -> list[str]:
    """``modules`` and every ``generator`` module they import, directly or not, sorted; ``skip`` (and what only
    they import) left out."""
    seen: set[str] = set(skip)
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(package_imports(module, root) - seen)
    return sorted(seen - set(skip))


def code_version(*modules: str, root: Path = PACKAGE_DIR, skip: Collection[str] = ()) -> str:
    """Hash of the source of ``modules`` and everything of this package they import: their code version.

    Editing a module changes the version of every module that imports it, and of nothing else.
    """
    h = hashlib.sha256()
    for module in code_modules(*modules, root=root, skip=skip):
        h.update(module.encode() + b"\0" + module_file(module, root).read_bytes())
    return h.hexdigest()[:16]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


class Entry:
    """One cache entry: a payload file and its metadata record."""

    def __init__(self, directory: Path, stem: str, ext: str) -> None:
        self.payload = directory / f"{stem}.{ext}"
        self.meta_path = directory / f"{stem}.json"

    def present(self) -> bool:
        """Whether both files exist (``load`` also checks that they are intact)."""
        return self.payload.exists() and self.meta_path.exists()

    def load(self) -> tuple[bytes, dict] | None:
        """The payload bytes and metadata, or None when missing or corrupt (corrupt files are removed)."""
        if not (self.payload.exists() and self.meta_path.exists()):
            return None
        try:
            meta = json.loads(self.meta_path.read_text())
            data = self.payload.read_bytes()
            if hashlib.sha256(data).hexdigest() == meta["sha256"]:
                return data, meta
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.remove()
        return None

    def store(self, data: bytes, meta: dict) -> None:
        """Write the payload, then the metadata that vouches for it."""
        atomic_write(self.payload, data)
        record = {**meta, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        atomic_write(self.meta_path, json.dumps(record, indent=2, sort_keys=True).encode())

    def remove(self) -> None:
        """Delete both files if present."""
        for path in (self.payload, self.meta_path):
            path.unlink(missing_ok=True)
