"""Strokes from the three views that can paint, routed to the editor state in canvas texels.

The photo view reports photo pixels (mapped through the fitted surface, which drops the
points off the face), the UV view reports canvas texels already, and the 3D view reports
the ``(u, v)`` it picked, converted with :func:`facecraft.core.conventions.uv_to_texel`
(non-finite when it picked nothing: no point).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from facecraft.app.image_view import CompareView, ImageView
from facecraft.app.state import EditorState, Tool
from facecraft.app.viewer3d import FaceViewer3D
from facecraft.core.conventions import uv_to_texel


class StrokeRouter(QObject):
    """Connects the views' stroke signals to :class:`~facecraft.app.state.EditorState`.

    Args:
        state: the editor state the strokes go to.
        photo_view: the photo (before | after) view.
        uv_view: the UV canvas view.
        viewer3d: the 3D view.
    """

    def __init__(
        self,
        state: EditorState,
        photo_view: CompareView,
        uv_view: ImageView,
        viewer3d: FaceViewer3D,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.views = (photo_view, uv_view, viewer3d)
        photo_view.stroke_started.connect(self._photo_stroke_started)
        photo_view.stroke_moved.connect(self._photo_stroke_moved)
        photo_view.stroke_finished.connect(state.end_stroke)
        uv_view.stroke_started.connect(self._uv_stroke_started)
        uv_view.stroke_moved.connect(lambda x, y: state.continue_stroke(np.array([[x, y]])))
        uv_view.stroke_finished.connect(state.end_stroke)
        viewer3d.stroke_started.connect(self._view3d_stroke_started)
        viewer3d.stroke_moved.connect(self._view3d_stroke_moved)
        viewer3d.stroke_finished.connect(state.end_stroke)

    def set_tool(self, tool: Tool) -> None:
        """Let the views paint (drag = stroke) for the brush and the eraser, navigate otherwise."""
        painting = tool in (Tool.BRUSH, Tool.ERASER)
        for view in self.views:
            view.set_painting(painting)

    def _photo_stroke_started(self, x: float, y: float) -> None:
        editor = self.state.editor
        if editor is None:
            return
        points, valid = editor.photo_to_canvas(np.array([[x, y]]))
        self.state.begin_stroke(points[valid])

    def _photo_stroke_moved(self, x: float, y: float) -> None:
        editor = self.state.editor
        if editor is None or not self.state.stroking:
            return
        points, valid = editor.photo_to_canvas(np.array([[x, y]]))
        self.state.continue_stroke(points[valid])

    def _uv_stroke_started(self, x: float, y: float) -> None:
        if self.state.editor is not None:
            self.state.begin_stroke(np.array([[x, y]]))

    def _uv_to_canvas(self, u: float, v: float) -> np.ndarray:
        """``(1, 2)`` canvas ``(col, row)`` of a picked ``(u, v)``; ``(0, 2)`` when nothing was picked."""
        editor = self.state.editor
        assert editor is not None
        height, width = editor.canvas_size
        if not (np.isfinite(u) and np.isfinite(v)):
            return np.zeros((0, 2))
        return uv_to_texel(np.array([[u, v]]), height, width)

    def _view3d_stroke_started(self, u: float, v: float) -> None:
        if self.state.editor is not None:
            self.state.begin_stroke(self._uv_to_canvas(u, v))

    def _view3d_stroke_moved(self, u: float, v: float) -> None:
        if self.state.editor is not None and self.state.stroking:
            self.state.continue_stroke(self._uv_to_canvas(u, v))
