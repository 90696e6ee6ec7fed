"""Networks, training determinism, the model cache and ONNX export."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from generator.data import Dataset
from generator.data.dataset import Origin, make_dataset
from generator.digits import images_to_tensor
from generator.models import networks
from generator.models.export import export_checked, onnx_bytes, parity
from generator.models.inference import for_inference, in_batches
from generator.models.table import SPECS, ModelSpec, cache_key, get_model, training_work
from generator.models.training import TrainConfig, augment, train_classifier

TINY = TrainConfig(epochs=1, train_limit=300, batch_size=64)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """A small real dataset: 600 train / 200 test digits from the embedded MNIST sample."""
    from generator.data import embedded_dataset
    root = Path(__file__).resolve().parent.parent
    full = embedded_dataset(root / "node_modules", root / "models" / "data")
    rng = np.random.default_rng(0)
    train, test = (rng.choice(len(full.train_labels), 600, replace=False),
                   rng.choice(len(full.test_labels), 200, replace=False))
    arrays = (full.train_images[train], full.train_labels[train], full.test_images[test], full.test_labels[test])
    origins = (Origin("train", full.train_origin.index[train]), Origin("train", full.test_origin.index[test]))
    return make_dataset("small", "test subset", arrays, origins)


def spec(role: str = "reader", **train) -> ModelSpec:
    base = next(s for s in SPECS if s.role == role)
    return replace(base, train=replace(TINY, seed=base.train.seed, augmentation=base.train.augmentation, **train))


@pytest.mark.parametrize("architecture", ["Reader", "Judge", "Autoencoder"])
def test_every_network_takes_ink_on_black_28x28(architecture):
    model = getattr(networks, architecture)().eval()
    out = model(torch.zeros(3, 1, 28, 28))
    assert out.shape == ((3, 1, 28, 28) if architecture == "Autoencoder" else (3, 10))


def test_reader_is_cheap():
    assert networks.count_flops(networks.Reader()) <= 5_000_000


def test_judge_differs_from_the_reader_in_architecture_and_recipe():
    reader, judge = (next(s for s in SPECS if s.role == r) for r in ("reader", "judge"))
    assert reader.architecture != judge.architecture
    assert reader.train.augmentation != judge.train.augmentation and reader.train.seed != judge.train.seed


def test_seeded_training_is_reproducible(dataset, tmp_path):
    first = get_model(spec(), dataset, tmp_path / "a", torch.device("cpu"))
    second = get_model(spec(), dataset, tmp_path / "b", torch.device("cpu"))
    assert not first.cached and not second.cached
    assert first.meta["history"]["train_loss"] == second.meta["history"]["train_loss"]
    for a, b in zip(first.module.state_dict().values(), second.module.state_dict().values()):
        assert torch.equal(a, b)


def test_cache_hit_and_key_changes(dataset, tmp_path):
    trained = get_model(spec(), dataset, tmp_path, torch.device("cpu"))
    again = get_model(spec(), dataset, tmp_path, torch.device("cpu"))
    assert again.cached and again.meta["metrics"] == trained.meta["metrics"]
    assert cache_key(spec(learning_rate=1e-3), dataset) != cache_key(spec(), dataset)
    other = replace(dataset, fingerprint="0" * 64)
    assert cache_key(spec(), other) != cache_key(spec(), dataset)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete-meta"])
def test_corrupt_cache_is_retrained_not_loaded(dataset, tmp_path, damage):
    get_model(spec(), dataset, tmp_path, torch.device("cpu"))
    (weights,) = tmp_path.glob("reader-*.pt")
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "garbage":
        weights.write_bytes(b"\0" * weights.stat().st_size)
    else:
        weights.with_suffix(".json").unlink()
    rebuilt = get_model(spec(), dataset, tmp_path, torch.device("cpu"))
    assert not rebuilt.cached
    assert get_model(spec(), dataset, tmp_path, torch.device("cpu")).cached


@pytest.mark.parametrize("architecture,shape", [("Reader", (1, 28, 28)), ("Judge", (1, 28, 28))])
def test_onnx_matches_pytorch_on_real_and_random_inputs(dataset, tmp_path, architecture, shape):
    model = getattr(networks, architecture)().eval()
    real = dataset.test_images[:32, None].astype(np.float32) / 255.0
    path = tmp_path / "model.onnx"
    data, diff = export_checked(model, shape, "image", "logits", real)
    path.write_bytes(data)
    assert diff <= 1e-4
    proto = onnx.load(str(path))
    assert proto.ir_version <= 13 and not list(tmp_path.glob("*.data"))
    assert all(init.data_location == onnx.TensorProto.DEFAULT for init in proto.graph.initializer)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    assert parity(model, path.read_bytes(), np.random.default_rng(5).random((100, *shape), dtype=np.float32)) <= 1e-4


def test_decoder_onnx_parity():
    decoder = networks.Decoder().eval()
    latents = np.random.default_rng(1).normal(size=(16, 10)).astype(np.float32)
    assert parity(decoder, onnx_bytes(decoder, (10,), "latent", "image"), latents) <= 1e-4


def test_reader_onnx_is_small(tmp_path):
    data = onnx_bytes(networks.Reader().eval(), (1, 28, 28), "image", "logits")
    assert len(data) <= 500_000


def test_epochs_follow_the_data_size():
    config = TrainConfig(epochs=30)
    assert [config.epochs_for(n) for n in (2_000, 8_000, 32_000, 60_000, 10**9)] == [30, 30, 15, 11, 1]
    # images seen grow with the square root of the data: full MNIST costs ~2.7x the embedded 8,000, not 7.5x
    assert 60_000 * config.epochs_for(60_000) / (8_000 * 30) == pytest.approx(2.75, abs=0.01)
    # a recipe may grow faster: at growth 1.0 the epochs stay, at 0.75 full MNIST sees ~4.5x the images
    assert TrainConfig(epochs=30, data_growth=1.0).epochs_for(60_000) == 30
    assert TrainConfig(epochs=30, data_growth=0.75).epochs_for(60_000) == 18
    assert TrainConfig(epochs=30, data_growth=0.75).epochs_for(8_000) == 30
    # Above 1 the epochs grow with the data (the judge: 20 on the embedded digits, 30 on full MNIST).
    assert [TrainConfig(epochs=20, data_growth=1.2).epochs_for(n) for n in (2_000, 8_000, 60_000)] == [20, 20, 30]
    # The reader: 30 epochs on the embedded digits, 45 on full MNIST (bench/FULL_MNIST.md).
    reader = next(s for s in SPECS if s.role == "reader")
    assert [reader.train.epochs_for(n) for n in (8_000, 60_000)] == [30, 45]


@pytest.mark.parametrize("architecture", [networks.Reader, networks.Judge, networks.VariationalAutoencoder])
def test_the_inference_copy_computes_the_same_function(architecture):
    torch.manual_seed(0)
    model = architecture()
    model.train()
    with torch.no_grad():
        model(torch.rand(64, 1, 28, 28))            # batch-norm statistics that are not the identity
    model.eval()
    fast = for_inference(model)
    x = torch.rand(300, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(fast(x), model(x), atol=1e-5)
        assert torch.allclose(in_batches(fast, x, 128), model(x), atol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == (architecture is networks.Reader)
    assert not fast.training


def test_training_work_orders_the_denoiser_first():
    work = {spec.name: training_work(spec, 8000) for spec in SPECS}
    assert max(work, key=work.get) == "diffusion"
    assert work["reader"] > work["panel-mlp"] > 0


def test_reading_the_test_set_once_leaves_training_unchanged(dataset):
    """``curves=False`` reads the test set after the last epoch only; the weights come out the same."""
    train = images_to_tensor(dataset.train_images[:256]), torch.from_numpy(dataset.train_labels[:256].astype(np.int64))
    test = images_to_tensor(dataset.test_images), torch.from_numpy(dataset.test_labels.astype(np.int64))
    runs = []
    for curves in (True, False):
        torch.manual_seed(0)
        model = networks.Reader()
        runs.append((model, train_classifier(model, train, test, replace(TINY, epochs=2), torch.device("cpu"), "test",
                                             curves=curves)))
    (with_curves, history), (without, once) = runs
    assert len(history.test_accuracy) == 2 and len(once.test_accuracy) == 1
    assert once.test_accuracy[-1] == history.test_accuracy[-1] and once.train_loss == history.train_loss
    for a, b in zip(with_curves.state_dict().values(), without.state_dict().values()):
        assert torch.equal(a, b)


def test_the_trainable_copy_is_the_trained_network(dataset, tmp_path):
    """``TrainedModel.trainable()`` gives back the network as trained (batch norm not folded), fresh or cached."""
    x = torch.rand(16, 1, 28, 28)
    for trained in (get_model(spec(), dataset, tmp_path, torch.device("cpu")),
                    get_model(spec(), dataset, tmp_path, torch.device("cpu"))):
        network = trained.trainable().eval()
        assert any(isinstance(m, torch.nn.BatchNorm2d) for m in network.modules())
        assert network is not trained.trainable()
        torch.testing.assert_close(network(x), trained.module(x), atol=1e-4, rtol=1e-4)


def test_the_rotate_augmentation_turns_digits_about_their_centre_and_nothing_else():
    gen = torch.Generator().manual_seed(0)
    rows, cols = torch.meshgrid(torch.arange(28.0) - 13.5, torch.arange(28.0) - 13.5, indexing="ij")
    disc = ((rows ** 2 + cols ** 2) < 36).float().expand(32, 1, 28, 28)
    blur = (augment(disc, "rotate", gen) - disc).abs().mean((1, 2, 3))
    assert blur.max() < 0.025           # resampling's blur only ("affine", which also shifts and zooms: ~0.07)
    bar = ((cols.abs() < 1.5) & (rows.abs() < 10)).float().expand(32, 1, 28, 28)
    turned = augment(bar, "rotate", gen)[:, 0]
    ink = turned.sum((1, 2))
    assert torch.allclose(ink, bar[:, 0].sum((1, 2)), rtol=0.05)
    centre_row, centre_col = (turned * rows).sum((1, 2)) / ink, (turned * cols).sum((1, 2)) / ink
    assert centre_row.abs().max() < 0.3 and centre_col.abs().max() < 0.3
    tilt = torch.rad2deg(torch.atan2((turned * rows * cols).sum((1, 2)) * 2,
                                     (turned * (rows ** 2 - cols ** 2)).sum((1, 2)))) / 2
    assert tilt.abs().max() <= 10.5 and tilt.std() > 3.0                     # each bar its own angle, ±10°
