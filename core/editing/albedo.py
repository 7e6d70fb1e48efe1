"""The detailed, delighted albedo the user paints on, at canvas resolution.

The photo is unwrapped into UV through the fitted shape at the canvas's
resolution (far finer than the model's 192x224) and divided by the fitted
shading, which removes the lighting and keeps the skin's own detail. Texels the
camera does not see, or sees at a grazing angle, are filled from their mirror
texel when that one is seen, and from the model's albedo otherwise; the blend
is soft so no seam shows.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from facecraft.core.camera import project
from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.decompose import Decomposition
from facecraft.core.render.unwrap import sample_photo
from facecraft.core.template import FaceTemplate

CANVAS_SCALE = 6
"""Canvas texels per model texel: 1152 x 1344, above the 1024² the editor needs."""
SHADING_FLOOR = 0.08
"""Shading below this is clamped before dividing (deep shadow says little about albedo)."""
GRAZING = (0.15, 0.45)
"""Camera-facing ``n_z`` over which trust in the photo goes from none to full."""


def canvas_size(scale: int = CANVAS_SCALE) -> tuple[int, int]:
    """``(H, W)`` of the canvas at ``scale`` canvas texels per model texel."""
    return UV_HEIGHT * scale, UV_WIDTH * scale


def upsample(uv_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear ``(192, 224, C)`` → ``(H, W, C)`` float32 (texel centres aligned)."""
    resized = cv2.resize(
        np.ascontiguousarray(uv_map, dtype=np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR
    )
    return resized.reshape(size[0], size[1], -1)


def detailed_albedo(
    rgb: np.ndarray, decomposition: Decomposition, template: FaceTemplate, size: tuple[int, int]
) -> np.ndarray:
    """The photo's own albedo in UV at canvas resolution.

    Args:
        rgb: ``(H, W, 3)`` uint8 photo the decomposition was made from.
        decomposition: the fitted face.
        template: the template (face mask).
        size: ``(H, W)`` of the canvas.

    Returns:
        ``(H, W, 3)`` float32 albedo in ``[0, 1]``.
    """
    shape = upsample(decomposition.shape, size)
    points = project(torch.from_numpy(shape.reshape(1, -1, 3)), decomposition.photo_camera())[0, :, :2]
    points = points.numpy().reshape(size[0], size[1], 2)
    footprint = float(decomposition.camera[0]) * _texel_spacing(shape)
    texture = sample_photo(rgb, points, footprint)
    shading = np.maximum(upsample(decomposition.shading, size), SHADING_FLOOR)
    photo_albedo = np.clip(texture / shading, 0.0, 1.0)

    facing = upsample(decomposition.normals, size)[..., 2]
    low, high = GRAZING
    trust = np.clip((facing - low) / (high - low), 0.0, 1.0)
    seen = upsample(decomposition.visibility.astype(np.float32), size)[..., 0]
    trust *= cv2.GaussianBlur(seen, (0, 0), sigmaX=size[1] / 400.0)
    trust = trust.astype(np.float32)

    model = upsample(decomposition.albedo, size)
    mirror_trust = trust[:, ::-1]
    fill = mirror_trust[..., None] * photo_albedo[:, ::-1] + (1.0 - mirror_trust[..., None]) * model
    albedo = trust[..., None] * photo_albedo + (1.0 - trust[..., None]) * fill
    inside = upsample(template.mask.astype(np.float32), size)[..., 0] > 0.5
    albedo = np.where(inside[..., None], albedo, model)
    return np.clip(albedo, 0.0, 1.0).astype(np.float32)


def _texel_spacing(shape: np.ndarray) -> float:
    """Median canonical distance between horizontally neighbouring canvas texels."""
    step = np.linalg.norm(shape[::8, 1:] - shape[::8, :-1], axis=-1)
    return float(np.median(step))
