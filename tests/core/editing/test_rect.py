"""Canvas rects."""

from __future__ import annotations

import numpy as np

from facecraft.core.editing.rect import Rect


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
