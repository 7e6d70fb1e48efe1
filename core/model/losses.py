"""The loss terms of the paper (eqs. 4-16), each a pure function with documented shapes.

Images are ``(B, 3, H, W)`` RGB in ``[0, 1]``; UV maps are ``(B, C, 192, 224)``;
masks are ``(B, 1, H, W)`` or ``(1, 1, 192, 224)`` float or bool, 1 where the
term applies. Every term is a scalar averaged over the batch, so weights do not
depend on the batch size. The paired objective that combines them is
:mod:`facecraft.core.model.objective`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_EPS = 1e-8


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` (``(B, 1, H, W)``) over mask pixels per item, then over the batch."""
    mask = mask.to(values.dtype).expand_as(values)
    per_item = (values * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1.0)
    return per_item.mean()


def reconstruction_l21_per_photo(rendered: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Robust l2,1 photometric error (eq. 4) of each image: mean over face pixels of the RGB distance.

    Args:
        rendered: ``(B, 3, H, W)`` rendered images.
        target: ``(B, 3, H, W)`` input images.
        mask: ``(B, 1, H, W)`` pixels covered by the face (the paper's V); others are ignored.

    Returns:
        ``(B,)``: l2 over colour channels, l1 (mean) over masked pixels (0 for an empty mask).
    """
    distance = ((rendered - target).square().sum(1, keepdim=True) + _EPS).sqrt()
    mask = mask.to(distance.dtype).expand_as(distance)
    return (distance * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1.0)


def reconstruction_l21(rendered: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """The loss of eq. 4: :func:`reconstruction_l21_per_photo` averaged over the batch (a scalar)."""
    return reconstruction_l21_per_photo(rendered, target, mask).mean()


def gradient_difference(rendered: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Image-gradient difference loss: l1 between the finite differences of the two images.

    Args:
        rendered, target: ``(B, 3, H, W)``.
        mask: ``(B, 1, H, W)``; a difference counts where both of its pixels are in the mask.

    Returns:
        Scalar, mean over masked differences and colour channels.
    """
    diff = rendered - target
    mask = mask.to(diff.dtype)
    dx = (diff[..., :, 1:] - diff[..., :, :-1]).abs().mean(1, keepdim=True)
    dy = (diff[..., 1:, :] - diff[..., :-1, :]).abs().mean(1, keepdim=True)
    mask_x = mask[..., :, 1:] * mask[..., :, :-1]
    mask_y = mask[..., 1:, :] * mask[..., :-1, :]
    return 0.5 * (_masked_mean(dx, mask_x) + _masked_mean(dy, mask_y))


def landmark_loss(
    projected: Tensor, target: Tensor, weights: Tensor | None = None, normaliser: float = 1.0
) -> Tensor:
    """Landmark alignment (eq. 7): mean squared distance between projected and target points.

    Args:
        projected: ``(B, 68, 2)`` model landmarks projected into the image, pixels.
        target: ``(B, 68, 2)`` detected or annotated landmarks, pixels.
        weights: optional ``(B, 68)`` per-point weights (0 = missing).
        normaliser: distances are divided by this (e.g. the crop size) before squaring.

    Returns:
        Scalar, mean over weighted points and the batch.
    """
    if projected.shape != target.shape or projected.shape[-1] != 2:
        raise ValueError(
            f"landmarks must both be (B, N, 2), got {tuple(projected.shape)}, {tuple(target.shape)}"
        )
    squared = ((projected - target) / normaliser).square().sum(-1)  # (B, N)
    if weights is None:
        return squared.mean()
    weights = weights.to(squared.dtype)
    return ((squared * weights).sum(1) / weights.sum(1).clamp(min=_EPS)).mean()


def albedo_symmetry(albedo: Tensor, mask: Tensor) -> Tensor:
    """Albedo symmetry (eq. 8): l1 between the albedo and its left-right mirror in UV.

    Args:
        albedo: ``(B, 3, 192, 224)``.
        mask: ``(1 or B, 1, 192, 224)`` face texels (mirror-symmetric).

    Returns:
        Scalar, mean absolute difference over masked texels and channels; zero exactly
        when the albedo is mirror-symmetric on the mask.
    """
    difference = (albedo - albedo.flip(-1)).abs().mean(1, keepdim=True)
    return _masked_mean(difference, mask.expand(albedo.shape[0], -1, -1, -1))


def channel_norm(values: Tensor) -> Tensor:
    """Euclidean norm over dim 1, kept: ``(B, C, H, W)`` -> ``(B, 1, H, W)``.

    Written as ``sqrt(sum(x^2))`` because ``Tensor.norm(dim=1)`` runs a slow reduction on
    CPU (30 ms against 0.45 ms on a 224^2 batch, issue 12). Not for gradients at zero.
    """
    return values.square().sum(1, keepdim=True).sqrt()


def chromaticity(texture: Tensor) -> Tensor:
    """``c(x) = I(x) / |I(x)|`` of eq. 9: ``(B, 3, H, W)`` -> unit RGB directions."""
    return texture / channel_norm(texture).clamp(min=1e-6)


def constancy_weights(chroma: Tensor, sharpness: float) -> tuple[Tensor, Tensor]:
    """Eq. 9's weights ``exp(-alpha * |c(v_i) - c(v_j)|)`` between 4-neighbours.

    Args:
        chroma: ``(B, 3, H, W)`` chromaticity of the input photo's texture in UV.
        sharpness: alpha (paper's code: 15).

    Returns:
        ``(B, 1, H, W-1)`` horizontal and ``(B, 1, H-1, W)`` vertical neighbour weights in ``(0, 1]``.
    """
    horizontal = channel_norm(chroma[..., :, 1:] - chroma[..., :, :-1])
    vertical = channel_norm(chroma[..., 1:, :] - chroma[..., :-1, :])
    return torch.exp(-sharpness * horizontal), torch.exp(-sharpness * vertical)


def albedo_constancy(
    albedo: Tensor, chroma: Tensor, mask: Tensor, exponent: float = 0.8, sharpness: float = 15.0
) -> Tensor:
    """Albedo constancy (eq. 9): neighbours with the same photo chromaticity get the same albedo.

    Args:
        albedo: ``(B, 3, 192, 224)``.
        chroma: ``(B, 3, 192, 224)`` chromaticity of the input photo unwrapped into UV
            (see :func:`chromaticity`); no gradient flows into it.
        mask: ``(1 or B, 1, 192, 224)`` texels where the term applies (both neighbours).
        exponent: p of eq. 9.
        sharpness: alpha of the weights.

    Returns:
        Scalar: mean over masked neighbour pairs of ``w * |A_i - A_j|_2^p``.
    """
    weight_x, weight_y = constancy_weights(chroma.detach(), sharpness)
    mask = mask.to(albedo.dtype).expand(albedo.shape[0], -1, -1, -1)
    dx = (albedo[..., :, 1:] - albedo[..., :, :-1]).square().sum(1, keepdim=True)
    dy = (albedo[..., 1:, :] - albedo[..., :-1, :]).square().sum(1, keepdim=True)
    floor = _EPS ** (exponent / 2.0)  # keeps the gradient finite at equal albedos; the value starts at 0
    term_x = weight_x * ((dx + _EPS).pow(exponent / 2.0) - floor)
    term_y = weight_y * ((dy + _EPS).pow(exponent / 2.0) - floor)
    mask_x = mask[..., :, 1:] * mask[..., :, :-1]
    mask_y = mask[..., 1:, :] * mask[..., :-1, :]
    return 0.5 * (_masked_mean(term_x, mask_x) + _masked_mean(term_y, mask_y))


def uv_laplacian(uv_map: Tensor) -> Tensor:
    """``S(v) - mean of its 4 neighbours`` (eq. 10's inner term), borders replicated.

    Written with shifted slices: as a depthwise 3x3 convolution it took 80 ms on a
    ``(8, 3, 194, 226)`` map here (oneDNN's grouped path), the slices ~2 ms.

    Args:
        uv_map: ``(B, C, H, W)``.

    Returns:
        ``(B, C, H, W)``; zero wherever the map is locally affine (e.g. a plane).
    """
    padded = F.pad(uv_map, (1, 1, 1, 1), mode="replicate")
    vertical = padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1]
    neighbours = vertical + padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:]
    return uv_map - 0.25 * neighbours


def shape_smoothness(shape: Tensor, mask: Tensor) -> Tensor:
    """Shape smoothness (eq. 10): squared UV Laplacian of the position map over the face.

    Args:
        shape: ``(B, 3, 192, 224)`` position map.
        mask: ``(1 or B, 1, 192, 224)``; texels whose 4 neighbours are all on the face count.

    Returns:
        Scalar mean of ``|S(v) - mean_N S|_2^2`` over interior face texels.
    """
    mask = mask.to(shape.dtype).expand(shape.shape[0], -1, -1, -1)
    interior = -F.max_pool2d(-F.pad(mask, (1, 1, 1, 1)), 3, stride=1)  # erosion: all neighbours on the face
    return _masked_mean(uv_laplacian(shape).square().sum(1, keepdim=True), interior)


def residual_magnitude(
    shape: Tensor, shape_proxy: Tensor, albedo: Tensor, albedo_proxy: Tensor, mask: Tensor
) -> Tensor:
    """Residual magnitude (eq. 14): ``|S - S~|_1 + |A - A~|_1`` over face texels.

    Args:
        shape, shape_proxy, albedo, albedo_proxy: ``(B, 3, 192, 224)``.
        mask: ``(1 or B, 1, 192, 224)``.

    Returns:
        Scalar: sum of the two mean absolute residuals (per channel).
    """
    mask = mask.expand(shape.shape[0], -1, -1, -1)
    shape_term = (shape - shape_proxy).abs().mean(1, keepdim=True)
    albedo_term = (albedo - albedo_proxy).abs().mean(1, keepdim=True)
    return _masked_mean(shape_term, mask) + _masked_mean(albedo_term, mask)


def residual_symmetry(shape: Tensor, shape_proxy: Tensor, visibility: Tensor, mask: Tensor) -> Tensor:
    """Soft symmetry of the depth residual on occluded texels (eq. 16).

    ``T`` of the paper is the set of face texels the camera does not see; there the
    depth residual ``dS_z = S_z - S~_z`` is pulled towards its mirror image.

    Args:
        shape, shape_proxy: ``(B, 3, 192, 224)`` (channel 2 is depth, ``z``).
        visibility: ``(B, 1, 192, 224)``, 1 on texels the camera sees (e.g.
            :attr:`facecraft.core.render.RenderResult.visibility`).
        mask: ``(1 or B, 1, 192, 224)`` face texels.

    Returns:
        Scalar: sum over occluded texels of ``|dS_z - flip(dS_z)|`` divided by the
        face texel count (so it grows with the occluded area), mean over the batch.
    """
    depth_residual = (shape - shape_proxy)[:, 2:3]
    mask = mask.to(shape.dtype).expand(shape.shape[0], -1, -1, -1)
    occluded = mask * (1.0 - visibility.to(shape.dtype).detach())
    difference = (depth_residual - depth_residual.flip(-1)).abs()
    per_item = (difference * occluded).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1.0)
    return per_item.mean()
