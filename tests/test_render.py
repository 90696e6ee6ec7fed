"""Sprite layout, byte conversion, colour maps and PNG writing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generator.digits import to_uint8
from generator.site.images import diverging_rgb, heat_rgb, save_png, sprite_sheet, tile_position
from generator.site.writer import write_png


def _tiles(count: int, size: int = 28) -> np.ndarray:
    """Distinct random uint8 tiles."""
    return np.random.default_rng(0).integers(1, 256, size=(count, size, size), dtype=np.uint8)


def test_sprite_sheet_layout_and_tile_position_round_trip() -> None:
    tiles = _tiles(7)
    sheet = sprite_sheet(tiles, columns=3)
    assert sheet.shape == (3 * 28, 3 * 28) and sheet.dtype == np.uint8
    for index, tile in enumerate(tiles):
        x, y = tile_position(index, 3)
        np.testing.assert_array_equal(sheet[y:y + 28, x:x + 28], tile)
    x, y = tile_position(7, 3)
    assert not sheet[y:, x:].any()


def test_sprite_sheet_other_tile_sizes() -> None:
    tiles = _tiles(4, size=5)
    sheet = sprite_sheet(tiles, columns=4)
    assert sheet.shape == (5, 20)
    x, y = tile_position(2, 4, tile=5)
    np.testing.assert_array_equal(sheet[y:y + 5, x:x + 5], tiles[2])


def test_to_uint8_rounds_and_clips() -> None:
    values = np.array([[-0.5, 0.0, 0.502, 1.0, 2.0]])
    np.testing.assert_array_equal(to_uint8(values), [[0, 0, 128, 255, 255]])
    assert to_uint8(np.zeros((2, 3, 4))).shape == (2, 3, 4)


def test_diverging_signs_and_nan() -> None:
    rgb = diverging_rgb(np.array([[-2.0, 0.0, 2.0, np.nan]])).astype(int)
    negative, zero, positive, missing = rgb[0]
    assert negative[2] > negative[0] and positive[0] > positive[2]
    assert min(zero) > 200 and max(zero) - min(zero) < 10
    assert tuple(missing) == (128, 128, 128)
    assert rgb.shape == (1, 4, 3)


def test_diverging_limit_saturates() -> None:
    rgb = diverging_rgb(np.array([[1.0, 5.0]]), limit=1.0)
    np.testing.assert_array_equal(rgb[0, 0], rgb[0, 1])


def test_heat_rgb_is_monotone_in_brightness() -> None:
    rgb = heat_rgb(np.linspace(0, 1, 11)).astype(float)
    brightness = rgb @ [0.299, 0.587, 0.114]
    assert np.all(np.diff(brightness) > 0)
    assert rgb.shape == (11, 3)


def test_png_round_trip_and_deterministic(tmp_path: Path) -> None:
    grey = _tiles(1)[0]
    colour = diverging_rgb(np.linspace(-1, 1, 12).reshape(3, 4))
    for name, pixels, mode in (("a/b/grey.png", grey, "L"), ("rgb.png", colour, "RGB")):
        path = tmp_path / name
        save_png(path, pixels)
        with Image.open(path) as image:
            assert image.mode == mode
            np.testing.assert_array_equal(np.asarray(image), pixels)
        first = path.read_bytes()
        save_png(path, pixels)
        assert path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "grey.png", "rgb.png"]


def test_save_png_rejects_floats(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        save_png(tmp_path / "x.png", np.zeros((4, 4)))


def test_the_png_cache_gives_the_same_bytes_and_is_used(tmp_path: Path) -> None:
    pixels, cache = _tiles(1)[0], tmp_path / "png"
    write_png(tmp_path / "first.png", pixels, cache)
    (stored,) = cache.glob("*.png")
    write_png(tmp_path / "second.png", pixels, cache)
    assert (tmp_path / "second.png").read_bytes() == (tmp_path / "first.png").read_bytes() == stored.read_bytes()
    stored.write_bytes(stored.read_bytes()[:-8])             # a damaged entry is encoded afresh, not copied
    write_png(tmp_path / "third.png", pixels, cache)
    assert (tmp_path / "third.png").read_bytes() == (tmp_path / "first.png").read_bytes()
    other = pixels.copy()
    other[0, 0] ^= 1
    write_png(tmp_path / "other.png", other, cache)
    assert len(list(cache.glob("*.png"))) == 2
