"""Edit layers on the UV canvas and how a stack of them acts on the albedo.

A layer is an RGBA uint8 canvas (straight alpha) with a blend mode, an opacity
and a visibility flag. Two blend modes cover every edit:

* ``normal`` (brush, sticker): ``A' = A·(1 - a) + c·a``;
* ``multiply`` (tattoo, makeup tint): ``A' = A·(1 - a + c·a)``,

with ``c`` the layer colour and ``a`` its alpha times its opacity. Both are
affine in the albedo, so any stack flattens to one per-texel multiplier and
addend, ``A' = A·M + K`` (:func:`flatten`), which is what the renderer and the
photo compositor apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from facecraft.core.editing.paint import Rect


class BlendMode(StrEnum):
    """How a layer's colour combines with the albedo below it."""

    NORMAL = "normal"
    MULTIPLY = "multiply"


class LayerKind(StrEnum):
    """What made the layer; decides which tools may change its pixels."""

    PAINT = "paint"
    STICKER = "sticker"
    TATTOO = "tattoo"
    MAKEUP = "makeup"

    @property
    def blend(self) -> BlendMode:
        """The blend mode layers of this kind use."""
        return BlendMode.NORMAL if self in (LayerKind.PAINT, LayerKind.STICKER) else BlendMode.MULTIPLY


@dataclass(frozen=True)
class StickerPlacement:
    """Where a sticker sits on the canvas.

    Attributes:
        centre: ``(u, v)`` of the sticker's centre, in ``[0, 1]``.
        width: the sticker's width as a fraction of the canvas width.
        rotation: degrees, counter-clockwise as seen on the canvas.
    """

    centre: tuple[float, float] = (0.5, 0.5)
    width: float = 0.2
    rotation: float = 0.0

    def __post_init__(self) -> None:
        values = (*self.centre, self.width, self.rotation)
        if not all(np.isfinite(values)) or self.width <= 0:
            raise ValueError(f"a sticker placement needs finite numbers and a positive width, got {self}")


@dataclass(frozen=True)
class MakeupSpec:
    """A makeup preset applied to a named UV region.

    Attributes:
        region: one of :data:`facecraft.core.editing.regions.MAKEUP_REGIONS`.
        colour: RGB in ``[0, 1]``.
        strength: ``[0, 1]``, the tint's alpha at the region's centre.
    """

    region: str
    colour: tuple[float, float, float]
    strength: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0 or not all(0.0 <= c <= 1.0 for c in self.colour):
            raise ValueError(f"makeup colour and strength must be in [0, 1], got {self}")


@dataclass(eq=False)
class Layer:
    """One edit layer (mutable: tools change its pixels in place, through the document).

    Attributes:
        name: shown in the layer list.
        kind: what made it.
        pixels: ``(H, W, 4)`` uint8 RGBA, straight alpha.
        opacity: ``[0, 1]``, multiplies the alpha.
        visible: hidden layers do not act.
        sticker: the sticker image ``(h, w, 4)`` uint8 (sticker and tattoo layers).
        placement: where the sticker sits (sticker and tattoo layers).
        makeup: the preset (makeup layers).
    """

    name: str
    kind: LayerKind
    pixels: np.ndarray
    opacity: float = 1.0
    visible: bool = True
    sticker: np.ndarray | None = None
    placement: StickerPlacement | None = None
    makeup: MakeupSpec | None = None

    @property
    def blend(self) -> BlendMode:
        """The layer's blend mode (from its kind)."""
        return self.kind.blend


def flatten(
    layers: list[Layer], multiplier: np.ndarray, addend: np.ndarray, rect: Rect | None = None
) -> None:
    """Compose visible layers, bottom first, into ``A' = A·M + K``, in place inside ``rect``.

    Args:
        layers: bottom to top.
        multiplier: ``(H, W, 3)`` float32 ``M``, overwritten inside ``rect``.
        addend: ``(H, W, 3)`` float32 ``K``, overwritten inside ``rect``.
        rect: the canvas rectangle to recompute (all of it when None).
    """
    height, width = multiplier.shape[:2]
    rect = Rect(0, 0, height, width) if rect is None else rect.clip(height, width)
    if rect.empty:
        return
    rows, cols = rect.slices()
    m = multiplier[rows, cols]
    k = addend[rows, cols]
    m.fill(1.0)
    k.fill(0.0)
    for layer in layers:
        if not layer.visible or layer.opacity <= 0.0:
            continue
        pixels = layer.pixels[rows, cols]
        alpha_u8 = pixels[..., 3]
        if not alpha_u8.any():
            continue
        alpha = alpha_u8.astype(np.float32)[..., None] * np.float32(layer.opacity / 255.0)
        colour = pixels[..., :3].astype(np.float32) * np.float32(1.0 / 255.0)
        if layer.blend is BlendMode.NORMAL:
            keep = 1.0 - alpha
            m *= keep
            k *= keep
            k += colour * alpha
        else:
            factor = 1.0 - alpha + colour * alpha
            m *= factor
            k *= factor


def apply_to_albedo(albedo: np.ndarray, multiplier: np.ndarray, addend: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float32 edited albedo ``A·M + K`` clipped to ``[0, 1]``."""
    return np.clip(albedo * multiplier + addend, 0.0, 1.0).astype(np.float32)
