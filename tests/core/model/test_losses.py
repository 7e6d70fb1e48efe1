"""Each loss term on its defining property."""

from __future__ import annotations

import pytest
import torch

from facecraft.core.model import losses


@pytest.fixture(scope="module")
def uv_mask(template) -> torch.Tensor:
    return torch.as_tensor(template.mask)[None, None].float()


def test_reconstruction_ignores_pixels_outside_the_mask():
    target = torch.rand(2, 3, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 1
    rendered = target.clone()
    rendered[:, :, :2] = 5.0  # wrong only outside the mask
    assert losses.reconstruction_l21(rendered, target, mask) < 1e-3
    rendered[:, :, 3, 3] += torch.tensor([0.3, 0.4, 0.0])  # one masked pixel off by 0.5
    expected = 0.5 / 16
    torch.testing.assert_close(
        losses.reconstruction_l21(rendered, target, mask), torch.tensor(expected), atol=1e-3, rtol=0
    )


def test_reconstruction_is_l2_over_colour_and_l1_over_pixels():
    target = torch.zeros(1, 3, 1, 2)
    rendered = torch.tensor([[[[3.0, 0.0]], [[4.0, 0.0]], [[0.0, 1.0]]]])
    mask = torch.ones(1, 1, 1, 2)
    torch.testing.assert_close(
        losses.reconstruction_l21(rendered, target, mask), torch.tensor(3.0), atol=1e-3, rtol=0
    )


def test_gradient_difference_is_zero_for_a_brightness_shift_and_positive_for_texture():
    target = torch.rand(1, 3, 10, 10)
    mask = torch.ones(1, 1, 10, 10)
    assert losses.gradient_difference(target + 0.2, target, mask) < 1e-6
    assert losses.gradient_difference(torch.rand(1, 3, 10, 10), target, mask) > 0.05


def test_landmark_loss_is_the_mean_squared_distance_and_honours_weights():
    target = torch.zeros(1, 68, 2)
    projected = torch.zeros(1, 68, 2)
    projected[0, 0] = torch.tensor([3.0, 4.0])
    torch.testing.assert_close(losses.landmark_loss(projected, target), torch.tensor(25.0 / 68))
    torch.testing.assert_close(
        losses.landmark_loss(projected, target, normaliser=5.0), torch.tensor(1.0 / 68)
    )
    weights = torch.ones(1, 68)
    weights[0, 0] = 0
    assert losses.landmark_loss(projected, target, weights) == 0
    with pytest.raises(ValueError, match="landmarks"):
        losses.landmark_loss(torch.zeros(1, 68, 3), torch.zeros(1, 68, 3))


def test_albedo_symmetry_is_zero_exactly_on_mirror_symmetric_maps(uv_mask):
    albedo = torch.rand(2, 3, 192, 224)
    symmetric = 0.5 * (albedo + albedo.flip(-1))
    assert losses.albedo_symmetry(symmetric, uv_mask) == 0
    assert losses.albedo_symmetry(albedo, uv_mask) > 0.1


def test_constancy_weight_is_larger_for_equal_chromaticity():
    chroma = losses.chromaticity(torch.tensor([[[[0.2, 0.4, 0.9]], [[0.4, 0.8, 0.1]], [[0.6, 1.2, 0.2]]]]))
    horizontal, _ = losses.constancy_weights(chroma, sharpness=15.0)
    # Pixels 0 and 1 differ only in brightness (same chromaticity), pixels 1 and 2 in colour.
    assert horizontal[0, 0, 0, 0] == pytest.approx(1.0, abs=1e-5)
    assert horizontal[0, 0, 0, 1] < 0.01


def test_constancy_penalises_albedo_edges_only_where_the_photo_has_none(uv_mask):
    albedo = torch.full((1, 3, 192, 224), 0.5)
    albedo[..., 112:] = 0.8  # an albedo edge down the middle
    flat_photo = losses.chromaticity(torch.full((1, 3, 192, 224), 0.5))
    photo = torch.empty(1, 3, 192, 224)
    photo[..., :112] = torch.tensor([0.9, 0.2, 0.2])[
        :, None, None
    ]  # a red-blue edge where the albedo has one
    photo[..., 112:] = torch.tensor([0.2, 0.2, 0.9])[:, None, None]
    edged_photo = losses.chromaticity(photo)
    on_flat = losses.albedo_constancy(albedo, flat_photo, uv_mask)
    on_edge = losses.albedo_constancy(albedo, edged_photo, uv_mask)
    assert on_flat > 10 * on_edge > 0
    assert losses.albedo_constancy(torch.full_like(albedo, 0.3), flat_photo, uv_mask) < 1e-3


def test_laplacian_is_zero_on_a_plane_and_smoothness_positive_on_bumps(uv_mask):
    rows, cols = torch.meshgrid(torch.arange(192.0), torch.arange(224.0), indexing="ij")
    plane = torch.stack([cols * 0.01, -rows * 0.01, 0.3 * cols * 0.01 + 0.1 * rows * 0.01])[None]
    assert losses.uv_laplacian(plane)[..., 1:-1, 1:-1].abs().max() < 1e-5
    assert losses.shape_smoothness(plane, uv_mask) < 1e-10
    bumpy = plane.clone()
    bumpy[:, 2, ::2, ::2] += 0.05
    assert losses.shape_smoothness(bumpy, uv_mask) > 1e-5


def test_residual_magnitude_measures_the_distance_to_the_proxies(uv_mask):
    proxy = torch.rand(1, 3, 192, 224)
    assert losses.residual_magnitude(proxy, proxy, proxy, proxy, uv_mask) == 0
    torch.testing.assert_close(
        losses.residual_magnitude(proxy + 0.1, proxy, proxy - 0.2, proxy, uv_mask), torch.tensor(0.3)
    )


def test_residual_symmetry_counts_only_occluded_texels(uv_mask):
    proxy = torch.zeros(1, 3, 192, 224)
    shape = proxy.clone()
    shape[:, 2, 80:100, 30:50] = 0.2  # an asymmetric depth residual on the UV's left half
    visible = torch.ones(1, 1, 192, 224)
    assert losses.residual_symmetry(shape, proxy, visible, uv_mask) == 0
    occluded_left = visible.clone()
    occluded_left[..., :112] = 0
    occluded_elsewhere = visible.clone()
    occluded_elsewhere[..., 150:170, :] = 0  # occluded rows away from the residual and its mirror
    assert losses.residual_symmetry(shape, proxy, occluded_left, uv_mask) > 0
    assert losses.residual_symmetry(shape, proxy, occluded_elsewhere, uv_mask) == 0
    symmetric = shape.clone()
    symmetric[:, 2] = 0.5 * (shape[:, 2] + shape[:, 2].flip(-1))
    assert losses.residual_symmetry(symmetric, proxy, occluded_left, uv_mask) == 0
    # In-plane (x, y) residuals are not its business.
    sideways = proxy.clone()
    sideways[:, 0, 80:100, 30:50] = 0.2
    assert losses.residual_symmetry(sideways, proxy, occluded_left, uv_mask) == 0
