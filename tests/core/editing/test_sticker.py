"""Sticker rasterization and sticker files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facecraft.core.editing.rect import Rect
from facecraft.core.editing.sticker import MAX_STICKER_SIDE, load_sticker, rasterize_sticker
from facecraft.core.errors import ImageLoadError


def _corner_sticker(height: int = 20, width: int = 40) -> np.ndarray:
    """Opaque grey with a red 4x4 top-left corner."""
    sticker = np.full((height, width, 4), (128, 128, 128, 255), np.uint8)
    sticker[:4, :4] = (255, 0, 0, 255)
    return sticker


def _red_centroid(canvas: np.ndarray) -> np.ndarray:
    red = (canvas[..., 0] > 200) & (canvas[..., 1] < 60) & (canvas[..., 3] > 200)
    rows, cols = np.nonzero(red)
    return np.array([cols.mean(), rows.mean()])


def test_sticker_centre_lands_on_the_centre_and_unit_scale_copies_it(rect_mask):
    sticker = np.random.default_rng(3).integers(0, 256, (21, 31, 4), dtype=np.uint8)
    canvas, rect = rasterize_sticker(sticker, (120, 160), (100.0, 80.0), width=31.0)
    assert canvas.shape == (120, 160, 4) and canvas.dtype == np.uint8
    assert np.array_equal(canvas[80, 100], sticker[10, 15]) or sticker[10, 15, 3] == 0
    placed = canvas[70:91, 85:116]
    visible = sticker[..., 3] > 0
    assert np.array_equal(placed[visible], sticker[visible])
    assert not canvas[..., 3][~rect_mask(Rect(70, 85, 91, 116), (120, 160))].any()
    assert rect.clip(120, 160) == rect and Rect(70, 85, 91, 116).union(rect) == Rect(70, 85, 91, 116)


def test_sticker_rotation_is_counter_clockwise_on_the_canvas():
    centre = np.array([200.0, 150.0])
    canvas, _ = rasterize_sticker(_corner_sticker(), (300, 400), tuple(centre), width=40.0)
    assert np.all(np.sign(_red_centroid(canvas) - centre) == (-1, -1))  # top-left
    canvas, rect = rasterize_sticker(_corner_sticker(), (300, 400), tuple(centre), 40.0, rotation_deg=90.0)
    assert np.all(np.sign(_red_centroid(canvas) - centre) == (-1, 1))  # turned to the bottom-left
    assert abs(rect.height - 40) <= 2 and abs(rect.width - 20) <= 2
    canvas, _ = rasterize_sticker(_corner_sticker(), (300, 400), tuple(centre), 40.0, flip=True)
    assert np.all(np.sign(_red_centroid(canvas) - centre) == (1, -1))  # mirrored to the top-right


@pytest.mark.parametrize("width", [250.0, 33.0])
def test_sticker_width_is_respected_and_aspect_kept(width: float):
    sticker = np.full((50, 100, 4), 255, np.uint8)
    canvas, rect = rasterize_sticker(sticker, (400, 400), (200.0, 200.0), width)
    solid = canvas[..., 3] > 127
    cols, rows = np.flatnonzero(solid.any(axis=0)), np.flatnonzero(solid.any(axis=1))
    assert abs(cols.size - width) <= 1.5 and abs(rows.size - width / 2) <= 1.5
    assert abs(rect.width - width) <= 3 and abs(rect.height - width / 2) <= 3


@pytest.mark.parametrize(("width", "rotation"), [(97.3, 30.0), (23.0, -50.0)])
def test_sticker_edges_keep_the_sticker_colour(width: float, rotation: float, distances, rect_mask):
    """Premultiplied warping: semi-transparent edges are not darkened by the transparent black around."""
    distance = distances((60, 60), (29.5, 29.5))
    sticker = np.zeros((60, 60, 4), np.uint8)
    alpha = np.clip((28.0 - distance) * 40.0, 0, 255).astype(np.uint8)
    sticker[alpha > 0] = (200, 100, 50, 0)
    sticker[..., 3] = alpha
    canvas, rect = rasterize_sticker(sticker, (200, 200), (100.0, 100.0), width, rotation)
    alpha_out = canvas[..., 3]
    assert np.any((alpha_out > 0) & (alpha_out < 128))
    colours = canvas[alpha_out > 0, :3].astype(int)
    assert np.abs(colours - (200, 100, 50)).max() <= 1
    assert not canvas[alpha_out == 0].any()
    assert not alpha_out[~rect_mask(rect, (200, 200))].any()


def test_sticker_off_the_canvas_is_empty():
    canvas, rect = rasterize_sticker(_corner_sticker(), (50, 50), (500.0, 500.0), 40.0)
    assert rect.empty and not canvas.any()


def test_sticker_rasterization_refuses_bad_input():
    with pytest.raises(ValueError, match="sticker"):
        rasterize_sticker(np.zeros((8, 8, 3), np.uint8), (32, 32), (16, 16), 8.0)
    with pytest.raises(ValueError, match="sticker"):
        rasterize_sticker(np.zeros((8, 8, 4), np.float32), (32, 32), (16, 16), 8.0)
    for width in (0.0, -3.0, float("nan")):
        with pytest.raises(ValueError, match="width"):
            rasterize_sticker(np.zeros((8, 8, 4), np.uint8), (32, 32), (16, 16), width)


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "LA", "P", "I;16"])
def test_load_sticker_reads_any_png_mode_as_rgba(tmp_path: Path, mode: str):
    rgba = np.zeros((12, 10, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = np.linspace(0, 255, 10).astype(np.uint8)
    image = Image.fromarray(rgba)
    if mode == "I;16":
        image = Image.fromarray(np.full((12, 10), 40000, np.uint16))
    elif mode == "P":
        image = image.convert("RGB").quantize(4)
        image.info["transparency"] = 0
    else:
        image = image.convert(mode)
    path = tmp_path / f"sticker_{mode.replace(';', '')}.png"
    image.save(path)
    loaded = load_sticker(path)
    assert loaded.shape == (12, 10, 4) and loaded.dtype == np.uint8
    if mode == "RGBA":
        assert np.array_equal(loaded, rgba)
    if mode in ("RGB", "L", "I;16"):
        assert np.all(loaded[..., 3] == 255)
    if mode == "I;16":
        assert np.all(loaded[..., 0] == round(40000 / 257))


def test_load_sticker_refuses_what_is_not_a_usable_image(tmp_path: Path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageLoadError, match=r"notes\.png"):
        load_sticker(text)
    with pytest.raises(ImageLoadError, match=r"missing\.png"):
        load_sticker(tmp_path / "missing.png")
    huge = tmp_path / "huge.png"
    Image.new("L", (MAX_STICKER_SIDE + 1, 2)).save(huge)
    with pytest.raises(ImageLoadError, match=r"huge\.png.*4097x2"):
        load_sticker(huge)
