#!/usr/bin/env python3
"""Trial of the flow-matching denoiser (not run by the tests): train on the embedded data's training digits within
a CPU budget, sample 100 digits per class, and report how the build's reader and ensemble read them (and, for
reference, the real test digits).

The judge is never loaded. The reader and the ensemble come from a default build's weights (``--weights``, read
only: each file's recipe and checksum are checked, then its test accuracy on this data against its record) or,
when none fits, from a quick build trained into a temporary folder. Writes ``results.json``, a contact sheet of
the samples, one of visual anagrams and the denoiser's weights into ``--out``.

    .venv/bin/python bench/diffusion_trial.py --threads 2     # --threads 1 when another job holds a core
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.data import Dataset, load_dataset  # noqa: E402
from generator.digits import images_to_tensor, to_uint8  # noqa: E402
from generator.engines.sampler import SamplerConfig, network_calls, sample  # noqa: E402
from generator.models.denoiser import Denoiser, count_flops  # noqa: E402
from generator.models.export_inputs import export_denoiser  # noqa: E402
from generator.models.flow_matching import DiffusionConfig, train_flow, velocity_loss  # noqa: E402
from generator.models.metrics import predict_proba  # noqa: E402
from generator.models.networks import count_parameters  # noqa: E402
from generator.models.table import SPECS, ModelSpec, get_model, quick_spec  # noqa: E402
from generator.models.training import evaluate  # noqa: E402
from generator.site.images import save_png, sprite_sheet  # noqa: E402

PER_CLASS = 100
ANAGRAM_PAIRS = ((6, 9), (1, 7), (2, 5), (0, 8), (3, 8), (4, 7), (9, 6), (5, 2), (8, 0), (7, 1))


def arguments() -> argparse.Namespace:
    """The trial's knobs: the training recipe, the network widths, the sampler and where things go."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=DiffusionConfig.images, help="training images seen")
    parser.add_argument("--batch-size", type=int, default=DiffusionConfig.batch_size)
    parser.add_argument("--learning-rate", type=float, default=DiffusionConfig.learning_rate)
    parser.add_argument("--time-sampling", default=DiffusionConfig.time_sampling)
    parser.add_argument("--ema-decay", type=float, default=DiffusionConfig.ema_decay)
    parser.add_argument("--augmentation", default=DiffusionConfig.augmentation)
    parser.add_argument("--widths", type=int, nargs=2, default=(32, 64), help="channels at 14 and 7 px")
    parser.add_argument("--steps", type=int, default=SamplerConfig.steps)
    parser.add_argument("--guidance", type=float, default=SamplerConfig.guidance)
    parser.add_argument("--unguided-steps", type=int, default=SamplerConfig.unguided_steps)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", type=Path, default=Path("/work/main/models/weights"),
                        help="a default build's weights folder (read only)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/diffusion-trial"))
    return parser.parse_args()


def cached_classifier(spec: ModelSpec, dataset: Dataset, weights: Path) -> tuple[nn.Module, str] | None:
    """``spec``'s network from the newest file in ``weights`` trained by the same recipe on as many digits, with
    an intact checksum and the recorded test accuracy on ``dataset``; None when no file fits."""
    want = {"train": json.loads(json.dumps(asdict(spec.train))), "kwargs": json.loads(json.dumps(dict(spec.kwargs)))}
    test = (images_to_tensor(dataset.test_images), torch.from_numpy(dataset.test_labels.astype(np.int64)))
    for meta_path in sorted(weights.glob(f"{spec.name}-*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        meta = json.loads(meta_path.read_text())
        train = {k: v for k, v in meta["train"].items() if k != "clean_epochs"}   # an older, no-op default field
        payload = meta_path.with_suffix(".pt").read_bytes()
        if ({"train": train, "kwargs": meta["kwargs"]} != want or meta["train_size"] != len(dataset.train_labels)
                or hashlib.sha256(payload).hexdigest() != meta["sha256"]):
            continue
        module = spec.build()
        module.load_state_dict(torch.load(io.BytesIO(payload), weights_only=True))
        if abs(evaluate(module.eval(), *test)[1] - meta["metrics"]["test_accuracy"]) < 1e-9:
            return module.eval(), meta_path.name
    return None


def classifiers(dataset: Dataset, weights: Path) -> tuple[nn.Module, list[nn.Module], str]:
    """The reader, the ensemble (never the judge) and where they came from."""
    specs = [s for s in SPECS if s.role in ("reader", "ensemble")]
    found = [cached_classifier(s, dataset, weights) for s in specs] if weights.is_dir() else [None]
    if all(found):
        return found[0][0], [f[0] for f in found[1:]], f"default build weights in {weights}: " + ", ".join(
            f[1] for f in found)
    with tempfile.TemporaryDirectory() as tmp:
        trained = [get_model(quick_spec(s), dataset, Path(tmp), torch.device("cpu")).module for s in specs]
    return trained[0], trained[1:], "quick models (1 epoch on 2,000 digits) trained into a temporary folder"


def train(args: argparse.Namespace, dataset: Dataset) -> tuple[Denoiser, DiffusionConfig, dict]:
    """The denoiser trained on every training digit, its recipe and the training facts."""
    config = DiffusionConfig(images=args.images, batch_size=args.batch_size, learning_rate=args.learning_rate,
                             time_sampling=args.time_sampling, augmentation=args.augmentation,
                             ema_decay=args.ema_decay, seed=args.seed)
    torch.manual_seed(args.seed)
    model = Denoiser(tuple(args.widths))
    images = images_to_tensor(dataset.train_images)
    labels = torch.from_numpy(dataset.train_labels.astype(np.int64))
    history = train_flow(model, images, labels, config)
    test_x = images_to_tensor(dataset.test_images)
    test_y = torch.from_numpy(dataset.test_labels.astype(np.int64))
    facts = {"training_seconds": round(history.total_seconds, 1), "images_seen": history.images_seen,
             "epochs": len(history.loss), "loss_per_epoch": [round(v, 4) for v in history.loss],
             "test_velocity_mse": round(velocity_loss(model, test_x, test_y), 4),
             "parameters": count_parameters(model), "mflop_per_forward": round(count_flops(model) / 1e6, 1)}
    return model, config, facts


def reading(probs: np.ndarray, labels: np.ndarray) -> dict:
    """Mean probability of the intended digit and accuracy, overall and per class present, from probabilities
    [N,10] and intended labels [N]."""
    intended = probs[np.arange(len(labels)), labels]
    correct = probs.argmax(1) == labels
    present = sorted(set(labels.tolist()))
    return {"mean_probability": round(float(intended.mean()), 4), "accuracy": round(float(correct.mean()), 4),
            "per_class_probability": {d: round(float(intended[labels == d].mean()), 3) for d in present},
            "per_class_accuracy": {d: round(float(correct[labels == d].mean()), 3) for d in present}}


def score(samples: torch.Tensor, labels: np.ndarray, reader: nn.Module, ensemble: list[nn.Module]) -> dict:
    """How the reader and the ensemble (its members' mean probabilities) read the samples as their labels, and
    their stray ink."""
    ensemble_probs = np.mean([predict_proba(m, samples) for m in ensemble], axis=0)
    return {"reader": reading(predict_proba(reader, samples), labels), "ensemble": reading(ensemble_probs, labels),
            "stray_ink": stray_ink(samples)}


def stray_ink(images: torch.Tensor, threshold: float = 0.5) -> float:
    """Mean fraction of ink pixels (> ``threshold``) of images [N,1,28,28] outside each image's largest
    8-connected stroke: 0 for one unbroken pen stroke, more for specks and broken strokes."""
    ink = images > threshold
    ids = torch.arange(1, 785, dtype=torch.float32).view(1, 1, 28, 28) * ink
    while True:
        spread = F.max_pool2d(ids, 3, stride=1, padding=1) * ink
        if torch.equal(spread, ids):
            break
        ids = spread
    fractions = []
    for image in ids.flatten(1):
        counts = torch.unique(image[image > 0], return_counts=True)[1]
        fractions.append(1 - counts.max().item() / counts.sum().item() if len(counts) else 0.0)
    return round(float(np.mean(fractions)), 4)


def anagram_sheet(model: Denoiser, sampler: SamplerConfig, path: Path, seed: int) -> dict:
    """Four anagrams per pair of ``ANAGRAM_PAIRS``, shown upright and turned (two rows a pair), saved to ``path``."""
    upright = torch.tensor([i for i, _ in ANAGRAM_PAIRS for _ in range(4)])
    turned = torch.tensor([j for _, j in ANAGRAM_PAIRS for _ in range(4)])
    started = time.perf_counter()
    images = sample(model, upright, sampler, seed, turned=turned)
    seconds = time.perf_counter() - started
    tiles = to_uint8(images[:, 0].numpy()).reshape(len(ANAGRAM_PAIRS), 4, 28, 28)
    rows = np.concatenate([tiles, tiles[:, :, ::-1, ::-1]], axis=1).reshape(-1, 28, 28)
    save_png(path, sprite_sheet(rows, 8))
    return {"anagrams": len(upright), "seconds": round(seconds, 1), "images": images, "upright": upright,
            "turned": turned}


def main() -> None:
    """Run the trial and print its numbers."""
    args = arguments()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(None, ROOT / "models" / "data", node_modules=ROOT / "node_modules")
    reader, ensemble, source = classifiers(dataset, args.weights)
    model, config, facts = train(args, dataset)
    sampler = SamplerConfig(steps=args.steps, guidance=args.guidance, unguided_steps=args.unguided_steps)
    labels = np.repeat(np.arange(10), PER_CLASS)
    started = time.perf_counter()
    samples = sample(model, torch.from_numpy(labels), sampler, args.seed + 1)
    sampling_seconds = time.perf_counter() - started
    tiles = to_uint8(samples[:, 0].numpy()).reshape(10, PER_CLASS, 28, 28)[:, :20].reshape(-1, 28, 28)
    save_png(args.out / "samples.png", sprite_sheet(tiles, 20))
    plain_labels = np.repeat(np.arange(10), PER_CLASS // 2)
    plain = sample(model, torch.from_numpy(plain_labels), replace(sampler, guidance=1.0), args.seed + 3)
    anagrams = anagram_sheet(model, sampler, args.out / "anagrams.png", args.seed + 2)
    anagram_scores = {"upright": score(anagrams["images"], anagrams["upright"].numpy(), reader, ensemble),
                      "turned": score(torch.flip(anagrams["images"], dims=(-2, -1)), anagrams["turned"].numpy(),
                                      reader, ensemble)}
    torch.save(model.state_dict(), args.out / "denoiser.pt")
    onnx_data, onnx_diff = export_denoiser(model)
    results = {
        "config": asdict(config), "widths": args.widths,
        "sampler": asdict(sampler), "threads": args.threads, "classifiers": source, **facts,
        "network_calls_per_digit": network_calls(sampler),
        "sampling_seconds_per_100": round(sampling_seconds * 100 / len(labels), 2),
        "samples": score(samples, labels, reader, ensemble),
        "samples_without_guidance": score(plain, plain_labels, reader, ensemble),
        "anagram_seconds": anagrams["seconds"], "anagram_reading": anagram_scores,
        "onnx_parity": onnx_diff, "onnx_bytes": len(onnx_data),
        "real_test_digits": score(images_to_tensor(dataset.test_images), dataset.test_labels.astype(np.int64),
                                  reader, ensemble),
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
