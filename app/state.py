"""The GUI's evented model: one photo being edited, wrapping :mod:`facecraft.core` objects.

Widgets never change core objects behind the model's back. They call a method
here, which validates, changes the core object (the document, the editor) and
emits a signal; every view listens to those signals. A widget bound to a
property blocks its own signals while it updates itself from the model, so there
are no feedback loops.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from facecraft.core.decomposition import Decomposition
from facecraft.core.editing.document import BrushSettings, EditDocument, Stroke
from facecraft.core.editing.editor import FaceEditor
from facecraft.core.editing.layers import Layer, LayerKind, MakeupSpec, StickerPlacement, TransferSpec
from facecraft.core.editing.rect import Rect
from facecraft.core.editing.reference import Reference
from facecraft.core.editing.relighting import ReferenceLight, RelightSettings
from facecraft.core.editing.transfer import add_transfer
from facecraft.core.face.template import FaceTemplate
from facecraft.core.fitting import DEFAULT_FIDELITY
from facecraft.core.io.image_read import LoadedImage


class Tool(StrEnum):
    """What a drag on the photo, the UV canvas or the 3D view does."""

    NAVIGATE = "navigate"
    BRUSH = "brush"
    ERASER = "eraser"
    STICKER = "sticker"


class EditorState(QObject):
    """One photo, its decomposition and its edits.

    Signals:
        photo_changed: a new photo was opened (no decomposition yet).
        decomposition_changed: a new decomposition (and editor) is in place.
        canvas_edited(Rect): the edited albedo changed inside this canvas rectangle.
        photo_edited(Rect): the edited photo changed inside this photo rectangle.
        layers_changed: the layer stack or a layer's properties changed.
        active_layer_changed(object): the layer tools act on (or None).
        history_changed: undo/redo availability or the unsaved-changes flag changed.
        fidelity_changed(float), tool_changed(Tool), brush_changed(BrushSettings),
        makeup_changed(MakeupSpec): the bound settings changed.
        relight_changed(object): the relighting (a RelightSettings, a ReferenceLight, or None for the
            photo's light).
    """

    photo_changed = Signal()
    decomposition_changed = Signal()
    canvas_edited = Signal(object)
    photo_edited = Signal(object)
    layers_changed = Signal()
    active_layer_changed = Signal(object)
    history_changed = Signal()
    fidelity_changed = Signal(float)
    tool_changed = Signal(object)
    brush_changed = Signal(object)
    makeup_changed = Signal(object)
    relight_changed = Signal(object)

    def __init__(self, template: FaceTemplate, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.template = template
        self.photo: LoadedImage | None = None
        self.photo_bytes: bytes = b""
        self.decomposition: Decomposition | None = None
        self.editor: FaceEditor | None = None
        self.session_path: Path | None = None
        self._fidelity = DEFAULT_FIDELITY
        self._tool = Tool.BRUSH
        self._brush = BrushSettings()
        self._makeup = MakeupSpec("lips", (0.70, 0.12, 0.22), 0.5)
        self._active: Layer | None = None
        self._stroke: Stroke | None = None
        self._saved_revision = 0
        self._relight: RelightSettings | ReferenceLight | None = None
        self._relight_revision = 0
        self._saved_relight_revision = 0

    # -- settings ---------------------------------------------------------------------------------

    @property
    def fidelity(self) -> float:
        return self._fidelity

    def set_fidelity(self, value: float) -> None:
        value = float(np.clip(value, 0.0, 1.0))
        if value != self._fidelity:
            self._fidelity = value
            self.fidelity_changed.emit(value)

    @property
    def tool(self) -> Tool:
        return self._tool

    def set_tool(self, tool: Tool) -> None:
        tool = Tool(tool)
        if tool != self._tool:
            self._tool = tool
            self.tool_changed.emit(tool)

    @property
    def brush(self) -> BrushSettings:
        return self._brush

    def set_brush(self, brush: BrushSettings) -> None:
        if brush != self._brush:
            self._brush = brush
            self.brush_changed.emit(brush)

    @property
    def makeup(self) -> MakeupSpec:
        return self._makeup

    def set_makeup(self, spec: MakeupSpec) -> None:
        if spec != self._makeup:
            self._makeup = spec
            self.makeup_changed.emit(spec)

    # -- photo and decomposition ------------------------------------------------------------------

    def open_photo(self, photo: LoadedImage, photo_bytes: bytes) -> None:
        """Start on a new photo: the old decomposition and edits go."""
        self.photo, self.photo_bytes = photo, photo_bytes
        self.decomposition, self.editor = None, None
        self.session_path = None
        self._active = self._stroke = None
        self._relight = None
        self._relight_revision = self._saved_relight_revision = 0
        self._saved_revision = 0
        self.photo_changed.emit()
        self.active_layer_changed.emit(None)
        self.layers_changed.emit()
        self.history_changed.emit()

    def open_session(self, photo: LoadedImage, photo_bytes: bytes, editor: FaceEditor, path: Path) -> None:
        """Resume a saved session: its photo, and an editor holding its decomposition and layers."""
        self.open_photo(photo, photo_bytes)
        self.session_path = path
        self.set_editor(editor)
        self._saved_revision = editor.document.revision
        self.history_changed.emit()

    def set_decomposition(self, decomposition: Decomposition, document: EditDocument | None = None) -> None:
        """Show a new decomposition of the current photo; the edits (in UV) carry over."""
        if self.photo is None:
            raise RuntimeError("open a photo first")
        self.set_editor(FaceEditor(self.photo.original, decomposition, self.template), document)

    def set_editor(self, editor: FaceEditor, document: EditDocument | None = None) -> None:
        """Show an editor prepared elsewhere (e.g. in the worker thread) for the current photo.

        The current edits (or ``document``) carry over to it.
        """
        if self.photo is None or editor.photo is not self.photo.original:
            raise RuntimeError("the editor is for another photo")
        if document is None and self.editor is not None:
            document = self.editor.document
        if document is not None:
            editor.adopt(document)
        if self._relight is not None and self.decomposition is not None:
            editor.relight(self._relight.lighting(editor.decomposition.lighting))
        if self._stroke is not None:
            self.end_stroke()
        self.decomposition = editor.decomposition
        self.editor = editor
        if self._active is not None and self._active not in self.editor.document.layers:
            self._active = None
        self.decomposition_changed.emit()
        self.canvas_edited.emit(Rect(0, 0, *self.editor.canvas_size))
        # edits and relighting change the photo only inside the face's region (not the 24 MP frame)
        self.photo_edited.emit(self.editor.surface.region)
        self.layers_changed.emit()
        self.history_changed.emit()

    @property
    def document(self) -> EditDocument | None:
        return None if self.editor is None else self.editor.document

    @property
    def modified(self) -> bool:
        """Whether there are edits (or a relighting) not saved in a session."""
        document = self.document
        if document is None:
            return False
        return (
            document.revision != self._saved_revision
            or self._relight_revision != self._saved_relight_revision
        )

    @property
    def relight_settings(self) -> RelightSettings | ReferenceLight | None:
        return self._relight

    def relight(self, settings: RelightSettings | ReferenceLight | None) -> None:
        """Render the face under a studio light or a reference photo's light (None: the photo's own)."""
        editor = self.editor
        if editor is None or settings == self._relight:
            return
        lighting = None if settings is None else settings.lighting(editor.decomposition.lighting)
        rect = editor.relight(lighting)
        self._relight = settings
        self._relight_revision += 1
        self.photo_edited.emit(rect)
        self.relight_changed.emit(settings)
        self.history_changed.emit()

    def mark_saved(self, path: Path, revision: int | None = None) -> None:
        """The session at ``path`` holds the document as it was at ``revision`` (default: now)."""
        self.session_path = path
        if revision is None:
            revision = self.document.revision if self.document else 0
        self._saved_revision = revision
        self._saved_relight_revision = self._relight_revision
        self.history_changed.emit()

    # -- layers -----------------------------------------------------------------------------------

    @property
    def active_layer(self) -> Layer | None:
        return self._active

    def set_active_layer(self, layer: Layer | None) -> None:
        if layer is not self._active:
            self._active = layer
            self.active_layer_changed.emit(layer)

    def _changed(self, canvas_rect: Rect, layers: bool = False) -> None:
        """Push a document change to the photo and tell the views."""
        editor = self.editor
        assert editor is not None
        if not canvas_rect.empty:
            photo_rect = editor.refresh(canvas_rect)
            self.canvas_edited.emit(canvas_rect)
            if not photo_rect.empty:
                self.photo_edited.emit(photo_rect)
        if layers:
            self.layers_changed.emit()
        self.history_changed.emit()

    def _require_document(self) -> EditDocument:
        if self.document is None:
            raise RuntimeError("there is no decomposition to edit yet")
        return self.document

    def add_paint_layer(self) -> Layer:
        layer = self._require_document().add_paint_layer()
        self._changed(Rect(0, 0, 0, 0), layers=True)
        self.set_active_layer(layer)
        return layer

    def add_sticker(
        self, image: np.ndarray, placement: StickerPlacement, tattoo: bool = False, name: str | None = None
    ) -> Layer:
        document = self._require_document()
        layer = document.add_sticker(image, placement, tattoo, name)
        self._changed(Rect(0, 0, *document.canvas_size), layers=True)
        self.set_active_layer(layer)
        return layer

    def place_sticker(self, layer: Layer, placement: StickerPlacement) -> None:
        document = self._require_document()
        self._changed(document.place_sticker(layer, placement), layers=True)

    def add_makeup(self, spec: MakeupSpec | None = None) -> Layer:
        document = self._require_document()
        layer = document.add_makeup(spec or self._makeup)
        self._changed(Rect(0, 0, *document.canvas_size), layers=True)
        self.set_active_layer(layer)
        return layer

    def add_transfer(
        self, reference: Reference, spec: TransferSpec, painted: np.ndarray | None = None
    ) -> Layer:
        """Copy from a reference photo into a new layer (see :mod:`facecraft.core.editing.transfer`).

        Raises:
            ReferencePhotoError: a chosen region is mostly unseen in the reference; nothing changes.
        """
        editor = self.editor
        if editor is None:
            raise RuntimeError("there is no decomposition to edit yet")
        layer, rect = add_transfer(editor.document, editor.base_albedo(), reference, spec, painted)
        self._changed(rect, layers=True)
        self.set_active_layer(layer)
        return layer

    def update_makeup(self, layer: Layer, spec: MakeupSpec) -> None:
        self._changed(self._require_document().set_makeup(layer, spec), layers=True)

    def set_layer(self, layer: Layer, **values: object) -> None:
        self._changed(self._require_document().set_layer(layer, **values), layers=True)

    def remove_layer(self, layer: Layer) -> None:
        rect = self._require_document().remove_layer(layer)
        if layer is self._active:
            self.set_active_layer(None)
        self._changed(rect, layers=True)

    def move_layer(self, layer: Layer, index: int) -> None:
        self._changed(self._require_document().move_layer(layer, index), layers=True)

    def undo(self) -> None:
        if self.document is not None and self.document.can_undo:
            self._changed(self.document.undo(), layers=True)

    def redo(self) -> None:
        if self.document is not None and self.document.can_redo:
            self._changed(self.document.redo(), layers=True)

    # -- strokes ----------------------------------------------------------------------------------

    def paint_layer(self) -> Layer:
        """The paint layer strokes go to: the active one if it is a paint layer, else a new one."""
        layer = self._active
        if layer is None or layer.kind is not LayerKind.PAINT or layer not in self._require_document().layers:
            layer = self.add_paint_layer()
        return layer

    def begin_stroke(self, canvas_points: np.ndarray) -> None:
        """Start a brush or eraser stroke (per the tool) at canvas ``(col, row)`` points."""
        layer = self.paint_layer()
        erase = self._tool is Tool.ERASER
        self._stroke = self._require_document().begin_stroke(layer, self._brush, erase=erase)
        self.continue_stroke(canvas_points)

    def continue_stroke(self, canvas_points: np.ndarray) -> None:
        if self._stroke is None or len(canvas_points) == 0:
            return
        rect = self._stroke.add_points(canvas_points)
        self._changed(rect)

    def end_stroke(self) -> None:
        if self._stroke is None:
            return
        self._require_document().end_stroke(self._stroke)
        self._stroke = None
        self.history_changed.emit()

    @property
    def stroking(self) -> bool:
        return self._stroke is not None
