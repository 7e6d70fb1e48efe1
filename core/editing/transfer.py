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
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from facecraft.core.editing.document import EditDocument
from facecraft.core.editing.layers import Layer, TransferSpec, encode_offset
from facecraft.core.editing.rect import Rect
from facecraft.core.editing.reference import Reference, ReferencePhotoError, mask_bounds, skin_tone
from facecraft.core.editing.regions import TRANSFER_REGIONS, makeup_mask
from facecraft.core.face.template import FaceTemplate

PAINTED = "painted"
"""The region name of a mask painted on the reference's UV."""
MIN_SEEN_SHARE = 0.5
"""A region must be at least this much seen (its mask's weight) in the reference to be copied."""
COLOUR_SIGMA = 0.005
"""Low-pass of the colour mode, as a fraction of the canvas width (7 texels on the 1344 canvas)."""
PARTS_STEP = 4
"""The connected parts of the regions are found on a grid this much coarser (any texel counts)."""
SKIN_STEP = 4
"""The target's skin tone is measured on every this-many-th texel."""


def region_masks(
    regions: Sequence[str],
    canvas_size: tuple[int, int],
    named: Callable[[str], np.ndarray],
    painted: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Each region's ``(H, W)`` float32 mask in ``[0, 1]``.

    Args:
        regions: names from :data:`TRANSFER_REGIONS`, or :data:`PAINTED`.
        canvas_size: ``(H, W)``.
        named: the mask of a named region at this size (e.g. :meth:`Reference.region_mask`, which
            keeps them, or :func:`~facecraft.core.editing.regions.makeup_mask` for a template).
        painted: ``(h, w)`` mask in ``[0, 1]`` (resized to the canvas); needed with :data:`PAINTED`.

    Raises:
        ValueError: an unknown region, no region, or :data:`PAINTED` without a mask.
    """
    if not regions:
        raise ValueError("choose at least one region to copy")
    unknown = [region for region in regions if region not in (*TRANSFER_REGIONS, PAINTED)]
    if unknown:
        known = ", ".join((*TRANSFER_REGIONS, PAINTED))
        raise ValueError(f"unknown region {unknown[0]!r}; choose from {known}")
    return {
        region: _painted(painted, canvas_size) if region == PAINTED else named(region) for region in regions
    }


def region_mask(
    template: FaceTemplate,
    regions: Sequence[str],
    canvas_size: tuple[int, int],
    painted: np.ndarray | None = None,
) -> np.ndarray:
    """The union (max) of :func:`region_masks` of ``template``, ``(H, W)`` float32 in ``[0, 1]``."""
    masks = region_masks(regions, canvas_size, lambda name: makeup_mask(template, name, canvas_size), painted)
    return np.maximum.reduce(list(masks.values()))


def _painted(painted: np.ndarray | None, canvas_size: tuple[int, int]) -> np.ndarray:
    if painted is None:
        raise ValueError("the painted region needs a mask painted on the reference")
    painted = np.asarray(painted, dtype=np.float32)
    if painted.ndim != 2 or not np.isfinite(painted).all():
        raise ValueError(f"a painted mask is a finite (h, w) array, got {painted.shape}")
    if painted.shape != canvas_size:
        painted = cv2.resize(painted, (canvas_size[1], canvas_size[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(painted, 0.0, 1.0)


def check_coverage(reference: Reference, masks: dict[str, np.ndarray]) -> None:
    """Refuse regions the reference's face does not show well enough.

    Args:
        reference: what would be copied from.
        masks: each chosen region's ``(H, W)`` mask (see :func:`region_masks`).

    Raises:
        ReferencePhotoError: naming the first such region, how much of it is seen and why.
    """
    for region, mask in masks.items():
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
    masks = region_masks(spec.regions, size, reference.region_mask, painted)
    check_coverage(reference, masks)
    union = np.maximum.reduce(list(masks.values()))
    pixels = np.zeros((*size, 4), np.uint8)
    sigma = COLOUR_SIGMA * size[1]
    target_skin = None
    if spec.mode == "colour":
        coarse = target_albedo[::SKIN_STEP, ::SKIN_STEP]
        target_skin = skin_tone(coarse, np.ones(coarse.shape[:2], np.float32), template)
    for rect in _parts(union, math.ceil(4.0 * sigma) + 1):  # the low-pass reaches 4 sigma
        rows, cols = rect.slices()
        weight = reference.weight[rows, cols]
        alpha = union[rows, cols] * weight * np.float32(spec.strength)
        pixels[rows, cols, 3] = np.rint(np.clip(alpha, 0.0, 1.0) * 255.0).astype(np.uint8)
        if target_skin is None:
            pixels[rows, cols, :3] = reference.albedo8[rows, cols]
            continue
        reference_low = _low_pass(reference.albedo[rows, cols] * weight[..., None], sigma)
        reference_low /= np.maximum(_low_pass(weight, sigma), 1e-4)[..., None]
        target_low = _low_pass(target_albedo[rows, cols], sigma)
        offset = (reference_low - reference.skin) - (target_low - target_skin)
        pixels[rows, cols, :3] = encode_offset(offset)
    return pixels


def _parts(mask: np.ndarray, margin: int) -> list[Rect]:
    """Disjoint rects holding the connected parts of ``mask > 0``, each at least ``margin`` inside.

    Copying part by part (two eyelids, two brows, the lips) keeps the work to the texels near
    the regions rather than the whole rectangle between them.
    """
    height, width = mask.shape
    step = PARTS_STEP
    coarse = cv2.resize(mask, (-(-width // step), -(-height // step)), interpolation=cv2.INTER_AREA) > 0
    count, _, stats, _ = cv2.connectedComponentsWithStats(coarse.astype(np.uint8), connectivity=8)
    grow = margin + step
    rects = [
        Rect(
            int(y) * step - grow, int(x) * step - grow, int(y + h) * step + grow, int(x + w) * step + grow
        ).clip(height, width)
        for x, y, w, h, _ in stats[1:count]
    ]
    merged = True
    while merged:  # overlapping rects become one, so every texel is computed once, away from an edge
        merged = False
        for i, first in enumerate(rects):
            for j in range(i + 1, len(rects)):
                if not first.intersection(rects[j]).empty:
                    rects[i] = first.union(rects.pop(j))
                    merged = True
                    break
            if merged:
                break
    return rects


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
    return layer, document.add_layer(layer, rect=mask_bounds(pixels[..., 3], 0))


def _low_pass(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass of ``(h, w[, C])`` float32, computed at half resolution (it keeps only
    frequencies far below that: 4x less work)."""
    height, width = values.shape[:2]
    half = cv2.resize(
        np.ascontiguousarray(values, np.float32),
        (max(width // 2, 1), max(height // 2, 1)),
        interpolation=cv2.INTER_AREA,
    )
    blurred = cv2.GaussianBlur(half, (0, 0), sigma / 2.0, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR).reshape(values.shape)
