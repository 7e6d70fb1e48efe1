"""The face crop the encoder sees: a square around the 68 landmarks, resampled to a fixed size."""

from __future__ import annotations

import cv2
import numpy as np

from facecraft.core.camera import CropTransform

CROP_SIZE = 224
CROP_MARGIN = 1.5
"""Crop side / the larger side of the landmarks' bounding box."""


def face_crop(landmarks68: np.ndarray, size: int = CROP_SIZE, margin: float = CROP_MARGIN) -> CropTransform:
    """The crop centred on the landmarks' bounding box, ``margin`` times its larger side.

    Args:
        landmarks68: ``(68, 2)`` ``(x, y)`` photo pixels.
        size: crop side in pixels.
        margin: crop side / the bounding box's larger side.
    """
    points = np.asarray(landmarks68, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise ValueError(f"landmarks must be finite (N, 2), got {points.shape}")
    low, high = points.min(0), points.max(0)
    side = margin * float((high - low).max())
    if side <= 0:
        raise ValueError("landmarks are all at one point")
    scale = size / side
    centre = (low + high) / 2.0
    offset = (size - 1) / 2.0 - scale * centre
    return CropTransform(scale=scale, offset=(float(offset[0]), float(offset[1])), size=(size, size))


def crop_image(rgb: np.ndarray, crop: CropTransform) -> np.ndarray:
    """Resample ``(H, W, C)`` photo pixels into the ``crop.size`` crop (bilinear, edges replicated).

    Large reductions first shrink the photo by area averaging, so the crop is not aliased.
    """
    scale, (offset_x, offset_y) = crop.scale, crop.offset
    image = rgb
    if scale < 0.5:  # area-average down to about twice the crop's resolution first
        factor = 2.0 * scale
        height, width = rgb.shape[:2]
        small = (max(1, round(width * factor)), max(1, round(height * factor)))
        image = cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)
        fx, fy = small[0] / width, small[1] / height
        # photo pixel p -> small pixel (p + 0.5) * f - 0.5; crop = scale * p + offset
        scale_x, scale_y = scale / fx, scale / fy
        offset_x += scale_x * (0.5 - 0.5 * fx)
        offset_y += scale_y * (0.5 - 0.5 * fy)
    else:
        scale_x = scale_y = scale
    matrix = np.array([[scale_x, 0.0, offset_x], [0.0, scale_y, offset_y]])
    height, width = crop.size
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
