"""Canvas rectangles and the canvas array itself.

A canvas (or a layer of it) is an ``(H, W, 4)`` uint8 RGBA array with straight
(non-premultiplied) alpha. Points on it are continuous ``(col, row)`` texel
coordinates with integer values at texel centres: texel ``[r, c]`` covers
``col in [c - 0.5, c + 0.5]``, ``row in [r - 0.5, r + 0.5]``
(:mod:`facecraft.core.conventions`; ``uv_to_texel(uv, height, width)`` converts).
A :class:`Rect` is a block of texels: what a brush call changed, where a sticker
landed, the part of a layer an undo step keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def check_canvas(array: np.ndarray, name: str) -> None:
    """Raise ValueError (naming ``name``) unless ``array`` is a non-empty ``(H, W, 4)`` uint8 RGBA array."""
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 4:
        shape = getattr(array, "shape", None)
        dtype = getattr(array, "dtype", type(array).__name__)
        raise ValueError(f"{name} must be an (H, W, 4) uint8 RGBA array, got shape {shape} of {dtype}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {array.shape}")
