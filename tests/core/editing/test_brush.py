"""Brush and eraser strokes, canvas rects, sticker rasterization and sticker files."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facecraft.core.editing.brush import (
    MAX_STICKER_SIDE,
    BrushStroke,
    Rect,
    brush_footprint,
    load_sticker,
    rasterize_sticker,
)
from facecraft.core.errors import ImageLoadError


def _random_layer(shape: tuple[int, int] = (96, 112), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 4), dtype=np.uint8)


def _distances(shape: tuple[int, int], centre: tuple[float, float]) -> np.ndarray:
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.hypot(cols - centre[0], rows - centre[1])


def _rect_mask(rect: Rect, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[rect.slices()] = True
    return mask


# -- Rect -----------------------------------------------------------------------------------------


def test_rect_union_clip_and_slices():
    a, b = Rect(2, 3, 5, 7), Rect(4, 1, 9, 4)
    assert a.union(b) == Rect(2, 1, 9, 7)
    assert a.union(Rect.empty_rect()) == a and Rect.empty_rect().union(a) == a
    assert a.area == 12 and (a.height, a.width) == (3, 4)
    assert Rect(-3, -2, 4, 50).clip(10, 20) == Rect(0, 0, 4, 20)
    assert Rect(12, 0, 15, 5).clip(10, 20).empty
    assert Rect(5, 5, 5, 9).empty and Rect(5, 5, 5, 9).area == 0
    assert Rect.empty_rect().slices() == (slice(0, 0), slice(0, 0))
    array = np.arange(100).reshape(10, 10)
    assert array[a.slices()].shape == (3, 4)
    assert Rect(np.int64(1), 2, 3, 4) == Rect(1, 2, 3, 4)  # numpy integers are normalised


def test_rect_from_points_holds_the_touched_texels():
    rect = Rect.from_points(np.array([[10.2, 5.0], [3.0, 7.6]]), pad=1.0)
    # cols 2.0..11.2 -> texels 2..11; rows 4.0..8.6 -> texels 4..9 (8.6 is in texel 9)
    assert rect == Rect(4, 2, 10, 12)
    assert Rect.from_points(np.zeros((0, 2))).empty


# -- brush ----------------------------------------------------------------------------------------


def test_footprint_is_one_at_the_centre_and_zero_from_the_radius():
    for hardness in (0.0, 0.5, 1.0):
        footprint = brush_footprint(6.0, hardness)
        assert footprint(np.array([0.0]))[0] == 1.0
        assert np.all(footprint(np.array([6.0, 6.01, 9.0, 100.0])) == 0.0)
        values = footprint(np.linspace(0.0, 7.0, 200))
        assert values.dtype == np.float32 and np.all(np.diff(values) <= 0.0)


def test_harder_brush_covers_at_least_as_much():
    distances = np.linspace(0.0, 12.0, 500)
    hard, soft = brush_footprint(10.0, 1.0)(distances), brush_footprint(10.0, 0.0)(distances)
    assert np.all(hard >= soft) and np.any(hard > soft + 0.5)
    assert np.all(hard[distances <= 9.0] == 1.0)  # full coverage up to the one-texel anti-aliased edge


def test_single_dab_is_opaque_at_the_centre_and_empty_outside_the_radius():
    layer = np.zeros((64, 64, 4), np.uint8)
    stroke = BrushStroke(layer, (1.0, 0.5, 0.0), radius=5.0, hardness=0.5, opacity=1.0)
    rect = stroke.add_points(np.array([[30.0, 20.0]]))
    assert tuple(layer[20, 30]) == (255, 128, 0, 255)
    outside = _distances((64, 64), (30.0, 20.0)) >= 5.0
    assert not layer[outside].any()
    assert rect == Rect(15, 25, 26, 36) and stroke.dirty == rect


def test_stroke_opacity_caps_alpha_even_when_the_stroke_crosses_itself():
    layer = np.zeros((80, 80, 4), np.uint8)
    stroke = BrushStroke(layer, (0.2, 0.9, 0.1), radius=6.0, hardness=0.3, opacity=0.5)
    zigzag = np.array([[10, 40], [70, 40], [10, 42], [70, 38], [40, 10], [40, 70], [40, 40], [41, 40]], float)
    for point in zigzag:
        stroke.add_points(point[None])
    alpha = layer[..., 3]
    assert alpha.max() == 128 and alpha[40, 40] == 128
    assert np.all(layer[alpha > 0, 1] == round(0.9 * 255))  # colour stays the brush colour


def test_painting_over_an_opaque_layer_with_full_opacity_gives_the_brush_colour():
    layer = np.zeros((48, 48, 4), np.uint8)
    layer[...] = (10, 200, 30, 255)
    stroke = BrushStroke(layer, (0.2, 0.4, 0.6), radius=8.0, hardness=1.0, opacity=1.0)
    stroke.add_points(np.array([[20.5, 24.0], [27.5, 24.0]]))
    inside = _distances((48, 48), (24.0, 24.0)) <= 6.0
    assert np.all(layer[inside] == (51, 102, 153, 255))
    assert np.all(layer[..., 3] == 255)
    # a half-covered edge texel blends between the two colours
    assert 102 < layer[24, 13, 1] < 200  # 7.5 texels from the first dab


def test_eraser_clears_inside_the_radius_and_leaves_the_rest_bit_identical():
    layer = _random_layer()
    original = layer.copy()
    stroke = BrushStroke(layer, (0.0, 0.0, 0.0), radius=6.0, hardness=1.0, opacity=1.0, erase=True)
    stroke.add_points(np.array([[50.0, 40.0]]))
    distance = _distances(layer.shape[:2], (50.0, 40.0))
    assert np.all(layer[distance <= 5.0, 3] == 0)
    assert np.array_equal(layer[distance >= 6.0], original[distance >= 6.0])
    assert np.array_equal(layer[..., :3], original[..., :3])  # the eraser never changes colour
    assert np.all(layer[..., 3] <= original[..., 3])


@pytest.mark.parametrize("erase", [False, True])
def test_returned_rects_hold_every_change(erase: bool):
    layer = _random_layer(seed=1)
    original = layer.copy()
    stroke = BrushStroke(layer, (0.9, 0.1, 0.5), radius=7.0, hardness=0.6, opacity=0.8, erase=erase)
    union = Rect.empty_rect()
    for points in ([[5, 5]], [[30, 8], [60, 30]], [[60, 30]], [[100, 90], [-20, 95]], [[55, 50]]):
        previous = layer.copy()
        rect = stroke.add_points(np.array(points, float))
        changed = np.any(layer != previous, axis=-1)
        assert not changed[~_rect_mask(rect, layer.shape[:2])].any()
        union = union.union(rect)
    assert stroke.dirty == union
    outside = ~_rect_mask(union, layer.shape[:2])
    assert np.array_equal(layer[outside], original[outside])
    assert np.any(layer != original)


def test_before_and_after_give_the_pixels_for_undo():
    layer = _random_layer(seed=2)
    original = layer.copy()
    stroke = BrushStroke(layer, (0.3, 0.3, 0.9), radius=9.0, hardness=0.2, opacity=0.7)
    stroke.add_points(np.array([[10, 10], [90, 80], [20, 85]], float))
    rows, cols = stroke.dirty.slices()
    assert np.array_equal(stroke.before(stroke.dirty), original[rows, cols])
    assert np.array_equal(stroke.after(stroke.dirty), layer[rows, cols])
    whole = Rect(0, 0, *layer.shape[:2])
    assert np.array_equal(stroke.before(whole), original)  # untouched tiles come from the layer itself
    layer[rows, cols] = stroke.before(stroke.dirty)  # undo
    assert np.array_equal(layer, original)


def test_splitting_a_stroke_into_calls_changes_nothing():
    points = np.array([[10.0, 10.0], [40.3, 17.0], [41.0, 60.0], [80.0, 62.5]])
    whole, split = np.zeros((80, 96, 4), np.uint8), np.zeros((80, 96, 4), np.uint8)
    BrushStroke(whole, (1.0, 0.0, 0.0), 5.0, 0.4, 0.9).add_points(points)
    stroke = BrushStroke(split, (1.0, 0.0, 0.0), 5.0, 0.4, 0.9)
    for point in points:
        stroke.add_points(point[None])
    assert np.array_equal(whole, split)
    # dabs are close enough for a continuous line along the polyline
    for start, end in itertools.pairwise(points):
        on_line = np.rint(start + np.linspace(0.0, 1.0, 50)[:, None] * (end - start)).astype(int)
        assert np.all(whole[on_line[:, 1], on_line[:, 0], 3] == round(0.9 * 255))


def test_brush_refuses_bad_arguments():
    layer = np.zeros((16, 16, 4), np.uint8)
    with pytest.raises(ValueError, match="layer"):
        BrushStroke(np.zeros((16, 16, 3), np.uint8), (0, 0, 0), 2.0)
    with pytest.raises(ValueError, match="layer"):
        BrushStroke(np.zeros((16, 16, 4), np.float32), (0, 0, 0), 2.0)
    with pytest.raises(ValueError, match="colour"):
        BrushStroke(layer, (0.0, 1.5, 0.0), 2.0)
    with pytest.raises(ValueError, match="radius"):
        BrushStroke(layer, (0, 0, 0), 0.2)
    with pytest.raises(ValueError, match="hardness"):
        BrushStroke(layer, (0, 0, 0), 2.0, hardness=1.2)
    with pytest.raises(ValueError, match="opacity"):
        BrushStroke(layer, (0, 0, 0), 2.0, opacity=-0.1)
    with pytest.raises(ValueError, match="finite"):
        BrushStroke(layer, (0, 0, 0), 2.0).add_points(np.array([[np.nan, 1.0]]))


# -- stickers -------------------------------------------------------------------------------------


def _corner_sticker(height: int = 20, width: int = 40) -> np.ndarray:
    """Opaque grey with a red 4x4 top-left corner."""
    sticker = np.full((height, width, 4), (128, 128, 128, 255), np.uint8)
    sticker[:4, :4] = (255, 0, 0, 255)
    return sticker


def _red_centroid(canvas: np.ndarray) -> np.ndarray:
    red = (canvas[..., 0] > 200) & (canvas[..., 1] < 60) & (canvas[..., 3] > 200)
    rows, cols = np.nonzero(red)
    return np.array([cols.mean(), rows.mean()])


def test_sticker_centre_lands_on_the_centre_and_unit_scale_copies_it():
    sticker = np.random.default_rng(3).integers(0, 256, (21, 31, 4), dtype=np.uint8)
    canvas, rect = rasterize_sticker(sticker, (120, 160), (100.0, 80.0), width=31.0)
    assert canvas.shape == (120, 160, 4) and canvas.dtype == np.uint8
    assert np.array_equal(canvas[80, 100], sticker[10, 15]) or sticker[10, 15, 3] == 0
    placed = canvas[70:91, 85:116]
    visible = sticker[..., 3] > 0
    assert np.array_equal(placed[visible], sticker[visible])
    assert not canvas[..., 3][~_rect_mask(Rect(70, 85, 91, 116), (120, 160))].any()
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
def test_sticker_edges_keep_the_sticker_colour(width: float, rotation: float):
    """Premultiplied warping: semi-transparent edges are not darkened by the transparent black around."""
    distance = _distances((60, 60), (29.5, 29.5))
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
    assert not alpha_out[~_rect_mask(rect, (200, 200))].any()


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


def test_a_caller_reusing_its_point_array_still_paints_a_line():
    layer = np.zeros((64, 96, 4), np.uint8)
    stroke = BrushStroke(layer, (1.0, 0.0, 0.0), 3.0, 1.0)
    position = np.array([[10.0, 32.0]])
    stroke.add_points(position)
    for _ in range(7):
        position[0, 0] += 10.0  # the same array, moved: as a mouse handler might do
        assert not stroke.add_points(position).empty
    assert layer[32, 10:80, 3].min() == 255
