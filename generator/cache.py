"""The build cache in ``models/``: content-addressed files with a checksummed metadata record.

An entry is ``<stem>.<ext>`` plus ``<stem>.json``; the JSON, written last, holds the
payload's SHA-256. A payload whose checksum does not match (truncated, corrupt,
half-written) is deleted and reported as a miss, so the caller rebuilds it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


def digest(*parts: Any) -> str:
    """A short, stable hash of JSON-serialisable parts (configs, fingerprints, code hashes)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_hash(*modules: str) -> str:
    """Hash of the source of the named modules of this package (e.g. ``"networks"``; none: all), the code version."""
    h = hashlib.sha256()
    for name in modules or sorted(p.stem for p in PACKAGE_DIR.glob("*.py")):
        h.update((PACKAGE_DIR / f"{name}.py").read_bytes())
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
