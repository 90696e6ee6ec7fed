"""Images that make classifiers say a digit: one render loop over parameterisations, transforms and objectives.

In the manner of Lucid/lucent: a *parameterisation* turns trainable tensors into images
(raw pixels, or the latent vector of a decoder), *transforms* randomly shift, rotate and
scale each image at every step (so the result must work from many viewpoints, not one),
an *objective* says how far each image is from what we want, and ``render`` is the one
loop that optimises them. Dreams and the ambiguous grid are this loop with different parts. Two further spaces
make no gradient steps: ``prior`` decodes draws from the VAE's prior, ``diffusion`` samples the class-conditional
denoiser (``generator.engines.sampler``). Whenever a recipe makes several candidates per target, the validation
panel (``generator.engines.panel``) picks one; the judge never does.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from generator.data.dataset import Dataset
from generator.digits import images_to_tensor, rotate180, to_uint8
from generator.engines.nearest_real import RealDigits
from generator.engines.panel import Panel
from generator.engines.sampler import SamplerConfig, sample
from generator.models.inference import INFERENCE_BATCH
from generator.models.table import Models
from generator.models.training import random_affine

Objective = Callable[[torch.Tensor], torch.Tensor]          # images [N,1,28,28] -> loss per image [N]


class Pixels(nn.Module):
    """Each image is its own 784 pixels, kept in [0, 1] after every step; an optional total-variation penalty."""

    def __init__(self, start: torch.Tensor, smoothness: float = 0.0) -> None:
        super().__init__()
        self.pixels = nn.Parameter(start.clone().clamp(0, 1))
        self.smoothness = smoothness

    def forward(self) -> torch.Tensor:
        return self.pixels

    def penalty(self) -> torch.Tensor:
        """Total variation per image, times the smoothness weight."""
        x = self.pixels
        tv = ((x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).sum(1)
              + (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).sum(1))
        return self.smoothness * tv

    def project(self) -> None:
        """Clip the pixels back into [0, 1]."""
        with torch.no_grad():
            self.pixels.clamp_(0, 1)


class Latent(nn.Module):
    """Each image is a decoder's output for a trainable latent vector, with a Gaussian prior penalty on the latent."""

    def __init__(self, decoder: nn.Module, start: torch.Tensor, prior: float = 0.0) -> None:
        super().__init__()
        self.decoder = decoder.eval().requires_grad_(False)
        self.latent = nn.Parameter(start.clone())
        self.prior = prior

    def forward(self) -> torch.Tensor:
        return self.decoder(self.latent)

    def penalty(self) -> torch.Tensor:
        """Half the squared norm of each latent (its negative log prior), times the prior weight."""
        return self.prior * 0.5 * self.latent.pow(2).sum(1)

    def project(self) -> None:
        """Latents are unconstrained."""


@dataclass(frozen=True)
class Jitter:
    """Random rotation (±degrees), zoom (±zoom) and shift (±shift of the width), ``samples`` views per image."""

    degrees: float = 8.0
    zoom: float = 0.08
    shift: float = 0.06
    samples: int = 4

    def __call__(self, images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        views = images.repeat(self.samples, 1, 1, 1)
        return random_affine(views, gen, self.degrees, self.zoom, self.shift)


def frozen(models: Sequence[nn.Module]) -> list[nn.Module]:
    """The models in eval mode with their weights out of autograd (gradients flow to the images only)."""
    return [m.cpu().eval().requires_grad_(False) for m in models]


def mean_log_probs(models: Sequence[nn.Module], images: torch.Tensor) -> torch.Tensor:
    """Log-probabilities ``[N,10]`` averaged over the models."""
    return torch.stack([F.log_softmax(m(images), dim=1) for m in models]).mean(0)


@dataclass(frozen=True)
class Goal:
    """What each of ``count`` images should read as: a digit upright and, optionally, another when turned 180°."""

    upright: torch.Tensor                   # int [count]
    rotated: torch.Tensor | None = None     # int [count]

    def loss(self, models: Sequence[nn.Module], images: torch.Tensor) -> torch.Tensor:
        """Negative mean log-likelihood per image; ``images`` are whole repeats of the ``count`` targets."""
        rows = torch.arange(len(images))
        repeats = len(images) // len(self.upright)
        loss = -mean_log_probs(models, images)[rows, self.upright.repeat(repeats)]
        if self.rotated is not None:
            loss = loss - mean_log_probs(models, rotate180(images))[rows, self.rotated.repeat(repeats)]
        return loss

    def key(self) -> tuple:
        """The targets as plain tuples (for caches shared between recipes)."""
        return tuple(self.upright.tolist()), None if self.rotated is None else tuple(self.rotated.tolist())

    def table(self, models: Sequence[nn.Module], images: torch.Tensor) -> torch.Tensor:
        """Loss ``[N, count]`` of every image against every target (one forward pass per model and view)."""
        loss = -mean_log_probs(models, images)[:, self.upright]
        if self.rotated is not None:
            loss = loss - mean_log_probs(models, rotate180(images))[:, self.rotated]
        return loss


def render(image: Pixels | Latent, objective: Objective, steps: int, learning_rate: float, jitter: Jitter | None = None,
           seed: int = 0, desc: str = "render") -> torch.Tensor:
    """Optimise ``image`` with Adam to minimise objective (averaged over jittered views) plus its penalty.

    Returns the final images ``[N,1,28,28]`` in [0, 1], detached.
    """
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(image.parameters(), lr=learning_rate)
    for _ in tqdm(range(steps), desc=desc, unit="step", leave=False):
        images = image()
        views = images if jitter is None else jitter(images, gen)
        loss = objective(views).view(-1, len(images)).mean(0) + image.penalty()
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
        image.project()
    with torch.no_grad():
        return image().detach().clamp(0, 1)


@dataclass(frozen=True)
class Recipe:
    """One way to make images: where to search, from where, against whom, with which regularisers."""

    name: str
    space: str = "pixels"           # "pixels", "latent" (gradient descent on a decoder's latent), "prior"
                                    # (decode ``samples`` draws from the latent prior and keep the best),
                                    # "diffusion" (``candidates`` samples of the denoiser per target) or "pool"
                                    # (no images of its own: the candidates the ``pool`` recipes made, together)
    start: str = "mean"             # pixels: "mean" (the data's mean image) or "noise"; latents start from the prior
    team: str = "reader"            # optimised against (or, for diffusion, guided by) "reader" alone or "ensemble"
                                    # (reader + ensemble)
    jitter: bool = False            # expectation over random shifts, rotations and zooms at every step
    views: int = 4                  # jittered views per image and step
    smoothness: float = 0.0         # total-variation weight (pixels)
    prior: float = 0.0              # Gaussian prior weight on the latent
    restarts: int = 1               # independent starts per image; the panel keeps the best
    samples: int = 0                # prior draws ("prior" space)
    shortlist: int = 1              # prior space: the team's best draws per target, of which the panel keeps one
    candidates: int = 1             # diffusion: samples per target, of which the panel keeps one
    init: str = "prior"             # diffusion from start_time > 0: re-draw VAE prior draws ("prior") or real
                                    # training digits, upright and turned over ("digits")
    sampler: SamplerConfig = field(default_factory=SamplerConfig)     # diffusion: the sampler's knobs
    pool: tuple[str, ...] = ()      # "pool": the diffusion recipes (run before it) whose candidates it pools
    steps: int = 200
    learning_rate: float = 0.01
    origin: str = ""                # where the recipe comes from, e.g. "seed 000's first attempt"

    def quick(self) -> Recipe:
        """A much cheaper version for quick builds."""
        sampler = replace(self.sampler, steps=min(self.sampler.steps, 6),
                          unguided_steps=min(self.sampler.unguided_steps, 1))
        return replace(self, steps=min(self.steps, 8), restarts=1, samples=min(self.samples, 400),
                       candidates=min(self.candidates, 2), sampler=sampler)

    def describe(self) -> str:
        """What the recipe does, in words made from its fields."""
        team = "the reader alone" if self.team == "reader" else "reader + ensemble"
        if self.space == "pool":
            text = (f"no sampling of its own: the panel keeps the best of the candidates of {' and '.join(self.pool)} "
                    "together")
        elif self.space == "diffusion":
            text = f"sample the diffusion model ({self.sampler.describe()}"
            if self.sampler.start_time:
                pool = ("training digits (upright or turned over)" if self.init == "digits" else
                        f"of {self.samples:,} VAE prior draws")
                text = (f"re-draw the {self.candidates} {pool} that {team} find most convincing with the diffusion "
                        f"model ({self.sampler.describe()}")
            text += f" with {team} as the team)" if self.sampler.team_guidance else ")"
            text += f"; the panel keeps the best of {self.candidates}" if self.candidates > 1 else ""
        elif self.space == "prior":
            text = (f"decode {self.samples:,} draws from the VAE's prior and keep, per target, the one {team} "
                    "find most convincing")
            if self.shortlist > 1:
                text = text.replace("the one", f"the {self.shortlist}") + ", of which the panel keeps one"
        else:
            start = {"noise": "uniform noise", "mean": "the mean training digit"}[self.start]
            text = (f"pixels from {start}" if self.space == "pixels" else "gradient descent on the VAE's latent") + \
                   f", against {team}, {self.steps} Adam steps"
            text += f", {self.views} randomly shifted, rotated and zoomed views a step" if self.jitter else ""
            text += f", total-variation penalty {self.smoothness:g}" if self.smoothness else ""
            text += f", Gaussian prior penalty {self.prior:g}" if self.prior else ""
            text += f", the panel keeps the best of {self.restarts} restarts" if self.restarts > 1 else ""
        return text + (f" ({self.origin})" if self.origin else "")


@dataclass
class Toolkit:
    """The models and images a recipe may use (never the judge)."""

    reader: nn.Module
    ensemble: list[nn.Module]       # reader variants, not including the reader
    decoder: nn.Module | None       # a VAE decoder for latent and prior recipes
    latent_size: int
    mean_image: torch.Tensor        # [1,1,28,28] in [0, 1]
    panel: Panel                    # chooses among candidates
    denoiser: nn.Module | None      # the diffusion model for diffusion recipes
    train_images: np.ndarray | None = None             # uint8 [N,28,28]: the pool of "digits" inits
    train_labels: np.ndarray | None = None             # [N]: their labels (realism guidance's reference)
    prior_tables: dict = field(default_factory=dict)   # prior searches' draws and team losses, computed once
    candidates: dict = field(default_factory=dict)     # diffusion recipes' candidates by name (pools re-use them)
    real: RealDigits | None = None                     # the training digits in the reader's features, once

    def team(self, name: str) -> list[nn.Module]:
        """The models a recipe optimises against (frozen)."""
        return frozen([self.reader] if name == "reader" else [self.reader, *self.ensemble])

    def real_digits(self) -> RealDigits:
        """The training digits in the reader's features: what realism guidance pulls towards (computed once)."""
        if self.real is None:
            self.real = RealDigits.of(self.reader, self.train_images, self.train_labels)
        return self.real


def starting_image(recipe: Recipe, toolkit: Toolkit, count: int, gen: torch.Generator) -> Pixels | Latent:
    """The recipe's parameterisation for ``count`` images at their starting point."""
    if recipe.space == "latent":
        return Latent(toolkit.decoder, torch.randn(count, toolkit.latent_size, generator=gen), recipe.prior)
    if recipe.start == "noise":
        return Pixels(torch.rand(count, 1, 28, 28, generator=gen), recipe.smoothness)
    return Pixels(toolkit.mean_image.expand(count, 1, 28, 28), recipe.smoothness)


def prior_latents(recipe: Recipe, toolkit: Toolkit, gen: torch.Generator) -> torch.Tensor:
    """The ``recipe.samples`` latent vectors ``[samples, latent]`` that a prior search decodes, drawn from N(0, I)."""
    return torch.randn(recipe.samples, toolkit.latent_size, generator=gen)


def prior_table(recipe: Recipe, goal: Goal, toolkit: Toolkit, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``recipe.samples`` draws from the latent prior and the team's loss table ``[samples, count]`` of their
    decodings; recipes that share the draws, the team and the goal share one computation (kept in the toolkit)."""
    key = (recipe.samples, recipe.team, seed, goal.key())
    if key not in toolkit.prior_tables:
        team, decoder = toolkit.team(recipe.team), toolkit.decoder.eval()
        latents = prior_latents(recipe, toolkit, torch.Generator().manual_seed(seed))
        with torch.no_grad():
            starts = tqdm(range(0, len(latents), INFERENCE_BATCH), desc=recipe.name, unit="batch", leave=False)
            table = [goal.table(team, decoder(latents[start:start + INFERENCE_BATCH])) for start in starts]
            toolkit.prior_tables[key] = latents, torch.cat(table)
    return toolkit.prior_tables[key]


def prior_shortlist(recipe: Recipe, goal: Goal, toolkit: Toolkit, seed: int, size: int) -> torch.Tensor:
    """Per target, the ``size`` prior draws the team finds most convincing ``[size, count, 1, 28, 28]``, best
    first."""
    latents, table = prior_table(recipe, goal, toolkit, seed)
    with torch.no_grad():
        top = table.topk(min(size, len(latents)), dim=0, largest=False).indices          # [size, count]
        return toolkit.decoder.eval()(latents[top.flatten()]).view(*top.shape, 1, 28, 28)


def digit_shortlist(recipe: Recipe, goal: Goal, toolkit: Toolkit, size: int) -> torch.Tensor:
    """Per target, the ``size`` training digits (each upright or turned over) the team finds most convincing
    ``[size, count, 1, 28, 28]``, best first; the digits that define "real" for the panel are left out, so that
    the panel cannot take a re-drawn digit for real because it has seen it."""
    pool = images_to_tensor(np.delete(toolkit.train_images, toolkit.panel.reference_rows, axis=0))
    pool = torch.cat([pool, rotate180(pool)])
    team = toolkit.team(recipe.team)
    with torch.no_grad():
        table = torch.cat([goal.table(team, pool[start:start + INFERENCE_BATCH])
                           for start in range(0, len(pool), INFERENCE_BATCH)])
    top = table.topk(min(size, len(pool)), dim=0, largest=False).indices
    return pool[top.flatten()].view(*top.shape, 1, 28, 28)


def search_prior(recipe: Recipe, goal: Goal, toolkit: Toolkit, seed: int) -> torch.Tensor:
    """The prior's ``recipe.shortlist`` most convincing draws per target for the team, of which the panel keeps
    one."""
    return toolkit.panel.choose(prior_shortlist(recipe, goal, toolkit, seed, recipe.shortlist), goal.upright,
                                goal.rotated)


def restart_candidates(recipe: Recipe, goal: Goal, toolkit: Toolkit, seed: int = 0) -> torch.Tensor:
    """Every restart's image ``[restarts, count, 1, 28, 28]`` for a pixel or latent recipe, rendered together."""
    gen = torch.Generator().manual_seed(seed)
    count = len(goal.upright)
    image = starting_image(recipe, toolkit, count * recipe.restarts, gen)
    team = toolkit.team(recipe.team)
    images = render(image, lambda views: goal.loss(team, views), recipe.steps, recipe.learning_rate,
                    Jitter(samples=recipe.views) if recipe.jitter else None, seed, desc=recipe.name)
    return images.view(recipe.restarts, count, 1, 28, 28)


def diffusion_candidates(recipe: Recipe, goal: Goal, toolkit: Toolkit, seed: int) -> torch.Tensor:
    """``recipe.candidates`` samples per target ``[candidates, count, 1, 28, 28]``: anagrams when the goal has
    turned digits, guided by the team when the sampler's ``team_guidance`` is set, and, when the sampler starts
    part-way (``start_time`` > 0), re-drawn from the VAE prior's most convincing draws (SDEdit). Pixels are
    rounded to the uint8 steps the site stores, so the panel chooses among exactly the images a visitor sees."""
    repeats = recipe.candidates
    turned = None if goal.rotated is None else goal.rotated.repeat(repeats)
    init = None
    if recipe.sampler.start_time > 0:
        shortlist = (digit_shortlist(recipe, goal, toolkit, repeats) if recipe.init == "digits" else
                     prior_shortlist(recipe, goal, toolkit, seed, repeats))
        init = shortlist.reshape(-1, 1, 28, 28)
    real = toolkit.real_digits() if recipe.sampler.realism_guidance else None
    images = sample(toolkit.denoiser, goal.upright.repeat(repeats), recipe.sampler, seed, turned=turned,
                    team=toolkit.team(recipe.team), init=init, real=real)
    return (torch.round(images * 255) / 255).view(repeats, len(goal.upright), 1, 28, 28)


def pooled_candidates(recipe: Recipe, goal: Goal, toolkit: Toolkit, seed: int) -> torch.Tensor:
    """The candidates ``[K, count, 1, 28, 28]`` that the recipes named in ``recipe.pool`` made for this goal and
    seed, together."""
    made = [toolkit.candidates.get((name, seed, goal.key())) for name in recipe.pool]
    if any(c is None for c in made):
        raise ValueError(f"recipe {recipe.name} pools {', '.join(recipe.pool)}: run them first, on the same toolkit")
    return torch.cat(made)


def generate(recipe: Recipe, goal: Goal, toolkit: Toolkit, seed: int = 0) -> torch.Tensor:
    """One image ``[count,1,28,28]`` per target of ``goal``, made by ``recipe``; of several restarts or candidates
    per target, the panel keeps one."""
    if recipe.space == "prior":
        return search_prior(recipe, goal, toolkit, seed)
    if recipe.space == "pool":
        candidates = pooled_candidates(recipe, goal, toolkit, seed)
    elif recipe.space == "diffusion":
        candidates = diffusion_candidates(recipe, goal, toolkit, seed)
        toolkit.candidates[recipe.name, seed, goal.key()] = candidates      # for pools
    else:
        candidates = restart_candidates(recipe, goal, toolkit, seed)
    if len(candidates) == 1:
        return candidates[0]
    return toolkit.panel.choose(candidates, goal.upright, goal.rotated)


def make_toolkit(models: Models, dataset: Dataset, seed: int = 0) -> Toolkit:
    """The generators' models (reader, ensemble, VAE decoder, denoiser), the panel and the training data's mean
    image."""
    mean = torch.from_numpy(dataset.train_images.mean(axis=0).astype(np.float32) / 255.0).view(1, 1, 28, 28)
    vae = models.vae.module if models.vae else None
    ensemble = [m.module for m in models.ensemble]
    panel = Panel.of([m.module for m in models.panel], dataset.train_images, seed)
    denoiser = models.diffusion.module.eval().requires_grad_(False) if models.diffusion else None
    return Toolkit(models.reader.module, ensemble, frozen([vae.decoder])[0] if vae else None,
                   vae.latent if vae else 0, mean, panel, denoiser, dataset.train_images, dataset.train_labels)


def timed_generate(recipe: Recipe, goal: Goal, toolkit: Toolkit, seed: int) -> tuple[np.ndarray, float]:
    """``generate`` as uint8 tiles ``[count,28,28]`` (ink 255), with the seconds it took."""
    started = time.perf_counter()
    images = generate(recipe, goal, toolkit, seed)
    return to_uint8(images[:, 0].numpy()), time.perf_counter() - started
