"""The muddle page (seed 002): the autoencoder's latent space and digits caught between two classes.

Every held-out digit is encoded into the autoencoder's 10-d latent space. A muddle starts from a
held-out digit *a*; the nearest *other* class to its latent (by distance to the class means of the
training latents) names a partner class, and a seeded random held-out digit *b* of that class is
the other end. On the straight path ``z(t) = (1 - t) z_a + t z_b`` three muddles are decoded:

``midpoint``  t = 1/2, the seed's recipe;
``farthest``  of ``PATH_STEPS`` evenly spaced points, the decoding farthest (pixel MSE) from both
              ends' decodings, i.e. the largest min(MSE to a's decoding, MSE to b's decoding): the
              seed's "further thought" (it proposed the sum; the minimum insists on both);
``boundary``  bisection on t until the reader's p(a) and p(b) tie (relative difference at most
              ``TIE_TOLERANCE``): a digit on the reader's decision boundary between the two classes.
              Of the sampled path's sign changes of p(a) - p(b) it bisects the one where the two are
              strongest.

The judge, which takes no part, scores every muddle: are its top two classes exactly {a, b}, and
how even is it (margin |p_a - p_b|)? The page also ships a sample of latents for the in-browser
explorer, which runs the decoder ONNX (exported by the pipeline) and the reader.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from generator import charts
from generator.data import Dataset
from generator.gallery import PageResult, RunContext, SpriteSheet, scored_items
from generator.models import Models
from generator.training import images_to_tensor, predict_proba

METHODS = ("midpoint", "farthest", "boundary")
PAIR_COLUMNS = ("source", "partner", *METHODS)   # one sprite row per pair: a, b, then the muddles
PER_CLASS = 10                 # source digits per class (muddles per method: 10 x PER_CLASS)
QUICK_PER_CLASS = 3
PATH_STEPS = 41                # sampled points on the path a -> b, ends included (t = 0, 0.025, ..., 1)
TIE_TOLERANCE = 0.01           # bisection stops once |p_a - p_b| <= this * (p_a + p_b)
BISECTION_STEPS = 40
RECONSTRUCTION_SHOWN = 20      # two per class
MAP_PER_CLASS = 80             # points per class on the latent map
SAMPLES_PER_CLASS = 5          # latents shipped to the explorer
BATCH = 500


def encode(autoencoder: nn.Module, images: np.ndarray) -> np.ndarray:
    """Latent vectors ``[N, 10]`` (float32) of uint8 digits ``[N, 28, 28]``."""
    autoencoder = autoencoder.cpu().eval()
    x = images_to_tensor(images)
    with torch.no_grad():
        return torch.cat([autoencoder.encoder(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]).numpy()


def decode(autoencoder: nn.Module, latents: np.ndarray) -> np.ndarray:
    """Decoded digits ``[N, 28, 28]`` in [0, 1] (float32) of latent vectors ``[N, 10]``."""
    autoencoder = autoencoder.cpu().eval()
    z = torch.from_numpy(np.ascontiguousarray(latents, dtype=np.float32))
    with torch.no_grad():
        return torch.cat([autoencoder.decoder(z[i:i + BATCH]) for i in range(0, len(z), BATCH)])[:, 0].numpy()


def to_tiles(images: np.ndarray) -> np.ndarray:
    """Float digits in [0, 1] as uint8 tiles (ink 255)."""
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)


def probabilities(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """A classifier's softmax ``[N, 10]`` of float digits ``[N, 28, 28]`` in [0, 1]."""
    return predict_proba(model.cpu(), torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1))


def class_means(latents: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean latent of every class: row d is class d's mean ``[10, latent]``."""
    return np.stack([latents[labels == d].mean(axis=0) for d in range(10)])


def nearest_other_class(latents: np.ndarray, labels: np.ndarray, means: np.ndarray) -> np.ndarray:
    """For each latent, the class (not its own) whose mean latent is nearest."""
    distances = np.linalg.norm(latents[:, None, :] - means[None, :, :], axis=2)
    distances[np.arange(len(labels)), labels] = np.inf
    return distances.argmin(axis=1)


def choose_pairs(labels: np.ndarray, partner_class: np.ndarray, per_class: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (a, b) index pairs: ``per_class`` random digits a of each class, each with a random b of its partner class."""
    sources, partners = [], []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        for a in rng.choice(members, size=min(per_class, len(members)), replace=False):
            candidates = np.flatnonzero(labels == partner_class[a])
            sources.append(int(a))
            partners.append(int(rng.choice(candidates)))
    return np.array(sources, dtype=np.int64), np.array(partners, dtype=np.int64)


def farthest_on_path(path: np.ndarray) -> np.ndarray:
    """Index of the point farthest from both ends of each sampled path.

    ``path`` is ``[P, S, ...]``: P paths of S decoded images, the first and last being the ends.
    The chosen point maximises min(MSE to the first image, MSE to the last image); ties go to the
    earlier point.
    """
    flat = path.reshape(path.shape[0], path.shape[1], -1).astype(np.float64)
    to_start = ((flat - flat[:, :1]) ** 2).mean(axis=2)
    to_end = ((flat - flat[:, -1:]) ** 2).mean(axis=2)
    return np.minimum(to_start, to_end).argmax(axis=1)


def bracket(gaps: np.ndarray, ts: np.ndarray, strength: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sign change of each row of ``gaps`` ``[P, S]`` sampled at ``ts``: (lo, hi, found).

    Without ``strength`` the first sign change; with it (``[P, S]``, e.g. p(a) + p(b)) the change whose
    weaker end is strongest, so that a flicker between two tiny probabilities loses to the real
    crossing. Where a row never changes sign, lo = hi = the sampled t with the smallest |gap| and
    found is False.
    """
    positive = gaps > 0
    change = positive[:, :-1] != positive[:, 1:]
    found = change.any(axis=1)
    weight = np.ones(change.shape) if strength is None else np.minimum(strength[:, :-1], strength[:, 1:])
    chosen = np.where(change, weight, -np.inf).argmax(axis=1)          # ties: the first
    closest = np.abs(gaps).argmin(axis=1)
    lo = np.where(found, ts[chosen], ts[closest])
    hi = np.where(found, ts[np.minimum(chosen + 1, len(ts) - 1)], ts[closest])
    return lo, hi, found


def bisect_tie(gap: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, *,
               tolerance: float = TIE_TOLERANCE, steps: int = BISECTION_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Roots of ``gap`` by bisection, many at once: (t, gap(t)).

    ``gap`` maps positions ``[P]`` to values ``[P]`` (here the reader's p(a) - p(b) along each pair's
    path) and must change sign between ``lo`` and ``hi``. A row stops once |gap| <= ``tolerance``;
    after ``steps`` halvings the best of its last bracket's ends and midpoint is returned.
    """
    lo, hi = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    gap_lo = gap(lo)
    t, value = lo.copy(), gap_lo.copy()
    done = np.abs(gap_lo) <= tolerance
    for _ in range(steps):
        if done.all():
            break
        mid = (lo + hi) / 2
        gap_mid = gap(mid)
        better = ~done & (np.abs(gap_mid) < np.abs(value))
        t, value = np.where(better, mid, t), np.where(better, gap_mid, value)
        done |= np.abs(gap_mid) <= tolerance
        same_side = (gap_mid > 0) == (gap_lo > 0)
        lo, gap_lo = np.where(same_side, mid, lo), np.where(same_side, gap_mid, gap_lo)
        hi = np.where(same_side, hi, mid)
    return t, value


def pca(points: np.ndarray, dims: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal axes by SVD: (centre, components ``[dims, D]`` with sign fixed, explained variance share ``[dims]``)."""
    centre = points.mean(axis=0)
    _, singular, vt = np.linalg.svd(points - centre, full_matrices=False)
    largest = np.abs(vt[:dims]).argmax(axis=1)
    components = vt[:dims] * np.sign(vt[np.arange(dims), largest])[:, None]   # each axis's largest entry positive
    return centre, components, (singular ** 2 / (singular ** 2).sum())[:dims]


def pair_reading(probs: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Per row: p(a), p(b), whether the top two classes are exactly {a, b}, and the margin |p_a - p_b|."""
    rows = np.arange(len(a))
    top2 = np.argsort(-probs, axis=1, kind="stable")[:, :2]
    both = ((top2[:, 0] == a) & (top2[:, 1] == b)) | ((top2[:, 0] == b) & (top2[:, 1] == a))
    p_a, p_b = probs[rows, a], probs[rows, b]
    return {"p_a": p_a, "p_b": p_b, "top2_is_pair": both, "margin": np.abs(p_a - p_b)}


def relative_gap(p_a: np.ndarray, p_b: np.ndarray) -> np.ndarray:
    """(p_a - p_b) / (p_a + p_b): the sign says which leads; near 0 only at a real tie, never merely where both are tiny.

    |relative gap| <= tol implies |p_a - p_b| <= tol.
    """
    return (p_a - p_b) / np.maximum(p_a + p_b, 1e-30)


def muddles(autoencoder: nn.Module, reader: nn.Module, z_a: np.ndarray, z_b: np.ndarray, a: np.ndarray,
            b: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """The three muddles of every pair: {method: {"t": [P], "image": [P, 28, 28] float}} plus boundary's "tied"."""
    ts = np.linspace(0.0, 1.0, PATH_STEPS)
    path_latents = (1 - ts)[None, :, None] * z_a[:, None, :] + ts[None, :, None] * z_b[:, None, :]
    path = decode(autoencoder, path_latents.reshape(-1, z_a.shape[1])).reshape(len(a), PATH_STEPS, 28, 28)
    rows = np.arange(len(a))
    farthest = farthest_on_path(path)
    path_probs = probabilities(reader, path.reshape(-1, 28, 28)).reshape(len(a), PATH_STEPS, 10)
    p_a, p_b = path_probs[rows, :, a], path_probs[rows, :, b]
    lo, hi, found = bracket(relative_gap(p_a, p_b), ts, strength=p_a + p_b)

    def gap(t: np.ndarray) -> np.ndarray:
        probs = probabilities(reader, decode(autoencoder, (1 - t)[:, None] * z_a + t[:, None] * z_b))
        return relative_gap(probs[rows, a], probs[rows, b])

    t_boundary, value = bisect_tie(gap, lo, hi)
    boundary_latents = (1 - t_boundary)[:, None] * z_a + t_boundary[:, None] * z_b
    middle = decode(autoencoder, (z_a + z_b) / 2)
    return {
        "midpoint": {"t": np.full(len(a), 0.5), "image": middle},
        "farthest": {"t": ts[farthest], "image": path[rows, farthest]},
        "boundary": {"t": t_boundary, "image": decode(autoencoder, boundary_latents),
                     "tied": found & (np.abs(value) <= TIE_TOLERANCE)},
    }


def summarise(readings: dict[str, dict[str, np.ndarray]]) -> dict:
    """Page-level numbers of one method: share with top two == {a, b} and median margin, for judge and reader."""
    return {model: {"share": round(float(r["top2_is_pair"].mean()), 4), "median_margin": round(float(np.median(r["margin"])), 4)}
            for model, r in readings.items()}


def add_fields(items: list[dict], **fields: list) -> list[dict]:
    """Set per-item fields (one list per field name, in item order)."""
    for n, item in enumerate(items):
        item.update({name: values[n] for name, values in fields.items()})
    return items


def reconstruction_strip(autoencoder: nn.Module, reader: nn.Module, judge: nn.Module, dataset: Dataset,
                         latents: np.ndarray, rng: np.random.Generator) -> tuple[SpriteSheet, list[dict], np.ndarray]:
    """Two held-out digits per class over their reconstructions, and every held-out digit's reconstruction MSE."""
    labels = dataset.test_labels.astype(np.int64)
    reconstructed = decode(autoencoder, latents)
    errors = ((reconstructed - dataset.test_images / 255.0) ** 2).mean(axis=(1, 2))
    shown = np.concatenate([rng.choice(np.flatnonzero(labels == d), 2, replace=False) for d in range(10)])
    sheet = SpriteSheet("muddle-reconstructions", np.concatenate([dataset.test_images[shown], to_tiles(reconstructed[shown])]),
                        columns=RECONSTRUCTION_SHOWN)
    items = scored_items(sheet, "reconstruction", labels[shown].tolist() * 2, reader, judge,
                         ids=[f"test-{i}" for i in shown] + [f"reconstruction-{i}" for i in shown])
    add_fields(items, method=["original"] * len(shown) + ["reconstruction"] * len(shown), pair=[None] * 2 * len(shown),
               index=[int(i) for i in shown] * 2, mse=[None] * len(shown) + [round(float(errors[i]), 4) for i in shown])
    return sheet, items, errors


def pair_gallery(made: dict, images: np.ndarray, source: np.ndarray, partner: np.ndarray, a: np.ndarray, b: np.ndarray,
                 reader: nn.Module, judge: nn.Module) -> tuple[SpriteSheet, list[dict], dict]:
    """One sprite row per pair (a, b, midpoint, farthest, boundary), their manifest items, and every tile's pair reading.

    The readings are ``{column: {"reader" | "judge": pair_reading(...)}}``, of the uint8 tiles as shown.
    """
    columns = [images[source], images[partner]] + [to_tiles(made[m]["image"]) for m in METHODS]
    tiles = np.stack(columns, axis=1)                                   # [pairs, 5, 28, 28]
    sheet = SpriteSheet("muddle-pairs", tiles.reshape(-1, 28, 28), columns=len(PAIR_COLUMNS))
    labels = [int(d) for d in a] + [int(d) for d in b]
    per_pair = [[labels[k], labels[len(a) + k]] + [None] * len(METHODS) for k in range(len(a))]
    items = scored_items(sheet, "muddle", [label for row in per_pair for label in row], reader, judge,
                         ids=[f"muddle-{k}-{column}" for k in range(len(a)) for column in PAIR_COLUMNS])
    readings = {name: {model: pair_reading(probabilities(net, tiles[:, c] / 255.0), a, b)
                       for model, net in (("reader", reader), ("judge", judge))}
                for c, name in enumerate(PAIR_COLUMNS)}
    for n, item in enumerate(items):
        k, name = n // len(PAIR_COLUMNS), PAIR_COLUMNS[n % len(PAIR_COLUMNS)]
        r = {model: {key: values[k] for key, values in readings[name][model].items()} for model in ("reader", "judge")}
        item.update(method=name, pair=[int(a[k]), int(b[k])], pair_index=k,
                    p_pair={model: [round(float(r[model]["p_a"]), 4), round(float(r[model]["p_b"]), 4)] for model in r},
                    judge_top2_is_pair=bool(r["judge"]["top2_is_pair"]), judge_margin=round(float(r["judge"]["margin"]), 4),
                    reader_top2_is_pair=bool(r["reader"]["top2_is_pair"]))
        if name in METHODS:
            item["t"] = round(float(made[name]["t"][k]), 4)
        else:
            item["index"] = int((source if name == "source" else partner)[k])
        if name == "boundary":
            item["tied"] = bool(made["boundary"]["tied"][k])
    return sheet, items, readings


def explorer_sample(latents: np.ndarray, dataset: Dataset, reader: nn.Module, judge: nn.Module,
                    rng: np.random.Generator) -> tuple[SpriteSheet, list[dict], dict]:
    """A few held-out digits per class with their latents: the explorer's data (and their manifest items)."""
    labels = dataset.test_labels.astype(np.int64)
    sample = np.concatenate([rng.choice(np.flatnonzero(labels == d), SAMPLES_PER_CLASS, replace=False) for d in range(10)])
    sheet = SpriteSheet("muddle-samples", dataset.test_images[sample], columns=SAMPLES_PER_CLASS * 2)
    rounded = [[round(float(v), 6) for v in latents[i]] for i in sample]
    items = add_fields(scored_items(sheet, "explorer-sample", labels[sample].tolist(), reader, judge,
                                    ids=[f"sample-{i}" for i in sample]),
                       method=["sample"] * len(sample), pair=[None] * len(sample), index=[int(i) for i in sample],
                       latent=rounded)
    first_of = {int(d): next(n for n, i in enumerate(sample) if labels[i] == d) for d in (4, 9)}
    explorer = {"decoder": "models/decoder.onnx", "reader": "models/reader.onnx", "default": [first_of[4], first_of[9]],
                "samples": [{"id": f"sample-{i}", "label": int(labels[i]), "index": int(i), "latent": z}
                            for i, z in zip(sample, rounded)]}
    return sheet, items, explorer


def latent_space(latents: np.ndarray, labels: np.ndarray, means: np.ndarray, rng: np.random.Generator) -> dict:
    """Charts of the latent space: class means, their distances, and a PCA map of held-out latents."""
    digits = [str(d) for d in range(10)]
    distances = np.linalg.norm(means[:, None] - means[None, :], axis=2)
    centre, components, explained = pca(latents)
    on_map = rng.permutation(np.concatenate([rng.permutation(np.flatnonzero(labels == d))[:MAP_PER_CLASS]
                                             for d in range(10)]))        # shuffled: no class drawn over all others
    return {
        "means_chart": charts.heatmap(means, "Mean latent vector of each class (training digits)", row_labels=digits,
                                      col_labels=[str(k + 1) for k in range(means.shape[1])], row_title="class",
                                      col_title="latent dimension", value_format="{:.1f}"),
        "distance_chart": charts.heatmap(distances, "Distance between class-mean latents", row_labels=digits,
                                         col_labels=digits, row_title="class", col_title="class", value_format="{:.1f}"),
        "nearest_mean": [int(d) for d in np.where(np.eye(10, dtype=bool), np.inf, distances).argmin(axis=1)],
        "map_chart": charts.scatter((latents[on_map] - centre) @ components.T, labels[on_map],
                                    "Held-out digits' latents on their two principal axes, class means marked",
                                    marks=(means - centre) @ components.T, x_label="first principal axis",
                                    y_label="second principal axis"),
        "map_points": int(len(on_map)), "explained": [round(float(e), 4) for e in explained],
    }


def run(models: Models, dataset: Dataset, context: RunContext) -> PageResult:
    """Reconstructions, the latent space, muddles of three kinds with their scores, and the explorer's sample."""
    started = time.perf_counter()
    autoencoder, reader, judge = models.autoencoder.module, models.reader.module, models.judge.module
    rng = np.random.default_rng([context.seed, 2])
    labels = dataset.test_labels.astype(np.int64)
    train_latents = encode(autoencoder, dataset.train_images)
    latents = encode(autoencoder, dataset.test_images)
    means = class_means(train_latents, dataset.train_labels.astype(np.int64))
    recon_sheet, items, errors = reconstruction_strip(autoencoder, reader, judge, dataset, latents, rng)

    # Muddles: a, a random b of the class nearest to a (its own excluded), and the three points between them.
    per_class = QUICK_PER_CLASS if context.quick else PER_CLASS
    source, partner = choose_pairs(labels, nearest_other_class(latents, labels, means), per_class, rng)
    a, b = labels[source], labels[partner]
    made = muddles(autoencoder, reader, latents[source], latents[partner], a, b)
    pair_sheet, pair_items, readings = pair_gallery(made, dataset.test_images, source, partner, a, b, reader, judge)
    scores = {name: summarise(readings[name]) for name in METHODS}
    offset = len(items)
    items += pair_items
    pairs = [{"a": int(a[k]), "b": int(b[k]), **{name: offset + k * len(PAIR_COLUMNS) + c for c, name in enumerate(PAIR_COLUMNS)}}
             for k in range(len(source))]
    best = sorted((p for p in pairs if items[p["boundary"]]["judge_top2_is_pair"]),
                  key=lambda p: items[p["boundary"]]["judge_margin"])[:10]

    sample_sheet, sample_items, explorer = explorer_sample(latents, dataset, reader, judge, rng)
    items += sample_items
    context_data = {
        "reconstruction_mse": round(float(errors.mean()), 5), "reconstruction_count": int(len(errors)),
        "reconstruction_shown": RECONSTRUCTION_SHOWN, "latent_size": int(latents.shape[1]),
        "train_size": int(len(train_latents)), "pair_count": int(len(source)), "per_class": per_class,
        "path_steps": PATH_STEPS, "tie_tolerance": TIE_TOLERANCE, "bisection_steps": BISECTION_STEPS,
        "tied": int(made["boundary"]["tied"].sum()),
        "boundary_reader_pair": int(readings["boundary"]["reader"]["top2_is_pair"].sum()),
        "scores": scores, "pairs": pairs, "best": best, "explorer": explorer,
        **latent_space(latents, labels, means, rng),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return PageResult("muddle", items, [recon_sheet, pair_sheet, sample_sheet], [], context_data)
