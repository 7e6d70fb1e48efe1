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
    channels = attributes.shape[-1]
    corner_index = (item[:, None] * attributes.shape[1] + tri[pix_to_face[covered]]).flatten()
    corners = attributes.reshape(-1, channels).index_select(0, corner_index).view(-1, 3, channels)
    weights = bary.reshape(-1, 3).index_select(0, covered)
    values = (weights.unsqueeze(-1) * corners).sum(-2)  # (N, C)
    out = values.new_zeros(pix_to_face.numel(), channels).index_copy(0, covered, values)
    return out.view(*fragments.pix_to_face.shape, attributes.shape[-1])


def sample_texture(texture: Tensor, uv: Tensor, mask: Tensor | None = None) -> Tensor:
    """Bilinearly sample a UV texture at per-pixel UV coordinates (``grid_sample``).

    Args:
        texture: ``(B, C, Ht, Wt)`` texture in the UV convention of
            :mod:`facecraft.core.conventions` (row 0 = ``v`` near 0).
        uv: ``(B, H, W, 2)`` ``(u, v)`` in ``[0, 1]``; texel centres at
            ``((col + 0.5) / Wt, (row + 0.5) / Ht)``.
        mask: optional ``(B, H, W)`` bool; pixels outside it are zero and are not
            sampled at all (only the covered pixels go through ``grid_sample``,
            which is what makes a face render cheap: it covers a fraction of the image).

    Returns:
        ``(B, C, H, W)``, differentiable in ``texture`` and ``uv``. Samples beyond the
        texture's edge repeat the border texels.
    """
    if texture.dim() != 4 or uv.dim() != 4 or uv.shape[-1] != 2 or uv.shape[0] != texture.shape[0]:
        raise ValueError(
            f"expected texture (B, C, Ht, Wt) and uv (B, H, W, 2), got {tuple(texture.shape)}, "
            f"{tuple(uv.shape)}"
        )
    grid = uv.to(texture.dtype) * 2.0 - 1.0
    if mask is None:
        return _grid_sample(texture, grid)
    if mask.shape != uv.shape[:3]:
        raise ValueError(f"mask must be {tuple(uv.shape[:3])}, got {tuple(mask.shape)}")
    batch, height, width, _ = uv.shape
    channels = texture.shape[1]
    # Pack each item's covered pixels into one row of a (B, 1, N_max) grid.
    flat_mask = mask.reshape(batch, -1)
    counts = flat_mask.sum(1)
    longest = int(counts.max()) if batch else 0
    covered = flat_mask.flatten().nonzero().squeeze(1)
    item = torch.div(covered, height * width, rounding_mode="floor")
    slot = torch.arange(covered.numel(), device=uv.device) - (counts.cumsum(0) - counts)[item]
    packed_index = item * longest + slot
    covered_grid = grid.reshape(-1, 2).index_select(0, covered)
    packed = grid.new_zeros(batch * longest, 2).index_copy(0, packed_index, covered_grid)
    samples = _grid_sample(texture, packed.view(batch, 1, longest, 2))  # (B, C, 1, N_max)
    values = samples.permute(0, 2, 3, 1).reshape(-1, channels).index_select(0, packed_index)
    out = values.new_zeros(batch * height * width, channels).index_copy(0, covered, values)
    return out.view(batch, height, width, channels).permute(0, 3, 1, 2)


def _grid_sample(texture: Tensor, grid: Tensor) -> Tensor:
    return F.grid_sample(texture, grid, mode="bilinear", padding_mode="border", align_corners=False)
