"""Sampling a full-resolution photo at UV texels' projections (``sample_photo``)."""

from __future__ import annotations

import numpy as np

from facecraft.core.render.unwrap import sample_photo


def photo(height: int = 60, width: int = 80) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def grid(x0: float, y0: float, rows: int, cols: int, step: float = 1.0) -> np.ndarray:
    """``(rows, cols, 2)`` float32 ``(x, y)`` points."""
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32) * step
    return np.stack([xs + x0, ys + y0], axis=-1).astype(np.float32)


def test_pixel_centres_give_the_pixels_exactly():
    rgb = photo()
    points = grid(7, 11, 20, 30)
    sampled = sample_photo(rgb, points, 1.0)
    assert sampled.dtype == np.float32 and sampled.shape == (20, 30, 3)
    assert np.array_equal(sampled, rgb[11:31, 7:37].astype(np.float32) / 255.0)


def test_points_that_are_not_finite_do_not_move_the_others():
    rgb = photo()
    points = grid(20, 5, 10, 12)
    holes = points.copy()
    holes[0, 0] = (np.nan, 3.0)
    holes[4, 7] = (np.inf, np.inf)
    holes[9, 11, 1] = -np.inf
    sampled = sample_photo(rgb, holes, 1.0)
    whole = sample_photo(rgb, points, 1.0)
    finite = np.isfinite(holes).all(-1)
    assert np.array_equal(sampled[finite], whole[finite])
    assert np.isfinite(sampled).all()


def test_no_finite_point_gives_black():
    sampled = sample_photo(photo(), np.full((4, 5, 2), np.nan, np.float32), 1.0)
    assert sampled.shape == (4, 5, 3) and not sampled.any()


def test_points_off_the_photo_take_the_nearest_edge_colour():
    rgb = photo()
    sampled = sample_photo(rgb, grid(-6, 10, 3, 12), 1.0)  # columns -6..5: half off the left edge
    assert np.array_equal(sampled[:, 6:], rgb[10:13, 0:6].astype(np.float32) / 255.0)
    edge = rgb[10:13, :1].astype(np.float32) / 255.0
    assert np.array_equal(sampled[:, :6], np.repeat(edge, 6, axis=1))


def test_sparse_points_see_an_area_average():
    checker = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)
    rgb = np.repeat(checker[..., None], 3, axis=2)
    points = grid(4.5, 4.5, 7, 7, step=8.0)  # 8 pixels apart: plain bilinear would alias
    sampled = sample_photo(rgb, points, 8.0)
    assert np.abs(sampled - 0.5).max() < 0.1
