"""Images that make classifiers say a digit: one render loop over parameterisations, transforms and objectives.

In the manner of Lucid/lucent: a *parameterisation* turns trainable tensors into images
(raw pixels, or the latent vector of a decoder), *transforms* randomly shift, rotate and
scale each image at every step (so the result must work from many viewpoints, not one),
an *objective* says how far each image is from what we want, and ``render`` is the one
loop that optimises them. Dreams and the ambiguous grid are this loop with different parts.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from generator.training import random_affine

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
        tv = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).sum(1) + (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).sum(1)
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


def log_likelihood(models: Sequence[nn.Module], images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the models of log p(target | image), per image."""
    rows = torch.arange(len(targets))
    return torch.stack([F.log_softmax(m(images), dim=1)[rows, targets] for m in models]).mean(0)


def rotate180(images: torch.Tensor) -> torch.Tensor:
    """Images ``[..., H, W]`` turned upside down."""
    return torch.flip(images, dims=(-2, -1))


def class_objective(models: Sequence[nn.Module], targets: torch.Tensor) -> Objective:
    """Read as ``targets`` (one per image) by every model: mean negative log-likelihood."""
    return lambda images: -log_likelihood(models, images, targets.repeat(len(images) // len(targets)))


def anagram_objective(models: Sequence[nn.Module], upright: torch.Tensor, rotated: torch.Tensor) -> Objective:
    """Read as ``upright`` and, turned 180°, as ``rotated``: the sum of both negative log-likelihoods."""
    def loss(images: torch.Tensor) -> torch.Tensor:
        repeats = len(images) // len(upright)
        return -(log_likelihood(models, images, upright.repeat(repeats))
                 + log_likelihood(models, rotate180(images), rotated.repeat(repeats)))
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
    space: str = "pixels"           # "pixels" or "latent" (a decoder's latent vector)
    start: str = "mean"             # pixels: "mean" (the data's mean image) or "noise"; latents start from the prior
    team: str = "reader"            # optimised against "reader" alone or the whole "ensemble" (reader + ensemble)
    jitter: bool = False            # expectation over random shifts, rotations and zooms at every step
    smoothness: float = 0.0         # total-variation weight (pixels)
    prior: float = 0.0              # Gaussian prior weight on the latent
    restarts: int = 1               # independent starts per image; the ensemble keeps the best
    steps: int = 200
    learning_rate: float = 0.01


@dataclass
class Toolkit:
    """The models and images a recipe may use (never the judge)."""

    reader: nn.Module
    ensemble: list[nn.Module]       # reader variants, not including the reader
    decoder: nn.Module              # a VAE decoder for latent recipes
    latent_size: int
    mean_image: torch.Tensor        # [1,1,28,28] in [0, 1]

    def team(self, name: str) -> list[nn.Module]:
        """The models a recipe optimises against."""
        return [self.reader] if name == "reader" else [self.reader, *self.ensemble]


SELECTION_VIEWS = 8


def starting_image(recipe: Recipe, toolkit: Toolkit, count: int, gen: torch.Generator) -> Pixels | Latent:
    """The recipe's parameterisation for ``count`` images at their starting point."""
    if recipe.space == "latent":
        return Latent(toolkit.decoder, torch.randn(count, toolkit.latent_size, generator=gen), recipe.prior)
    if recipe.start == "noise":
        return Pixels(torch.rand(count, 1, 28, 28, generator=gen), recipe.smoothness)
    return Pixels(toolkit.mean_image.expand(count, 1, 28, 28), recipe.smoothness)


def generate(recipe: Recipe, objective_for: Callable[[Sequence[nn.Module], int], Objective], count: int,
             toolkit: Toolkit, seed: int = 0) -> torch.Tensor:
    """``count`` images made by ``recipe``; ``objective_for(models, repeats)`` scores ``count * repeats`` images.

    With several restarts, the ensemble (never the judge) keeps, for each image, the restart
    with the lowest loss over freshly jittered views.
    """
    gen = torch.Generator().manual_seed(seed)
    team = frozen(toolkit.team(recipe.team))
    image = starting_image(recipe, toolkit, count * recipe.restarts, gen)
    images = render(image, objective_for(team, recipe.restarts), recipe.steps, recipe.learning_rate,
                    Jitter() if recipe.jitter else None, seed, desc=recipe.name)
    if recipe.restarts == 1:
        return images
    selectors = frozen(toolkit.team("ensemble"))
    views = Jitter(samples=SELECTION_VIEWS)(images, torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        loss = objective_for(selectors, recipe.restarts * SELECTION_VIEWS)(views).view(SELECTION_VIEWS, recipe.restarts, count)
    best = loss.mean(0).argmin(0)
    return images.view(recipe.restarts, count, 1, 28, 28)[best, torch.arange(count)]
