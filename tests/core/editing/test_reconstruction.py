"""The full-resolution reconstruction: GL draws what the CPU surface map paints, and falls back to it."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from facecraft.core.decomposition import Decomposition
from facecraft.core.editing import reconstruction
from facecraft.core.editing.editor import FaceEditor
from facecraft.core.face.template import FaceTemplate
from facecraft.core.render.gl import GLError

UPSCALE = 3
# Measured on the astronaut (fidelity 0.25) at 2x, 3x and 4x (33k to 131k face pixels): mask IoU
# above 0.9999; mean 0.026 and p99 1 grey level (the GL texture is albedo x shading, bilinear; the CPU
# path multiplies two bilinear samples); 0 to 6 pixels more than 3 levels off (up to 27), where the
# two rasterizers pick different triangles on an occlusion edge or a UV seam. Room is left for
# another Mesa or a GPU.
MIN_MASK_IOU = 0.99
MEAN_ERROR = 0.25  # grey levels, on pixels both masks cover
P99_ERROR = 1.0
OUTLIERS = 0.0005  # the fraction of those pixels allowed more than 3 levels off


def upscaled(decomposition: Decomposition, rgb: np.ndarray, factor: int) -> tuple[np.ndarray, Decomposition]:
    """The photo scaled by ``factor`` and the decomposition carried over (camera in the new pixels)."""
    height, width = rgb.shape[:2]
    big = cv2.resize(rgb, (width * factor, height * factor), interpolation=cv2.INTER_LINEAR)
    camera = decomposition.camera.copy()
    camera[0] *= factor  # pixels per unit; then the translation: x' = k (x + 0.5) - 0.5
    camera[4:6] = camera[4:6] * factor + (factor - 1) / 2
    return big, dataclasses.replace(decomposition, photo_size=big.shape[:2], camera=camera)


@pytest.fixture(scope="module")
def renderer(template: FaceTemplate) -> Iterator[reconstruction.ReconstructionRenderer]:
    with reconstruction.ReconstructionRenderer(template) as drawing:
        yield drawing


def assert_same_reconstruction(
    new: tuple[np.ndarray, np.ndarray], old: tuple[np.ndarray, np.ndarray], photo: np.ndarray
) -> None:
    (render, mask), (expected, expected_mask) = new, old
    assert render.shape == photo.shape and mask.shape == photo.shape[:2] and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 255}
    face, expected_face = mask > 0, expected_mask > 0
    iou = (face & expected_face).sum() / (face | expected_face).sum()
    assert iou > MIN_MASK_IOU, f"mask IoU {iou:.4f}"
    assert np.array_equal(render[~face], photo[~face])  # off the face: the photo, untouched
    error = np.abs(render.astype(np.int16) - expected.astype(np.int16))[face & expected_face]
    p99 = np.percentile(error, 99)
    outliers = (error.max(-1) > 3).mean()
    assert error.mean() <= MEAN_ERROR and p99 <= P99_ERROR and outliers <= OUTLIERS, (
        f"mean {error.mean():.3f}, p99 {p99:.1f} grey levels, {outliers:.3%} of pixels more than 3 off"
    )


def test_gl_draws_the_cpu_reconstruction_at_three_times_the_resolution(
    renderer, astronaut_decomposition, astronaut_rgb, template
):
    photo, decomposition = upscaled(astronaut_decomposition, astronaut_rgb, UPSCALE)
    expected = FaceEditor(photo, decomposition, template).reconstruction()
    drawn = renderer.render(photo, decomposition)
    assert renderer.backend == "gl" and renderer.fallback_reason is None and renderer.gl_device
    assert (drawn[1] > 0).sum() > 60_000  # a real face (3% of the photo), not a speck
    assert_same_reconstruction(drawn, expected, photo)


def test_a_face_cut_by_the_photo_edge_is_drawn_the_same(
    renderer, astronaut_decomposition, astronaut_rgb, template
):
    photo, decomposition = upscaled(astronaut_decomposition, astronaut_rgb, 2)
    x0, _, x1, _ = decomposition.face_box * 2
    cut = np.ascontiguousarray(photo[:, int((x0 + x1) / 2) :])  # the left half of the face is gone
    camera = decomposition.camera.copy()
    camera[4] -= int((x0 + x1) / 2)
    moved = dataclasses.replace(decomposition, photo_size=cut.shape[:2], camera=camera)
    expected = FaceEditor(cut, moved, template).reconstruction()
    drawn = renderer.render(cut, moved)
    assert drawn[1][:, 0].any()  # the face reaches the left edge
    assert_same_reconstruction(drawn, expected, cut)


def test_photos_of_several_sizes_in_a_row(renderer, astronaut_decomposition, astronaut_rgb, template):
    for factor in (1, 2):
        photo, decomposition = upscaled(astronaut_decomposition, astronaut_rgb, factor)
        expected = FaceEditor(photo, decomposition, template).reconstruction()
        assert_same_reconstruction(renderer.render(photo, decomposition), expected, photo)


def test_without_opengl_it_paints_on_the_cpu(monkeypatch, astronaut_decomposition, astronaut_rgb, template):
    def no_driver():
        raise GLError("could not create a headless OpenGL context (no EGL here)")

    monkeypatch.setattr(reconstruction, "create_headless_context", no_driver)
    with reconstruction.ReconstructionRenderer(template) as cpu:
        render, mask = cpu.render(astronaut_rgb, astronaut_decomposition)
        assert cpu.backend == "cpu" and "no EGL here" in (cpu.fallback_reason or "")
    expected = FaceEditor(astronaut_rgb, astronaut_decomposition, template).reconstruction()
    assert np.array_equal(render, expected[0]) and np.array_equal(mask, expected[1])
    with reconstruction.ReconstructionRenderer(template, use_gl=False) as asked:
        render, mask = asked.render(astronaut_rgb, astronaut_decomposition)
        assert asked.backend == "cpu" and asked.gl_device is None
    assert np.array_equal(render, expected[0]) and np.array_equal(mask, expected[1])


def test_a_renderer_failing_mid_way_gives_gl_up_for_the_cpu(
    monkeypatch, astronaut_decomposition, astronaut_rgb, template
):
    drawing = reconstruction.ReconstructionRenderer(template)
    try:
        drawing.render(astronaut_rgb, astronaut_decomposition)  # GL works ...
        assert drawing.backend == "gl"

        def broken(*args, **kwargs):
            raise GLError("the driver fell over")

        monkeypatch.setattr(drawing._gl, "render", broken)  # ... until it does not
        render, mask = drawing.render(astronaut_rgb, astronaut_decomposition)
        assert drawing.backend == "cpu" and "fell over" in (drawing.fallback_reason or "")
        expected = FaceEditor(astronaut_rgb, astronaut_decomposition, template).reconstruction()
        assert np.array_equal(render, expected[0]) and np.array_equal(mask, expected[1])
    finally:
        drawing.close()


def test_a_photo_of_another_size_is_refused(renderer, astronaut_decomposition):
    with pytest.raises(ValueError, match="decomposition was made"):
        renderer.render(np.zeros((100, 100, 3), np.uint8), astronaut_decomposition)
    with pytest.raises(ValueError, match="uint8"):
        renderer.render(np.zeros((512, 512, 3), np.float32), astronaut_decomposition)


def test_the_face_region_holds_every_covered_pixel(astronaut_decomposition, astronaut_rgb, template):
    region = reconstruction.face_region(astronaut_decomposition, template)
    editor = FaceEditor(astronaut_rgb, astronaut_decomposition, template)
    assert region == editor.surface.region


def test_started_early_it_renders_and_closing_stops_its_thread(
    template, astronaut_decomposition, astronaut_rgb
):
    before = set(threading.enumerate())
    drawing = reconstruction.ReconstructionRenderer(template)
    drawing.start()  # returns at once; the context is made on the GL thread
    new = [thread for thread in threading.enumerate() if thread not in before]
    assert [thread.name for thread in new if thread.name.startswith("facecraft-gl")]
    render, mask = drawing.render(astronaut_rgb, astronaut_decomposition)
    assert drawing.backend == "gl" and mask.any()
    drawing.close()
    drawing.close()  # twice is harmless
    assert not [thread for thread in new if thread.is_alive()]
    again, _ = drawing.render(astronaut_rgb, astronaut_decomposition)  # starts it afresh
    drawing.close()
    assert np.array_equal(again, render)
