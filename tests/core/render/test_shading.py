"""Spherical-harmonics shading and normals from UV position maps."""

from __future__ import annotations

import math

import pytest
import torch

from facecraft.core.render.shading import (
    SH_BASIS_NAMES,
    ambient_light,
    directional_light,
    real_sh,
    sh_basis,
    sh_shading,
    uv_normals,
)


def sphere_map(height: int = 48, width: int = 56, radius: float = 2.0) -> torch.Tensor:
    """``(1, 3, H, W)`` float64 position map of a sphere in the template's layout (u ~ +x, rows ~ -y)."""
    rows, cols = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                                torch.arange(width, dtype=torch.float64), indexing="ij")
    azimuth = ((cols + 0.5) / width - 0.5) * 2.0
    elevation = (0.5 - (rows + 0.5) / height) * 2.0
    points = torch.stack([torch.sin(azimuth) * torch.cos(elevation), torch.sin(elevation),
                          torch.cos(azimuth) * torch.cos(elevation)], dim=0)
    return radius * points[None]


def test_uv_normals_of_a_sphere_are_radial_and_outward():
    sphere = sphere_map()
    normals = uv_normals(sphere)
    radial = sphere / sphere.norm(dim=1, keepdim=True)
    cosine = (normals * radial).sum(1)[0, 1:-1, 1:-1]
    assert cosine.min() > 0.999
    torch.testing.assert_close(normals.norm(dim=1), torch.ones(1, 48, 56, dtype=torch.float64))


def test_uv_normals_of_a_plane_are_constant_and_face_the_camera():
    rows, cols = torch.meshgrid(torch.arange(6.0), torch.arange(7.0), indexing="ij")
    plane = torch.stack([cols, -rows, torch.zeros_like(cols)])[None]
    expected = torch.tensor([0.0, 0.0, 1.0])[None, :, None, None].expand(1, 3, 6, 7)
    torch.testing.assert_close(uv_normals(plane), expected)


def test_template_normals_point_out_of_the_face(template):
    shape = torch.as_tensor(template.mean_shape_uv).permute(2, 0, 1)[None]
    normals = uv_normals(shape)[0]
    mask = torch.as_tensor(template.mask)
    assert normals[2][mask].mean() > 0.5


def test_directional_light_on_a_sphere_matches_the_closed_form():
    # Order-2 SH irradiance of a unit directional light: E = 1/4 + cos/2 + (5/16) P2(cos)
    # (Ramamoorthi & Hanrahan 2001, by the addition theorem).
    normals = sphere_map(height=30, width=40, radius=1.0)
    direction = torch.tensor([[0.3, -0.5, 0.8]], dtype=torch.float64)
    colour = torch.tensor([[1.0, 0.5, 2.0]], dtype=torch.float64)
    shading = sh_shading(normals, directional_light(direction, colour))
    cosine = (normals * (direction / direction.norm())[:, :, None, None]).sum(1, keepdim=True)
    closed_form = 0.25 + 0.5 * cosine + 5.0 / 16.0 * 0.5 * (3.0 * cosine**2 - 1.0)
    torch.testing.assert_close(shading, closed_form * colour[:, :, None, None])
    # ... and approximates the clamped cosine it stands for.
    assert (shading[:, :1] - cosine.clamp(min=0)).abs().max() < 0.1


def test_ambient_light_shades_every_normal_the_same():
    normals = sphere_map(height=10, width=12, radius=1.0).float()
    torch.testing.assert_close(sh_shading(normals, ambient_light(1, 0.7)), torch.full((1, 3, 10, 12), 0.7))


def test_basis_is_the_irradiance_scaled_real_sh():
    directions = torch.nn.functional.normalize(torch.randn(50, 3, dtype=torch.float64), dim=-1)
    band = torch.tensor([math.pi] + [2 * math.pi / 3] * 3 + [math.pi / 4] * 5, dtype=torch.float64)
    y00 = 0.5 / math.sqrt(math.pi)
    torch.testing.assert_close(sh_basis(directions), real_sh(directions) * band / (math.pi * y00))
    assert len(SH_BASIS_NAMES) == 9


def test_real_sh_is_orthonormal_on_the_sphere():
    # Monte Carlo over many uniform directions: E[Y_i Y_j] * 4 pi = delta_ij.
    directions = torch.nn.functional.normalize(
        torch.randn(400_000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)), dim=-1)
    values = real_sh(directions)
    gram = values.T @ values / directions.shape[0] * 4 * math.pi
    torch.testing.assert_close(gram, torch.eye(9, dtype=torch.float64), atol=0.02, rtol=0)


def test_shading_gradients_pass_gradcheck():
    normals = torch.nn.functional.normalize(torch.randn(1, 3, 3, 4, dtype=torch.float64), dim=1)
    normals.requires_grad_(True)
    lighting = torch.randn(1, 3, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(sh_shading, (normals, lighting))
    sphere = sphere_map(height=5, width=6).requires_grad_(True)
    assert torch.autograd.gradcheck(uv_normals, (sphere,))


@pytest.mark.parametrize(
    ("normals", "lighting", "message"),
    [(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 9), "normals"),
     (torch.zeros(1, 3, 4, 4), torch.zeros(1, 27), "lighting")],
)
def test_bad_shapes_are_refused(normals, lighting, message):
    with pytest.raises(ValueError, match=message):
        sh_shading(normals, lighting)


def test_uv_normals_refuses_a_bad_shape():
    with pytest.raises(ValueError, match="position map"):
        uv_normals(torch.zeros(1, 4, 3, 3))
