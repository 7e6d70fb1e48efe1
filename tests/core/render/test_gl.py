"""The ModernGL renderer: agreement with the PyTorch renderer, golden images, tiling, bad input."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facecraft.core.camera import Camera
from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.render import Renderer, ambient_light, directional_light
from facecraft.core.render.gl import (
    NEUTRAL_GREY,
    DisplayMode,
    GLCamera,
    GLFaceRenderer,
    create_headless_context,
)

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
SIZE = (160, 144)

POSES = {
    "frontal": ((0.0, 0.0, 0.0), (0.35, 0.3, 1.0)),
    "yaw_left": ((0.05, -0.6, 0.0), (-0.6, 0.2, 0.8)),
    "tilted": ((-0.3, 0.35, 0.25), (0.2, 0.9, 0.5)),
}
"""name: ((pitch, yaw, roll), light direction)."""

# Agreement between the two renderers: shading per fragment (GL) vs per texel (PyTorch) differs at
# creases, and the two rasterizers may disagree on pixels whose centre lies on a silhouette edge.
MASK_DISAGREEMENT = 0.005  # fraction of face pixels
MEAN_ERROR = 1.5 / 255
P99_ERROR = 4.0 / 255
MAX_ERROR = 20.0 / 255


@pytest.fixture(scope="module")
def gl(template) -> Iterator[GLFaceRenderer]:
    ctx = create_headless_context()
    renderer = GLFaceRenderer(ctx, template)
    yield renderer
    renderer.release()
    ctx.release()


def albedo_map() -> np.ndarray:
    rows, cols = np.mgrid[0:UV_HEIGHT, 0:UV_WIDTH]
    return np.stack([0.35 + 0.45 * cols / UV_WIDTH, 0.55 + 0.3 * np.sin(rows / 9.0),
                     0.5 + 0.2 * np.cos(cols / 13.0)], axis=-1).astype(np.float32)


def scene(pose: str) -> tuple[Camera, torch.Tensor]:
    angles, direction = POSES[pose]
    camera = Camera(torch.tensor([40.0]), torch.tensor([angles]), torch.tensor([[71.5, 82.0]]))
    sun = directional_light(torch.tensor([direction]), torch.tensor([[0.7, 0.6, 0.5]]))
    lighting = ambient_light(1, 0.45) + sun
    return camera, lighting


def torch_render(template, albedo: np.ndarray, camera: Camera, lighting: torch.Tensor) -> np.ndarray:
    """``(H, W, 4)`` float RGBA from the PyTorch renderer."""
    shape = torch.as_tensor(template.mean_shape_uv).permute(2, 0, 1)[None]
    albedo_uv = torch.from_numpy(albedo).permute(2, 0, 1)[None]
    result = Renderer(template)(shape, albedo_uv, camera, lighting, SIZE)
    return torch.cat([result.image, result.mask], dim=1)[0].permute(1, 2, 0).numpy()


def gl_render(gl: GLFaceRenderer, albedo: np.ndarray, camera: Camera, lighting: torch.Tensor,
              mode: DisplayMode = DisplayMode.TEXTURED) -> np.ndarray:
    """``(H, W, 4)`` float RGBA from the GL renderer."""
    gl.set_albedo(albedo)
    return gl.render(GLCamera.from_camera(camera), lighting[0].numpy(), SIZE, mode, dtype="f4")


def assert_renders_agree(actual: np.ndarray, expected: np.ndarray) -> None:
    actual_mask, expected_mask = actual[..., 3] > 0.5, expected[..., 3] > 0.5
    disagreement = (actual_mask ^ expected_mask).sum() / expected_mask.sum()
    assert disagreement <= MASK_DISAGREEMENT, f"masks differ on {disagreement:.2%} of face pixels"
    error = np.abs(actual[..., :3] - expected[..., :3])[actual_mask & expected_mask]
    p99 = np.percentile(error, 99)
    assert error.mean() <= MEAN_ERROR and p99 <= P99_ERROR and error.max() <= MAX_ERROR, (
        f"colour error mean {error.mean() * 255:.2f}, p99 {np.percentile(error, 99) * 255:.2f}, "
        f"max {error.max() * 255:.2f} grey levels"
    )


@pytest.mark.parametrize("pose", sorted(POSES))
def test_gl_and_torch_renderers_match_the_golden_image(gl, template, pose, save_golden):
    camera, lighting = scene(pose)
    reference = torch_render(template, albedo_map(), camera, lighting)
    path = GOLDEN / f"render_{pose}.png"
    if save_golden:
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(np.round(reference.clip(0, 1) * 255).astype(np.uint8)).save(path)
    golden = np.asarray(Image.open(path), dtype=np.float32) / 255.0
    gl.set_shape(template.mean_shape_uv)
    drawn = gl_render(gl, albedo_map(), camera, lighting)
    assert_renders_agree(reference, golden)
    assert_renders_agree(drawn, golden)


@pytest.mark.parametrize("mode", list(DisplayMode))
def test_every_display_mode_matches_its_torch_equivalent(gl, template, mode):
    camera, lighting = scene("tilted")
    albedo = albedo_map()
    drawn = gl_render(gl, albedo, camera, lighting, mode)
    if mode is DisplayMode.ALBEDO:
        lighting = ambient_light(1)
    elif mode is DisplayMode.SHADING:
        albedo = np.ones_like(albedo)
    elif mode is DisplayMode.GEOMETRY:
        albedo = np.full_like(albedo, NEUTRAL_GREY)
    assert_renders_agree(drawn, torch_render(template, albedo, camera, lighting))


def test_uint8_output_and_albedo_at_canvas_resolution(gl, template):
    canvas = np.zeros((1024, 1024, 4), dtype=np.uint8)
    canvas[..., 0] = 255
    canvas[..., 3] = 255
    gl.set_albedo(canvas)
    camera, _ = scene("frontal")
    frame = gl.render(GLCamera.from_camera(camera), ambient_light(1)[0].numpy(), SIZE, DisplayMode.ALBEDO)
    face = frame[..., 3] == 255
    assert frame.dtype == np.uint8 and face.mean() > 0.1
    assert (frame[face][:, 0] == 255).all() and (frame[face][:, 1:3] == 0).all()
    assert (frame[~face] == 0).all()


def test_tiles_join_without_seams(gl, template):
    gl.set_albedo(albedo_map())
    camera = GLCamera(110.0, (0.1, 0.2, 0.05), (260.0, 150.0))
    lighting = scene("frontal")[1][0].numpy()
    whole = gl.render(camera, lighting, (300, 520), dtype="f4")
    tiled = gl.render(camera, lighting, (300, 520), max_tile=128, dtype="f4")
    assert ((whole[..., 3] > 0) ^ (tiled[..., 3] > 0)).sum() <= 4
    both = (whole[..., 3] > 0) & (tiled[..., 3] > 0)
    assert np.abs(whole - tiled)[both].max() < 1e-4


@pytest.mark.slow
def test_a_24_megapixel_frame_renders(gl, template):
    gl.set_albedo(albedo_map())
    camera = GLCamera(1500.0, (0.0, 0.2, 0.0), (3000.0, 2000.0))
    frame = gl.render(camera, scene("frontal")[1][0].numpy(), (4000, 6000))
    assert frame.shape == (4000, 6000, 4)
    face = frame[..., 3] > 0
    rows, cols = np.nonzero(face)
    assert 0.1 < face.mean() < 0.6
    assert abs(cols.mean() - 3000) < 400 and abs(rows.mean() - 2000) < 400


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda gl: gl.set_albedo(np.zeros((4, 4))), "albedo"),
        (lambda gl: gl.set_shape(np.zeros((10, 10, 3))), "shape"),
        (lambda gl: gl.set_shape(np.full((UV_HEIGHT, UV_WIDTH, 3), np.nan)), "shape"),
        (lambda gl: gl.render(GLCamera(1.0, (0, 0, 0), (0, 0)), np.full((3, 9), np.nan), (8, 8)), "lighting"),
        (lambda gl: gl.render(GLCamera(math.nan, (0, 0, 0), (0, 0)), np.zeros((3, 9)), (8, 8)), "NaN"),
        (lambda gl: gl.render(GLCamera(1.0, (0, 0, 0), (0, 0)), np.zeros((3, 9)), (0, 8)), "positive"),
    ],
)
def test_bad_input_gives_a_clear_error(gl, call, message):
    with pytest.raises(ValueError, match=message):
        call(gl)


def test_face_outside_the_frame_renders_empty(gl):
    frame = gl.render(GLCamera(40.0, (0, 0, 0), (-900.0, 50.0)), ambient_light(1)[0].numpy(), (64, 64))
    assert not frame.any()
