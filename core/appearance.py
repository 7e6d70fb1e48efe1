"""Closed-form albedo and lighting of a face whose geometry is known (no gradient descent).

Given shape and camera, the renderer gives each UV texel its camera-frame normal
and whether the camera sees it, and the photo unwrapped through the shape gives
its colour ``T``. With Lambertian SH shading ``T = A * (Y(n) . l)``:

* :func:`solve_lighting` — the lighting ``l`` (per colour channel, 9 SH
  coefficients) given an albedo is a small linear least-squares problem over the
  trusted texels;
* :func:`photo_albedo` — the albedo given the lighting is ``T / shading`` on the
  texels the camera sees well; :func:`fill_unseen` completes it from the mirror
  texel where that one is seen, else from a fallback albedo (the model's);
* :func:`alternate` runs the two in turn from the model's albedo, which fixes the
  brightness split between albedo and light.

``core/editing/albedo.py`` still writes the same trust-and-mirror blend in numpy for the canvas
albedo; moving it onto :func:`fill_unseen` and :func:`facing_trust` is left for a later change.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from facecraft.core.render.shading import SH_COEFFICIENTS, sh_basis, sh_shading

SHADING_FLOOR = 0.08
"""Shading below this is clamped before dividing: deep shadow says little about the albedo."""
GRAZING = (0.15, 0.45)
"""Camera-facing component of the normal over which trust in the photo ramps from 0 to 1."""
LIGHTING_RIDGE = 1e-3
"""Ridge weight pulling the lighting's non-constant coefficients to zero (per trusted texel)."""


@dataclass(frozen=True)
class Appearance:
    """Albedo and lighting solved in closed form.

    Attributes:
        albedo: ``(B, 3, 192, 224)`` in ``[0, 1]``.
        lighting: ``(B, 3, 9)`` SH lighting, camera frame.
        trust: ``(B, 1, 192, 224)`` how much each texel's albedo comes from the photo.
    """

    albedo: Tensor
    lighting: Tensor
    trust: Tensor


def facing_trust(normal_z: Tensor, seen: Tensor, grazing: tuple[float, float] = GRAZING) -> Tensor:
    """Trust in the photo's colour: ``seen`` times a ramp over the camera-facing normal component."""
    low, high = grazing
    return ((normal_z - low) / (high - low)).clamp(0.0, 1.0) * seen


def fill_unseen(albedo: Tensor, trust: Tensor, fallback: Tensor) -> Tensor:
    """Blend ``albedo`` where trusted, its left-right mirror where the mirror is trusted, else ``fallback``.

    Args:
        albedo: ``(..., C, H, W)`` albedo from the photo (UV is mirror-symmetric about its centre column).
        trust: ``(..., 1, H, W)`` in ``[0, 1]``.
        fallback: ``(..., C, H, W)`` albedo for texels seen neither directly nor mirrored.
    """
    mirror_trust = trust.flip(-1)
    fill = mirror_trust * albedo.flip(-1) + (1.0 - mirror_trust) * fallback
    return trust * albedo + (1.0 - trust) * fill


def solve_lighting(texture: Tensor, albedo: Tensor, normals: Tensor, weight: Tensor) -> Tensor:
    """Least-squares SH lighting: ``argmin_l sum w (T - A * Y(n) . l)^2`` per colour channel.

    Args:
        texture: ``(B, 3, H, W)`` the photo in UV.
        albedo: ``(B, 3, H, W)``.
        normals: ``(B, 3, H, W)`` unit camera-frame normals.
        weight: ``(B, 1, H, W)`` per-texel weight (0 = ignore).

    Returns:
        ``(B, 3, 9)``; an ambient light of the mean brightness where no texel is trusted.
    """
    batch, channels = texture.shape[:2]
    w = weight.flatten(2)  # (B, 1, N)
    target = texture.flatten(2)  # (B, 3, N)
    # Only the n texels some item trusts take part; the normal equations are batched matmuls.
    used = torch.nonzero(w.amax(0)[0] > 0).squeeze(1)
    basis = sh_basis(normals.flatten(2).index_select(2, used), dim=1)  # (B, 9, n)
    design = albedo.flatten(2).index_select(2, used)[:, :, None, :] * basis[:, None]  # (B, 3, 9, n)
    design = design.reshape(batch * channels, SH_COEFFICIENTS, -1)
    weighted = design * w.index_select(2, used).repeat_interleave(channels, 0)
    normal_matrix = torch.bmm(weighted, design.transpose(1, 2)).view(batch, channels, SH_COEFFICIENTS, -1)
    used_target = target.index_select(2, used).reshape(batch * channels, -1, 1)
    rhs = torch.bmm(weighted, used_target).view(batch, channels, SH_COEFFICIENTS)
    count = w.sum(-1).clamp(min=1.0)[:, :, None, None]  # (B, 1, 1, 1)
    ridge = torch.full((SH_COEFFICIENTS,), LIGHTING_RIDGE, dtype=texture.dtype, device=texture.device)
    ridge[0] = 1e-6
    system = normal_matrix + count * torch.diag(ridge)
    lighting = torch.linalg.solve(system.double(), rhs.double()[..., None])[..., 0].to(texture.dtype)
    empty = w.sum((1, 2)) < 1.0
    if bool(empty.any()):
        lighting[empty] = 0.0
        lighting[empty, :, 0] = target[empty].mean(-1) / albedo[empty].flatten(2).mean(-1).clamp(min=1e-3)
    return lighting.view(batch, 3, SH_COEFFICIENTS)


def photo_albedo(texture: Tensor, shading: Tensor, floor: float = SHADING_FLOOR) -> Tensor:
    """``T / shading`` clipped to ``[0, 1]``: the albedo the photo implies under the given shading."""
    return (texture / shading.clamp(min=floor)).clamp(0.0, 1.0)


def alternate(
    texture: Tensor,
    normals: Tensor,
    seen: Tensor,
    model_albedo: Tensor,
    mask: Tensor,
    iterations: int = 3,
) -> Appearance:
    """Alternate closed-form lighting and albedo, starting from the model's albedo.

    Args:
        texture: ``(B, 3, 192, 224)`` the photo unwrapped through the shape.
        normals: ``(B, 3, 192, 224)`` unit camera-frame normals of the shape.
        seen: ``(B, 1, 192, 224)`` texel visibility.
        model_albedo: ``(B, 3, 192, 224)`` the model's albedo (start and fill-in).
        mask: ``(1 or B, 1, 192, 224)`` the face texels.
        iterations: lighting-then-albedo rounds (>= 1).
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    trust = facing_trust(normals[:, 2:3], seen) * mask.to(seen.dtype)
    albedo = model_albedo
    for _ in range(iterations):
        lighting = solve_lighting(texture, albedo, normals, trust)
        shading = sh_shading(normals, lighting)
        albedo = fill_unseen(photo_albedo(texture, shading), trust, model_albedo)
    albedo = torch.where(mask.to(torch.bool), albedo, model_albedo)
    return Appearance(albedo=albedo, lighting=lighting, trust=trust)
