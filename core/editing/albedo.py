"""The detailed, delighted albedo the user paints on, at canvas resolution.

The photo is unwrapped into UV through the fitted shape at the canvas's
resolution (far finer than the model's 192x224) and divided by the fitted
shading, which removes the lighting and keeps the skin's own detail. Texels the
camera does not see, or sees at a grazing angle, are filled from their mirror
texel when that one is seen, and from the model's albedo otherwise; the blend
is soft so no seam shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from facecraft.core.camera import project
from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.decomposition import Decomposition
from facecraft.core.face.template import FaceTemplate
from facecraft.core.render.unwrap import sample_photo

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


@dataclass(frozen=True)
class AlbedoSources:
    """What the detailed albedo is blended from, at canvas resolution.

    Attributes:
        photo: ``(H, W, 3)`` float32 the photo unwrapped into UV and divided by the fitted shading.
        trust: ``(H, W)`` float32 in ``[0, 1]``, how far :attr:`photo` is seen (0 = unseen,
            occluded or grazing).
        model: ``(H, W, 3)`` float32 the model's albedo ``A``.
        inside: ``(H, W)`` bool, texels of the template's face mask.
    """

    photo: np.ndarray
    trust: np.ndarray
    model: np.ndarray
    inside: np.ndarray

    def blend(self) -> np.ndarray:
        """``(H, W, 3)`` float32 detailed albedo: the photo where seen, its mirror, else the model."""
        trust, mirror_trust = self.trust[..., None], self.trust[:, ::-1, None]
        fill = mirror_trust * self.photo[:, ::-1] + (1.0 - mirror_trust) * self.model
        albedo = trust * self.photo + (1.0 - trust) * fill
        albedo = np.where(self.inside[..., None], albedo, self.model)
        return np.clip(albedo, 0.0, 1.0).astype(np.float32)

    def seen(self) -> tuple[np.ndarray, np.ndarray]:
        """The photo's albedo where it or its mirror texel was seen, and how much it was.

        Returns:
            ``(H, W, 3)`` float32 albedo (the model's where nothing was seen) and ``(H, W)``
            float32 weight in ``[0, 1]``: ``t + (1 - t)·t_mirror`` (0 outside the face mask).
        """
        trust, mirror_trust = self.trust, self.trust[:, ::-1]
        mirror_share = (1.0 - trust) * mirror_trust
        weight = trust + mirror_share
        seen = trust[..., None] * self.photo + mirror_share[..., None] * self.photo[:, ::-1]
        safe = np.maximum(weight, 1e-6)[..., None]
        albedo = np.where(weight[..., None] > 1e-6, seen / safe, self.model)
        weight = np.where(self.inside, weight, 0.0)
        return np.clip(albedo, 0.0, 1.0).astype(np.float32), weight.astype(np.float32)


def albedo_sources(
    rgb: np.ndarray, decomposition: Decomposition, template: FaceTemplate, size: tuple[int, int]
) -> AlbedoSources:
    """Unwrap the photo into UV at canvas resolution and delight it.

    Args:
        rgb: ``(H, W, 3)`` uint8 photo the decomposition was made from.
        decomposition: the fitted face.
        template: the template (face mask).
        size: ``(H, W)`` of the canvas.
    """
    shape = upsample(decomposition.shape, size)
    points = project(torch.from_numpy(shape.reshape(1, -1, 3)), decomposition.photo_camera())[0, :, :2]
    points = points.numpy().reshape(size[0], size[1], 2)
    footprint = float(decomposition.camera[0]) * _texel_spacing(shape)
    texture = sample_photo(rgb, points, footprint)
    shading = np.maximum(upsample(decomposition.shading, size), SHADING_FLOOR)
    photo_albedo = np.clip(texture / shading, 0.0, 1.0).astype(np.float32)

    facing = upsample(decomposition.normals, size)[..., 2]
    low, high = GRAZING
    trust = np.clip((facing - low) / (high - low), 0.0, 1.0)
    seen = upsample(decomposition.visibility.astype(np.float32), size)[..., 0]
    trust *= cv2.GaussianBlur(seen, (0, 0), sigmaX=size[1] / 400.0)
    inside = upsample(template.mask.astype(np.float32), size)[..., 0] > 0.5
    model = upsample(decomposition.albedo, size)
    return AlbedoSources(photo_albedo, trust.astype(np.float32), model, inside)


def detailed_albedo(
    rgb: np.ndarray, decomposition: Decomposition, template: FaceTemplate, size: tuple[int, int]
) -> np.ndarray:
    """The photo's own albedo in UV at canvas resolution, ``(H, W, 3)`` float32 in ``[0, 1]``.

    Args: as for :func:`albedo_sources`.
    """
    return albedo_sources(rgb, decomposition, template, size).blend()


def _texel_spacing(shape: np.ndarray) -> float:
    """Median canonical distance between horizontally neighbouring canvas texels."""
    step = np.linalg.norm(shape[::8, 1:] - shape[::8, :-1], axis=-1)
    return float(np.median(step))
