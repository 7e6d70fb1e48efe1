"""Painting on the UV canvas: canvas rectangles, brush and eraser strokes, stickers.

A canvas (or a layer of it) is an ``(H, W, 4)`` uint8 RGBA array with straight
(non-premultiplied) alpha. Points on it are continuous ``(col, row)`` texel
coordinates with integer values at texel centres: texel ``[r, c]`` covers
``col in [c - 0.5, c + 0.5]``, ``row in [r - 0.5, r + 0.5]``
(:mod:`facecraft.core.conventions`; ``uv_to_texel(uv, height, width)`` converts).

A :class:`BrushStroke` paints (or erases) one layer in place and reports the
:class:`Rect` each call changed, so a viewer can refresh just that and an undo
step can keep just that. :func:`rasterize_sticker` places an RGBA image on a
transparent canvas; :func:`load_sticker` reads one from a file.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facecraft.core.errors import ImageLoadError

MAX_STICKER_SIDE = 4096
"""Sticker files wider or taller than this are refused."""
MIN_RADIUS = 0.5
"""Smallest brush radius, in canvas texels."""
MIN_EDGE_WIDTH = 1.0
"""A dab's falloff is at least this wide (texels), so even a hardness-1 brush has an anti-aliased edge."""
SPACING_FRACTION = 0.2
"""Dabs are stamped every ``max(0.5, radius * SPACING_FRACTION)`` texels along a stroke."""
TILE = 32
"""Side of the tiles in which a stroke saves the layer's pre-stroke pixels."""


@dataclass(frozen=True)
class Rect:
    """A rectangle of canvas texels: rows ``top:bottom``, columns ``left:right`` (ends exclusive).

    Any rect with ``bottom <= top`` or ``right <= left`` is empty;
    :meth:`empty_rect` is the canonical one, ``Rect(0, 0, 0, 0)``.
    """

    top: int
    left: int
    bottom: int
    right: int

    def __post_init__(self) -> None:
        for name in ("top", "left", "bottom", "right"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @classmethod
    def empty_rect(cls) -> Rect:
        """The canonical empty rect, ``Rect(0, 0, 0, 0)``."""
        return cls(0, 0, 0, 0)

    @classmethod
    def from_points(cls, points: np.ndarray, pad: float = 0.0) -> Rect:
        """The texels touched by discs of radius ``pad`` around canvas points (not clipped).

        Args:
            points: ``(N, 2)`` (or ``(2,)``) canvas ``(col, row)``.
            pad: disc radius in texels, ``>= 0``.

        Returns:
            The smallest rect holding every texel any disc overlaps; empty for no points.
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if points.shape[0] == 0:
            return cls.empty_rect()
        if not np.isfinite(points).all() or not pad >= 0.0:
            raise ValueError(f"points must be finite and pad >= 0, got pad={pad}")
        low = np.floor(points.min(axis=0) - pad + 0.5)
        high = np.floor(points.max(axis=0) + pad + 0.5) + 1
        return cls(int(low[1]), int(low[0]), int(high[1]), int(high[0]))

    @property
    def empty(self) -> bool:
        """True when the rect holds no texel."""
        return self.bottom <= self.top or self.right <= self.left

    @property
    def height(self) -> int:
        """Rows in the rect (0 when empty)."""
        return 0 if self.empty else self.bottom - self.top

    @property
    def width(self) -> int:
        """Columns in the rect (0 when empty)."""
        return 0 if self.empty else self.right - self.left

    @property
    def area(self) -> int:
        """Texels in the rect."""
        return self.height * self.width

    def union(self, other: Rect) -> Rect:
        """The smallest rect holding both (an empty rect adds nothing)."""
        if other.empty:
            return self
        if self.empty:
            return other
        return Rect(
            min(self.top, other.top),
            min(self.left, other.left),
            max(self.bottom, other.bottom),
            max(self.right, other.right),
        )

    def intersection(self, other: Rect) -> Rect:
        """The texels in both rects (the canonical empty rect when none)."""
        rect = Rect(
            max(self.top, other.top),
            max(self.left, other.left),
            min(self.bottom, other.bottom),
            min(self.right, other.right),
        )
        return Rect.empty_rect() if rect.empty else rect

    def clip(self, height: int, width: int) -> Rect:
        """The part inside a ``(height, width)`` canvas."""
        return self.intersection(Rect(0, 0, height, width))

    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices that cut the rect out of an ``(H, W, ...)`` array (clip it first)."""
        if self.empty:
            return slice(0, 0), slice(0, 0)
        return slice(self.top, self.bottom), slice(self.left, self.right)


def brush_footprint(radius: float, hardness: float) -> Callable[[np.ndarray], np.ndarray]:
    """The coverage profile of one brush dab.

    Coverage is 1 up to ``radius * hardness`` from the dab's centre and falls to 0
    at ``radius`` along a smoothstep. The falloff is at least
    :data:`MIN_EDGE_WIDTH` wide, so a hardness-1 brush still has an anti-aliased
    edge; coverage is exactly 0 at and beyond ``radius``.

    Args:
        radius: in canvas texels, ``>= 0.5``.
        hardness: in ``[0, 1]``; 0 is a smoothstep all the way from the centre.

    Returns:
        A function from an array of distances (texels, any shape) to float32
        coverage in ``[0, 1]`` of the same shape.
    """
    _check_range("radius", radius, MIN_RADIUS, math.inf)
    _check_range("hardness", hardness, 0.0, 1.0)
    outer = float(radius)
    inner = min(outer * float(hardness), max(outer - MIN_EDGE_WIDTH, 0.0))
    scale = np.float32(1.0 / (outer - inner))

    def footprint(distance: np.ndarray) -> np.ndarray:
        t = np.clip((np.float32(outer) - np.asarray(distance, dtype=np.float32)) * scale, 0.0, 1.0)
        return t * t * (np.float32(3.0) - np.float32(2.0) * t)

    return footprint


class BrushStroke:
    """One stroke of the brush or the eraser on one layer, which it edits in place.

    Within a stroke, each texel's coverage is the *maximum* over the dabs
    stamped so far, so overlapping dabs and a stroke crossing itself never go
    beyond ``opacity`` (stroke opacity, as in Photoshop). After every call the
    changed texels are recomputed from the layer as it was before the stroke:

    * paint: Porter-Duff *source over* with source colour ``colour`` and source
      alpha ``coverage * opacity``;
    * erase: ``alpha *= 1 - coverage * opacity``, colour unchanged.

    Texels no dab reaches keep their bytes exactly.

    Args:
        layer: ``(H, W, 4)`` uint8 RGBA, straight alpha, writable; edited in place.
        colour: RGB in ``[0, 1]`` (ignored by the eraser).
        radius: dab radius in canvas texels, ``>= 0.5``.
        hardness: ``[0, 1]``, see :func:`brush_footprint`.
        opacity: ``[0, 1]``, the most alpha the stroke adds (or removes).
        erase: True for the eraser.
    """

    def __init__(
        self,
        layer: np.ndarray,
        colour: tuple[float, float, float] | np.ndarray,
        radius: float,
        hardness: float = 0.5,
        opacity: float = 1.0,
        erase: bool = False,
    ) -> None:
        _check_canvas(layer, "layer")
        if not layer.flags.writeable:
            raise ValueError("the layer must be writable: a stroke edits it in place")
        colour = np.asarray(colour, dtype=np.float64).reshape(-1)
        if colour.shape != (3,) or not np.isfinite(colour).all() or colour.min() < 0.0 or colour.max() > 1.0:
            raise ValueError(f"colour must be three numbers in [0, 1], got {colour.tolist()}")
        _check_range("opacity", opacity, 0.0, 1.0)
        self._footprint = brush_footprint(radius, hardness)
        self.layer = layer
        self.colour = colour.astype(np.float32)
        self._colour_255 = (colour * 255.0).astype(np.float32)
        self.radius = float(radius)
        self.hardness = float(hardness)
        self.opacity = float(opacity)
        self.erase = bool(erase)
        self.spacing = max(0.5, self.radius * SPACING_FRACTION)
        height, width = layer.shape[:2]
        # np.zeros / np.empty leave pages untouched until written: only the stroke's region costs memory.
        self._coverage = np.zeros((height, width), np.float32)
        self._before = np.empty_like(layer)
        self._saved = np.zeros((-(-height // TILE), -(-width // TILE)), bool)
        self._last: np.ndarray | None = None
        self._since_dab = 0.0
        self._dirty = Rect.empty_rect()

    @property
    def dirty(self) -> Rect:
        """Every texel the stroke may have changed so far (the union of the rects it returned)."""
        return self._dirty

    def add_points(self, points: np.ndarray) -> Rect:
        """Extend the stroke from its last point through new points and update the layer.

        The first point of a stroke stamps one dab; after it, dabs are stamped
        every :attr:`spacing` texels along the polyline, continuing the spacing
        across calls.

        Args:
            points: ``(N, 2)`` canvas ``(col, row)``, finite.

        Returns:
            The rect (clipped to the canvas) holding every texel this call changed.
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if not np.isfinite(points).all():
            raise ValueError("stroke points must be finite")
        rect = Rect.empty_rect()
        for centre in self._dab_centres(points):
            rect = rect.union(self._stamp(centre))
        if rect.empty:
            return rect
        self._save(rect)
        self._composite(rect)
        self._dirty = self._dirty.union(rect)
        return rect

    def before(self, rect: Rect) -> np.ndarray:
        """A copy of the layer's pixels in ``rect`` (clipped to the canvas) as they were before the stroke.

        Returns:
            ``(h, w, 4)`` uint8.
        """
        rect = rect.clip(*self.layer.shape[:2])
        rows, cols = rect.slices()
        pixels = self.layer[rows, cols].copy()
        if rect.empty:
            return pixels
        saved = self._saved[
            np.ix_(np.arange(rect.top, rect.bottom) // TILE, np.arange(rect.left, rect.right) // TILE)
        ]
        pixels[saved] = self._before[rows, cols][saved]
        return pixels

    def after(self, rect: Rect) -> np.ndarray:
        """A copy of the layer's current pixels in ``rect`` (clipped to the canvas): ``(h, w, 4)`` uint8."""
        rows, cols = rect.clip(*self.layer.shape[:2]).slices()
        return self.layer[rows, cols].copy()

    def _dab_centres(self, points: np.ndarray) -> list[np.ndarray]:
        centres: list[np.ndarray] = []
        for row in points:
            point = row.copy()  # the caller may reuse its array for the next call
            if self._last is None:
                centres.append(point)
                self._last, self._since_dab = point, 0.0
                continue
            step = point - self._last
            length = float(np.hypot(*step))
            if length == 0.0:
                continue
            distances = np.arange(self.spacing - self._since_dab, length + 1e-9, self.spacing)
            centres.extend(self._last + distances[:, None] / length * step)
            self._since_dab = length - distances[-1] if distances.size else self._since_dab + length
            self._last = point
        return centres

    def _stamp(self, centre: np.ndarray) -> Rect:
        """Raise the coverage buffer to one dab's coverage; returns the dab's clipped bounding box."""
        rect = Rect.from_points(centre, self.radius).clip(*self._coverage.shape)
        if rect.empty:
            return rect
        dy = np.arange(rect.top, rect.bottom, dtype=np.float32) - np.float32(centre[1])
        dx = np.arange(rect.left, rect.right, dtype=np.float32) - np.float32(centre[0])
        coverage = self._footprint(np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2))
        rows, cols = rect.slices()
        np.maximum(self._coverage[rows, cols], coverage, out=self._coverage[rows, cols])
        return rect

    def _save(self, rect: Rect) -> None:
        """Copy the not yet saved tiles under ``rect`` into the pre-stroke buffer."""
        t0, t1 = rect.top // TILE, -(-rect.bottom // TILE)
        l0, l1 = rect.left // TILE, -(-rect.right // TILE)
        for ty, tx in np.argwhere(~self._saved[t0:t1, l0:l1]):
            rows = slice((t0 + ty) * TILE, (t0 + ty + 1) * TILE)
            cols = slice((l0 + tx) * TILE, (l0 + tx + 1) * TILE)
            self._before[rows, cols] = self.layer[rows, cols]
        self._saved[t0:t1, l0:l1] = True

    def _composite(self, rect: Rect) -> None:
        """Recompute the layer in ``rect`` from its pre-stroke pixels and the coverage."""
        rows, cols = rect.slices()
        before = self._before[rows, cols]
        source_alpha = self._coverage[rows, cols] * np.float32(self.opacity)
        touched = source_alpha > 0.0
        if self.erase:
            result = before.copy()
            result[..., 3] = _to_u8(before[..., 3] * (np.float32(1.0) - source_alpha))
        else:
            result = _source_over(before, self._colour_255, source_alpha)
        self.layer[rows, cols] = np.where(touched[..., None], result, before)


def _source_over(below: np.ndarray, colour: np.ndarray, source_alpha: np.ndarray) -> np.ndarray:
    """Porter-Duff source over, straight alpha: a flat colour with per-texel alpha over ``below``.

    Args:
        below: ``(h, w, 4)`` uint8 RGBA.
        colour: ``(3,)`` float32 RGB in ``[0, 255]``.
        source_alpha: ``(h, w)`` float32 in ``[0, 1]``.

    Returns:
        ``(h, w, 4)`` uint8 RGBA.
    """
    below_alpha = below[..., 3].astype(np.float32) * np.float32(1.0 / 255.0)
    alpha = source_alpha + below_alpha * (np.float32(1.0) - source_alpha)
    # the source's share of the result's colour: exactly 1 over transparent or at full source alpha
    share = source_alpha / np.where(alpha > 0.0, alpha, np.float32(1.0))
    below_rgb = below[..., :3].astype(np.float32)
    result = np.empty_like(below)
    result[..., :3] = _to_u8(below_rgb + share[..., None] * (colour - below_rgb))
    result[..., 3] = _to_u8(alpha * np.float32(255.0))
    return result


def rasterize_sticker(
    sticker: np.ndarray,
    canvas_size: tuple[int, int],
    centre: tuple[float, float],
    width: float,
    rotation_deg: float = 0.0,
    flip: bool = False,
) -> tuple[np.ndarray, Rect]:
    """Place an RGBA image on a transparent canvas: scaled, rotated, optionally mirrored.

    The warp is bilinear on premultiplied colour (then un-premultiplied), so
    semi-transparent edges keep the sticker's colour instead of darkening.
    Shrunk stickers are first box-filtered down to their size on the canvas,
    so they do not alias.

    Args:
        sticker: ``(h, w, 4)`` uint8 RGBA, straight alpha.
        canvas_size: ``(H, W)`` of the canvas.
        centre: canvas ``(col, row)`` where the sticker's centre lands.
        width: the sticker's width on the canvas, in texels (> 0); the aspect ratio is kept.
        rotation_deg: counter-clockwise as seen on the canvas (rows grow down).
        flip: mirror the sticker left-right (before rotating).

    Returns:
        ``(H, W, 4)`` uint8 RGBA canvas, transparent where the sticker is not, and
        the bounding rect of its non-zero alpha (empty when it lands off the canvas).

    Raises:
        ValueError: the sticker is not ``(h, w, 4)`` uint8, or ``width``,
            ``centre`` or ``rotation_deg`` is not a finite positive/finite number.
    """
    _check_canvas(sticker, "sticker")
    height, canvas_width = int(canvas_size[0]), int(canvas_size[1])
    if height <= 0 or canvas_width <= 0:
        raise ValueError(f"canvas size must be positive, got {canvas_size}")
    if not (math.isfinite(width) and width > 0.0):
        raise ValueError(f"sticker width must be a positive number of texels, got {width}")
    if not (np.isfinite(centre).all() and math.isfinite(rotation_deg)):
        raise ValueError(f"sticker centre and rotation must be finite, got {centre}, {rotation_deg}")
    canvas = np.zeros((height, canvas_width, 4), np.uint8)
    source, scale_x, scale_y = _scaled_premultiplied(sticker, float(width))
    matrix = _sticker_matrix(source.shape[:2], centre, scale_x, scale_y, rotation_deg, flip)
    corners = np.array(
        [
            [-0.5, -0.5],
            [source.shape[1] - 0.5, -0.5],
            [-0.5, source.shape[0] - 0.5],
            [source.shape[1] - 0.5, source.shape[0] - 0.5],
        ]
    )
    box = Rect.from_points(corners @ matrix[:, :2].T + matrix[:, 2], pad=1.0).clip(height, canvas_width)
    if box.empty:
        return canvas, box
    local = matrix.copy()
    local[:, 2] -= (box.left, box.top)
    warped = cv2.warpAffine(
        source,
        local,
        (box.width, box.height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0.0, 0.0, 0.0, 0.0),
    )
    rows, cols = box.slices()
    canvas[rows, cols] = _unpremultiply(warped)
    return canvas, _alpha_bounds(canvas[rows, cols, 3], box)


def _scaled_premultiplied(sticker: np.ndarray, width: float) -> tuple[np.ndarray, float, float]:
    """Premultiply (every channel times alpha, in ``[0, 255²]``) and box-filter down when shrinking.

    Returns:
        ``(h', w', 4)`` float32 premultiplied image, no larger than the sticker's
        footprint on the canvas, and the x and y scales that remain from its
        pixels to canvas texels.
    """
    h, w = sticker.shape[:2]
    planes = [plane.astype(np.uint16) for plane in cv2.split(sticker)]  # planar: fast arithmetic
    alpha = planes[3]
    premultiplied = cv2.merge([*(plane * alpha for plane in planes[:3]), alpha * np.uint16(255)])
    scale = width / w
    if scale >= 1.0:
        return premultiplied.astype(np.float32), scale, scale
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    premultiplied = cv2.resize(premultiplied, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return premultiplied.astype(np.float32), width / new_w, width * h / w / new_h


def _sticker_matrix(
    shape: tuple[int, int],
    centre: tuple[float, float],
    scale_x: float,
    scale_y: float,
    rotation_deg: float,
    flip: bool,
) -> np.ndarray:
    """The ``(2, 3)`` affine map from sticker pixel ``(x, y)`` to canvas ``(col, row)``."""
    h, w = shape
    angle = math.radians(rotation_deg)
    c, s = math.cos(angle), math.sin(angle)
    rotation = np.array([[c, s], [-s, c]])  # counter-clockwise on screen, with rows growing down
    linear = rotation @ np.diag([-scale_x if flip else scale_x, scale_y])
    offset = np.asarray(centre, dtype=np.float64) - linear @ np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    return np.concatenate([linear, offset[:, None]], axis=1)


def _unpremultiply(premultiplied: np.ndarray) -> np.ndarray:
    """``(h, w, 4)`` float32 premultiplied (see :func:`_scaled_premultiplied`) to uint8 straight RGBA."""
    weight = cv2.extractChannel(premultiplied, 3)
    alpha = cv2.convertScaleAbs(weight, alpha=1.0 / 255.0)  # rounds and saturates to uint8
    factor = np.where(alpha > 0, np.float32(255.0) / np.maximum(weight, np.float32(1.0)), np.float32(0.0))
    straight = cv2.multiply(premultiplied, cv2.merge([factor, factor, factor, factor]))
    result = cv2.convertScaleAbs(straight)
    cv2.insertChannel(alpha, result, 3)
    return result


def _alpha_bounds(alpha: np.ndarray, box: Rect) -> Rect:
    """The rect of the non-zero texels of ``alpha`` (the part of the canvas inside ``box``)."""
    rows = np.flatnonzero(alpha.any(axis=1))
    cols = np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return Rect.empty_rect()
    return Rect(box.top + rows[0], box.left + cols[0], box.top + rows[-1] + 1, box.left + cols[-1] + 1)


def load_sticker(path: str | Path) -> np.ndarray:
    """Read a sticker image (PNG in any mode, or any format Pillow reads) as RGBA.

    EXIF orientation is applied; 16-bit images are scaled to 8 bits; images
    without alpha become opaque.

    Returns:
        ``(h, w, 4)`` uint8 RGBA, straight alpha.

    Raises:
        ImageLoadError: the file is missing, not an image, damaged, or larger
            than :data:`MAX_STICKER_SIDE` on a side.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_sticker_size(path, image.size)
                image.load()
                return _to_rgba(ImageOps.exif_transpose(image))
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{path}: no such sticker file") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path}: not an image file (unknown or damaged format)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{path}: the sticker image is too large to open safely") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{path}: the sticker image could not be read ({exc})") from exc


def _check_sticker_size(path: Path, size: tuple[int, int]) -> None:
    if max(size) > MAX_STICKER_SIDE:
        raise ImageLoadError(
            f"{path}: the sticker is {size[0]}x{size[1]} pixels; the largest accepted "
            f"is {MAX_STICKER_SIDE}x{MAX_STICKER_SIDE}"
        )


def _to_rgba(image: Image.Image) -> np.ndarray:
    """Any Pillow image to ``(h, w, 4)`` uint8 RGBA (16-bit and float grey scaled to 8 bits)."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64)
        grey = values if image.mode == "F" else values / 257.0
        image = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8))
    return np.array(image.convert("RGBA"), dtype=np.uint8)


def _to_u8(values: np.ndarray) -> np.ndarray:
    """Round float values in ``[0, 255]`` (clipped) to uint8."""
    return np.rint(np.clip(values, 0.0, 255.0)).astype(np.uint8)


def _check_canvas(array: np.ndarray, name: str) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 4:
        shape = getattr(array, "shape", None)
        dtype = getattr(array, "dtype", type(array).__name__)
        raise ValueError(f"{name} must be an (H, W, 4) uint8 RGBA array, got shape {shape} of {dtype}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {array.shape}")


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
