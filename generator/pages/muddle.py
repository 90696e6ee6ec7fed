"""The muddle page (seed 002): the autoencoder's latent space and digits caught between two classes.

Every held-out digit is encoded into the autoencoder's 10-d latent space. A muddle starts from a
held-out digit *a*; the nearest *other* class to its latent (by distance to the class means of the
training latents) names a partner class, and a seeded random held-out digit *b* of that class is
the other end. On the straight path ``z(t) = (1 - t) z_a + t z_b`` three muddles are decoded:

``midpoint``  t = 1/2, the seed's recipe;
``farthest``  of ``path_steps`` evenly spaced points, the decoding farthest (pixel MSE) from both
              ends' decodings, i.e. the largest min(MSE to a's decoding, MSE to b's decoding): the
              seed's "further thought" (it proposed the sum; the minimum insists on both);
``boundary``  a search on t (regula falsi) until the reader's p(a) and p(b) tie (relative difference at
              most ``tie_tolerance``): a digit on the reader's decision boundary between the two classes.
              Of the sampled path's sign changes of p(a) - p(b) it searches the one where the two are
              strongest.
``diffusion`` the boundary muddle redrawn in ink: re-noised part-way (``diffusion_start``; its shape
              survives, its blur does not) and denoised by the diffusion model with the guided velocities of
              a and b blended by a weight w, searched until the reader's p(a) and p(b) tie; "t" is that w.
              Each step is also steered by the ensemble towards reading as both a and b (no third class).

The judge, which takes no part, scores every muddle: are its top two classes exactly {a, b}, how even
is it (margin |p_a - p_b|), and does it look real (``generator.models.realism``)? The page also ships a
sample of latents for the in-browser explorer, which runs the decoder ONNX (exported by the pipeline) and
the reader.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from generator.data.dataset import Dataset
from generator.digits import images_to_tensor, to_uint8
from generator.engines.latent_walk import bracket, decode, encode, farthest_on_path, find_tie, pca, relative_gap
from generator.engines.nearest_real import RealDigits
from generator.engines.sampler import SamplerConfig, draw_noise, sample
from generator.models.metrics import predict_proba
from generator.models.realism import Realism
from generator.models.table import Models
from generator.site import charts
from generator.site.results import MODEL_FILES, BuildInfo, PageResult, SpriteSheet, add_fields, scored_items

METHODS = ("midpoint", "farthest", "boundary", "diffusion")
PAIR_COLUMNS = ("source", "partner", *METHODS)   # one sprite row per pair: a, b, then the muddles


@dataclass(frozen=True)
class Config:
    """The muddle page's knobs."""

    per_class: int = 10               # source digits per class (muddles per method: 10 x this)
    path_steps: int = 41              # sampled points on the path a -> b, ends included (t = 0, 0.025, ..., 1)
    tie_tolerance: float = 0.01       # a tie search stops once |p_a - p_b| <= this * (p_a + p_b)
    search_steps: int = 40
    reconstructions_per_class: int = 2
    map_per_class: int = 80           # points per class on the latent map
    samples_per_class: int = 5        # latents shipped to the explorer
    diffusion_start: float = 0.65     # diffusion muddle: how far the boundary muddle is re-noised (1 = not at all)
    # from t0: 24 (1 - t0) steps; the ensemble steers each towards reading as both a and b. What is re-noised, t0
    # and the weight are the validation panel's choice among the variants whose search ties at least as often as
    # before (bench/AMBIGUOUS.md)
    diffusion: SamplerConfig = field(default_factory=lambda: SamplerConfig(steps=24, team_guidance=1.0))
    diffusion_search_steps: int = 10  # rounds of the search for the blend weight w
    undecided_within: float = 0.5     # real held-out digits this undecided (reader's top two) are the yardstick

    def quick(self) -> Config:
        """Three source digits per class, a short diffusion sampler."""
        return replace(self, per_class=3, diffusion=replace(self.diffusion, steps=6), diffusion_search_steps=3)


def latent_class_means(latents: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean latent of every class: row d is class d's mean ``[10, latent]``."""
    return np.stack([latents[labels == d].mean(axis=0) for d in range(10)])


def nearest_other_class(latents: np.ndarray, labels: np.ndarray, means: np.ndarray) -> np.ndarray:
    """For each latent, the class (not its own) whose mean latent is nearest."""
    distances = np.linalg.norm(latents[:, None, :] - means[None, :, :], axis=2)
    distances[np.arange(len(labels)), labels] = np.inf
    return distances.argmin(axis=1)


def choose_pairs(labels: np.ndarray, partner_class: np.ndarray, per_class: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (a, b) index pairs: ``per_class`` random digits a of each class, each with a random b of its partner
    class."""
    sources, partners = [], []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        for a in rng.choice(members, size=min(per_class, len(members)), replace=False):
            candidates = np.flatnonzero(labels == partner_class[a])
            sources.append(int(a))
            partners.append(int(rng.choice(candidates)))
    return np.array(sources, dtype=np.int64), np.array(partners, dtype=np.int64)


def pair_reading(probs: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Per row: p(a), p(b), whether the top two classes are exactly {a, b}, and the margin |p_a - p_b|."""
    rows = np.arange(len(a))
    top2 = np.argsort(-probs, axis=1, kind="stable")[:, :2]
    both = ((top2[:, 0] == a) & (top2[:, 1] == b)) | ((top2[:, 0] == b) & (top2[:, 1] == a))
    p_a, p_b = probs[rows, a], probs[rows, b]
    return {"p_a": p_a, "p_b": p_b, "top2_is_pair": both, "margin": np.abs(p_a - p_b)}


def tie_gap(probs: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row of ``probs`` [N,10]: the relative gap between its p(a) and p(b) (``relative_gap``)."""
    rows = np.arange(len(a))
    return relative_gap(probs[rows, a], probs[rows, b])


def muddles(autoencoder: nn.Module, reader: nn.Module, z_a: np.ndarray, z_b: np.ndarray, a: np.ndarray,
            b: np.ndarray, config: Config) -> dict[str, dict[str, np.ndarray]]:
    """The three muddles of every pair: {method: {"t": [P], "image": [P, 28, 28] float, "seconds"}} plus
    boundary's "tied". Farthest's and boundary's seconds each include decoding the path they share."""
    started = time.perf_counter()
    steps = config.path_steps
    ts = np.linspace(0.0, 1.0, steps)
    path_latents = (1 - ts)[None, :, None] * z_a[:, None, :] + ts[None, :, None] * z_b[:, None, :]
    path = decode(autoencoder, path_latents.reshape(-1, z_a.shape[1])).reshape(len(a), steps, 28, 28)
    rows = np.arange(len(a))
    path_seconds, started = seconds_since(started), time.perf_counter()
    farthest = farthest_on_path(path)
    farthest_seconds, started = path_seconds + seconds_since(started), time.perf_counter()
    path_probs = predict_proba(reader, path.reshape(-1, 28, 28)).reshape(len(a), steps, 10)
    p_a, p_b = path_probs[rows, :, a], path_probs[rows, :, b]
    lo, hi, found = bracket(relative_gap(p_a, p_b), ts, strength=p_a + p_b)

    def gap(t: np.ndarray, some: np.ndarray) -> np.ndarray:
        latents = (1 - t)[:, None] * z_a[some] + t[:, None] * z_b[some]
        return tie_gap(predict_proba(reader, decode(autoencoder, latents)), a[some], b[some])

    t_boundary, value = find_tie(gap, lo, hi, tolerance=config.tie_tolerance, steps=config.search_steps)
    boundary = decode(autoencoder, (1 - t_boundary)[:, None] * z_a + t_boundary[:, None] * z_b)
    boundary_seconds, started = path_seconds + seconds_since(started), time.perf_counter()
    middle = decode(autoencoder, (z_a + z_b) / 2)
    return {
        "midpoint": {"t": np.full(len(a), 0.5), "image": middle, "seconds": seconds_since(started)},
        "farthest": {"t": ts[farthest], "image": path[rows, farthest], "seconds": farthest_seconds},
        "boundary": {"t": t_boundary, "image": boundary, "tied": found & (np.abs(value) <= config.tie_tolerance),
                     "seconds": boundary_seconds},
    }


def seconds_since(started: float) -> float:
    """Wall-clock seconds since ``started`` (a ``time.perf_counter()`` reading)."""
    return time.perf_counter() - started


def diffusion_muddles(denoiser: nn.Module, reader: nn.Module, start: np.ndarray, a: np.ndarray, b: np.ndarray,
                      config: Config, seed: int, team: Sequence[nn.Module] = (),
                      real: RealDigits | None = None) -> dict[str, np.ndarray]:
    """Digits ``start`` (uint8; the page's are the boundary muddles) re-noised to ``config.diffusion_start`` and
    denoised towards the blend (1 - w) a + w b, with w searched until the reader's p(a) and p(b) tie: {"t": w,
    "image", "tied", "seconds"}. With ``config.diffusion.team_guidance``, ``team`` steers every step towards
    reading as both a and b; with ``config.diffusion.realism_guidance``, ``real`` pulls it towards real a's and
    b's."""
    started = time.perf_counter()
    sampler = replace(config.diffusion, start_time=config.diffusion_start)
    init, noise = images_to_tensor(start), draw_noise(len(a), seed)
    labels, others = torch.from_numpy(a), torch.from_numpy(b)

    drawn: dict[tuple[int, float], np.ndarray] = {}         # (row, w) -> image: the search's result is one of them

    def gap(w: np.ndarray, rows: np.ndarray) -> np.ndarray:
        images = sample(denoiser, labels[rows], sampler, seed, init=init[rows], noise=noise[rows],
                        others=others[rows], weight=w, team=team, real=real)[:, 0].numpy()
        drawn.update(zip(zip(rows.tolist(), w.tolist()), images))
        return tie_gap(predict_proba(reader, images), a[rows], b[rows])

    w, value = find_tie(gap, np.zeros(len(a)), np.ones(len(a)), tolerance=config.tie_tolerance,
                        steps=config.diffusion_search_steps)
    images = np.stack([drawn[row, weight] for row, weight in enumerate(w.tolist())])
    return {"t": w, "image": images, "tied": np.abs(value) <= config.tie_tolerance, "seconds": seconds_since(started)}


def summarise(readings: dict[str, dict[str, np.ndarray]]) -> dict:
    """Page-level numbers of one method: share with top two == {a, b} and median margin, for judge and reader."""
    return {model: {"share": round(float(r["top2_is_pair"].mean()), 4),
                    "median_margin": round(float(np.median(r["margin"])), 4)}
            for model, r in readings.items()}


def realism_of(realism: Realism, sheet: SpriteSheet, items: list[dict]) -> dict:
    """Per pair-gallery column: the judge-feature realism and Fréchet distance of its tiles (sets each item's
    ``looks_real``)."""
    looks_real = realism.looks_real(sheet.tiles)
    add_fields(items, looks_real=looks_real.tolist())
    columns = np.arange(len(sheet.tiles)) % len(PAIR_COLUMNS)
    return {name: realism.summary(sheet.tiles[columns == c], looks_real[columns == c])
            for c, name in enumerate(PAIR_COLUMNS)}


def reconstruction_strip(autoencoder: nn.Module, reader: nn.Module, judge: nn.Module, dataset: Dataset,
                         latents: np.ndarray, per_class: int,
                         rng: np.random.Generator) -> tuple[SpriteSheet, list[dict], np.ndarray]:
    """Two held-out digits per class over their reconstructions, and every held-out digit's reconstruction MSE."""
    labels = dataset.test_labels.astype(np.int64)
    reconstructed = decode(autoencoder, latents)
    errors = ((reconstructed - dataset.test_images / 255.0) ** 2).mean(axis=(1, 2))
    shown = np.concatenate([rng.choice(np.flatnonzero(labels == d), per_class, replace=False) for d in range(10)])
    tiles = np.concatenate([dataset.test_images[shown], to_uint8(reconstructed[shown])])
    sheet = SpriteSheet("muddle-reconstructions", tiles, columns=len(shown))
    ids, origin = dataset.test_origin.ids(shown), dataset.test_origin.of(shown)
    items = scored_items(sheet, "reconstruction", labels[shown].tolist() * 2, reader, judge,
                         ids=[*ids, *(f"reconstruction-{i}" for i in ids)])
    add_fields(items, method=["original"] * len(shown) + ["reconstruction"] * len(shown), pair=[None] * 2 * len(shown),
               split=origin["split"] * 2, index=origin["index"] * 2,
               mse=[None] * len(shown) + [round(float(errors[i]), 4) for i in shown])
    return sheet, items, errors


def pair_gallery(made: dict, dataset: Dataset, source: np.ndarray, partner: np.ndarray, a: np.ndarray, b: np.ndarray,
                 reader: nn.Module, judge: nn.Module) -> tuple[SpriteSheet, list[dict], dict]:
    """One sprite row per pair (a, b, midpoint, farthest, boundary), their manifest items, and every tile's pair
    reading.

    The readings are ``{column: {"reader" | "judge": pair_reading(...)}}``, of the uint8 tiles as shown.
    """
    images = dataset.test_images
    columns = [images[source], images[partner]] + [to_uint8(made[m]["image"]) for m in METHODS]
    tiles = np.stack(columns, axis=1)                                   # [pairs, 5, 28, 28]
    sheet = SpriteSheet("muddle-pairs", tiles.reshape(-1, 28, 28), columns=len(PAIR_COLUMNS))
    labels = [int(d) for d in a] + [int(d) for d in b]
    per_pair = [[labels[k], labels[len(a) + k]] + [None] * len(METHODS) for k in range(len(a))]
    items = scored_items(sheet, "muddle", [label for row in per_pair for label in row], reader, judge,
                         ids=[f"muddle-{k}-{column}" for k in range(len(a)) for column in PAIR_COLUMNS])
    readings = {name: {model: pair_reading(predict_proba(net, tiles[:, c] / 255.0), a, b)
                       for model, net in (("reader", reader), ("judge", judge))}
                for c, name in enumerate(PAIR_COLUMNS)}
    for n, item in enumerate(items):
        k, name = n // len(PAIR_COLUMNS), PAIR_COLUMNS[n % len(PAIR_COLUMNS)]
        r = {model: {key: values[k] for key, values in readings[name][model].items()} for model in ("reader", "judge")}
        item.update(method=name, pair=[int(a[k]), int(b[k])], pair_index=k,
                    p_pair={model: [round(float(r[model]["p_a"]), 4), round(float(r[model]["p_b"]), 4)] for model in r},
                    judge_top2_is_pair=bool(r["judge"]["top2_is_pair"]),
                    judge_margin=round(float(r["judge"]["margin"]), 4),
                    reader_top2_is_pair=bool(r["reader"]["top2_is_pair"]))
        if name in METHODS:
            item["t"] = round(float(made[name]["t"][k]), 4)
        else:
            end = (source if name == "source" else partner)[k]
            item.update(split=dataset.test_origin.split, index=int(dataset.test_origin.index[end]))
        if name in ("boundary", "diffusion"):
            item["tied"] = bool(made[name]["tied"][k])
    return sheet, items, readings


def explorer_sample(latents: np.ndarray, dataset: Dataset, reader: nn.Module, judge: nn.Module, per_class: int,
                    rng: np.random.Generator) -> tuple[SpriteSheet, list[dict], dict]:
    """A few held-out digits per class with their latents: the explorer's data (and their manifest items)."""
    labels = dataset.test_labels.astype(np.int64)
    sample = np.concatenate([rng.choice(np.flatnonzero(labels == d), per_class, replace=False) for d in range(10)])
    sheet = SpriteSheet("muddle-samples", dataset.test_images[sample], columns=per_class * 2)
    rounded = [[round(float(v), 6) for v in latents[i]] for i in sample]
    ids = [f"sample-{i}" for i in dataset.test_origin.ids(sample)]
    origin = dataset.test_origin.of(sample)
    items = add_fields(scored_items(sheet, "explorer-sample", labels[sample].tolist(), reader, judge, ids=ids),
                       method=["sample"] * len(sample), pair=[None] * len(sample), latent=rounded, **origin)
    first_of = {int(d): next(n for n, i in enumerate(sample) if labels[i] == d) for d in (4, 9)}
    explorer = {"default": [first_of[4], first_of[9]],
                "samples": [{"id": name, "label": int(labels[i]), "split": split, "index": index, "latent": z}
                            for name, i, split, index, z in
                            zip(ids, sample, origin["split"], origin["index"], rounded)]}
    return sheet, items, explorer


def undecided_real(reader: nn.Module, reference: Realism, held_out: np.ndarray, within: float) -> dict:
    """The held-out digits (those ``reference`` holds) whose reader's top two probabilities are within ``within``
    of each other, and the share of them that look real, each left out of the reference: real handwriting about
    as undecided as a muddle, the yardstick for the muddles' realism (None when there are none)."""
    top_two = np.sort(predict_proba(reader, held_out), axis=1)[:, -2:]
    rows = np.flatnonzero(top_two[:, 1] - top_two[:, 0] <= within)
    realism = round(float(reference.looks_real_left_out(rows).mean()), 3) if len(rows) else None
    return {"count": len(rows), "within": within, "realism": realism}


def latent_space(latents: np.ndarray, labels: np.ndarray, means: np.ndarray, per_class: int,
                 rng: np.random.Generator) -> dict:
    """The latent space's numbers: class means, their distances, and a PCA map of held-out latents."""
    distances = np.linalg.norm(means[:, None] - means[None, :], axis=2)
    centre, components, explained = pca(latents)
    on_map = rng.permutation(np.concatenate([rng.permutation(np.flatnonzero(labels == d))[:per_class]
                                             for d in range(10)]))        # shuffled: no class drawn over all others
    return {
        "means": means.round(4).tolist(), "distances": distances.round(4).tolist(),
        "nearest_mean": [int(d) for d in np.where(np.eye(10, dtype=bool), np.inf, distances).argmin(axis=1)],
        "map": {"points": ((latents[on_map] - centre) @ components.T).round(4).tolist(),
                "labels": labels[on_map].tolist(),
                "marks": ((means - centre) @ components.T).round(4).tolist()},
        "explained": [round(float(e), 4) for e in explained],
    }


def run(models: Models, dataset: Dataset, config: Config, build: BuildInfo) -> PageResult:
    """Reconstructions, the latent space, muddles of three kinds with their scores, and the explorer's sample."""
    started = time.perf_counter()
    autoencoder, reader, judge = models.autoencoder.module, models.reader.module, models.judge.module
    rng = np.random.default_rng([build.seed, 2])
    labels = dataset.test_labels.astype(np.int64)
    train_latents = encode(autoencoder, dataset.train_images)
    latents = encode(autoencoder, dataset.test_images)
    means = latent_class_means(train_latents, dataset.train_labels.astype(np.int64))
    recon_sheet, items, errors = reconstruction_strip(autoencoder, reader, judge, dataset, latents,
                                                      config.reconstructions_per_class, rng)

    # Muddles: a, a random b of the class nearest to a (its own excluded), and the three points between them.
    source, partner = choose_pairs(labels, nearest_other_class(latents, labels, means), config.per_class, rng)
    a, b = labels[source], labels[partner]
    made = muddles(autoencoder, reader, latents[source], latents[partner], a, b, config)
    made["diffusion"] = diffusion_muddles(models.diffusion.module, reader, to_uint8(made["boundary"]["image"]), a, b,
                                          config, build.seed, team=[m.module for m in models.ensemble])
    pair_sheet, pair_items, readings = pair_gallery(made, dataset, source, partner, a, b, reader, judge)
    reference = Realism.of(judge, dataset.test_images)
    realism = realism_of(reference, pair_sheet, pair_items)
    items += pair_items
    sample_sheet, sample_items, explorer = explorer_sample(latents, dataset, reader, judge, config.samples_per_class,
                                                           rng)
    items += sample_items
    data = {
        "reconstruction_mse": round(float(errors.mean()), 5), "reconstruction_count": len(errors),
        "latent_size": int(latents.shape[1]), "train_size": len(train_latents), "pair_count": len(source),
        "per_class": config.per_class, "path_steps": config.path_steps, "tie_tolerance": config.tie_tolerance,
        "search_steps": config.search_steps, "map_per_class": config.map_per_class,
        "tied": int(made["boundary"]["tied"].sum()), "diffusion_tied": int(made["diffusion"]["tied"].sum()),
        "diffusion_start": config.diffusion_start, "diffusion_search_steps": config.diffusion_search_steps,
        "diffusion_team_guidance": config.diffusion.team_guidance,
        "realism": realism, "real_floor": reference.floor(dataset.train_images, len(source), build.seed),
        "undecided_real": undecided_real(reader, reference, dataset.test_images, config.undecided_within),
        "boundary_reader_pair": int(readings["boundary"]["reader"]["top2_is_pair"].sum()),
        "scores": {name: summarise(readings[name]) for name in METHODS}, "explorer": explorer,
        "method_seconds": {name: round(made[name]["seconds"], 2) for name in METHODS},
        **latent_space(latents, labels, means, config.map_per_class, rng),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return PageResult("muddle", items, [recon_sheet, pair_sheet, sample_sheet], [], data)


def context(result: PageResult) -> dict:
    """Pairs grouped by source digit, the most even boundary muddles, the latent charts, the explorer's data."""
    data, items = result.data, result.items
    by_id = {i["id"]: i for i in items}
    pairs = [{"a": i["pair"][0], "b": i["pair"][1], **{c: by_id[f"muddle-{i['pair_index']}-{c}"] for c in PAIR_COLUMNS}}
             for i in items if i["kind"] == "muddle" and i["method"] == "source"]
    for pair in pairs:
        pair["muddles"] = [pair[m] for m in METHODS]
    best = sorted((p for p in pairs if p["boundary"]["judge_top2_is_pair"]),
                  key=lambda p: p["boundary"]["judge_margin"])
    digits, explained = [str(d) for d in range(10)], data["explained"]
    means, latent = np.array(data["means"]), data["latent_size"]
    return {
        **data, "methods": METHODS,
        "pairs_by_digit": [{"digit": d, "pairs": [p for p in pairs if p["a"] == d]} for d in range(10)],
        "best": best[:10], "reconstructions": (recon := [i for i in items if i["kind"] == "reconstruction"]),
        "reconstruction_shown": len(recon) // 2,
        "ends": [{"end": end, "title": title, "selected": data["explorer"]["default"][k]}
                 for k, (end, title) in enumerate((("a", "From"), ("b", "To")))],
        "explorer": {**data["explorer"], "decoder": MODEL_FILES["decoder"], "reader": MODEL_FILES["reader"]},
        "map_points": len(data["map"]["labels"]), "explained_total": sum(explained[:2]), "other_dims": latent - 2,
        "means_chart": charts.heatmap(means, "Mean latent vector of each class (training digits)", row_labels=digits,
                                      col_labels=[str(k + 1) for k in range(latent)], row_title="class",
                                      col_title="latent dimension", value_format="{:.1f}"),
        "distance_chart": charts.heatmap(np.array(data["distances"]), "Distance between class-mean latents",
                                         row_labels=digits, col_labels=digits, row_title="class", col_title="class",
                                         value_format="{:.1f}"),
        "map_chart": charts.scatter(np.array(data["map"]["points"]), data["map"]["labels"],
                                    "Held-out digits' latents on their two principal axes, class means marked",
                                    marks=np.array(data["map"]["marks"]), x_label="first principal axis",
                                    y_label="second principal axis"),
    }
