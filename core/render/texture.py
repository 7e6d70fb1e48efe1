"""Per-pixel attributes from rasterized fragments: interpolation and texture sampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from facecraft.core.render.rasterize import Fragments


def interpolate(attributes: Tensor, triangles: Tensor, fragments: Fragments, bary: Tensor) -> Tensor:
    """Blend per-vertex attributes with barycentric weights.

    Args:
        attributes: ``(B, V, C)`` or ``(V, C)`` (shared by the batch) per-vertex values.
        triangles: ``(T, 3)`` int vertex indices.
        fragments: from :func:`~facecraft.core.render.rasterize.rasterize`.
        bary: ``(B, H, W, 3)`` from
            :func:`~facecraft.core.render.rasterize.barycentric_coordinates`.

    Returns:
        ``(B, H, W, C)`` interpolated values, zero on empty pixels. Differentiable in
        ``attributes`` and ``bary``.
    """
    batch = fragments.pix_to_face.shape[0]
    if attributes.dim() == 2:
        attributes = attributes.unsqueeze(0).expand(batch, -1, -1)
    if attributes.dim() != 3 or attributes.shape[0] != batch:
        raise ValueError(f"attributes must be (B={batch}, V, C) or (V, C), got {tuple(attributes.shape)}")
    tri = triangles.to(device=attributes.device, dtype=torch.long)
    pix_to_face = fragments.pix_to_face.flatten()
    covered = (pix_to_face >= 0).nonzero().squeeze(1)
    pixels_per_item = pix_to_face.numel() // batch
    item = torch.div(covered, pixels_per_item, rounding_mode="floor")
    corners = attributes[item[:, None], tri[pix_to_face[covered]]]  # (N, 3, C)
    weights = bary.reshape(-1, 3)[covered]
    values = (weights.unsqueeze(-1) * corners).sum(-2)
    out = values.new_zeros(pix_to_face.numel(), attributes.shape[-1]).index_put((covered,), values)
    return out.view(*fragments.pix_to_face.shape, attributes.shape[-1])


def sample_texture(texture: Tensor, uv: Tensor, mask: Tensor | None = None) -> Tensor:
    """Bilinearly sample a UV texture at per-pixel UV coordinates.

    Args:
        texture: ``(B, C, Ht, Wt)`` texture in the UV convention of
            :mod:`facecraft.core.conventions` (row 0 = ``v`` near 0).
        uv: ``(B, H, W, 2)`` ``(u, v)`` in ``[0, 1]``; texel centres at
            ``((col + 0.5) / Wt, (row + 0.5) / Ht)``.
        mask: optional ``(B, H, W)`` bool; pixels outside it are zero.

    Returns:
        ``(B, C, H, W)``, differentiable in ``texture`` and ``uv``. Samples beyond the
        texture's edge repeat the border texels.
    """
    if texture.dim() != 4 or uv.dim() != 4 or uv.shape[-1] != 2 or uv.shape[0] != texture.shape[0]:
        raise ValueError(
            f"expected texture (B, C, Ht, Wt) and uv (B, H, W, 2), got {tuple(texture.shape)}, "
            f"{tuple(uv.shape)}"
        )
    grid = uv * 2.0 - 1.0
    sampled = F.grid_sample(texture, grid.to(texture.dtype), mode="bilinear", padding_mode="border",
                            align_corners=False)
    if mask is not None:
        sampled = sampled * mask.unsqueeze(1).to(sampled.dtype)
    return sampled
