"""Makeup regions on the UV canvas, built from the template's 68 iBUG landmarks.

:func:`makeup_mask` gives a soft ``(H, W)`` mask in ``[0, 1]`` for a named
region at any canvas size, from the iBUG 68 points' named index sets
(:mod:`facecraft.core.face.landmark_indices`); the first of each pair of features
lies on the image's left (the subject's right). Because the UV layout and the template's landmarks
are mirror-symmetric, so are the masks: ``mask[:, ::-1]`` matches ``mask``.

Every mask is exactly 0 a few feather widths away from its region (and
wherever it would round to 0 in 8 bits). The feather scales with the canvas
(:data:`FEATHER_SIGMA` of its width), so masks at different canvas sizes agree
once resized. Nothing is cached.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from facecraft.core.conventions import uv_to_texel
from facecraft.core.editing.rect import Rect
from facecraft.core.face.landmark_indices import (
    IBUG_INNER_LIPS,
    IBUG_JAW,
    IBUG_LEFT_BROW,
    IBUG_LEFT_EYE,
    IBUG_OUTER_LIPS,
    IBUG_RIGHT_BROW,
    IBUG_RIGHT_EYE,
)
from facecraft.core.face.template import FaceTemplate

MAKEUP_REGIONS = ("lips", "cheeks", "eyelids")
"""The regions of the makeup presets."""
TRANSFER_REGIONS = ("lips", "eyelids", "cheeks", "brows", "face")
"""The regions :func:`makeup_mask` knows; what can be copied from a reference photo."""

@dataclass(frozen=True)
class MakeupPreset:
    """A named makeup region with a default colour."""

    label: str
    region: str
    colour: tuple[float, float, float]


MAKEUP_PRESETS = (
    MakeupPreset("Lipstick", "lips", (0.70, 0.12, 0.22)),
    MakeupPreset("Blush", "cheeks", (0.88, 0.42, 0.45)),
    MakeupPreset("Eyeshadow", "eyelids", (0.42, 0.27, 0.55)),
)
"""The presets of the makeup combo box, one per :data:`MAKEUP_REGIONS`."""

FEATHER_SIGMA = 0.004
"""Standard deviation of the Gaussian feather of polygon regions, as a fraction of the canvas width."""
FEATHER_TRUNCATE = 3.0
"""The feather kernel reaches this many standard deviations; beyond it a mask is exactly 0."""
MASK_FLOOR = 0.5 / 255.0
"""Mask values below this (which would round to 0 in an 8-bit alpha) are set to exactly 0."""
EYELID_REACH = 0.6
"""The eyelid region rises from the upper lid this fraction of the way to the brow."""
EYELID_SAMPLES = 24
"""Points along each upper lid that shape the eyelid band."""
EYELID_ROUNDNESS = 0.35
"""The band's height along the lid follows ``sin(pi * s) ** EYELID_ROUNDNESS``: smaller is fuller."""
CHEEK_DROP = 0.45
"""Cheek centres sit this fraction of the way down from the lower eyelid to the mouth corner..."""
CHEEK_OUTWARD = 0.3
"""... and this fraction of the way out from there towards the jaw (horizontally)."""
CHEEK_AXES = (0.32, 0.24)
"""Cheek ellipse semi-axes (horizontal, vertical) as fractions of the eye-to-mouth-corner distance."""
CHEEK_TILT_DEG = 15.0
"""The cheek ellipses' long axes rise this much towards the temples."""
CHEEK_CORE = 0.3
"""Cheek masks are 1 inside this fraction of the ellipse and fall smoothly to 0 at its edge."""
BROW_HALF_HEIGHT = 0.3
"""The brow band reaches this fraction of the brow-to-upper-lid distance above and below the brow line."""
FACE_INSET = 0.01
"""The whole-face region stops this fraction of the canvas width inside the template's face mask."""

_OUTER_LIP = list(IBUG_OUTER_LIPS)
_INNER_LIP = list(IBUG_INNER_LIPS)


@dataclass(frozen=True)
class _Side:
    """The landmark indices of one side of the face (image-left = the subject's right, or image-right)."""

    lid: tuple[int, ...]
    """Upper lid, outer corner to inner corner."""
    eye: tuple[int, ...]
    """The eye opening's outline."""
    brow: tuple[int, ...]
    lower_lid: tuple[int, ...]
    mouth_corner: int
    jaw: tuple[int, ...]
    """Jaw points beside the cheek."""


_SIDES = (
    _Side(
        lid=IBUG_RIGHT_EYE[:4],
        eye=IBUG_RIGHT_EYE,
        brow=IBUG_RIGHT_BROW,
        lower_lid=IBUG_RIGHT_EYE[4:],
        mouth_corner=IBUG_OUTER_LIPS[0],
        jaw=IBUG_JAW[1:5],
    ),
    _Side(
        lid=IBUG_LEFT_EYE[3::-1],
        eye=IBUG_LEFT_EYE,
        brow=IBUG_LEFT_BROW,
        lower_lid=IBUG_LEFT_EYE[4:],
        mouth_corner=IBUG_OUTER_LIPS[6],
        jaw=IBUG_JAW[12:16],
    ),
)


def makeup_mask(template: FaceTemplate, region: str, canvas_size: tuple[int, int]) -> np.ndarray:
    """A soft mask of a makeup region on the UV canvas.

    * ``lips``: the outer-lip polygon minus the mouth opening (inner-lip polygon), feathered;
    * ``cheeks``: two soft ellipses on the cheekbones, between the lower eyelid, the
      mouth corner and the jaw, sized by the eye-to-mouth distance;
    * ``eyelids``: from each upper lid up :data:`EYELID_REACH` of the way to the
      brow, feathered, with the eye opening itself cut out;
    * ``brows``: a band along each brow line, :data:`BROW_HALF_HEIGHT` of the way to the lid
      above and below it, feathered;
    * ``face``: the template's whole face mask, :data:`FACE_INSET` inside its edge, feathered.

    Args:
        template: gives the landmarks (``landmark_uv``).
        region: one of :data:`TRANSFER_REGIONS`.
        canvas_size: ``(H, W)`` of the canvas.

    Returns:
        ``(H, W)`` float32 in ``[0, 1]``.

    Raises:
        ValueError: unknown region or a non-positive canvas size.
    """
    if region not in TRANSFER_REGIONS:
        raise ValueError(f"unknown region {region!r}; known regions: {', '.join(TRANSFER_REGIONS)}")
    height, width = int(canvas_size[0]), int(canvas_size[1])
    if height <= 0 or width <= 0:
        raise ValueError(f"canvas size must be positive, got {canvas_size}")
    mask = np.zeros((height, width), np.float32)
    if region == "face":
        _whole_face(mask, template.mask, FEATHER_SIGMA * width)
    else:
        landmarks = uv_to_texel(template.landmark_uv, height, width)
        _BUILDERS[region](mask, landmarks, FEATHER_SIGMA * width)
    mask[mask < MASK_FLOOR] = 0.0
    return mask


def _lips(mask: np.ndarray, landmarks: np.ndarray, sigma: float) -> None:
    """Write the lips (outer lip minus the mouth opening) into ``mask``."""
    outer, inner = landmarks[_OUTER_LIP], landmarks[_INNER_LIP]
    rect = _padded(outer, sigma, mask.shape)
    region = np.maximum(_fill(rect, [outer]) - _fill(rect, [inner]), 0.0)
    _paste_max(mask, rect, _feather(region, sigma))


def _eyelids(mask: np.ndarray, landmarks: np.ndarray, sigma: float) -> None:
    """Write both eyelid bands into ``mask``."""
    for side in _SIDES:
        lid, brow, eye = landmarks[list(side.lid)], landmarks[list(side.brow)], landmarks[list(side.eye)]
        band = _eyelid_band(lid, brow)
        rect = _padded(np.concatenate([band, eye]), sigma, mask.shape)
        soft = _feather(_fill(rect, [band]), sigma) * (1.0 - _fill(rect, [eye]))
        _paste_max(mask, rect, soft)


def _eyelid_band(lid: np.ndarray, brow: np.ndarray) -> np.ndarray:
    """The polygon between an upper lid and a curve :data:`EYELID_REACH` of the way up to the brow.

    The band is tallest mid-lid and closes at the eye corners (a crescent).

    Args:
        lid: ``(4, 2)`` upper-lid landmarks, corner to corner, canvas ``(col, row)``.
        brow: ``(5, 2)`` brow landmarks of the same eye.

    Returns:
        ``(2 * EYELID_SAMPLES, 2)`` polygon vertices.
    """
    steps = np.hypot(*np.diff(lid, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(steps)]) / steps.sum()
    s = np.linspace(0.0, 1.0, EYELID_SAMPLES)
    curve = np.stack([np.interp(s, arc, lid[:, 0]), np.interp(s, arc, lid[:, 1])], axis=-1)
    order = np.argsort(brow[:, 0])
    brow_rows = np.interp(curve[:, 0], brow[order, 0], brow[order, 1])
    lift = EYELID_REACH * (brow_rows - curve[:, 1]) * np.sin(np.pi * s).clip(0.0, 1.0) ** EYELID_ROUNDNESS
    top = np.stack([curve[:, 0], curve[:, 1] + lift], axis=-1)
    return np.concatenate([curve, top[::-1]])


def _brows(mask: np.ndarray, landmarks: np.ndarray, sigma: float) -> None:
    """Write both brow bands into ``mask``."""
    for side in _SIDES:
        brow, lid = landmarks[list(side.brow)], landmarks[list(side.lid)]
        reach = BROW_HALF_HEIGHT * float(np.abs(brow[:, 1].mean() - lid[:, 1].mean()))
        line = brow[np.argsort(brow[:, 0])]
        lift, along = np.array([0.0, reach]), np.array([reach, 0.0])
        line = np.concatenate([line[:1] - along, line, line[-1:] + along])  # a little past the ends
        band = np.concatenate([line - lift, (line + lift)[::-1]])
        rect = _padded(band, sigma, mask.shape)
        _paste_max(mask, rect, _feather(_fill(rect, [band]), sigma))


def _whole_face(mask: np.ndarray, face: np.ndarray, sigma: float) -> None:
    """Write the template's ``(192, 224)`` bool face mask into ``mask``, inset and feathered."""
    height, width = mask.shape
    inside = cv2.resize(face.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) > 0.5
    inset = max(1, round(FACE_INSET * width))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * inset + 1, 2 * inset + 1))
    core = cv2.erode(inside.astype(np.uint8), kernel).astype(np.float32)
    _paste_max(mask, Rect(0, 0, height, width), _feather(core, sigma) * inside)


def _cheeks(mask: np.ndarray, landmarks: np.ndarray, sigma: float) -> None:
    """Write both cheek ellipses into ``mask`` (their smooth edge is analytic: ``sigma`` is not used)."""
    for index, side in enumerate(_SIDES):
        eye = landmarks[list(side.lower_lid)].mean(axis=0)
        mouth = landmarks[side.mouth_corner]
        centre = eye + CHEEK_DROP * (mouth - eye)
        centre[0] += CHEEK_OUTWARD * (landmarks[list(side.jaw), 0].mean() - centre[0])
        size = float(np.hypot(*(mouth - eye)))
        tilt = -CHEEK_TILT_DEG if index == 0 else CHEEK_TILT_DEG  # the outer end rises on both sides
        _soft_ellipse(mask, centre, (CHEEK_AXES[0] * size, CHEEK_AXES[1] * size), tilt)


def _soft_ellipse(mask: np.ndarray, centre: np.ndarray, axes: tuple[float, float], tilt_deg: float) -> None:
    """Raise ``mask`` to a smooth ellipse: 1 inside :data:`CHEEK_CORE` of it, 0 at and beyond its edge.

    Args:
        mask: ``(H, W)`` float32, updated in place.
        centre: ``(col, row)``.
        axes: semi-axes along the tilted horizontal and vertical, texels.
        tilt_deg: rotation of the horizontal axis, counter-clockwise on the canvas.
    """
    rect = Rect.from_points(centre, max(axes) + 1.0).clip(*mask.shape)
    if rect.empty:
        return
    angle = math.radians(tilt_deg)
    dx = (np.arange(rect.left, rect.right, dtype=np.float32) - np.float32(centre[0]))[None, :]
    dy = (np.arange(rect.top, rect.bottom, dtype=np.float32) - np.float32(centre[1]))[:, None]
    along = (dx * math.cos(angle) - dy * math.sin(angle)) / axes[0]
    across = (dx * math.sin(angle) + dy * math.cos(angle)) / axes[1]
    t = np.clip((1.0 - np.sqrt(along**2 + across**2)) / (1.0 - CHEEK_CORE), 0.0, 1.0)
    _paste_max(mask, rect, (t * t * (3.0 - 2.0 * t)).astype(np.float32))


def _padded(points: np.ndarray, sigma: float, shape: tuple[int, ...]) -> Rect:
    """The canvas rect holding ``points`` plus the feather's reach (and a texel)."""
    return Rect.from_points(points, FEATHER_TRUNCATE * sigma + 1.0).clip(shape[0], shape[1])


def _fill(rect: Rect, polygons: list[np.ndarray]) -> np.ndarray:
    """``(h, w)`` float32 with 1 on the texels of ``rect`` whose centres are inside any of the polygons.

    An exact even-odd test at texel centres (no rasterizer rounding), so a
    mirrored polygon gives the mirrored mask.

    Args:
        rect: the canvas rect to fill.
        polygons: ``(N, 2)`` canvas ``(col, row)`` vertices each.
    """
    rows = np.arange(rect.top, rect.bottom, dtype=np.float64)[:, None, None]
    cols = np.arange(rect.left, rect.right, dtype=np.float64)[None, None, :]
    inside = np.zeros((rect.height, rect.width), bool)
    for polygon in polygons:
        start, end = polygon, np.roll(polygon, -1, axis=0)
        (x0, y0), (x1, y1) = start.T[:, None, :, None], end.T[:, None, :, None]
        spans = (y0 > rows) != (y1 > rows)  # (h, edges, 1): the edge crosses the row
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing = x0 + (rows - y0) * (x1 - x0) / (y1 - y0)
        inside |= ((spans & (cols < crossing)).sum(axis=1) % 2).astype(bool)
    return inside.astype(np.float32)


def _feather(region: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-blur a ``(h, w)`` region mask; exactly 0 beyond :data:`FEATHER_TRUNCATE` sigmas."""
    if sigma <= 0.0:
        return region
    size = 2 * math.ceil(FEATHER_TRUNCATE * sigma) + 1
    return cv2.GaussianBlur(region, (size, size), sigma, borderType=cv2.BORDER_CONSTANT)


def _paste_max(mask: np.ndarray, rect: Rect, values: np.ndarray) -> None:
    """``mask[rect] = max(mask[rect], values)``, clipped to ``[0, 1]``."""
    if rect.empty:
        return
    rows, cols = rect.slices()
    np.maximum(mask[rows, cols], np.clip(values, 0.0, 1.0), out=mask[rows, cols])


_BUILDERS: dict[str, Callable[[np.ndarray, np.ndarray, float], None]] = {
    "lips": _lips,
    "cheeks": _cheeks,
    "eyelids": _eyelids,
    "brows": _brows,
}
