"""The views kept in step with the editor state: photo, UV canvas, panes and the 3D view.

:class:`ViewSync` listens to :class:`~facecraft.app.state.EditorState` and updates what shows
it: a new photo clears the panes; a new decomposition fills them (from the
:class:`~facecraft.app.workers.PreparedFace` the worker made, when there is one) and patches only
the photo's old and new face areas; an edit of the photo or of the canvas repaints just the
rectangle it changed, and the 3D view's texture follows at most every
:data:`TEXTURE_REFRESH_MS`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QImage

from facecraft.app.image_view import CompareView, ImageView, to_qimage
from facecraft.app.state import EditorState
from facecraft.app.sticker_handles import StickerHandles
from facecraft.app.viewer3d import FaceViewer3D
from facecraft.app.workers import FitPreview, PreparedFace, shaded_geometry
from facecraft.core.editing.rect import Rect
from facecraft.core.io.pixels import unit_to_uint8
from facecraft.core.render.gl import DisplayMode

TEXTURE_REFRESH_MS = 60
"""The 3D view's texture is re-uploaded at most this often while painting."""
DECOMPOSITION_PANES = ("Reconstruction", "Albedo", "Shape", "Shading")
"""The panes a decomposition fills (the Input pane shows the photo)."""


class ViewSync(QObject):
    """Updates the window's views from ``state`` (see the module docstring).

    Args:
        state: the editor state.
        photo_view: the photo, before | after.
        uv_view: the UV canvas.
        panes: the image panes by name (Input, Reconstruction, Albedo, Shape, Shading).
        viewer3d: the 3D view.
        sticker_handles: the stickers' handles on the canvas.
        parent: the owner.
    """

    def __init__(
        self,
        state: EditorState,
        photo_view: CompareView,
        uv_view: ImageView,
        panes: dict[str, ImageView],
        viewer3d: FaceViewer3D,
        sticker_handles: StickerHandles,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.photo_view, self.uv_view, self.panes = photo_view, uv_view, panes
        self.viewer3d, self.sticker_handles = viewer3d, sticker_handles
        self.prepared: PreparedFace | None = None
        """The worker's prepared face of the editor shown (None: made here when needed)."""
        self.faces: list[np.ndarray] = []
        """``(4,)`` boxes of every face found in the photo, largest first."""
        self._loaded_image: tuple[np.ndarray, QImage] | None = None
        self._uv_pixels: np.ndarray | None = None
        self._face_region: Rect | None = None
        self._shown_textured = False
        self._texture_timer = QTimer(self, singleShot=True, interval=TEXTURE_REFRESH_MS)
        self._texture_timer.timeout.connect(self._push_texture)
        state.photo_changed.connect(self._on_photo_changed)
        state.decomposition_changed.connect(self._on_decomposition_changed)
        state.photo_edited.connect(self._on_photo_edited)
        state.canvas_edited.connect(self._on_canvas_edited)

    def offer_image(self, pixels: np.ndarray, image: QImage) -> None:
        """The ``QImage`` a loader made of ``pixels``: the views use it when that photo opens."""
        self._loaded_image = (pixels, image)

    def show_faces(self, boxes: list[np.ndarray]) -> None:
        """Every face found (``(4,)`` boxes); outlined when there are several."""
        self.faces = boxes
        self.show_face_boxes()

    def show_face_boxes(self) -> None:
        """Outline every face when there are several (the chosen one highlighted); click one to switch."""
        decomposition = self.state.decomposition
        chosen = decomposition.face_index if decomposition is not None else 0
        boxes = self.faces if len(self.faces) > 1 else []
        self.photo_view.set_boxes(boxes, chosen)

    def show_preview(self, preview: FitPreview) -> None:
        """A running fit's intermediate shape and albedo."""
        if self.state.decomposition is None:
            return
        self.viewer3d.set_shape(preview.shape)
        self.panes["Albedo"].set_image(preview.albedo)

    def _on_photo_changed(self) -> None:
        photo = self.state.photo
        if photo is None:
            return
        # One copy, shared by the three views (copied on first edit); made by the loader when it can.
        made, self._loaded_image = self._loaded_image, None
        image = made[1] if made is not None and made[0] is photo.original else to_qimage(photo.original)
        self.photo_view.set_image(image, fit=True)
        self.photo_view.set_before(image)
        self.panes["Input"].set_image(image, fit=True)
        for name in DECOMPOSITION_PANES:
            self.panes[name].set_image(None)
        self.uv_view.set_image(None)
        self._uv_pixels = None
        self.faces = []
        self._face_region = None
        self.photo_view.set_boxes([], 0)

    def _on_decomposition_changed(self) -> None:
        editor, decomposition = self.state.editor, self.state.decomposition
        if editor is None or decomposition is None:
            return
        prepared = self.prepared
        if prepared is None or prepared.editor is not editor:  # a session or a synchronous decomposition
            prepared = PreparedFace(editor, editor.reconstruction()[0], shaded_geometry(editor))
        self.panes["Reconstruction"].set_image(prepared.reconstruction)
        self.panes["Albedo"].set_image(decomposition.albedo)
        self.panes["Shading"].set_image(decomposition.shading / max(float(decomposition.shading.max()), 1e-6))
        self.panes["Shape"].set_image(prepared.geometry)
        self._uv_pixels = editor.edited_albedo8().copy()  # made by the worker when there are no edits
        self.uv_view.set_image(self._uv_pixels)
        self.viewer3d.set_shape(decomposition.shape)
        self.viewer3d.set_albedo(self._uv_pixels)
        if not self._shown_textured:  # the first face: show it textured, then keep the user's choice
            self._shown_textured = True
            self.viewer3d.set_mode(DisplayMode.TEXTURED)
        # only the face changes between decompositions of one photo: patch the old and new face areas
        region = editor.surface.region
        for rect in (self._face_region, region):
            if rect is not None:
                self.photo_view.update_region(editor.edited_photo, rect)
        self._face_region = region
        self.sticker_handles.bind(self.state)
        self.show_face_boxes()

    def _on_photo_edited(self, rect: Rect) -> None:
        editor = self.state.editor
        if editor is not None:
            self.photo_view.update_region(editor.edited_photo, rect)

    def _on_canvas_edited(self, rect: Rect) -> None:
        editor = self.state.editor
        if editor is None or self._uv_pixels is None:
            return
        rect = rect.clip(*editor.canvas_size)
        if rect.empty:
            return
        rows, cols = rect.slices()
        if (rect.bottom - rect.top, rect.right - rect.left) == editor.canvas_size:
            self._uv_pixels[...] = editor.edited_albedo8()  # remembered when there are no edits
        else:
            self._uv_pixels[rows, cols] = unit_to_uint8(editor.edited_albedo(rect))
        self.uv_view.update_region(self._uv_pixels, rect)
        if not self._texture_timer.isActive():
            self._texture_timer.start()

    def _push_texture(self) -> None:
        if self._uv_pixels is not None:
            self.viewer3d.set_albedo(self._uv_pixels)
