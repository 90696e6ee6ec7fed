#!/usr/bin/env python3
"""How real do *real* undecided digits look? A floor for the muddles' realism target.

Realism (``generator.models.realism``) asks whether an image falls among real held-out digits in a classifier's
features. Muddles are meant to sit between two classes, so the fair comparison is not real digits in general but
real digits that are just as undecided. This takes full-MNIST training digits 10,000-59,999 (none of the embedded
build's digits), ranks them by the build's reader's margin between its top two classes, and reports the realism
of the least decided ones and of a random draw in three feature spaces: the judge's (against the pages' reference,
the held-out digits; the judge only reports here, as on the pages), the validation panel's, and the outside design
classifier's of ``bench/ambiguous_design.py``.

    .venv/bin/python bench/realism_floors.py
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ambiguous_design import design_classifier, embedded_models  # noqa: E402

from generator.data.idx import read_idx_dir  # noqa: E402
from generator.engines.panel import Panel  # noqa: E402
from generator.models.metrics import predict_proba  # noqa: E402
from generator.models.realism import Realism  # noqa: E402


def arguments() -> argparse.Namespace:
    """Where full MNIST and the design classifier are; how many undecided digits."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "mnist")
    parser.add_argument("--design-model", type=Path, default=Path("/tmp/design_reader.pt"))
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 300, 1000])
    return parser.parse_args()


def main() -> None:
    args = arguments()
    dataset, models = embedded_models(("reader", "judge", "panel"))
    _, design_realism = design_classifier(args)
    measures = {"judge": Realism.of(models.judge.module, dataset.test_images),
                "panel": Panel.of([m.module for m in models.panel], dataset.train_images, 0),
                "design": design_realism}
    pool = read_idx_dir(args.mnist).train_images[10_000:]
    top_two = np.sort(predict_proba(models.reader.module, pool), axis=1)[:, -2:]
    margin = top_two[:, 1] - top_two[:, 0]
    order = np.argsort(margin, kind="stable")
    sets = {f"{count} least decided": order[:count] for count in args.counts}
    sets["1,000 at random"] = np.random.default_rng(0).choice(len(pool), 1000, replace=False)
    for name, rows in sets.items():
        row = {"digits": name, "largest reader margin": round(float(margin[rows].max()), 3),
               **{measure: round(float(r.looks_real(pool[rows]).mean()), 3) for measure, r in measures.items()}}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
