"""The encoder's face crop: where photo points land, at any reduction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facecraft.core.face.crop import crop_image, face_crop


def bright_spot_centre(image: np.ndarray) -> np.ndarray:
    weights = image[..., 0].astype(np.float64)
    rows, cols = np.indices(weights.shape)
    return np.array([(cols * weights).sum(), (rows * weights).sum()]) / weights.sum()


@pytest.mark.parametrize("photo_side", [300, 1200, 4000])  # 4000: the area-averaging path (scale < 0.5)
def test_a_photo_point_lands_where_the_transform_says(photo_side):
    landmarks = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.75]]) * photo_side
    crop = face_crop(landmarks, size=224)
    photo = np.zeros((photo_side, photo_side, 3), dtype=np.uint8)
    spot = np.array([0.55, 0.45]) * photo_side
    radius = max(2, photo_side // 100)
    y, x = int(spot[1]), int(spot[0])
    photo[y - radius:y + radius + 1, x - radius:x + radius + 1] = 255
    image = crop_image(photo, crop)
    expected = crop.photo_to_crop(torch.tensor([[x, y]], dtype=torch.float64))[0].numpy()
    assert image.shape == (224, 224, 3)
    assert np.abs(bright_spot_centre(image) - expected).max() < 0.6


def test_the_crop_frames_the_landmarks_with_the_margin():
    landmarks = np.array([[100.0, 100.0], [200.0, 150.0], [150.0, 260.0]])
    crop = face_crop(landmarks, size=224, margin=1.5)
    corners = crop.photo_to_crop(torch.as_tensor(landmarks)).numpy()
    assert crop.scale == pytest.approx(224 / (1.5 * 160))
    assert corners.min() > 224 * 0.16 and corners.max() < 224 * 0.84


def test_degenerate_landmarks_are_refused():
    with pytest.raises(ValueError, match="one point"):
        face_crop(np.ones((68, 2)))
    with pytest.raises(ValueError, match="finite"):
        face_crop(np.full((68, 2), np.nan))
