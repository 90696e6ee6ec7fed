"""MNIST-style preprocessing of drawings and photos, and reading image files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from generator.data.preprocess import load_image, mnist_style
from generator.errors import InputError


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted mean (row, column)."""
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((cols * image).sum() / image.sum())


def _drawn_one(path: Path) -> Path:
    """A thick black "1" stroke on white paper, off centre, saved as PNG."""
    image = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(image).line([(80, 30), (95, 170)], fill="black", width=18)
    image.save(path)
    return path


def _synthetic_digit() -> np.ndarray:
    """An MNIST-like "7": ink on black, 20 px tall, soft edges, centre of mass near (14, 14)."""
    image = Image.new("L", (28, 28), 0)
    draw = ImageDraw.Draw(image)
    draw.line([(8, 6), (19, 6)], fill=255, width=3)
    draw.line([(19, 6), (12, 22)], fill=200, width=3)
    digit = np.asarray(image, dtype=np.float32) / 255.0
    neighbours = digit[:-2, 1:-1] + digit[2:, 1:-1] + digit[1:-1, :-2] + digit[1:-1, 2:]
    digit[1:-1, 1:-1] = 0.5 * digit[1:-1, 1:-1] + 0.125 * neighbours
    rows, cols = np.indices(digit.shape)
    cy, cx = (rows * digit).sum() / digit.sum(), (cols * digit).sum() / digit.sum()
    return np.roll(digit, (round(14 - cy), round(14 - cx)), axis=(0, 1))


def test_black_on_white_drawing_is_inverted_scaled_and_centred(tmp_path: Path) -> None:
    gray = load_image(_drawn_one(tmp_path / "one.png"))
    assert gray.dtype == np.float32 and gray.shape == (200, 300) and gray.max() == 1.0
    digit = mnist_style(gray)
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() >= 0.0 and digit.max() <= 1.0 and digit[0, 0] == 0.0 and digit.max() > 0.9
    rows = np.flatnonzero(digit.any(axis=1))
    assert rows[-1] - rows[0] + 1 == 20
    cy, cx = _centre_of_mass(digit)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_explicit_invert_overrides_detection() -> None:
    gray = np.zeros((40, 40))
    gray[10:30, 18:22] = 1.0
    np.testing.assert_array_equal(mnist_style(gray, invert=True), mnist_style(1.0 - gray, invert=False))
    np.testing.assert_array_equal(mnist_style(gray), mnist_style(gray, invert=False))


def test_uint8_and_float_inputs_agree() -> None:
    digit = _synthetic_digit()
    as_bytes = np.rint(digit * 255).astype(np.uint8)
    np.testing.assert_allclose(mnist_style(as_bytes), mnist_style(as_bytes / 255.0), atol=1e-6)


def test_mnist_digit_passes_nearly_unchanged() -> None:
    digit = _synthetic_digit()
    assert np.count_nonzero((digit >= 0.05).any(axis=1)) == 20
    result = mnist_style(digit)
    assert np.corrcoef(digit.ravel(), result.ravel())[0, 1] > 0.9


def test_area_average_preserves_mean_ink() -> None:
    gray = np.zeros((100, 100))
    gray[10:90, 40:60] = 0.5
    digit = mnist_style(gray)
    assert np.allclose(digit[digit > 0], 0.5)
    assert digit.sum() == pytest.approx(0.5 * 20 * 5)


def test_thin_line_keeps_one_pixel() -> None:
    gray = np.zeros((10, 500))
    gray[5, 100:400] = 1.0
    digit = mnist_style(gray)
    assert np.count_nonzero(digit.any(axis=1)) == 1 and np.count_nonzero(digit.any(axis=0)) == 20


@pytest.mark.parametrize("background", [0.0, 1.0])
def test_blank_image_returns_zeros(background: float) -> None:
    result = mnist_style(np.full((50, 70), background))
    assert result.shape == (28, 28) and not result.any()


def test_transparent_png_is_composited_on_white(tmp_path: Path) -> None:
    image = Image.new("RGBA", (30, 30), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle([10, 5, 19, 24], fill=(0, 0, 0, 255))
    image.save(tmp_path / "ink.png")
    gray = load_image(tmp_path / "ink.png")
    assert gray[0, 0] == 1.0 and gray[10, 15] == 0.0


@pytest.mark.parametrize("content", [b"", b"not a picture at all", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"])
def test_unreadable_file_raises_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not an image") as caught:
        load_image(path)
    assert str(path) in str(caught.value)


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.png"):
        load_image(tmp_path / "missing.png")
