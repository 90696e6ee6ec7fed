"""The downloads datasheet: what each ``downloads/<page>.npz`` holds, how it was made, its fields and its licence."""
from __future__ import annotations

import numpy as np

from generator.site.results import PageResult

FIELDS = {
    "images": "uint8 N×28×28, ink 255 on 0: exactly what the models read",
    "ids": "the item's id in the page's manifest (data/<page>.json) and its permalink anchor on the page",
    "kind": "which part of the page the image comes from", "method": "the recipe or method that made it",
    "labels": "the digit it is meant to be (-1: none, e.g. a muddle)",
    "upright": "the digit it should read as upright", "rotated": "the digit it should read as turned 180°",
    "pair": "the two digits a muddle lies between",
    "index": "MNIST index of a real digit in the build's data (-1: none)",
    "t": "position on the latent path from a to b", "jitter": "the stroke jitter radius, px",
    "reader_probs": "the reader's probabilities of 0–9 (float32 N×10)",
    "judge_probs": "the judge's probabilities of 0–9 (float32 N×10)",
    "reader_probs_rotated": "the reader's probabilities for the image turned 180°",
    "judge_probs_rotated": "the judge's probabilities for the image turned 180°",
}


def run(files: dict[str, tuple[dict[str, np.ndarray], int]]) -> PageResult:
    """Describe each page's data set: ``files`` maps a page to its arrays and the .npz file's size in bytes."""
    sets = [{"page": page, "file": f"downloads/{page}.npz", "bytes": size, "count": len(arrays["images"]),
             "fields": [{"name": name, "dtype": str(array.dtype), "shape": "×".join(map(str, array.shape))}
                        for name, array in arrays.items()]}
            for page, (arrays, size) in files.items()]
    return PageResult("downloads", data={"sets": sets})


def context(result: PageResult) -> dict:
    """Each data set with its fields explained."""
    sets = [{**s, "kilobytes": round(s["bytes"] / 1024), "fields": [{**f, "meaning": FIELDS.get(f["name"], "")}
                                                                   for f in s["fields"]]}
            for s in result.data["sets"]]
    return {"sets": sets}
