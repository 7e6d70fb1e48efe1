"""Each loss term on its defining property."""

from __future__ import annotations

import inspect

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


# -- gradients ------------------------------------------------------------------------------------


def _inputs(seed: int) -> dict[str, torch.Tensor]:
    """Tiny float64 inputs: ``(2, 3, 5, 6)`` maps, a ``(1, 1, 5, 6)`` mirror-symmetric mask, ``(2, 4, 2)``
    points."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, dtype=torch.float64, generator=generator)

    mask = torch.zeros(1, 1, 5, 6, dtype=torch.float64)
    mask[..., 1:4, 1:5] = 1.0
    return {
        "a": rand(2, 3, 5, 6).requires_grad_(True),
        "b": rand(2, 3, 5, 6).requires_grad_(True),
        "c": rand(2, 3, 5, 6).requires_grad_(True),
        "d": rand(2, 3, 5, 6).requires_grad_(True),
        "mask": mask,
        "image_mask": mask.expand(2, -1, -1, -1),
        "visibility": (rand(2, 1, 5, 6) > 0.5).to(torch.float64),
        "points": (rand(2, 4, 2) * 10).requires_grad_(True),
        "target": (rand(2, 4, 2) * 10).requires_grad_(True),
        "weights": rand(2, 4),
        "positive": (0.2 + rand(2, 3, 5, 6)).requires_grad_(True),
    }


GRADCHECKED = {
    # name -> (the function of the differentiable inputs, their names); masks and weights are fixed
    "reconstruction_l21_per_photo": (
        lambda x, a, b: losses.reconstruction_l21_per_photo(a, b, x["image_mask"]),
        ("a", "b"),
    ),
    "reconstruction_l21": (lambda x, a, b: losses.reconstruction_l21(a, b, x["image_mask"]), ("a", "b")),
    "gradient_difference": (lambda x, a, b: losses.gradient_difference(a, b, x["image_mask"]), ("a", "b")),
    "landmark_loss": (
        lambda x, p, t: losses.landmark_loss(p, t, x["weights"], normaliser=4.0),
        ("points", "target"),
    ),
    "albedo_symmetry": (lambda x, a: losses.albedo_symmetry(a, x["mask"]), ("a",)),
    "channel_norm": (lambda x, p: losses.channel_norm(p), ("positive",)),
    "chromaticity": (lambda x, p: losses.chromaticity(p), ("positive",)),
    "constancy_weights": (lambda x, p: losses.constancy_weights(p, 15.0), ("positive",)),
    "albedo_constancy": (
        lambda x, a: losses.albedo_constancy(a, losses.chromaticity(x["b"]), x["mask"]),
        ("a",),
    ),
    "uv_laplacian": (lambda x, a: losses.uv_laplacian(a), ("a",)),
    "shape_smoothness": (lambda x, a: losses.shape_smoothness(a, x["mask"]), ("a",)),
    "residual_magnitude": (
        lambda x, a, b, c, d: losses.residual_magnitude(a, b, c, d, x["mask"]),
        ("a", "b", "c", "d"),
    ),
    "residual_symmetry": (
        lambda x, a, b: losses.residual_symmetry(a, b, x["visibility"], x["mask"]),
        ("a", "b"),
    ),
}


def test_every_public_loss_function_is_gradchecked():
    public = {
        name
        for name, value in vars(losses).items()
        if inspect.isfunction(value) and value.__module__ == losses.__name__ and not name.startswith("_")
    }
    assert public == set(GRADCHECKED)


@pytest.mark.parametrize("name", sorted(GRADCHECKED))
def test_loss_passes_gradcheck(name):
    function, names = GRADCHECKED[name]
    inputs = _inputs(seed=len(name))
    assert torch.autograd.gradcheck(lambda *args: function(inputs, *args), tuple(inputs[n] for n in names))
