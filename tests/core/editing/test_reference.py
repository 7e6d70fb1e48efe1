"""Reference photos: seen albedo (mirror where only the mirror was seen), skin tone, bad files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecraft.core.editing.albedo import albedo_sources, canvas_size
from facecraft.core.editing.reference import ReferencePhotoError, build_reference, load_reference
from facecraft.core.editing.regions import makeup_mask
from facecraft.core.errors import ImageLoadError
from facecraft.core.io.image_write import write_image

SIZE = canvas_size(2)
"""A small canvas keeps these tests quick."""


def test_seen_albedo_takes_the_mirror_where_only_the_mirror_was_seen(
    reference_rgb, reference_decomposition, template
):
    sources = albedo_sources(reference_rgb, reference_decomposition, template, SIZE)
    albedo, weight = sources.seen()
    own, mirror = sources.trust, sources.trust[:, ::-1]
    mirror_only = sources.inside & (own == 0) & (mirror > 0.99)
    assert mirror_only.any()
    assert np.allclose(albedo[mirror_only], sources.photo[:, ::-1][mirror_only], atol=1e-3)
    assert np.allclose(weight[mirror_only], 1.0, atol=0.01)
    seen = sources.inside & (own > 0.999)
    assert np.allclose(albedo[seen], sources.photo[seen], atol=1e-3)
    never = (own == 0) & (mirror == 0)
    assert never.any() and not weight[never].any()


def test_reference_skin_tone_is_its_seen_cheek_colour(reference_rgb, reference_decomposition, template):
    reference = build_reference(reference_rgb, reference_decomposition, template, SIZE, "b.png")
    assert reference.skin.shape == (3,) and reference.name == "b.png"
    lips = makeup_mask(template, "lips", SIZE) > 0.95
    cheeks = (makeup_mask(template, "cheeks", SIZE) > 0.95) & (reference.weight > 0.99)
    low, high = np.percentile(reference.albedo[cheeks], [10, 90], axis=0)
    assert np.all(low <= reference.skin) and np.all(reference.skin <= high)
    # Lips darker than skin (RGB sums: 0.086 apart with the 2026-12-05 evening weights, 0.1+ before).
    assert reference.skin.sum() > reference.albedo[lips].mean(0).sum() + 0.05
    assert reference.face_boxes.shape == (1, 4) and reference.face_index == 0


def test_several_faces_pick_the_largest_and_list_them_all(decomposer, astronaut_rgb, tmp_path):
    photo = np.full((520, 1100, 3), 200, np.uint8)
    photo[4:516, 10:522] = astronaut_rgb
    photo[40:480, 640:1080] = cv2.resize(astronaut_rgb, (440, 440), interpolation=cv2.INTER_AREA)
    path = tmp_path / "two.png"
    write_image(path, photo)
    reference = load_reference(path, decomposer, SIZE, fidelity=0.0)
    assert len(reference.face_boxes) == 2 and reference.face_index == 0
    assert reference.face_boxes[0][2] < 530  # the largest face is the left one
    other = load_reference(path, decomposer, SIZE, fidelity=0.0, face=1)
    assert other.face_index == 1 and other.decomposition.face_box[0] > 600


def test_a_photo_without_a_face_is_a_message_naming_it(decomposer, tmp_path):
    path = tmp_path / "wall.png"
    write_image(path, np.full((200, 300, 3), 90, np.uint8))
    with pytest.raises(ReferencePhotoError, match=r"wall\.png.*reference.*no face"):
        load_reference(path, decomposer, SIZE, fidelity=0.0)


def test_an_unreadable_reference_is_a_message_naming_it(decomposer, tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"not a jpeg at all")
    with pytest.raises(ImageLoadError, match=r"broken\.jpg"):
        load_reference(path, decomposer, SIZE)
