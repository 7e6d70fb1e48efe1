"""Makeup region masks: in range, where they belong on the template's face, mirror-symmetric."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH, uv_to_texel
from facecraft.core.editing.regions import TRANSFER_REGIONS, makeup_mask
from facecraft.core.face.template import FaceTemplate

SCALES = (1, 6)
"""Canvas sizes tested: the model's 192x224 and the editor's 1152x1344."""


def _size(scale: int) -> tuple[int, int]:
    return UV_HEIGHT * scale, UV_WIDTH * scale


def _at(mask: np.ndarray, point: np.ndarray) -> float:
    """The mask at the texel holding a canvas ``(col, row)`` point."""
    col, row = np.rint(point).astype(int)
    return float(mask[row, col])


def _landmarks(template: FaceTemplate, scale: int) -> np.ndarray:
    return uv_to_texel(template.landmark_uv, *_size(scale))


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("region", TRANSFER_REGIONS)
def test_masks_are_soft_bounded_and_empty_at_the_canvas_border(template, region: str, scale: int):
    mask = makeup_mask(template, region, _size(scale))
    assert mask.shape == _size(scale) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0 and mask.max() > 0.99
    assert np.any((mask > 0.05) & (mask < 0.95))  # feathered, not a hard cut-out
    for border in (mask[0], mask[-1], mask[:, 0], mask[:, -1]):
        assert not border.any()


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("region", TRANSFER_REGIONS)
def test_masks_are_mirror_symmetric(template, region: str, scale: int):
    mask = makeup_mask(template, region, _size(scale))
    assert np.abs(mask - mask[:, ::-1]).max() < 1e-3


@pytest.mark.parametrize("scale", SCALES)
def test_lips_cover_the_lips_but_not_the_mouth_opening(template, scale: int):
    points = _landmarks(template, scale)
    assert points[66, 1] - points[62, 1] > 2.0, "the template's mean mouth should be slightly open"
    mask = makeup_mask(template, "lips", _size(scale))
    assert _at(mask, (points[50] + points[61]) / 2) > 0.9  # upper lip
    assert _at(mask, (points[58] + points[67]) / 2) > 0.9  # lower lip
    assert _at(mask, points[60:68].mean(axis=0)) == 0.0  # mouth opening
    rows = np.flatnonzero(mask.any(axis=1))
    assert rows[0] > points[33, 1] and rows[-1] < points[8, 1]  # nothing near the nose or the chin


@pytest.mark.parametrize("scale", SCALES)
def test_cheeks_sit_between_eye_mouth_and_jaw_off_the_nose(template, scale: int):
    points = _landmarks(template, scale)
    mask = makeup_mask(template, "cheeks", _size(scale))
    for eye_corner, lower_lid, mouth_corner in ((36, 41, 48), (45, 46, 54)):
        centre = np.array([points[eye_corner, 0], (points[lower_lid, 1] + points[mouth_corner, 1]) / 2])
        assert _at(mask, centre) > 0.5
    for landmark in (30, 33, 48, 54, 40, 41, 46, 47):  # nose tip, nose base, mouth corners, lower lids
        assert _at(mask, points[landmark]) == 0.0


@pytest.mark.parametrize("scale", SCALES)
def test_eyelids_lie_above_the_eyes_below_the_brows(template, scale: int):
    points = _landmarks(template, scale)
    height = _size(scale)[0]
    mask = makeup_mask(template, "eyelids", _size(scale))
    for upper_lid, eye, brow in ((37, slice(36, 42), 19), (44, slice(42, 48), 24)):
        assert _at(mask, points[upper_lid] - (0, 0.02 * height)) > 0.5  # just above the upper lid
        assert _at(mask, points[eye].mean(axis=0)) == 0.0  # the eye opening
        assert _at(mask, points[brow]) == 0.0
    assert not mask[int(points[29, 1]) :].any()  # nothing below the eyes


def test_masks_agree_across_canvas_sizes(template):
    for region in TRANSFER_REGIONS:
        small = makeup_mask(template, region, _size(1))
        large = makeup_mask(template, region, _size(6))
        shrunk = cv2.resize(large, small.shape[::-1], interpolation=cv2.INTER_AREA)
        assert np.abs(shrunk - small).mean() < 0.01
        inside_small, inside_large = small > 0.5, shrunk > 0.5
        assert (inside_small & inside_large).sum() / (inside_small | inside_large).sum() > 0.85


def test_masks_are_fresh_arrays(template):
    first = makeup_mask(template, "lips", _size(1))
    first[...] = 0.5
    assert makeup_mask(template, "lips", _size(1)).min() == 0.0


def test_unknown_region_is_refused(template):
    with pytest.raises(ValueError, match="lips, eyelids, cheeks, brows, face"):
        makeup_mask(template, "nose", _size(1))
    with pytest.raises(ValueError, match="canvas size"):
        makeup_mask(template, "lips", (0, 10))


@pytest.mark.parametrize("scale", SCALES)
def test_brows_cover_the_brow_landmarks_and_not_the_eyes(template, scale: int):
    mask = makeup_mask(template, "brows", _size(scale))
    landmarks = _landmarks(template, scale)
    for index in range(17, 27):
        assert _at(mask, landmarks[index]) > 0.9
    for index in range(36, 48):
        assert _at(mask, landmarks[index]) == 0.0


def test_the_whole_face_lies_inside_the_template_mask(template):
    mask = makeup_mask(template, "face", _size(1))
    assert not mask[~template.mask].any()
    assert (mask > 0.99).sum() > 0.8 * template.mask.sum()
