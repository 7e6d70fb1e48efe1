"""Per-pixel attributes from fragments (``interpolate``) and UV texture sampling (``sample_texture``)."""

from __future__ import annotations

import pytest
import torch

from facecraft.core.render.rasterize import barycentric_coordinates, rasterize
from facecraft.core.render.texture import interpolate, sample_texture


def square() -> tuple[torch.Tensor, torch.Tensor]:
    """``(1, 4, 3)`` float64 screen vertices of a front-facing square over pixel centres 2..7; 2 triangles."""
    screen = torch.tensor(
        [[[1.5, 1.5, 0.0], [7.5, 1.5, 0.0], [7.5, 7.5, 0.0], [1.5, 7.5, 0.0]]], dtype=torch.float64
    )
    return screen, torch.tensor([[0, 3, 2], [0, 2, 1]])


def texel_centres(height: int, width: int) -> torch.Tensor:
    """``(1, height, width, 2)`` float64 ``(u, v)`` of every texel centre (computed in float64: in float32
    the centres miss by ~1e-7 texel, which failed a float64 comparison about one run in seven)."""
    rows, cols = torch.meshgrid(
        torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij"
    )
    return torch.stack([(cols + 0.5) / width, (rows + 0.5) / height], dim=-1)[None]


# -- interpolate ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False])
def test_interpolating_the_vertex_positions_gives_the_pixel_centres(shared):
    screen, faces = square()
    fragments = rasterize(screen, faces, (10, 10))
    bary = barycentric_coordinates(screen, faces, fragments)
    attributes = screen[0, :, :2] if shared else screen[..., :2]  # (V, 2) or (B, V, 2)
    values = interpolate(attributes, faces, fragments, bary)
    assert values.shape == (1, 10, 10, 2)
    rows, cols = torch.meshgrid(torch.arange(10.0), torch.arange(10.0), indexing="ij")
    covered = fragments.mask[0]
    torch.testing.assert_close(values[0, ..., 0][covered], cols.to(torch.float64)[covered])
    torch.testing.assert_close(values[0, ..., 1][covered], rows.to(torch.float64)[covered])
    assert values[0][~covered].count_nonzero() == 0  # zero on empty pixels


def test_interpolate_rejects_mismatched_batches():
    screen, faces = square()
    fragments = rasterize(screen, faces, (10, 10))
    bary = barycentric_coordinates(screen, faces, fragments)
    with pytest.raises(ValueError, match="attributes"):
        interpolate(torch.zeros(2, 4, 3), faces, fragments, bary)


def test_interpolate_passes_gradcheck():
    screen, faces = square()
    fragments = rasterize(screen, faces, (9, 9))
    bary = barycentric_coordinates(screen, faces, fragments).detach().requires_grad_(True)
    attributes = torch.rand(1, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    attributes.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: interpolate(a, faces, fragments, b), (attributes, bary))


# -- sample_texture -------------------------------------------------------------------------------


def test_sampling_at_texel_centres_returns_the_texels():
    texture = torch.rand(1, 3, 6, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    uv = texel_centres(6, 8)
    torch.testing.assert_close(sample_texture(texture, uv), texture)
    mask = torch.zeros(1, 6, 8, dtype=torch.bool)
    mask[0, 2, 3] = True
    masked = sample_texture(texture, uv, mask)
    torch.testing.assert_close(masked[0, :, 2, 3], texture[0, :, 2, 3])
    assert masked.count_nonzero() == 3


def test_sampling_is_bilinear_row_zero_at_small_v_and_repeats_the_border():
    texture = torch.arange(24, dtype=torch.float64).view(1, 1, 4, 6)  # value = 6 * row + col
    uv = torch.tensor(
        [[[[2.0 / 6, 0.5 / 4], [3.0 / 6, 2.0 / 4], [-0.7, 0.5 / 4], [1.7, 3.5 / 4], [0.5 / 6, -2.0]]]],
        dtype=torch.float64,
    )  # (1, 1, 5, 2): between two texels, the four-texel centre, off the left, right and top edges
    samples = sample_texture(texture, uv)[0, 0, 0]
    torch.testing.assert_close(samples, torch.tensor([1.5, 11.5, 0.0, 23.0, 0.0], dtype=torch.float64))


@pytest.mark.parametrize(
    ("texture_shape", "uv_shape", "mask_shape"),
    [
        ((3, 4, 5), (1, 2, 2, 2), None),  # texture without a batch
        ((1, 3, 4, 5), (1, 2, 2, 3), None),  # uv with 3 channels
        ((2, 3, 4, 5), (1, 2, 2, 2), None),  # batches differ
        ((1, 3, 4, 5), (1, 2, 2, 2), (1, 2, 3)),  # mask of another size
    ],
)
def test_sample_texture_refuses_malformed_inputs(texture_shape, uv_shape, mask_shape):
    mask = None if mask_shape is None else torch.ones(mask_shape, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"mask|texture"):
        sample_texture(torch.zeros(texture_shape), torch.zeros(uv_shape), mask)


def test_sample_texture_passes_gradcheck():
    generator = torch.Generator().manual_seed(1)
    texture = torch.rand(1, 3, 5, 7, dtype=torch.float64, generator=generator, requires_grad=True)
    uv = (0.1 + 0.8 * torch.rand(1, 4, 4, 2, dtype=torch.float64, generator=generator)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t, u: sample_texture(t, u), (texture, uv))


def test_masked_sampling_equals_full_sampling_inside_the_mask_and_passes_gradcheck():
    generator = torch.Generator().manual_seed(7)
    texture = torch.rand(2, 3, 5, 7, dtype=torch.float64, generator=generator, requires_grad=True)
    uv = torch.rand(2, 4, 6, 2, dtype=torch.float64, generator=generator).requires_grad_(True)
    mask = torch.rand(2, 4, 6, generator=generator) > 0.5
    mask[1] = False  # an item with no covered pixel at all
    mask[1, 0, 0] = True
    full = sample_texture(texture, uv) * mask[:, None]
    torch.testing.assert_close(sample_texture(texture, uv, mask), full)
    assert torch.autograd.gradcheck(lambda t, u: sample_texture(t, u, mask), (texture, uv))
    empty = torch.zeros_like(mask)
    assert sample_texture(texture, uv, empty).count_nonzero() == 0
