"""The flow-matching denoiser, its training loop and the Euler sampler, on a tiny network (seconds, no data)."""
from __future__ import annotations

import json
from dataclasses import asdict, replace

import numpy as np
import onnx
import pytest
import torch

from generator.digits import to_uint8
from generator.engines.nearest_real import RealDigits, reference_rows
from generator.engines.sampler import (
    SamplerConfig,
    draw_noise,
    guided_velocity,
    mixed_velocity,
    network_calls,
    sample,
    team_log_prob,
)
from generator.models.denoiser import NULL_CLASS, Denoiser, count_flops
from generator.models.export import MAX_IR_VERSION, OPSET
from generator.models.export_inputs import export_denoiser
from generator.models.flow_matching import DiffusionConfig, train_flow, velocity_loss

FAST = SamplerConfig(steps=6, guidance=3.0, batch_size=8)


def tiny_denoiser(seed: int = 0) -> Denoiser:
    """A small denoiser with every weight drawn at random (the real init zeroes residual branches, which would
    hide the labels from the output)."""
    torch.manual_seed(seed)
    model = Denoiser(widths=(8, 16), emb_dim=16)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.15)
    return model.eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny network's operations are too small to share: one thread is faster, and far faster on a busy
    machine (two threads that wait for each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model() -> Denoiser:
    return tiny_denoiser()


def toy_digits(count: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images [N,1,28,28] of a bar whose position tells the label (0–9), ink 1.0 on 0.0."""
    labels = torch.arange(count) % 10
    images = torch.zeros(count, 1, 28, 28)
    for i, label in enumerate(labels.tolist()):
        images[i, 0, 4:24, 3 + 2 * label:5 + 2 * label] = 1.0
    return images, labels


def test_forward_shape_budget_and_label_range(model):
    labels = torch.tensor([0, 9, NULL_CLASS])
    out = model(torch.zeros(3, 1, 28, 28), torch.tensor([0.0, 0.5, 1.0]), labels)
    assert out.shape == (3, 1, 28, 28) and out.dtype == torch.float32
    default = Denoiser()
    assert 200_000 <= sum(p.numel() for p in default.parameters()) <= 600_000
    assert 20e6 <= count_flops(default) <= 60e6


def test_sampler_is_deterministic_per_seed_and_batch_size(model):
    labels = torch.arange(10)
    first = sample(model, labels, FAST, 3)
    assert first.shape == (10, 1, 28, 28) and first.min() >= 0.0 and first.max() <= 1.0
    assert torch.equal(first, sample(model, labels, FAST, torch.Generator().manual_seed(3)))
    assert torch.allclose(first, sample(model, labels, replace(FAST, batch_size=3), 3), atol=1e-5)
    assert not torch.allclose(first, sample(model, labels, FAST, 4), atol=1e-3)


def test_anagram_for_turned_noise_is_the_turned_anagram(model):
    upright, turned = torch.tensor([1, 6, 7, 3]), torch.tensor([4, 9, 2, 8])
    noise = draw_noise(4, 11)
    first = sample(model, upright, FAST, 0, turned=turned, noise=noise)
    swapped = sample(model, turned, FAST, 0, turned=upright, noise=torch.flip(noise, dims=(-2, -1)))
    assert torch.allclose(swapped, torch.flip(first, dims=(-2, -1)), atol=1e-5)
    assert not torch.allclose(first, sample(model, upright, FAST, 0, noise=noise), atol=1e-3)


def test_guidance_zero_is_the_unconditional_sampler(model):
    noise = draw_noise(6, 5)
    unconditional = sample(model, torch.full((6,), NULL_CLASS), replace(FAST, guidance=1.0), 0, noise=noise)
    zero = sample(model, torch.arange(6), replace(FAST, guidance=0.0), 0, noise=noise)
    assert torch.allclose(zero, unconditional, atol=1e-5)
    assert not torch.allclose(sample(model, torch.arange(6), FAST, 0, noise=noise), unconditional, atol=1e-3)


def test_unguided_final_steps_and_sdedit_start(model):
    noise, labels = draw_noise(4, 2), torch.tensor([2, 3, 5, 7])
    all_plain = sample(model, labels, replace(FAST, unguided_steps=FAST.steps), 0, noise=noise)
    assert torch.equal(all_plain, sample(model, labels, replace(FAST, guidance=1.0), 0, noise=noise))
    assert not torch.allclose(all_plain, sample(model, labels, replace(FAST, unguided_steps=2), 0, noise=noise))
    init, _ = toy_digits(4)
    assert torch.equal(sample(model, labels, replace(FAST, start_time=1.0), 0, init=init), init)
    with pytest.raises(ValueError, match="init"):
        sample(model, labels, replace(FAST, start_time=0.5), 0)
    assert network_calls(FAST) == 12 and network_calls(replace(FAST, unguided_steps=2), anagram=True) == 20


def test_label_mixing_weights_zero_and_one_are_the_plain_labels(model):
    x, t = draw_noise(4, 6), 0.4
    a, b = torch.tensor([1, 2, 3, 4]), torch.tensor([7, 5, 8, 9])
    for weight, labels in ((0.0, a), (1.0, b)):
        mixed = mixed_velocity(model, x, t, a, b, torch.full((4,), weight), 3.0)
        assert torch.allclose(mixed, guided_velocity(model, x, t, labels, 3.0), atol=1e-5)
    half = sample(model, a, FAST, 1, others=b, weight=torch.full((4,), 0.5))
    assert not torch.allclose(half, sample(model, a, FAST, 1), atol=1e-3)
    assert not torch.allclose(half, sample(model, b, FAST, 1), atol=1e-3)


def bar_reader() -> torch.nn.Module:
    """A linear classifier that reads the bar position of ``toy_digits`` (class d likes columns 3 + 2d, 4 + 2d)."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        for d in range(10):
            model[1].weight[d].view(28, 28)[4:24, 3 + 2 * d:5 + 2 * d] = 0.05
    return model.eval().requires_grad_(False)


def test_team_guidance_makes_the_team_surer_of_the_intended_digit(model):
    team, labels, noise = [bar_reader()], torch.tensor([0, 3, 6, 9, 2, 5]), draw_noise(6, 8)
    plain = sample(model, labels, FAST, 0, noise=noise)
    guided = sample(model, labels, replace(FAST, team_guidance=4.0), 0, noise=noise, team=team)
    assert torch.equal(plain, sample(model, labels, replace(FAST, team_guidance=4.0), 0, noise=noise))   # no team
    assert team_log_prob(team, guided, labels).mean() > team_log_prob(team, plain, labels).mean() + 0.1
    assert all(not p.requires_grad for p in team[0].parameters())


def test_team_guidance_on_a_blend_raises_both_labels_and_crowds_out_a_third(model):
    team, noise = [bar_reader()], draw_noise(6, 9)
    a, b, half = torch.tensor([0, 3, 6, 9, 2, 5]), torch.tensor([4, 7, 1, 2, 8, 0]), torch.full((6,), 0.5)
    plain = sample(model, a, FAST, 0, noise=noise, others=b, weight=half)
    guided = sample(model, a, replace(FAST, team_guidance=4.0), 0, noise=noise, others=b, weight=half, team=team)
    for labels in (a, b):
        assert team_log_prob(team, guided, labels).mean() > team_log_prob(team, plain, labels).mean() + 0.1
    # The pair's share of the team's probability grows: less is left for any third digit.
    before, after = (team_log_prob(team, x, a).exp() + team_log_prob(team, x, b).exp() for x in (plain, guided))
    assert (after > before + 0.01).all()


def varied_bars(count: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """uint8 bars [count,28,28] as in ``toy_digits``, each label's bars starting at six different rows."""
    images, labels = toy_digits(count)
    for i in range(count):
        images[i] = torch.roll(images[i], shifts=(i // 10) % 6 - 2, dims=1)
    return to_uint8(images[:, 0].numpy()), labels.numpy()


def test_closeness_is_zero_on_a_real_digit_and_falls_away_from_them():
    images, labels = varied_bars()
    real = RealDigits.of(bar_reader(), images, labels)      # features: the 784 pixels (a linear reader)
    assert real.radius > 0
    own = real.closeness(torch.from_numpy(images[:10, None] / 255.0).float(), torch.from_numpy(labels[:10]))
    assert torch.allclose(own, torch.zeros(10), atol=1e-4)
    wrong_label = real.closeness(torch.from_numpy(images[:10, None] / 255.0).float(), torch.from_numpy(labels[:10]) ^ 1)
    assert (wrong_label < -0.5).all()


def test_the_reference_keeps_at_most_a_set_number_of_digits_a_label_in_their_order():
    labels = np.array([0] * 5 + [1] * 2 + [0] * 3 + [2] * 4)
    kept = reference_rows(labels, 3, seed=0)
    assert list(np.bincount(labels[kept])) == [3, 2, 3]
    assert list(kept) == sorted(kept) and {5, 6} <= set(kept)
    assert list(reference_rows(labels, 10, seed=0)) == list(range(len(labels)))      # under the cap: all of them
    assert list(kept) == list(reference_rows(labels, 3, seed=0))


def test_realism_guidance_draws_samples_nearer_real_digits_and_keeps_the_anagram_symmetry(model):
    images, labels = varied_bars()
    real, team = RealDigits.of(bar_reader(), images, labels), [bar_reader()]
    digits, noise = torch.tensor([0, 3, 6, 9, 2, 5]), draw_noise(6, 8)
    pulled = replace(FAST, realism_guidance=0.5)
    plain = sample(model, digits, FAST, 0, noise=noise)
    guided = sample(model, digits, pulled, 0, noise=noise, real=real)
    assert torch.equal(plain, sample(model, digits, pulled, 0, noise=noise))     # no reference: no pull
    assert real.closeness(guided, digits).mean() > real.closeness(plain, digits).mean() + 0.1
    both = replace(pulled, team_guidance=2.0)
    upright, turned = torch.tensor([1, 6, 7]), torch.tensor([4, 9, 2])
    first = sample(model, upright, both, 0, turned=turned, noise=noise[:3], team=team, real=real)
    swapped = sample(model, turned, both, 0, turned=upright, noise=torch.flip(noise[:3], dims=(-2, -1)),
                     team=team, real=real)
    assert torch.allclose(swapped, torch.flip(first, dims=(-2, -1)), atol=1e-5)


def test_onnx_export_is_one_file_with_parity(model):
    data, diff = export_denoiser(model)
    proto = onnx.load_from_string(data)
    assert proto.ir_version <= MAX_IR_VERSION
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
    assert all(i.data_location != onnx.TensorProto.EXTERNAL for i in proto.graph.initializer)
    assert [i.name for i in proto.graph.input] == ["x", "t", "label"]
    assert [o.name for o in proto.graph.output] == ["velocity"]
    assert diff <= 1e-4


def test_training_reduces_the_loss_on_a_small_batch():
    images, labels = toy_digits(64)
    torch.manual_seed(0)
    model = Denoiser(widths=(8, 16), emb_dim=16)
    before = velocity_loss(model, images, labels)
    config = DiffusionConfig(images=64 * 40, batch_size=32, learning_rate=1e-2, seed=1, ema_decay=0.9)
    history = train_flow(model, images, labels, config)
    assert history.images_seen == 64 * 40 and len(history.loss) == 40 == len(history.seconds)
    assert np.isfinite(history.loss).all() and not model.training
    assert velocity_loss(model, images, labels) < 0.8 * before
    assert json.loads(json.dumps(asdict(config)))["label_dropout"] == 0.1
