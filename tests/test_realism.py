"""The realism measure (k-NN precision and Fréchet distance in penultimate features) and the validation panel."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from generator.engines.panel import Panel
from generator.models.realism import Realism, frechet_distance, nearest_distances, penultimate


def strokes(count: int, seed: int) -> np.ndarray:
    """uint8 "digits": one vertical bar each, at a random column and length."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for image, column, length in zip(images, rng.integers(6, 20, count), rng.integers(12, 22, count)):
        image[4:4 + length, column:column + 3] = 255
    return images


def feature_net() -> nn.Module:
    """A seeded net whose last linear layer sees 32 features."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, 10)).eval()


def test_penultimate_features_are_the_last_linear_layers_input():
    net, images = feature_net(), strokes(5, 0)
    features = penultimate(net, images)
    with torch.no_grad():
        expected = torch.tanh(net[1](torch.from_numpy(images / 255.0).float().flatten(1))).double().numpy()
    assert features.shape == (5, 32) and np.allclose(features, expected, atol=1e-6)


def test_real_digits_look_real_and_noise_does_not():
    realism = Realism.of(feature_net(), strokes(300, 1))
    assert realism.radii.shape == (300,) and (realism.radii >= 0).all()
    assert realism.looks_real(strokes(100, 2)).mean() > 0.8                   # other real "digits"
    noise = np.random.default_rng(3).integers(0, 256, (100, 28, 28), dtype=np.uint8)
    assert realism.looks_real(noise).mean() == 0
    assert realism.summary(noise)["frechet"] > 10 * realism.floor(strokes(200, 4), 100)["frechet"]
    assert realism.looks_real(np.zeros((0, 28, 28), np.uint8)).shape == (0,)


def test_knn_radius_excludes_the_point_itself():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert nearest_distances(points, points, 2)[:, 1].tolist() == [1.0, 1.0, 2.0, 4.0]


def test_left_out_realism_skips_each_reference_digits_own_ball():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    realism = Realism(feature_net(), points, nearest_distances(points, points, 2)[:, 1])    # k = 1: radii 1, 1, 2, 4
    assert realism.looks_real_left_out(np.arange(4)).tolist() == [True, True, True, False]  # 7 is no one's neighbour
    assert realism.looks_real_left_out(np.array([3, 0])).tolist() == [False, True]


def test_reference_digits_left_out_look_as_real_as_other_real_digits():
    realism = Realism.of(feature_net(), strokes(300, 1))
    left_out = realism.looks_real_left_out(np.arange(100)).mean()
    assert 0.8 < left_out < 1.0
    assert left_out == pytest.approx(realism.looks_real(strokes(100, 2)).mean(), abs=0.1)


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    b = a * 2 + np.array([1.0, 0.0, 0.0])         # mean shift 1, covariance 4 I: d = 1 + 3 (1 + 4 - 2 * 2)
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=0.03)


def test_panel_scores_are_the_least_view_probability_plus_the_realism_bonus():
    torch.manual_seed(1)
    members = [nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10)) for _ in range(2)]
    panel = Panel.of(members, strokes(200, 5))
    images = torch.from_numpy(strokes(6, 6) / 255.0).float().unsqueeze(1)
    upright, turned = torch.tensor([1, 2, 3, 4, 5, 6]), torch.tensor([6, 5, 4, 3, 2, 1])
    probs_up, probs_down = panel.probabilities(images), panel.probabilities(torch.flip(images, dims=(-2, -1)))
    alignment = torch.minimum(probs_up[torch.arange(6), upright], probs_down[torch.arange(6), turned]).numpy()
    scores = panel.scores(images, upright, turned)
    bonus = scores - alignment
    tiles = [(images[:, 0].numpy() * 255).round().astype(np.uint8)]
    tiles.append(np.ascontiguousarray(tiles[0][:, ::-1, ::-1]))
    real = [[realism.looks_real(view) for realism in panel.realisms] for view in tiles]     # [views][members][N]
    assert np.allclose(bonus, panel.realism_weight * np.mean(real, axis=(0, 1)), atol=1e-6)
    assert np.all(np.isin(np.round(bonus / panel.realism_weight * 4, 6), [0, 1, 2, 3, 4]))   # 2 views x 2 members
    candidates = torch.stack([images, torch.flip(images, dims=(0,))])          # [2, 6, 1, 28, 28]
    chosen = panel.choose(candidates, upright, turned)
    second = panel.scores(candidates[1], upright, turned)
    for n in range(6):
        assert torch.equal(chosen[n], candidates[int(second[n] > scores[n]), n])
