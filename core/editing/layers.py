"""Edit layers on the UV canvas and how a stack of them acts on the albedo.

A layer is an RGBA uint8 canvas (straight alpha) with a blend mode, an opacity
and a visibility flag. Three blend modes cover every edit:

* ``normal`` (brush, sticker, texture copied from a reference): ``A' = A·(1 - a) + c·a``;
* ``multiply`` (tattoo, makeup tint): ``A' = A·(1 - a + c·a)``;
* ``offset`` (colour copied from a reference): ``A' = A + a·d``, with the signed
  offset ``d = (c8 - 128) / 255`` stored in the colour bytes ``c8``
  (:func:`encode_offset` / :func:`decode_offset`),

with ``c`` the layer colour and ``a`` its alpha times its opacity. All three are
affine in the albedo, so any stack flattens to one per-texel multiplier and
addend, ``A' = A·M + K`` (:func:`flatten`), which is what the renderer and the
photo compositor apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from facecraft.core.editing.rect import Rect


class BlendMode(StrEnum):
    """How a layer's colour combines with the albedo below it."""

    NORMAL = "normal"
    MULTIPLY = "multiply"
    OFFSET = "offset"


class LayerKind(StrEnum):
    """What made the layer; decides which tools may change its pixels."""

    PAINT = "paint"
    STICKER = "sticker"
    TATTOO = "tattoo"
    MAKEUP = "makeup"
    TEXTURE_COPY = "texture-copy"
    COLOUR_COPY = "colour-copy"

    @property
    def blend(self) -> BlendMode:
        """The blend mode layers of this kind use."""
        if self is LayerKind.COLOUR_COPY:
            return BlendMode.OFFSET
        normal = (LayerKind.PAINT, LayerKind.STICKER, LayerKind.TEXTURE_COPY)
        return BlendMode.NORMAL if self in normal else BlendMode.MULTIPLY


OFFSET_ZERO = 128
"""The colour byte of a zero offset in ``offset`` layers."""


def encode_offset(offset: np.ndarray) -> np.ndarray:
    """``(..., 3)`` signed albedo offsets → uint8 colour bytes (clipped to ``[-128, 127] / 255``)."""
    return np.clip(np.rint(np.asarray(offset) * 255.0) + OFFSET_ZERO, 0, 255).astype(np.uint8)


def decode_offset(colour: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 colour bytes of an ``offset`` layer → float32 signed albedo offsets."""
    return (colour.astype(np.float32) - np.float32(OFFSET_ZERO)) * np.float32(1.0 / 255.0)


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


TRANSFER_MODES = ("colour", "texture")
"""What a transfer copies: the colour relative to skin (makeup), or the detailed albedo."""


@dataclass(frozen=True)
class TransferSpec:
    """How a layer was copied from a reference photo.

    Attributes:
        reference: the reference photo's file name (shown, saved; not read again).
        regions: the regions copied (of :data:`~facecraft.core.editing.regions.TRANSFER_REGIONS`,
            or ``"painted"`` for a mask painted on the reference's UV).
        mode: one of :data:`TRANSFER_MODES`.
        strength: ``[0, 1]``, the copy's alpha where the region is whole and seen.
    """

    reference: str
    regions: tuple[str, ...]
    mode: str = "colour"
    strength: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in TRANSFER_MODES:
            raise ValueError(f"transfer mode must be one of {', '.join(TRANSFER_MODES)}, got {self.mode!r}")
        if not self.regions:
            raise ValueError("a transfer needs at least one region")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"transfer strength must be in [0, 1], got {self.strength}")

    @property
    def kind(self) -> LayerKind:
        """The kind of layer this transfer makes."""
        return LayerKind.COLOUR_COPY if self.mode == "colour" else LayerKind.TEXTURE_COPY


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
        transfer: how it was copied from a reference (transfer layers).
    """

    name: str
    kind: LayerKind
    pixels: np.ndarray
    opacity: float = 1.0
    visible: bool = True
    sticker: np.ndarray | None = None
    placement: StickerPlacement | None = None
    makeup: MakeupSpec | None = None
    transfer: TransferSpec | None = None

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
    blank = True  # M = 1, K = 0 so far; not written yet (the first layer writes them whole)
    for layer in layers:
        if not layer.visible or layer.opacity <= 0.0:
            continue
        pixels = layer.pixels[rows, cols]
        alpha_u8 = pixels[..., 3]
        if not alpha_u8.any():
            continue
        alpha = alpha_u8.astype(np.float32)[..., None]
        alpha *= np.float32(layer.opacity / 255.0)
        if blank:
            m.fill(1.0)
            if layer.blend is not BlendMode.NORMAL:
                k.fill(0.0)
        if layer.blend is BlendMode.OFFSET:
            k += decode_offset(pixels[..., :3]) * alpha
            blank = False
            continue
        colour = pixels[..., :3].astype(np.float32)
        colour *= alpha * np.float32(1.0 / 255.0)  # c·a
        if layer.blend is BlendMode.NORMAL:
            keep = 1.0 - alpha
            m *= keep
            if blank:
                np.copyto(k, colour)
            else:
                k *= keep
                k += colour
        else:
            factor = colour
            factor += 1.0 - alpha  # 1 - a + c·a
            m *= factor
            k *= factor
        blank = False
    if blank:
        m.fill(1.0)
        k.fill(0.0)


def apply_to_albedo(albedo: np.ndarray, multiplier: np.ndarray, addend: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float32 edited albedo ``A·M + K`` clipped to ``[0, 1]``."""
    return np.clip(albedo * multiplier + addend, 0.0, 1.0).astype(np.float32)
