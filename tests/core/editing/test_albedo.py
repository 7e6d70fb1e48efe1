"""The detailed, delighted albedo painted on: photo ÷ shading where seen, filled where not."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft.core.editing.albedo import canvas_size, detailed_albedo, upsample


@pytest.fixture(scope="module")
def albedo(astronaut_rgb, astronaut_decomposition, template):
    return detailed_albedo(astronaut_rgb, astronaut_decomposition, template, canvas_size())


def test_the_canvas_is_at_least_1024_square_and_in_range(albedo):
    height, width = canvas_size()
    assert height >= 1024 and width >= 1024
    assert albedo.shape == (height, width, 3) and albedo.dtype == np.float32
    assert albedo.min() >= 0.0 and albedo.max() <= 1.0


def test_seen_texels_are_the_photo_divided_by_the_shading(albedo, astronaut_decomposition, template):
    d = astronaut_decomposition
    size = albedo.shape[:2]
    # compare at model resolution, away from the visibility edge
    small = albedo.reshape(192, size[0] // 192, 224, size[1] // 224, 3).mean((1, 3))
    seen = d.visibility & template.mask & (d.normals[..., 2] > 0.6)
    import cv2

    interior = cv2.erode(seen.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    expected = np.clip(d.texture / np.maximum(d.shading, 0.08), 0, 1)
    error = np.abs(small[interior] - expected[interior]).mean()
    assert interior.sum() > 2000 and error < 0.05


def test_unseen_texels_are_filled_without_holes(albedo, astronaut_decomposition, template):
    d = astronaut_decomposition
    unseen = template.mask & ~d.visibility
    mask = upsample(unseen.astype(np.float32), albedo.shape[:2])[..., 0] > 0.99
    if not mask.any():
        pytest.skip("the astronaut shows every texel")
    filled = albedo[mask]
    assert filled.mean() > 0.15 and (filled.sum(-1) > 0.05).mean() > 0.99  # no black holes
