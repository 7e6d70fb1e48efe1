"""Surface normals from a UV position map, and spherical-harmonics shading.

Lighting is second-order spherical harmonics, 9 coefficients per colour channel,
held as ``(B, 3, 9)`` (RGB x coefficient) in the order of :data:`SH_BASIS_NAMES`,
expressed in the camera frame of :mod:`facecraft.core.camera` (``+x`` right,
``+y`` up, ``+z`` towards the viewer).

The basis already folds in the Lambertian (clamped-cosine) convolution
(Ramamoorthi & Hanrahan 2001) and is scaled so that the constant term is 1:

``b_k(n) = A_l * Y_lm(n) / (A_0 * Y_00)``, ``A_0 = pi``, ``A_1 = 2 pi / 3``, ``A_2 = pi / 4``

so lighting ``(c, 0, ..., 0)`` shades every normal by ``c``, and the irradiance
from incident radiance with real-SH coefficients ``R_lm`` is reproduced by the
coefficients ``pi * Y_00 * R_lm`` (see :func:`directional_light`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

SH_BASIS_NAMES = ("1", "y", "z", "x", "xy", "yz", "3z^2-1", "xz", "x^2-y^2")
"""The 9 basis functions in order (real SH, ``(l, m)`` = (0,0), (1,-1), (1,0), (1,1), (2,-2) ... (2,2))."""
SH_COEFFICIENTS = 9

_Y00 = 0.5 / math.sqrt(math.pi)
_BAND_1 = 2.0 / math.sqrt(3.0)  # (2pi/3) sqrt(3/4pi) / (pi Y00)
_BAND_2_CROSS = math.sqrt(15.0) / 4.0  # (pi/4) (1/2) sqrt(15/pi) / (pi Y00)
_BAND_2_ZONAL = math.sqrt(5.0) / 8.0  # (pi/4) (1/4) sqrt(5/pi) / (pi Y00)
_BAND_2_SQUARE = math.sqrt(15.0) / 8.0  # (pi/4) (1/4) sqrt(15/pi) / (pi Y00)


def sh_basis(normals: Tensor, dim: int = -1) -> Tensor:
    """Irradiance basis at unit normals: ``(..., 3)`` to ``(..., 9)`` (along ``dim``)."""
    x, y, z = normals.unbind(dim)
    return torch.stack([
        torch.ones_like(x),
        _BAND_1 * y, _BAND_1 * z, _BAND_1 * x,
        _BAND_2_CROSS * x * y, _BAND_2_CROSS * y * z, _BAND_2_ZONAL * (3.0 * z * z - 1.0),
        _BAND_2_CROSS * x * z, _BAND_2_SQUARE * (x * x - y * y),
    ], dim=dim)


def real_sh(directions: Tensor) -> Tensor:
    """Orthonormal real spherical harmonics ``Y_lm`` up to ``l = 2``: ``(..., 3)`` to ``(..., 9)``."""
    x, y, z = directions.unbind(-1)
    c1 = math.sqrt(3.0 / (4.0 * math.pi))
    c2 = 0.5 * math.sqrt(15.0 / math.pi)
    return torch.stack([
        torch.full_like(x, _Y00),
        c1 * y, c1 * z, c1 * x,
        c2 * x * y, c2 * y * z, 0.25 * math.sqrt(5.0 / math.pi) * (3.0 * z * z - 1.0),
        c2 * x * z, 0.25 * math.sqrt(15.0 / math.pi) * (x * x - y * y),
    ], dim=-1)


def directional_light(direction: Tensor, colour: Tensor) -> Tensor:
    """Lighting for a distant light of the given radiance from ``direction``.

    Args:
        direction: ``(B, 3)`` towards the light (need not be unit length), camera frame.
        colour: ``(B, 3)`` RGB radiance.

    Returns:
        ``(B, 3, 9)`` coefficients whose shading is the order-2 approximation of
        ``colour * max(0, n . d)``.
    """
    unit = F.normalize(direction, dim=-1)
    return math.pi * _Y00 * colour[:, :, None] * real_sh(unit)[:, None, :]


def ambient_light(batch: int, level: float = 1.0, *, dtype: torch.dtype = torch.float32,
                  device: torch.device | str | None = None) -> Tensor:
    """``(B, 3, 9)`` lighting that shades every normal by ``level``."""
    lighting = torch.zeros(batch, 3, SH_COEFFICIENTS, dtype=dtype, device=device)
    lighting[:, :, 0] = level
    return lighting


def sh_shading(normals: Tensor, lighting: Tensor) -> Tensor:
    """Shade unit normals with SH lighting.

    Args:
        normals: ``(B, 3, H, W)`` unit normals in the camera frame.
        lighting: ``(B, 3, 9)`` RGB x SH coefficients.

    Returns:
        ``(B, 3, H, W)`` RGB shading (multiply by albedo for the radiance).
    """
    if normals.dim() != 4 or normals.shape[1] != 3:
        raise ValueError(f"normals must be (B, 3, H, W), got {tuple(normals.shape)}")
    if lighting.shape != (normals.shape[0], 3, SH_COEFFICIENTS):
        raise ValueError(f"lighting must be (B={normals.shape[0]}, 3, 9), got {tuple(lighting.shape)}")
    batch, _, height, width = normals.shape
    basis = sh_basis(normals, dim=1).view(batch, SH_COEFFICIENTS, height * width)
    return torch.bmm(lighting.to(basis.dtype), basis).view(batch, 3, height, width)


def uv_normals(position_map: Tensor, eps: float = 1e-12) -> Tensor:
    """Outward unit normals of a surface given as a UV position map.

    Tangents are central differences along columns (``u``) and rows (``v``),
    one-sided at the borders; the normal is ``d/drow x d/dcol``, which points out of
    the face (``+z``) for the template's layout (``u`` grows with ``+x``, rows grow
    with ``-y``).

    Args:
        position_map: ``(B, 3, H, W)`` points.
        eps: guard for degenerate texels (their normal is zero).

    Returns:
        ``(B, 3, H, W)`` unit normals, in the frame of the points.
    """
    if position_map.dim() != 4 or position_map.shape[1] != 3:
        raise ValueError(f"position map must be (B, 3, H, W), got {tuple(position_map.shape)}")
    padded = F.pad(position_map, (1, 1, 1, 1), mode="replicate")
    ax, ay, az = (padded[:, :, 2:, 1:-1] - padded[:, :, :-2, 1:-1]).unbind(1)  # d/drow
    bx, by, bz = (padded[:, :, 1:-1, 2:] - padded[:, :, 1:-1, :-2]).unbind(1)  # d/dcol
    normal = torch.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], dim=1)
    return normal * (normal * normal).sum(1, keepdim=True).clamp(min=eps * eps).rsqrt()
