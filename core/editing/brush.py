"""Painting on the UV canvas: brush and eraser strokes.

A canvas layer is an ``(H, W, 4)`` uint8 RGBA array with straight alpha, addressed in
continuous ``(col, row)`` texel coordinates (:mod:`facecraft.core.editing.rect`).
A :class:`BrushStroke` paints (or erases) one layer in place and reports the
:class:`~facecraft.core.editing.rect.Rect` each call changed, so a viewer can refresh
just that and an undo step can keep just that.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from facecraft.core.editing.rect import Rect, check_canvas
from facecraft.core.io.pixels import round_to_uint8

MIN_RADIUS = 0.5
"""Smallest brush radius, in canvas texels."""
MIN_EDGE_WIDTH = 1.0
"""A dab's falloff is at least this wide (texels), so even a hardness-1 brush has an anti-aliased edge."""
SPACING_FRACTION = 0.2
"""Dabs are stamped every ``max(0.5, radius * SPACING_FRACTION)`` texels along a stroke."""
TILE = 32
"""Side of the tiles in which a stroke saves the layer's pre-stroke pixels."""


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
        check_canvas(layer, "layer")
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
            result[..., 3] = round_to_uint8(before[..., 3] * (np.float32(1.0) - source_alpha))
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
    result[..., :3] = round_to_uint8(below_rgb + share[..., None] * (colour - below_rgb))
    result[..., 3] = round_to_uint8(alpha * np.float32(255.0))
    return result


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
