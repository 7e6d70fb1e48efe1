"""The composed differentiable renderer on the shipped template."""

from __future__ import annotations

import math

import pytest
import torch

from facecraft.core.camera import Camera
from facecraft.core.conventions import UV_WIDTH
from facecraft.core.render import Renderer, ambient_light, directional_light, texel_visibility
from facecraft.core.render.rasterize import Fragments

SIZE = (96, 96)


@pytest.fixture(scope="module")
def renderer(template) -> Renderer:
    return Renderer(template)


def mean_shape(template, dtype=torch.float32) -> torch.Tensor:
    return torch.as_tensor(template.mean_shape_uv).permute(2, 0, 1)[None].to(dtype)


def face_camera(yaw=0.0, pitch=0.0, roll=0.0, dtype=torch.float32, scale=30.0) -> Camera:
    return Camera(torch.tensor([scale], dtype=dtype), torch.tensor([[pitch, yaw, roll]], dtype=dtype),
                  torch.tensor([[47.5, 47.5]], dtype=dtype))


def striped_albedo(dtype=torch.float32) -> torch.Tensor:
    cols = torch.arange(UV_WIDTH, dtype=dtype) / UV_WIDTH
    albedo = torch.stack([0.3 + 0.5 * cols, 0.6 - 0.3 * cols, 0.5 + 0.1 * torch.sin(cols * 20)])
    return albedo[:, None, :].expand(3, 192, UV_WIDTH)[None].contiguous()


def light(dtype=torch.float32) -> torch.Tensor:
    return ambient_light(1, 0.5, dtype=dtype) + directional_light(
        torch.tensor([[0.4, 0.3, 1.0]], dtype=dtype), torch.tensor([[0.6, 0.5, 0.4]], dtype=dtype))


def test_outputs_have_documented_shapes_and_ranges(renderer, template):
    result = renderer(mean_shape(template), striped_albedo(), face_camera(yaw=0.3), light(), SIZE)
    assert result.image.shape == (1, 3, *SIZE) and result.mask.shape == (1, 1, *SIZE)
    assert result.visibility.shape == (1, 1, 192, 224) and result.shading_uv.shape == (1, 3, 192, 224)
    assert result.normals_uv.shape == (1, 3, 192, 224)
    assert result.screen_vertices.shape == (1, template.vertex_count, 3)
    assert set(result.mask.unique().tolist()) == {0.0, 1.0}
    assert 0.15 < result.mask.mean() < 0.6
    assert (result.image[result.mask.expand_as(result.image) == 0] == 0).all()
    assert result.image.min() >= 0 and result.image.max() < 1.5
    assert torch.equal(result.mask[0, 0] > 0, result.fragments.mask[0])


def test_background_shows_outside_the_face(renderer, template):
    background = torch.rand(1, 3, *SIZE)
    result = renderer(mean_shape(template), striped_albedo(), face_camera(), light(), SIZE, background)
    outside = result.mask.expand_as(background) == 0
    assert torch.equal(result.image[outside], background[outside])


def test_batched_render_equals_single_renders(renderer, template):
    cameras = [face_camera(yaw=0.4), face_camera(pitch=-0.3, roll=0.2)]
    single = [renderer(mean_shape(template), striped_albedo(), c, light(), SIZE).image for c in cameras]
    batch = Camera(*(torch.cat([getattr(c, f) for c in cameras]) for f in ("scale", "angles", "translation")))
    both = renderer(mean_shape(template).repeat(2, 1, 1, 1), striped_albedo().repeat(2, 1, 1, 1), batch,
                    light().repeat(2, 1, 1), SIZE).image
    torch.testing.assert_close(both, torch.cat(single))


def test_rendering_is_linear_in_lighting(renderer, template):
    first, second = ambient_light(1, 0.3), light()
    render = [renderer(mean_shape(template), striped_albedo(), face_camera(yaw=-0.2), lighting, SIZE).image
              for lighting in (first, second, first + second)]
    torch.testing.assert_close(render[2], render[0] + render[1])


def test_gradients_reach_every_input(renderer, template):
    shape = mean_shape(template).requires_grad_(True)
    albedo = striped_albedo().requires_grad_(True)
    camera_vector = face_camera(yaw=0.2).to_vector().requires_grad_(True)
    lighting = light().requires_grad_(True)
    result = renderer(shape, albedo, Camera.from_vector(camera_vector), lighting, SIZE)
    (result.image * torch.rand_like(result.image)).sum().backward()
    for tensor in (shape, albedo, camera_vector, lighting):
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all() and tensor.grad.abs().sum() > 0
    assert (camera_vector.grad != 0).all()


def test_camera_and_lighting_gradients_match_finite_differences(renderer, template):
    shape, albedo = mean_shape(template, torch.float64), striped_albedo(torch.float64)
    weights = torch.rand(1, 3, *SIZE, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    renderer64 = renderer.double()

    def loss(camera_vector: torch.Tensor, lighting: torch.Tensor) -> torch.Tensor:
        image = renderer64(shape, albedo, Camera.from_vector(camera_vector), lighting, SIZE).image
        return (image * weights).sum()

    camera_vector = face_camera(yaw=0.3, pitch=0.1, dtype=torch.float64).to_vector().requires_grad_(True)
    lighting = light(torch.float64).requires_grad_(True)
    loss(camera_vector, lighting).backward()
    # Steps small enough that no pixel centre changes triangle: coverage is piecewise constant.
    step = 1e-6
    for index in range(6):
        delta = torch.zeros(1, 6, dtype=torch.float64)
        delta[0, index] = step
        with torch.no_grad():
            numeric = loss(camera_vector + delta, lighting) - loss(camera_vector - delta, lighting)
            numeric = numeric / (2 * step)
        assert math.isclose(float(numeric), float(camera_vector.grad[0, index]), rel_tol=1e-5)
    for channel, coefficient in ((0, 0), (1, 3), (2, 6)):
        delta = torch.zeros(1, 3, 9, dtype=torch.float64)
        delta[0, channel, coefficient] = 1e-3
        with torch.no_grad():
            numeric = (loss(camera_vector, lighting + delta) - loss(camera_vector, lighting - delta)) / 2e-3
        assert math.isclose(float(numeric), float(lighting.grad[0, channel, coefficient]), rel_tol=1e-6)
    renderer.float()


def test_visibility_follows_the_pose(renderer, template):
    shape = mean_shape(template)
    mask = torch.as_tensor(template.mask)
    frontal = renderer(shape, striped_albedo(), face_camera(), light(), SIZE).visibility[0, 0] > 0
    turned = renderer(shape, striped_albedo(), face_camera(yaw=1.0), light(), SIZE).visibility[0, 0] > 0
    assert not (frontal & ~mask).any()
    assert frontal.sum() > 0.85 * mask.sum()
    half = UV_WIDTH // 2
    # Positive yaw turns the nose to the image's right, so the subject's left cheek (+x, the right
    # half of the UV map) turns away from the camera and the right cheek towards it.
    assert turned[:, :half].sum() > 0.9 * frontal[:, :half].sum()
    assert turned[:, half:].sum() < 0.5 * frontal[:, half:].sum()


def test_visibility_hides_texels_behind_the_z_buffer(renderer, template):
    shape = mean_shape(template)
    camera = face_camera()
    result = renderer(shape, striped_albedo(), camera, light(), SIZE)
    nearer = Fragments(result.fragments.pix_to_face, torch.full(SIZE, 1e6)[None])
    assert not texel_visibility(shape, result.normals_uv, camera, nearer).any()
    farther = Fragments(result.fragments.pix_to_face, torch.full(SIZE, -1e6)[None])
    assert texel_visibility(shape, result.normals_uv, camera, farther).sum() >= result.visibility.sum()


def test_face_outside_the_view_gives_an_empty_mask(renderer, template):
    camera = Camera(torch.tensor([30.0]), torch.zeros(1, 3), torch.tensor([[-500.0, 40.0]]))
    background = torch.rand(1, 3, *SIZE)
    result = renderer(mean_shape(template), striped_albedo(), camera, light(), SIZE, background)
    assert result.mask.sum() == 0 and result.visibility.sum() == 0
    assert torch.equal(result.image, background)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shape": torch.zeros(1, 3, 10, 10)}, "shape_uv"),
        ({"albedo": torch.zeros(2, 3, 192, 224)}, "albedo_uv"),
        ({"lighting": torch.zeros(1, 27)}, "lighting"),
        ({"background": torch.zeros(1, 3, 5, 5)}, "background"),
        ({"lighting": torch.full((1, 3, 9), math.nan)}, "NaN"),
        ({"shape": torch.full((1, 3, 192, 224), math.inf)}, "NaN"),
        ({"camera": Camera(torch.tensor([math.nan]), torch.zeros(1, 3), torch.zeros(1, 2))}, "NaN"),
    ],
)
def test_bad_input_gives_a_clear_error(renderer, template, change, message):
    args = {"shape": mean_shape(template), "albedo": striped_albedo(), "camera": face_camera(),
            "lighting": light(), "background": None}
    args.update(change)
    with pytest.raises(ValueError, match=message):
        renderer(args["shape"], args["albedo"], args["camera"], args["lighting"], SIZE, args["background"])


def test_shape_gradients_match_finite_differences(renderer, template):
    renderer64 = renderer.double()
    camera = face_camera(yaw=0.25, pitch=-0.1, dtype=torch.float64)
    albedo, lighting = striped_albedo(torch.float64), light(torch.float64)
    weights = torch.rand(1, 3, *SIZE, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    def loss(shape: torch.Tensor) -> torch.Tensor:
        return (renderer64(shape, albedo, camera, lighting, SIZE).image * weights).sum()

    shape = mean_shape(template, torch.float64).requires_grad_(True)
    loss(shape).backward()
    rows, cols = template.vertex_texels[[100, 2000, 4000, 6000]].T  # mesh vertices: position and normals
    rows = [*rows, 61]  # plus a texel between vertices (row 61 is odd: only its normals matter)
    cols = [*cols, 101]
    assert shape.grad[0, :, 61, 101].abs().sum() > 0
    step = 1e-6
    for row, col in zip(rows, cols, strict=True):
        for channel in range(3):
            delta = torch.zeros_like(shape)
            delta[0, channel, row, col] = step
            with torch.no_grad():
                numeric = (loss(shape + delta) - loss(shape - delta)) / (2 * step)
            analytic = float(shape.grad[0, channel, row, col])
            assert math.isclose(float(numeric), analytic, rel_tol=1e-4, abs_tol=1e-6), (row, col, channel)
    renderer.float()


def test_several_albedos_on_one_geometry_equal_separate_renders_and_their_gradients(renderer, template):
    def inputs():
        ripple = 0.01 * torch.sin(torch.arange(192.0))[None, None, :, None]
        shape = (mean_shape(template) + ripple).requires_grad_()
        albedos = (striped_albedo().requires_grad_(), (1.0 - striped_albedo()).requires_grad_())
        lighting = light().requires_grad_()
        return shape, albedos, lighting

    background = torch.rand(1, 3, *SIZE, generator=torch.Generator().manual_seed(0))
    shape, albedos, lighting = inputs()
    camera = face_camera(yaw=0.3)
    separate = [renderer(shape, a, camera, lighting, SIZE, background) for a in albedos]
    sum(r.image.square().sum() for r in separate).backward()
    expected_grads = [shape.grad, *(a.grad for a in albedos), lighting.grad]

    shape, albedos, lighting = inputs()
    shared = renderer.render_albedos(shape, albedos, camera, lighting, SIZE, background)
    sum(r.image.square().sum() for r in shared).backward()
    assert len(shared) == 2
    for one, other in zip(shared, separate, strict=True):
        torch.testing.assert_close(one.image, other.image)
        torch.testing.assert_close(one.visibility, other.visibility)
        torch.testing.assert_close(one.mask, other.mask)
    actual_grads = [shape.grad, *(a.grad for a in albedos), lighting.grad]
    for actual, expected in zip(actual_grads, expected_grads, strict=True):  # summed in another order
        torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))
    with pytest.raises(ValueError, match="at least one albedo"):
        renderer.render_albedos(shape, (), camera, lighting, SIZE)
