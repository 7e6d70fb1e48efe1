"""Unwrapping a photo into UV (``unwrap_image``) and sampling a full-resolution photo at texels'
projections (``sample_photo``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facecraft.core.camera import Camera
from facecraft.core.conventions import UV_WIDTH
from facecraft.core.render import Renderer, ambient_light, directional_light
from facecraft.core.render.unwrap import sample_photo, unwrap_image


def photo(height: int = 60, width: int = 80) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def grid(x0: float, y0: float, rows: int, cols: int, step: float = 1.0) -> np.ndarray:
    """``(rows, cols, 2)`` float32 ``(x, y)`` points."""
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32) * step
    return np.stack([xs + x0, ys + y0], axis=-1).astype(np.float32)


def test_pixel_centres_give_the_pixels_exactly():
    rgb = photo()
    points = grid(7, 11, 20, 30)
    sampled = sample_photo(rgb, points, 1.0)
    assert sampled.dtype == np.float32 and sampled.shape == (20, 30, 3)
    assert np.array_equal(sampled, rgb[11:31, 7:37].astype(np.float32) / 255.0)


def test_points_that_are_not_finite_do_not_move_the_others():
    rgb = photo()
    points = grid(20, 5, 10, 12)
    holes = points.copy()
    holes[0, 0] = (np.nan, 3.0)
    holes[4, 7] = (np.inf, np.inf)
    holes[9, 11, 1] = -np.inf
    sampled = sample_photo(rgb, holes, 1.0)
    whole = sample_photo(rgb, points, 1.0)
    finite = np.isfinite(holes).all(-1)
    assert np.array_equal(sampled[finite], whole[finite])
    assert np.isfinite(sampled).all()


def test_no_finite_point_gives_black():
    sampled = sample_photo(photo(), np.full((4, 5, 2), np.nan, np.float32), 1.0)
    assert sampled.shape == (4, 5, 3) and not sampled.any()


def test_points_off_the_photo_take_the_nearest_edge_colour():
    rgb = photo()
    sampled = sample_photo(rgb, grid(-6, 10, 3, 12), 1.0)  # columns -6..5: half off the left edge
    assert np.array_equal(sampled[:, 6:], rgb[10:13, 0:6].astype(np.float32) / 255.0)
    edge = rgb[10:13, :1].astype(np.float32) / 255.0
    assert np.array_equal(sampled[:, :6], np.repeat(edge, 6, axis=1))


def test_sparse_points_see_an_area_average():
    checker = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)
    rgb = np.repeat(checker[..., None], 3, axis=2)
    points = grid(4.5, 4.5, 7, 7, step=8.0)  # 8 pixels apart: plain bilinear would alias
    sampled = sample_photo(rgb, points, 8.0)
    assert np.abs(sampled - 0.5).max() < 0.1


# -- unwrap_image ---------------------------------------------------------------------------------


def flat_camera(batch: int = 1, dtype: torch.dtype = torch.float64) -> Camera:
    """Scale 1, no rotation, no translation: canonical ``(x, y)`` lands on pixel ``(x, -y)``."""
    return Camera(
        torch.ones(batch, dtype=dtype), torch.zeros(batch, 3, dtype=dtype), torch.zeros(batch, 2, dtype=dtype)
    )


def test_texels_that_project_onto_pixel_centres_take_those_pixels():
    image = torch.rand(1, 3, 6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    rows, cols = torch.meshgrid(
        torch.arange(4, dtype=torch.float64), torch.arange(5, dtype=torch.float64), indexing="ij"
    )
    shape = torch.stack([cols + 2.0, -(rows + 1.0), torch.zeros_like(rows)])[
        None
    ]  # texel (r, c) -> pixel (c+2, r+1)
    texture = unwrap_image(image, shape, flat_camera())
    assert texture.shape == (1, 3, 4, 5)
    torch.testing.assert_close(texture, image[:, :, 1:5, 2:7])


def test_texels_off_the_image_are_black():
    image = torch.ones(1, 3, 6, 7, dtype=torch.float64)
    shape = torch.tensor([[-5.0, 3.0], [2.0, -2.0], [0.0, 0.0]], dtype=torch.float64)[
        None, :, None
    ]  # (1, 3, 1, 2)
    texture = unwrap_image(image, shape, flat_camera())
    assert texture[0, :, 0, 0].count_nonzero() == 0 and torch.equal(
        texture[0, :, 0, 1], torch.ones(3, dtype=torch.float64)
    )


def test_unwrapping_a_render_gives_back_albedo_times_shading_where_visible(template):
    renderer = Renderer(template)
    shape = torch.as_tensor(template.mean_shape_uv).permute(2, 0, 1)[None].float()
    cols = torch.arange(UV_WIDTH, dtype=torch.float32) / UV_WIDTH
    albedo = torch.stack([0.3 + 0.5 * cols, 0.6 - 0.3 * cols, 0.4 + 0.1 * torch.sin(cols * 6)])
    albedo = albedo[:, None, :].expand(3, 192, UV_WIDTH)[None].contiguous()
    lighting = ambient_light(1, 0.5) + directional_light(
        torch.tensor([[0.4, 0.3, 1.0]]), torch.tensor([[0.6, 0.5, 0.4]])
    )
    camera = Camera(torch.tensor([60.0]), torch.tensor([[0.1, 0.3, 0.05]]), torch.tensor([[95.5, 95.5]]))
    result = renderer(shape, albedo, camera, lighting, (192, 192))
    texture = unwrap_image(result.image, shape, camera)
    # trust texels whose 3x3 neighbourhood is seen: at the silhouette, bilinear taps mix in the background
    seen = -torch.nn.functional.max_pool2d(-result.visibility.float(), 3, stride=1, padding=1) > 0.5
    seen &= torch.as_tensor(template.mask)[None, None]
    assert seen.float().mean() > 0.3
    error = (texture - albedo * result.shading_uv).abs().amax(1, keepdim=True)[seen]
    assert error.median() < 0.01 and torch.quantile(error, 0.95) < 0.03
    moved = unwrap_image(result.image, shape, Camera(camera.scale, camera.angles, camera.translation + 3.0))
    assert (moved - albedo * result.shading_uv).abs().amax(1, keepdim=True)[seen].median() > 0.03


@pytest.mark.parametrize(
    ("image_shape", "shape_shape"),
    [((3, 6, 7), (1, 3, 2, 2)), ((1, 3, 6, 7), (1, 2, 2, 2)), ((2, 3, 6, 7), (1, 3, 2, 2))],
)
def test_unwrap_refuses_malformed_inputs(image_shape, shape_shape):
    with pytest.raises(ValueError, match="expected image"):
        unwrap_image(
            torch.zeros(image_shape, dtype=torch.float64),
            torch.zeros(shape_shape, dtype=torch.float64),
            flat_camera(),
        )


def test_unwrap_passes_gradcheck():
    generator = torch.Generator().manual_seed(4)
    image = torch.rand(1, 2, 6, 7, dtype=torch.float64, generator=generator, requires_grad=True)
    shape = (
        torch.rand(1, 3, 3, 3, dtype=torch.float64, generator=generator)
        * torch.tensor([5.0, -4.0, 1.0], dtype=torch.float64)[:, None, None]
    )
    shape = (shape + torch.tensor([0.7, -0.6, 0.0], dtype=torch.float64)[:, None, None]).requires_grad_(True)
    scale = torch.tensor([1.1], dtype=torch.float64, requires_grad=True)
    angles = torch.tensor([[0.05, -0.1, 0.02]], dtype=torch.float64, requires_grad=True)
    translation = torch.tensor([[0.3, 0.2]], dtype=torch.float64, requires_grad=True)

    def unwrap(image, shape, scale, angles, translation):
        return unwrap_image(image, shape, Camera(scale, angles, translation))

    assert torch.autograd.gradcheck(unwrap, (image, shape, scale, angles, translation))
