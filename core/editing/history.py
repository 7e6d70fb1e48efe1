"""The undo steps of an :class:`~facecraft.core.editing.document.EditDocument`.

Each step changes the document one way (pixels of a layer, a layer inserted, removed,
moved, its properties or its content) and back; ``undo``/``redo`` return the canvas
:class:`Rect` they touched, with the document's flattened maps already refreshed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from facecraft.core.editing.layers import Layer, MakeupSpec, StickerPlacement
from facecraft.core.editing.rect import Rect

if TYPE_CHECKING:
    from facecraft.core.editing.document import EditDocument


class Change:
    """One undoable step; ``undo``/``redo`` return the canvas rectangle they touched."""

    def nbytes(self) -> int:
        """Memory the step holds on to (pixels only)."""
        return 0

    def undo(self, document: EditDocument) -> Rect:
        raise NotImplementedError

    def redo(self, document: EditDocument) -> Rect:
        raise NotImplementedError


@dataclass
class PixelChange(Change):
    layer: Layer
    rect: Rect
    before: np.ndarray
    after: np.ndarray

    def nbytes(self) -> int:
        return int(self.before.nbytes + self.after.nbytes)

    def undo(self, document: EditDocument) -> Rect:
        self.layer.pixels[self.rect.slices()] = self.before
        return document.layer_rect(self.layer, self.rect)

    def redo(self, document: EditDocument) -> Rect:
        self.layer.pixels[self.rect.slices()] = self.after
        return document.layer_rect(self.layer, self.rect)


@dataclass
class Insert(Change):
    layer: Layer
    index: int
    rect: Rect | None = None
    """Where the layer has pixels (the whole canvas when None): only there does the stack change."""

    def _touched(self, document: EditDocument) -> Rect:
        return document.full_rect() if self.rect is None else document.layer_rect(self.layer, self.rect)

    def undo(self, document: EditDocument) -> Rect:
        document.layers.remove(self.layer)
        return self._touched(document)

    def redo(self, document: EditDocument) -> Rect:
        document.layers.insert(self.index, self.layer)
        return self._touched(document)


@dataclass
class Remove(Change):
    layer: Layer
    index: int

    def undo(self, document: EditDocument) -> Rect:
        document.layers.insert(self.index, self.layer)
        return document.full_rect()

    def redo(self, document: EditDocument) -> Rect:
        document.layers.remove(self.layer)
        return document.full_rect()


@dataclass
class Move(Change):
    layer: Layer
    before: int
    after: int

    def undo(self, document: EditDocument) -> Rect:
        document.layers.remove(self.layer)
        document.layers.insert(self.before, self.layer)
        return document.full_rect()

    def redo(self, document: EditDocument) -> Rect:
        document.layers.remove(self.layer)
        document.layers.insert(self.after, self.layer)
        return document.full_rect()


@dataclass
class PropertyChange(Change):
    layer: Layer
    before: dict[str, object]
    after: dict[str, object]

    def undo(self, document: EditDocument) -> Rect:
        for key, value in self.before.items():
            setattr(self.layer, key, value)
        return document.full_rect()

    def redo(self, document: EditDocument) -> Rect:
        for key, value in self.after.items():
            setattr(self.layer, key, value)
        return document.full_rect()


@dataclass
class ContentChange(Change):
    """A layer's pixels and the parameters that made them (sticker placement, makeup preset)."""

    layer: Layer
    before: tuple[np.ndarray, StickerPlacement | None, MakeupSpec | None]
    after: tuple[np.ndarray, StickerPlacement | None, MakeupSpec | None]

    def nbytes(self) -> int:
        return int(self.before[0].nbytes + self.after[0].nbytes)

    def _set(self, document: EditDocument, state: tuple) -> Rect:
        self.layer.pixels, self.layer.placement, self.layer.makeup = state
        return document.full_rect()

    def undo(self, document: EditDocument) -> Rect:
        return self._set(document, self.before)

    def redo(self, document: EditDocument) -> Rect:
        return self._set(document, self.after)
