"""Unwrapping a photo into UV space through a fitted shape and camera."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch.nn.functional as F
from torch import Tensor

from facecraft.core.camera import Camera, project


def unwrap_image(image: Tensor, shape_uv: Tensor, camera: Camera) -> Tensor:
    """Sample the image at the projection of every UV texel.

    Occlusion is not handled here: an occluded texel gets the colour of whatever
    is in front of it; combine with
    :attr:`facecraft.core.render.RenderResult.visibility` to know which texels to trust.

    Args:
        image: ``(B, C, H, W)`` image the camera projects into.
        shape_uv: ``(B, 3, Hu, Wu)`` position map, canonical frame.
        camera: ``B`` cameras.

    Returns:
        ``(B, C, Hu, Wu)`` texture, bilinear, zero where a texel projects outside the
        image; differentiable in the image, the shape and the camera.
    """
    if (
        image.dim() != 4
        or shape_uv.dim() != 4
        or shape_uv.shape[1] != 3
        or image.shape[0] != shape_uv.shape[0]
    ):
        raise ValueError(
            f"expected image (B, C, H, W) and shape (B, 3, Hu, Wu), got {tuple(image.shape)}, "
            f"{tuple(shape_uv.shape)}"
        )
    batch, _, height, width = image.shape
    uv_height, uv_width = shape_uv.shape[2:]
    points = project(shape_uv.flatten(2).transpose(1, 2), camera)[..., :2]  # (B, Hu*Wu, 2) pixels
    scale = points.new_tensor([2.0 / width, 2.0 / height])
    grid = (points + 0.5) * scale - 1.0
    return F.grid_sample(
        image,
        grid.view(batch, uv_height, uv_width, 2).to(image.dtype),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )


def sample_photo(rgb: np.ndarray, points: np.ndarray, footprint: float) -> np.ndarray:
    """Sample a full-resolution photo at arbitrary points without aliasing.

    When neighbouring points are ``footprint`` photo pixels apart (> 2), the photo
    region the points fall in is first area-averaged by about that factor, so that
    bilinear sampling sees every pixel rather than skipping most of them.

    Args:
        rgb: ``(H, W, 3)`` uint8 photo.
        points: ``(h, w, 2)`` ``(x, y)`` photo pixels (centre convention).
        footprint: photo pixels between neighbouring points.

    Returns:
        ``(h, w, 3)`` float32 colours in ``[0, 1]``; points outside the photo take the
        nearest edge colour.
    """
    height, width = rgb.shape[:2]
    # Per coordinate: numpy reductions over a last axis of 2 cost far more than over flat arrays.
    xs, ys = points[..., 0], points[..., 1]
    finite = np.isfinite(xs) & np.isfinite(ys)
    if not finite.any():
        return np.zeros((*points.shape[:2], 3), np.float32)
    if not finite.all():
        xs, ys = xs[finite], ys[finite]
    x0, y0 = max(math.floor(xs.min()) - 2, 0), max(math.floor(ys.min()) - 2, 0)
    x1, y1 = min(math.ceil(xs.max()) + 3, width), min(math.ceil(ys.max()) + 3, height)
    if x1 <= x0 or y1 <= y0:  # every point is off the photo: the nearest edge pixel
        x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
        x1, y1 = x0 + 1, y0 + 1
    region = rgb[y0:y1, x0:x1]
    factor = 1.0
    if footprint > 2.0:
        factor = 2.0 / footprint
        size = (max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor)))
        region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
    fx = region.shape[1] / (x1 - x0)
    fy = region.shape[0] / (y1 - y0)
    map_x = ((points[..., 0] - x0 + 0.5) * fx - 0.5).astype(np.float32)
    map_y = ((points[..., 1] - y0 + 0.5) * fy - 0.5).astype(np.float32)
    if not finite.all():
        map_x[~finite] = 0.0
        map_y[~finite] = 0.0
    sampled = cv2.remap(region, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return sampled.astype(np.float32) / 255.0
