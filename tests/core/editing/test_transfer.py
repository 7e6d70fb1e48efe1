"""Copying colour and texture from a reference photo: where, how much, never from unseen texels."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from facecraft.core.editing.editor import FaceEditor
from facecraft.core.editing.layers import BlendMode, LayerKind, TransferSpec
from facecraft.core.editing.reference import Reference, ReferencePhotoError, build_reference, skin_tone
from facecraft.core.editing.regions import makeup_mask
from facecraft.core.editing.transfer import PAINTED, add_transfer, region_mask, transfer_pixels

OFFSET_TOLERANCE = 0.01
"""Largest error, per channel, of the lips' mean colour offset from skin after a full-strength colour copy."""


@pytest.fixture(scope="module")
def reference(reference_rgb, reference_decomposition, template, astronaut_rgb, astronaut_decomposition):
    size = FaceEditor(astronaut_rgb, astronaut_decomposition, template).canvas_size
    return build_reference(reference_rgb, reference_decomposition, template, size, "reference.png")


@pytest.fixture
def editor(astronaut_rgb, astronaut_decomposition, template):
    return FaceEditor(astronaut_rgb, astronaut_decomposition, template)


def _core(template, region: str, size: tuple[int, int], reference: Reference) -> np.ndarray:
    """Texels well inside ``region`` that the reference saw fully."""
    return (makeup_mask(template, region, size) > 0.95) & (reference.weight > 0.99)


def _low(albedo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.GaussianBlur(albedo, (0, 0), 0.005 * size[1], borderType=cv2.BORDER_REPLICATE)


def test_colour_copy_gives_the_lips_the_references_colour_offset_from_skin(editor, reference, template):
    size = editor.canvas_size
    base = editor.base_albedo()
    lips = _core(template, "lips", size, reference)
    assert lips.sum() > 1000
    ones = np.ones(size, np.float32)
    target_skin = skin_tone(base, ones, template)
    wanted = _low(reference.albedo, size)[lips].mean(0) - reference.skin
    before = _low(base, size)[lips].mean(0) - target_skin
    assert np.abs(before - wanted).max() > 4 * OFFSET_TOLERANCE  # the copy has something to do

    layer, _ = add_transfer(editor.document, base, reference, TransferSpec("reference.png", ("lips",)))
    assert layer.kind is LayerKind.COLOUR_COPY and layer.blend is BlendMode.OFFSET
    edited = editor.edited_albedo()
    after = _low(edited, size)[lips].mean(0) - target_skin
    assert np.abs(after - wanted).max() < OFFSET_TOLERANCE
    # the target keeps its own fine detail: the high frequencies of the lips are unchanged
    detail_before = (base - _low(base, size))[lips]
    detail_after = (edited - _low(edited, size))[lips]
    assert np.abs(detail_after - detail_before).mean() < 0.01


def test_texture_copy_puts_the_references_albedo_in_the_region(editor, reference, template):
    size = editor.canvas_size
    add_transfer(
        editor.document, editor.base_albedo(), reference, TransferSpec("r", ("brows",), "texture", 1.0)
    )
    layer = editor.document.layers[-1]
    alpha = layer.pixels[..., 3:].astype(np.float32) / 255.0
    colour = layer.pixels[..., :3].astype(np.float32) / 255.0
    brows = _core(template, "brows", size, reference)
    assert np.abs(colour[brows] - reference.albedo[brows]).max() <= 0.5 / 255 + 1e-6
    assert alpha[brows].min() > 0.9
    edited = editor.edited_albedo()
    expected = editor.base_albedo() * (1.0 - alpha) + colour * alpha
    assert np.abs(edited - expected).max() < 1e-5
    outside = region_mask(template, ["brows"], size) == 0
    assert np.array_equal(edited[outside], editor.base_albedo()[outside])


def test_strength_scales_the_copy(editor, reference, template):
    base = editor.base_albedo()
    full = transfer_pixels(base, reference, TransferSpec("r", ("cheeks",), "texture", 1.0), template)
    half = transfer_pixels(base, reference, TransferSpec("r", ("cheeks",), "texture", 0.5), template)
    covered = full[..., 3] > 0
    assert np.abs(half[..., 3][covered].astype(int) - full[..., 3][covered] / 2).max() <= 1.0


def test_unseen_texels_are_never_copied(editor, reference, template):
    size = editor.canvas_size
    side_hidden = reference.weight.copy()
    side_hidden[:, : size[1] // 3] = 0.0  # as if the reference's left side and its mirror were unseen
    hidden = replace(reference, weight=side_hidden)
    pixels = transfer_pixels(editor.base_albedo(), hidden, TransferSpec("r", ("face",), "texture"), template)
    assert not pixels[:, : size[1] // 3, 3].any()
    assert pixels[:, size[1] // 3 :, 3].any()
    unseen = reference.weight == 0
    assert unseen.any() and not pixels[..., 3][unseen].any()


def test_a_region_the_reference_does_not_show_is_refused_by_name(editor, reference, template):
    lips = makeup_mask(template, "lips", editor.canvas_size) > 0
    turned = replace(reference, weight=np.where(lips, 0.0, reference.weight).astype(np.float32))
    with pytest.raises(ReferencePhotoError, match=r"reference\.png.*0% of the reference's lips is visible"):
        add_transfer(editor.document, editor.base_albedo(), turned, TransferSpec("r", ("cheeks", "lips")))
    assert editor.document.layers == [] and not editor.document.can_undo


def test_pixels_outside_the_footprint_stay_bit_identical_and_undo_restores_all(editor, reference, template):
    original = editor.edited_photo.copy()
    layer, rect = add_transfer(
        editor.document, editor.base_albedo(), reference, TransferSpec("r", ("lips",), "colour", 0.5)
    )
    editor.refresh(rect)
    edited = editor.edited_photo
    # the footprint: photo pixels whose canvas position is within 2 texels of a copied texel
    reach = cv2.dilate((layer.pixels[..., 3] > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    surface = editor.surface
    cols = np.clip(np.rint(surface.canvas_x), 0, reach.shape[1] - 1).astype(int)
    rows = np.clip(np.rint(surface.canvas_y), 0, reach.shape[0] - 1).astype(int)
    footprint = np.zeros(edited.shape[:2], bool)
    footprint[surface.region.slices()] = surface.covered & reach[rows, cols]
    changed = (edited != original).any(-1)
    assert changed.sum() > 200
    assert not changed[~footprint].any()
    editor.document.undo()
    editor.refresh(None)
    assert np.array_equal(editor.edited_photo, original)


def test_painted_mask_region(editor, reference, template):
    size = editor.canvas_size
    painted = np.zeros((size[0] // 4, size[1] // 4), np.float32)
    painted[100:140, 60:100] = 1.0
    pixels = transfer_pixels(
        editor.base_albedo(), reference, TransferSpec("r", (PAINTED,), "texture"), template, painted
    )
    alpha = pixels[..., 3] > 0
    rows, cols = np.nonzero(alpha)
    assert rows.min() >= 398 and rows.max() <= 562 and cols.min() >= 238 and cols.max() <= 402
    with pytest.raises(ValueError, match="painted"):
        region_mask(template, [PAINTED], size)
    with pytest.raises(ValueError, match="unknown region 'nose'"):
        region_mask(template, ["nose"], size)


def test_transfer_spec_is_validated():
    with pytest.raises(ValueError, match="mode"):
        TransferSpec("r", ("lips",), "paint")
    with pytest.raises(ValueError, match="strength"):
        TransferSpec("r", ("lips",), "colour", 1.5)
    with pytest.raises(ValueError, match="region"):
        TransferSpec("r", ())
