"""The edit document: the layer stack on the UV canvas, every change undoable.

:class:`EditDocument` is the one object tools talk to. Each operation records a
change on the undo history and returns the canvas :class:`Rect` it touched, so a
view (the photo compositor, a 3D view's texture) updates only that part. The
flattened multiplier and addend (see :mod:`facecraft.core.editing.layers`) are
kept current inside every returned rectangle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facecraft.core.conventions import uv_to_texel
from facecraft.core.editing.brush import BrushStroke
from facecraft.core.editing.history import (
    Change,
    ContentChange,
    Insert,
    Move,
    PixelChange,
    PropertyChange,
    Remove,
)
from facecraft.core.editing.layers import Layer, LayerKind, MakeupSpec, StickerPlacement, flatten
from facecraft.core.editing.rect import Rect
from facecraft.core.editing.regions import makeup_mask
from facecraft.core.editing.sticker import rasterize_sticker
from facecraft.core.face.template import FaceTemplate

HISTORY_LIMIT = 200
"""Undo steps kept; the oldest are dropped beyond this."""
HISTORY_BYTES = 768 * 2**20
"""Memory the undo steps may hold (pixel patches, replaced layers); the oldest are dropped beyond it."""

_PROPERTIES = ("name", "opacity", "visible")


@dataclass(frozen=True)
class BrushSettings:
    """What a brush or eraser stroke paints with.

    Attributes:
        colour: RGB in ``[0, 1]`` (ignored by the eraser).
        radius: canvas texels.
        hardness: ``[0, 1]``, the fully covered share of the radius.
        opacity: ``[0, 1]``, the most a stroke covers.
    """

    colour: tuple[float, float, float] = (0.8, 0.1, 0.2)
    radius: float = 12.0
    hardness: float = 0.7
    opacity: float = 1.0

    def __post_init__(self) -> None:
        if not (self.radius > 0 and 0 <= self.hardness <= 1 and 0 <= self.opacity <= 1):
            raise ValueError(f"brush needs radius > 0 and hardness, opacity in [0, 1], got {self}")


class Stroke:
    """A brush or eraser stroke in progress; :meth:`EditDocument.end_stroke` makes it one undo step."""

    def __init__(self, document: EditDocument, layer: Layer, brush: BrushSettings, erase: bool) -> None:
        self.document = document
        self.layer = layer
        self._stroke = BrushStroke(
            layer.pixels, brush.colour, brush.radius, brush.hardness, brush.opacity, erase=erase
        )

    def add_points(self, points: Sequence[tuple[float, float]] | np.ndarray) -> Rect:
        """Extend the stroke through canvas ``(col, row)`` points; returns the canvas rect that changed."""
        rect = self._stroke.add_points(np.asarray(points, dtype=np.float64).reshape(-1, 2))
        return self.document.layer_rect(self.layer, rect)

    @property
    def dirty(self) -> Rect:
        """Everything the stroke changed so far."""
        return self._stroke.dirty


class EditDocument:
    """The layer stack, its flattened effect and the undo history.

    Args:
        canvas_size: ``(H, W)`` of the UV canvas.
        template: gives the makeup regions.
        layers: a stack to start from (a loaded session), bottom first; not an undo step.
    """

    def __init__(
        self, canvas_size: tuple[int, int], template: FaceTemplate, layers: list[Layer] | None = None
    ) -> None:
        self.canvas_size = (int(canvas_size[0]), int(canvas_size[1]))
        self.template = template
        self.layers: list[Layer] = []
        height, width = self.canvas_size
        self.multiplier = np.ones((height, width, 3), np.float32)
        self.addend = np.zeros((height, width, 3), np.float32)
        self._undo: list[Change] = []
        self._redo: list[Change] = []
        self.revision = 0
        """Counts changes; a saved state remembers it to know whether there are unsaved edits."""
        for layer in layers or []:
            self._check_pixels(layer)
            self.layers.append(layer)
        if self.layers:
            self.full_rect()

    # -- geometry -------------------------------------------------------------------------------

    def full_rect(self) -> Rect:
        """The whole canvas (and refresh the flattened maps there)."""
        rect = Rect(0, 0, *self.canvas_size)
        flatten(self.layers, self.multiplier, self.addend, rect)
        return rect

    def layer_rect(self, layer: Layer, rect: Rect) -> Rect:
        """Refresh the flattened maps in ``rect`` after ``layer`` changed there; returns ``rect``."""
        rect = rect.clip(*self.canvas_size)
        flatten(self.layers, self.multiplier, self.addend, rect)
        return rect

    def new_pixels(self) -> np.ndarray:
        """A transparent ``(H, W, 4)`` uint8 canvas."""
        return np.zeros((*self.canvas_size, 4), np.uint8)

    # -- history --------------------------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> Rect:
        """Undo the last change; returns the canvas rect it touched (empty when nothing to undo)."""
        if not self._undo:
            return Rect(0, 0, 0, 0)
        change = self._undo.pop()
        self._redo.append(change)
        self.revision += 1
        return change.undo(self)

    def redo(self) -> Rect:
        """Redo the last undone change; returns the canvas rect it touched."""
        if not self._redo:
            return Rect(0, 0, 0, 0)
        change = self._redo.pop()
        self._undo.append(change)
        self.revision += 1
        return change.redo(self)

    def _record(self, change: Change) -> None:
        self._undo.append(change)
        del self._undo[:-HISTORY_LIMIT]
        total = sum(step.nbytes() for step in self._undo)
        while len(self._undo) > 1 and total > HISTORY_BYTES:
            total -= self._undo.pop(0).nbytes()
        self._redo.clear()
        self.revision += 1

    # -- layers ---------------------------------------------------------------------------------

    def index(self, layer: Layer) -> int:
        """Position of ``layer`` in the stack (0 = bottom).

        Raises:
            ValueError: the layer is not in this document.
        """
        for position, other in enumerate(self.layers):
            if other is layer:
                return position
        raise ValueError(f"layer {layer.name!r} is not in this document")

    def add_layer(self, layer: Layer, index: int | None = None, rect: Rect | None = None) -> Rect:
        """Insert a layer (on top by default).

        Args:
            layer: the layer.
            index: where in the stack (0 = bottom).
            rect: a canvas rect outside which the layer is fully transparent (only there is the
                flattened stack recomputed); the whole canvas when None.
        """
        self._check_pixels(layer)
        index = len(self.layers) if index is None else max(0, min(index, len(self.layers)))
        change = Insert(layer, index, rect)
        self._record(change)
        return change.redo(self)

    def add_paint_layer(self, name: str = "Paint") -> Layer:
        """A new empty paint layer on top."""
        layer = Layer(self.unique_name(name), LayerKind.PAINT, self.new_pixels())
        self.add_layer(layer)
        return layer

    def remove_layer(self, layer: Layer) -> Rect:
        """Delete a layer."""
        change = Remove(layer, self.index(layer))
        self._record(change)
        return change.redo(self)

    def move_layer(self, layer: Layer, index: int) -> Rect:
        """Move a layer to ``index`` in the stack (0 = bottom)."""
        before = self.index(layer)
        after = max(0, min(index, len(self.layers) - 1))
        if after == before:
            return Rect(0, 0, 0, 0)
        change = Move(layer, before, after)
        self._record(change)
        return change.redo(self)

    def set_layer(self, layer: Layer, **values: object) -> Rect:
        """Change ``name``, ``opacity`` or ``visible``.

        Consecutive changes of the same properties of the same layer (an opacity slider
        being dragged) merge into one undo step.
        """
        unknown = set(values) - set(_PROPERTIES)
        if unknown:
            raise ValueError(f"unknown layer properties {sorted(unknown)}; use {', '.join(_PROPERTIES)}")
        if "opacity" in values:
            values["opacity"] = float(np.clip(float(values["opacity"]), 0.0, 1.0))
        before = {key: getattr(layer, key) for key in values}
        if before == values:
            return Rect(0, 0, 0, 0)
        self.index(layer)
        last = self._undo[-1] if self._undo else None
        if (
            isinstance(last, PropertyChange)
            and last.layer is layer
            and last.after.keys() == values.keys()
            and not self._redo
        ):
            last.after = dict(values)
            self.revision += 1
            return last.redo(self)
        change = PropertyChange(layer, before, dict(values))
        self._record(change)
        return change.redo(self)

    # -- tools ----------------------------------------------------------------------------------

    def begin_stroke(self, layer: Layer, brush: BrushSettings, erase: bool = False) -> Stroke:
        """Start a brush (or eraser) stroke on a paint layer.

        Raises:
            ValueError: the layer is not a paint layer of this document.
        """
        self.index(layer)
        if layer.kind is not LayerKind.PAINT:
            raise ValueError(f"{layer.name!r} is a {layer.kind} layer; paint on a paint layer")
        return Stroke(self, layer, brush, erase)

    def end_stroke(self, stroke: Stroke) -> None:
        """Record a finished stroke as one undo step (nothing when it changed nothing)."""
        rect = stroke.dirty
        if rect.empty:
            return
        self._record(
            PixelChange(stroke.layer, rect, stroke._stroke.before(rect), stroke._stroke.after(rect).copy())
        )

    def add_sticker(
        self, image: np.ndarray, placement: StickerPlacement, tattoo: bool = False, name: str | None = None
    ) -> Layer:
        """A sticker (normal blend) or tattoo (multiply) layer from an RGBA image."""
        kind = LayerKind.TATTOO if tattoo else LayerKind.STICKER
        pixels = self._sticker_pixels(image, placement)
        layer = Layer(
            self.unique_name(name or kind.value.capitalize()),
            kind,
            pixels,
            sticker=np.ascontiguousarray(image),
            placement=placement,
        )
        self.add_layer(layer)
        return layer

    def place_sticker(self, layer: Layer, placement: StickerPlacement) -> Rect:
        """Move, scale or rotate a sticker or tattoo layer."""
        if layer.sticker is None:
            raise ValueError(f"{layer.name!r} is not a sticker layer")
        self.index(layer)
        pixels = self._sticker_pixels(layer.sticker, placement)
        change = ContentChange(
            layer, (layer.pixels, layer.placement, layer.makeup), (pixels, placement, layer.makeup)
        )
        self._record(change)
        return change.redo(self)

    def add_makeup(self, spec: MakeupSpec, name: str | None = None) -> Layer:
        """A makeup tint (multiply) over a named region."""
        layer = Layer(
            self.unique_name(name or spec.region.capitalize()),
            LayerKind.MAKEUP,
            self._makeup_pixels(spec),
            makeup=spec,
        )
        self.add_layer(layer)
        return layer

    def set_makeup(self, layer: Layer, spec: MakeupSpec) -> Rect:
        """Change a makeup layer's region, colour or strength."""
        if layer.makeup is None:
            raise ValueError(f"{layer.name!r} is not a makeup layer")
        self.index(layer)
        change = ContentChange(
            layer,
            (layer.pixels, layer.placement, layer.makeup),
            (self._makeup_pixels(spec), layer.placement, spec),
        )
        self._record(change)
        return change.redo(self)

    def _sticker_pixels(self, image: np.ndarray, placement: StickerPlacement) -> np.ndarray:
        height, width = self.canvas_size
        col, row = uv_to_texel(np.asarray(placement.centre), height, width)
        centre = (float(col), float(row))
        pixels, _ = rasterize_sticker(
            image, self.canvas_size, centre, placement.width * width, placement.rotation
        )
        return pixels

    def _makeup_pixels(self, spec: MakeupSpec) -> np.ndarray:
        mask = makeup_mask(self.template, spec.region, self.canvas_size)
        pixels = self.new_pixels()
        pixels[..., :3] = np.round(np.asarray(spec.colour) * 255.0).astype(np.uint8)
        pixels[..., 3] = np.round(mask * (255.0 * spec.strength)).astype(np.uint8)
        return pixels

    def _check_pixels(self, layer: Layer) -> None:
        if layer.pixels.shape != (*self.canvas_size, 4) or layer.pixels.dtype != np.uint8:
            raise ValueError(f"layer pixels must be {(*self.canvas_size, 4)} uint8, got {layer.pixels.shape}")

    def unique_name(self, name: str) -> str:
        """``name``, numbered when a layer already has it."""
        names = {layer.name for layer in self.layers}
        if name not in names:
            return name
        number = 2
        while f"{name} {number}" in names:
            number += 1
        return f"{name} {number}"
