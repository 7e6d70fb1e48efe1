"""Re-compositing into the photo: pixels no edit reaches come back exactly, for every pixel value."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft.core.editing.composite import PhotoCompositor, SurfaceMap
from facecraft.core.editing.rect import Rect


def _flat_surface(height: int, width: int) -> SurfaceMap:
    """Every pixel covered, each on its own canvas texel, under a shading of 0.7."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    return SurfaceMap(
        region=Rect(0, 0, height, width),
        covered=np.ones((height, width), bool),
        canvas_x=cols,
        canvas_y=rows,
        uv=np.zeros((height, width, 2), np.float32),
        normals=np.zeros((height, width, 3), np.float32),
        shading=np.full((height, width, 3), 0.7, np.float32),
        tile_bounds=np.zeros((1, 1, 4), np.float32),
        canvas_size=(height, width),
    )


@pytest.mark.parametrize(
    ("dtype", "channels"), [(np.uint8, 3), (np.uint8, 4), (np.uint16, 3), (np.uint16, 4)]
)
def test_every_value_survives_a_neutral_re_render(dtype, channels):
    top = np.iinfo(dtype).max
    values = np.arange(top + 1, dtype=np.int64)
    width = 256
    height = -(-values.size // width)
    photo = np.resize(values, height * width).reshape(height, width, 1)
    photo = np.repeat(photo, channels, axis=2).astype(dtype)
    photo[..., 1] = photo[..., 1][::-1, ::-1]  # other channels hold other values at each pixel
    compositor = PhotoCompositor(photo, _flat_surface(height, width))
    multiplier = np.ones((height, width, 3), np.float32)
    addend = np.zeros((height, width, 3), np.float32)
    compositor.update(multiplier, addend, None)
    assert np.array_equal(compositor.result, photo)
    multiplier[0, 0] = 0.5  # an edit changes exactly the pixel it reaches
    compositor.update(multiplier, addend, None)
    changed = (compositor.result != photo).any(-1)
    assert changed[0, 0] == (photo[0, 0, :3] > 1).any() and changed.sum() == int(changed[0, 0])
