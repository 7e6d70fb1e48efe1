"""Helpers shared by the canvas tests (brush, stickers): texel distances and rect masks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from facecraft.core.editing.rect import Rect


def _distances(shape: tuple[int, int], centre: tuple[float, float]) -> np.ndarray:
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.hypot(cols - centre[0], rows - centre[1])


def _rect_mask(rect: Rect, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[rect.slices()] = True
    return mask


@pytest.fixture
def distances() -> Callable[[tuple[int, int], tuple[float, float]], np.ndarray]:
    """``distances(shape, (col, row))``: each texel centre's distance to a canvas point."""
    return _distances


@pytest.fixture
def rect_mask() -> Callable[[Rect, tuple[int, int]], np.ndarray]:
    """``rect_mask(rect, shape)``: a bool mask of the texels in ``rect``."""
    return _rect_mask
