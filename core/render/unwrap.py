"""Unwrapping a photo into UV space through a fitted shape and camera."""

from __future__ import annotations

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
