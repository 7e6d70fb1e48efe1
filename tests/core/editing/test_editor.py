"""Edits re-rendered into the photo: only the edited face pixels change, at full resolution."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft.core.editing.document import BrushSettings
from facecraft.core.editing.editor import FaceEditor
from facecraft.core.editing.layers import MakeupSpec, StickerPlacement
from facecraft.core.io.image_read import load_image
from facecraft.core.resources import resource_path


def disc_sticker(colour=(30, 80, 220), side=64):
    sticker = np.zeros((side, side, 4), np.uint8)
    yy, xx = np.mgrid[:side, :side]
    sticker[(yy - side / 2 + 0.5) ** 2 + (xx - side / 2 + 0.5) ** 2 < (side / 2 - 2) ** 2] = (*colour, 255)
    return sticker


@pytest.fixture
def editor(astronaut_decomposition, template):
    photo = load_image(resource_path("samples/astronaut.jpg")).original
    return FaceEditor(photo, astronaut_decomposition, template)


def test_a_fresh_editor_leaves_the_photo_bit_identical(editor):
    assert np.array_equal(editor.edited_photo, editor.photo)
    assert editor.canvas_size[0] >= 1024 and editor.canvas_size[1] >= 1024


def test_a_sticker_changes_only_face_pixels_where_it_was_placed(editor, astronaut_decomposition):
    editor.document.add_sticker(disc_sticker(), StickerPlacement((0.62, 0.45), 0.12, 0.0))
    editor.refresh(None)
    changed = (editor.edited_photo != editor.photo).any(-1)
    assert changed.sum() > 100  # the astronaut's face is ~100 px wide: a 12%-of-UV disc is ~12 px
    # every changed pixel is on the face the renderer covers ...
    surface = editor.surface
    covered = np.zeros(changed.shape, bool)
    covered[surface.region.slices()] = surface.covered
    assert not (changed & ~covered).any()
    # ... and near where the sticker's centre lands in the photo: find it through the surface map
    ys, xs = np.nonzero(changed)
    centre_canvas = np.array([0.62 * editor.canvas_size[1] - 0.5, 0.45 * editor.canvas_size[0] - 0.5])
    canvas = np.stack([surface.canvas_x, surface.canvas_y], -1)
    distance = np.linalg.norm(canvas - centre_canvas, axis=-1)
    distance[~surface.covered] = np.inf
    r, c = np.unravel_index(np.argmin(distance), distance.shape)
    expected = np.array([c + surface.region.left, r + surface.region.top])
    assert np.linalg.norm(np.array([xs.mean(), ys.mean()]) - expected) < 6
    # the sticker is blue-ish where it is opaque: blue grew, red shrank
    edited = editor.edited_photo[changed].astype(int)
    original = editor.photo[changed].astype(int)
    assert (edited[:, 2] - original[:, 2]).mean() > 20 and (edited[:, 0] - original[:, 0]).mean() < -20


def cheek_points(decomposition):
    """Photo points across both cheeks, between the jaw and the nose."""
    landmarks = decomposition.detected_landmarks68
    return np.array([(landmarks[3] + landmarks[31]) / 2, landmarks[33], (landmarks[13] + landmarks[35]) / 2])


def test_undo_restores_every_pixel_and_redo_brings_the_edit_back(editor, astronaut_decomposition):
    layer = editor.document.add_paint_layer()
    stroke = editor.document.begin_stroke(layer, BrushSettings((0.9, 0.1, 0.1), 10.0, 0.7, 1.0))
    points, valid = editor.photo_to_canvas(cheek_points(astronaut_decomposition))
    assert valid.all()
    rect = stroke.add_points(points)
    editor.refresh(rect)
    editor.document.end_stroke(stroke)
    edited = editor.edited_photo.copy()
    assert not np.array_equal(edited, editor.photo)
    editor.refresh(editor.document.undo())
    assert np.array_equal(editor.edited_photo, editor.photo)
    editor.refresh(editor.document.redo())
    assert np.array_equal(editor.edited_photo, edited)


def test_a_stroke_in_photo_pixels_lands_under_the_cursor(editor, astronaut_decomposition):
    layer = editor.document.add_paint_layer()
    x, y = cheek_points(astronaut_decomposition)[0]
    points, valid = editor.photo_to_canvas(np.array([[x, y]]))
    assert valid.all()
    stroke = editor.document.begin_stroke(
        layer, BrushSettings((0.0, 1.0, 0.0), editor.canvas_radius(5.0), 1.0)
    )
    editor.refresh(stroke.add_points(points))
    changed = (editor.edited_photo != editor.photo).any(-1)
    ys, xs = np.nonzero(changed)
    assert abs(xs.mean() - x) < 2.0 and abs(ys.mean() - y) < 2.0
    assert 3.0 < (xs.max() - xs.min()) / 2 < 8.0  # a 5 px brush is about 5 px


def test_makeup_tints_the_lips_only(editor, astronaut_decomposition):
    editor.document.add_makeup(MakeupSpec("lips", (0.8, 0.1, 0.2), 0.8))
    editor.refresh(None)
    changed = (editor.edited_photo != editor.photo).any(-1)
    ys, xs = np.nonzero(changed)
    lips = astronaut_decomposition.detected_landmarks68[48:60]
    inside = (
        (xs >= lips[:, 0].min() - 6)
        & (xs <= lips[:, 0].max() + 6)
        & (ys >= lips[:, 1].min() - 6)
        & (ys <= lips[:, 1].max() + 6)
    )
    assert changed.sum() > 200 and inside.mean() > 0.95


def test_relighting_changes_the_face_and_going_back_restores_the_photo(editor, astronaut_decomposition):
    lighting = astronaut_decomposition.lighting.copy()
    lighting[:, 1] += 0.4  # more light from one side
    editor.relight(lighting)
    changed = (editor.edited_photo != editor.photo).any(-1)
    assert changed.sum() > 0.5 * editor.surface.covered.sum()
    editor.relight(None)
    assert np.array_equal(editor.edited_photo, editor.photo)


def test_a_grey_16_bit_photo_is_edited_in_colour(astronaut_decomposition, template):
    photo = load_image(resource_path("samples/astronaut.jpg")).original
    grey = photo.mean(-1, keepdims=True).astype(np.uint16) * 257
    editor = FaceEditor(grey, astronaut_decomposition, template)
    assert editor.edited_photo.shape == (*grey.shape[:2], 3) and editor.edited_photo.dtype == np.uint16
    editor.document.add_sticker(disc_sticker(), StickerPlacement((0.62, 0.45), 0.08, 0.0))
    editor.refresh(None)
    changed = (editor.edited_photo != np.repeat(grey, 3, -1)).any(-1)
    assert changed.any()
    assert (editor.edited_photo[changed][:, 2] > editor.edited_photo[changed][:, 0]).all()


def test_a_photo_of_another_size_is_refused(astronaut_decomposition, template):
    with pytest.raises(ValueError, match="decomposition was made"):
        FaceEditor(np.zeros((100, 100, 3), np.uint8), astronaut_decomposition, template)


def test_the_reconstruction_covers_the_face_at_full_resolution(editor, astronaut_decomposition):
    render, mask = editor.reconstruction()
    assert render.shape == editor.photo.shape and mask.shape == editor.photo.shape[:2]
    x0, y0, x1, y1 = np.round(astronaut_decomposition.face_box).astype(int)
    on_face = mask[y0:y1, x0:x1] > 0
    assert on_face.mean() > 0.6
    assert (mask > 0).sum() < 1.2 * on_face.sum()  # hardly anything outside the face box
    assert np.array_equal(render[mask == 0], editor.photo[mask == 0])


def test_the_8_bit_albedo_is_remembered_without_edits_and_follows_edits(editor):
    first = editor.edited_albedo8()
    assert first.dtype == np.uint8 and first.shape == (*editor.canvas_size, 3)
    assert editor.edited_albedo8() is first and not first.flags.writeable  # made once (in the worker)
    editor.document.add_sticker(disc_sticker(), StickerPlacement((0.5, 0.5), 0.2, 0.0))
    edited = editor.edited_albedo8()
    assert edited is not first and np.abs(edited.astype(int) - first).sum() > 0
