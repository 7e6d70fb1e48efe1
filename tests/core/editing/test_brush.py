"""Brush and eraser strokes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from facecraft.core.editing.brush import BrushStroke, brush_footprint
from facecraft.core.editing.rect import Rect


def _random_layer(shape: tuple[int, int] = (96, 112), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 4), dtype=np.uint8)


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


def test_single_dab_is_opaque_at_the_centre_and_empty_outside_the_radius(distances):
    layer = np.zeros((64, 64, 4), np.uint8)
    stroke = BrushStroke(layer, (1.0, 0.5, 0.0), radius=5.0, hardness=0.5, opacity=1.0)
    rect = stroke.add_points(np.array([[30.0, 20.0]]))
    assert tuple(layer[20, 30]) == (255, 128, 0, 255)
    outside = distances((64, 64), (30.0, 20.0)) >= 5.0
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


def test_painting_over_an_opaque_layer_with_full_opacity_gives_the_brush_colour(distances):
    layer = np.zeros((48, 48, 4), np.uint8)
    layer[...] = (10, 200, 30, 255)
    stroke = BrushStroke(layer, (0.2, 0.4, 0.6), radius=8.0, hardness=1.0, opacity=1.0)
    stroke.add_points(np.array([[20.5, 24.0], [27.5, 24.0]]))
    inside = distances((48, 48), (24.0, 24.0)) <= 6.0
    assert np.all(layer[inside] == (51, 102, 153, 255))
    assert np.all(layer[..., 3] == 255)
    # a half-covered edge texel blends between the two colours
    assert 102 < layer[24, 13, 1] < 200  # 7.5 texels from the first dab


def test_eraser_clears_inside_the_radius_and_leaves_the_rest_bit_identical(distances):
    layer = _random_layer()
    original = layer.copy()
    stroke = BrushStroke(layer, (0.0, 0.0, 0.0), radius=6.0, hardness=1.0, opacity=1.0, erase=True)
    stroke.add_points(np.array([[50.0, 40.0]]))
    distance = distances(layer.shape[:2], (50.0, 40.0))
    assert np.all(layer[distance <= 5.0, 3] == 0)
    assert np.array_equal(layer[distance >= 6.0], original[distance >= 6.0])
    assert np.array_equal(layer[..., :3], original[..., :3])  # the eraser never changes colour
    assert np.all(layer[..., 3] <= original[..., 3])


@pytest.mark.parametrize("erase", [False, True])
def test_returned_rects_hold_every_change(erase: bool, rect_mask):
    layer = _random_layer(seed=1)
    original = layer.copy()
    stroke = BrushStroke(layer, (0.9, 0.1, 0.5), radius=7.0, hardness=0.6, opacity=0.8, erase=erase)
    union = Rect.empty_rect()
    for points in ([[5, 5]], [[30, 8], [60, 30]], [[60, 30]], [[100, 90], [-20, 95]], [[55, 50]]):
        previous = layer.copy()
        rect = stroke.add_points(np.array(points, float))
        changed = np.any(layer != previous, axis=-1)
        assert not changed[~rect_mask(rect, layer.shape[:2])].any()
        union = union.union(rect)
    assert stroke.dirty == union
    outside = ~rect_mask(union, layer.shape[:2])
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


def test_a_caller_reusing_its_point_array_still_paints_a_line():
    layer = np.zeros((64, 96, 4), np.uint8)
    stroke = BrushStroke(layer, (1.0, 0.0, 0.0), 3.0, 1.0)
    position = np.array([[10.0, 32.0]])
    stroke.add_points(position)
    for _ in range(7):
        position[0, 0] += 10.0  # the same array, moved: as a mouse handler might do
        assert not stroke.add_points(position).empty
    assert layer[32, 10:80, 3].min() == 255
