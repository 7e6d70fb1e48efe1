"""Decomposing a real photo with the shipped model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.errors import NoFaceFound
from facecraft.core.face.crop import crop_image
from facecraft.core.render.renderer import Renderer


def test_decomposition_holds_every_component(astronaut_decomposition, astronaut_rgb):
    d = astronaut_decomposition
    assert d.photo_size == astronaut_rgb.shape[:2]
    for name in ("shape", "shape_proxy", "albedo", "albedo_proxy", "shading", "normals", "texture"):
        value = getattr(d, name)
        assert value.shape == (UV_HEIGHT, UV_WIDTH, 3) and value.dtype == np.float32, name
        assert np.isfinite(value).all(), name
    assert d.visibility.shape == (UV_HEIGHT, UV_WIDTH) and d.visibility.dtype == bool
    assert 0.2 < d.visibility.mean() < 0.9
    assert d.lighting.shape == (3, 9) and d.camera.shape == (6,)
    assert d.landmarks68.shape == (68, 2) and d.face_count == 1 and d.face_index == 0
    assert {"detection", "crop", "encoder", "maps"} <= set(d.timings_ms)
    assert np.all((d.albedo >= 0) & (d.albedo <= 1))


def test_landmarks_land_within_a_few_pixels_of_the_detectors(astronaut_decomposition):
    d = astronaut_decomposition
    # The astronaut's face is about 200 px wide; measured mean 2.2 px at fidelity 0.25.
    assert d.landmark_error() < 4.0
    distances = np.linalg.norm(d.landmarks68 - d.detected_landmarks68, axis=1)
    assert np.median(distances) < 4.0


def test_unwrapped_texture_matches_the_photo_where_visible(astronaut_decomposition, astronaut_rgb):
    d = astronaut_decomposition
    # the texel at landmark 30 (nose tip) shows the photo's colour at the projected nose tip
    seen = d.texture[d.visibility]
    assert seen.std() > 0.05  # a real image, not a constant
    x, y = np.round(d.landmarks68[30]).astype(int)
    photo_colour = astronaut_rgb[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0) / 255
    assert np.abs(seen.mean(0) - photo_colour).max() < 0.35  # skin-ish, same ballpark


def test_a_photo_without_a_face_is_refused(decomposer):
    grey = np.full((240, 320, 3), 128, np.uint8)
    with pytest.raises(NoFaceFound, match="no face"):
        decomposer.decompose(grey)


def test_several_faces_pick_the_largest_or_any_by_index(decomposer, astronaut_rgb):
    import cv2

    canvas = np.full((520, 1100, 3), 200, np.uint8)
    canvas[4:516, 10:522] = astronaut_rgb
    canvas[40:480, 640:1080] = cv2.resize(astronaut_rgb, (440, 440), interpolation=cv2.INTER_AREA)
    largest = decomposer.decompose(canvas)
    assert largest.face_count == 2 and largest.face_index == 0
    assert largest.face_box[2] < 522  # in the big copy
    other = decomposer.decompose(canvas, face=1)
    assert other.face_index == 1 and other.face_box[0] > 640
    assert other.landmark_error() < 6.0
    with pytest.raises(NoFaceFound, match="face 3"):
        decomposer.decompose(canvas, face=2)


@pytest.fixture
def encoded(decomposer, astronaut_decomposition, astronaut_rgb):
    """The encoder's estimate of the astronaut's crop: ``(image, output)``."""
    crop = crop_image(astronaut_rgb, astronaut_decomposition.crop)
    image = torch.from_numpy(crop).permute(2, 0, 1)[None].float().div_(255.0)
    with torch.no_grad():
        return image, decomposer.model(image)


def test_the_uv_maps_are_the_renderers_whether_its_last_render_is_reused_or_not(
    decomposer, template, encoded
):
    image, out = encoded
    face, size = out.face, (image.shape[2], image.shape[3])
    with torch.no_grad():
        reference = Renderer(template)(face.shape, face.albedo, out.camera, out.lighting, size)
        renderer = decomposer.renderer
        renderer(face.shape_proxy, face.albedo, out.camera, out.lighting, size)  # another face
        assert renderer.recall(face.shape, out.camera, out.lighting, size) is None
        computed = decomposer._uv_maps(face.shape, out.camera, out.lighting, size)
        renderer(face.shape, face.albedo, out.camera, out.lighting, size, background=image)  # as the fitter
        assert renderer.recall(face.shape, out.camera, out.lighting, size) is not None
        recalled = decomposer._uv_maps(face.shape, out.camera, out.lighting, size)
    expected = (reference.normals_uv, reference.shading_uv, reference.visibility[:, 0] > 0.5)
    for maps in (computed, recalled):
        assert all(torch.equal(a, b) for a, b in zip(maps, expected, strict=True))
    assert 0.2 < float(expected[2].float().mean()) < 0.9


def test_the_last_render_is_reused_only_for_the_very_same_unmodified_inputs(decomposer, encoded):
    image, out = encoded
    face, size = out.face, (image.shape[2], image.shape[3])
    renderer = decomposer.renderer
    lighting = out.lighting.clone()
    with torch.no_grad():
        renderer(face.shape, face.albedo, out.camera, lighting, size)
        assert renderer.recall(face.shape, out.camera, lighting, size) is not None
        assert renderer.recall(face.shape.clone(), out.camera, lighting, size) is None  # equal, not the same
        assert renderer.recall(face.shape, out.camera, lighting, (size[0], size[1] + 1)) is None
        lighting.mul_(1.0)  # modified in place (even to the same values)
        assert renderer.recall(face.shape, out.camera, lighting, size) is None
    renderer(face.shape, face.albedo, out.camera, lighting.requires_grad_(True), size)
    assert renderer.recall(face.shape, out.camera, lighting, size) is None  # a graph is not kept
    with torch.inference_mode():
        renderer(face.shape, face.albedo, out.camera, torch.zeros_like(lighting), size)
    assert renderer._last is None  # inference tensors have no version to check


def test_fidelity_0_times_every_part_of_the_decomposition(decomposer, astronaut_rgb):
    d = decomposer.decompose(astronaut_rgb, 0.0)
    assert {"detection", "crop", "encoder", "fit_other", "maps"} == set(d.timings_ms)
    assert all(ms >= 0 for ms in d.timings_ms.values())
