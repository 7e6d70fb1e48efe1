"""Copying makeup, texture or colour from a reference photo onto the face being edited.

Both faces share one UV layout, so a region mask on the canvas picks the same
part of each. A transfer becomes one layer (one undo step), in one of two modes:

* ``texture``: the reference's detailed albedo itself (a tattoo, a beard, a
  freckled cheek), a ``normal`` layer with colour ``A_ref``;
* ``colour``: only the reference's colour relative to its skin (makeup), an
  ``offset`` layer. With ``L(·)`` a low-pass (:data:`COLOUR_SIGMA`) and ``t`` a
  skin tone, the offset is ``d = (L(A_ref) - t_ref) - (L(A) - t)``, so the
  edited albedo ``A + d`` has the reference's colour offset from skin in the
  region (``L(A + d) - t = L(A_ref) - t_ref``) and keeps the target's own
  fine detail (``A - L(A)``).

The layer's alpha is ``region mask · strength · w``, ``w`` the reference's
seen-weight (:attr:`Reference.weight`): texels the reference's camera did not
see (occluded, turned away), nor their mirrors, are never copied. A chosen
region the reference mostly does not show is refused with a message naming it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from facecraft.core.editing.document import EditDocument
from facecraft.core.editing.layers import Layer, TransferSpec, encode_offset
from facecraft.core.editing.paint import Rect
from facecraft.core.editing.reference import Reference, ReferencePhotoError, skin_tone
from facecraft.core.editing.regions import TRANSFER_REGIONS, makeup_mask
from facecraft.core.template import FaceTemplate

PAINTED = "painted"
"""The region name of a mask painted on the reference's UV."""
MIN_SEEN_SHARE = 0.5
"""A region must be at least this much seen (its mask's weight) in the reference to be copied."""
COLOUR_SIGMA = 0.005
"""Low-pass of the colour mode, as a fraction of the canvas width (7 texels on the 1344 canvas)."""


def region_mask(
    template: FaceTemplate,
    regions: Sequence[str],
    canvas_size: tuple[int, int],
    painted: np.ndarray | None = None,
) -> np.ndarray:
    """The union (max) of named regions and a painted mask, ``(H, W)`` float32 in ``[0, 1]``.

    Args:
        template: gives the regions.
        regions: names from :data:`TRANSFER_REGIONS`, or :data:`PAINTED`.
        canvas_size: ``(H, W)``.
        painted: ``(h, w)`` mask in ``[0, 1]`` (resized to the canvas); needed with :data:`PAINTED`.

    Raises:
        ValueError: an unknown region, no region, or :data:`PAINTED` without a mask.
    """
    if not regions:
        raise ValueError("choose at least one region to copy")
    mask = np.zeros(canvas_size, np.float32)
    for region in regions:
        if region == PAINTED:
            np.maximum(mask, _painted(painted, canvas_size), out=mask)
        elif region in TRANSFER_REGIONS:
            np.maximum(mask, makeup_mask(template, region, canvas_size), out=mask)
        else:
            known = ", ".join((*TRANSFER_REGIONS, PAINTED))
            raise ValueError(f"unknown region {region!r}; choose from {known}")
    return mask


def _painted(painted: np.ndarray | None, canvas_size: tuple[int, int]) -> np.ndarray:
    if painted is None:
        raise ValueError("the painted region needs a mask painted on the reference")
    painted = np.asarray(painted, dtype=np.float32)
    if painted.ndim != 2 or not np.isfinite(painted).all():
        raise ValueError(f"a painted mask is a finite (h, w) array, got {painted.shape}")
    if painted.shape != canvas_size:
        painted = cv2.resize(painted, (canvas_size[1], canvas_size[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(painted, 0.0, 1.0)


def check_coverage(
    reference: Reference,
    template: FaceTemplate,
    regions: Sequence[str],
    painted: np.ndarray | None = None,
) -> None:
    """Refuse regions the reference's face does not show well enough.

    Raises:
        ReferencePhotoError: naming the first such region, how much of it is seen and why.
    """
    for region in regions:
        mask = region_mask(template, [region], reference.canvas_size, painted)
        share = reference.seen_share(mask)
        if share < MIN_SEEN_SHARE:
            label = "painted area" if region == PAINTED else region
            raise ReferencePhotoError(
                f"{reference.name}: only {share:.0%} of the reference's {label} is visible "
                f"(at least {MIN_SEEN_SHARE:.0%} is needed): the face is turned away or covered there; "
                "choose a more frontal reference or another region"
            )


def transfer_pixels(
    target_albedo: np.ndarray,
    reference: Reference,
    spec: TransferSpec,
    template: FaceTemplate,
    painted: np.ndarray | None = None,
) -> np.ndarray:
    """The RGBA pixels of a transfer layer.

    Args:
        target_albedo: ``(H, W, 3)`` float32 the target's detailed albedo before edits (colour mode).
        reference: what to copy from (at the same canvas size).
        spec: regions, mode and strength.
        template: gives the regions.
        painted: the mask of the :data:`PAINTED` region, if chosen.

    Returns:
        ``(H, W, 4)`` uint8 straight-alpha pixels for a layer of kind ``spec.kind``.

    Raises:
        ReferencePhotoError: a region is mostly unseen in the reference.
        ValueError: the canvases differ, or a bad region.
    """
    size = reference.canvas_size
    if target_albedo.shape[:2] != size:
        raise ValueError(f"the target's canvas is {target_albedo.shape[:2]}, the reference's {size}")
    check_coverage(reference, template, spec.regions, painted)
    alpha = region_mask(template, spec.regions, size, painted) * reference.weight * np.float32(spec.strength)
    pixels = np.zeros((*size, 4), np.uint8)
    pixels[..., 3] = np.rint(np.clip(alpha, 0.0, 1.0) * 255.0).astype(np.uint8)
    rect = _alpha_rect(pixels[..., 3], math.ceil(3.0 * COLOUR_SIGMA * size[1]) + 1)
    if rect.empty:
        return pixels
    rows, cols = rect.slices()
    if spec.mode == "texture":
        pixels[rows, cols, :3] = np.rint(reference.albedo[rows, cols] * 255.0).astype(np.uint8)
        return pixels
    sigma = COLOUR_SIGMA * size[1]
    weight = reference.weight[rows, cols]
    reference_low = _low_pass(reference.albedo[rows, cols] * weight[..., None], sigma)
    reference_low /= np.maximum(_low_pass(weight, sigma), 1e-4)[..., None]
    target_low = _low_pass(target_albedo[rows, cols], sigma)
    target_skin = skin_tone(target_albedo, np.ones(size, np.float32), template)
    offset = (reference_low - reference.skin) - (target_low - target_skin)
    pixels[rows, cols, :3] = encode_offset(offset)
    return pixels


def add_transfer(
    document: EditDocument,
    target_albedo: np.ndarray,
    reference: Reference,
    spec: TransferSpec,
    painted: np.ndarray | None = None,
    name: str | None = None,
) -> tuple[Layer, Rect]:
    """Copy from ``reference`` into a new layer on top of ``document`` (one undo step).

    Returns:
        The layer and the canvas rect that changed.

    Raises:
        ReferencePhotoError: a region is mostly unseen in the reference; nothing is changed.
    """
    pixels = transfer_pixels(target_albedo, reference, spec, document.template, painted)
    label = name or f"{' + '.join(spec.regions).capitalize()} from {reference.name}"
    layer = Layer(document.unique_name(label), spec.kind, pixels, transfer=spec)
    return layer, document.add_layer(layer)


def _low_pass(values: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(
        np.ascontiguousarray(values, np.float32), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE
    )


def _alpha_rect(alpha: np.ndarray, margin: int) -> Rect:
    """The bounds of the non-zero texels of ``(H, W)`` ``alpha``, grown by ``margin``."""
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0:
        return Rect(0, 0, 0, 0)
    cols = np.flatnonzero(alpha.any(axis=0))
    height, width = alpha.shape
    return Rect(
        max(int(rows[0]) - margin, 0),
        max(int(cols[0]) - margin, 0),
        min(int(rows[-1]) + 1 + margin, height),
        min(int(cols[-1]) + 1 + margin, width),
    )
