"""The live 3D view: the face drawn by ModernGL inside a ``QOpenGLWidget``.

Left-drag orbits, right- or middle-drag pans, the wheel zooms, double-click or
``R`` resets. The view shows the face in its canonical frame (not the photo's
pose), lit by the given SH lighting, which stays fixed to the viewer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import moderngl
import numpy as np
import torch
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QSurfaceFormat, QWheelEvent
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QWidget

from facecraft.core.render.gl import DisplayMode, GLCamera, GLFaceRenderer
from facecraft.core.render.pick import pick_uv
from facecraft.core.render.shading import ambient_light, directional_light
from facecraft.core.template import FaceTemplate

ORBIT_RADIANS_PER_PIXEL = 0.008
ZOOM_PER_WHEEL_NOTCH = 1.12
PITCH_LIMIT = 1.4
ZOOM_RANGE = (0.2, 8.0)


@dataclass(frozen=True)
class OrbitView:
    """The viewer's camera controls.

    Attributes:
        yaw: radians, turns the face left/right.
        pitch: radians, tilts it up/down (clamped to +-``PITCH_LIMIT``).
        zoom: 1 fits the face's height to 80% of the view.
        pan: ``(dx, dy)`` logical pixels.
    """

    yaw: float = 0.0
    pitch: float = 0.0
    zoom: float = 1.0
    pan: tuple[float, float] = (0.0, 0.0)

    def orbited(self, dx: float, dy: float) -> OrbitView:
        """After dragging by ``(dx, dy)`` pixels: right turns the face right, down tilts it down."""
        pitch = min(max(self.pitch + dy * ORBIT_RADIANS_PER_PIXEL, -PITCH_LIMIT), PITCH_LIMIT)
        return replace(self, yaw=self.yaw + dx * ORBIT_RADIANS_PER_PIXEL, pitch=pitch)

    def panned(self, dx: float, dy: float) -> OrbitView:
        return replace(self, pan=(self.pan[0] + dx, self.pan[1] + dy))

    def zoomed(self, notches: float) -> OrbitView:
        zoom = self.zoom * ZOOM_PER_WHEEL_NOTCH**notches
        return replace(self, zoom=min(max(zoom, ZOOM_RANGE[0]), ZOOM_RANGE[1]))

    def camera(self, width: float, height: float, face_height: float, device_ratio: float = 1.0) -> GLCamera:
        """The camera for a ``width x height`` (device pixels) view of a face ``face_height`` units tall."""
        scale = self.zoom * 0.8 * min(width, height) / face_height
        centre = ((width - 1) / 2 + self.pan[0] * device_ratio, (height - 1) / 2 + self.pan[1] * device_ratio)
        return GLCamera(scale, (self.pitch, self.yaw, 0.0), centre)


def viewer_lighting() -> np.ndarray:
    """``(3, 9)`` neutral studio lighting: soft ambient plus a key light above-left of the viewer."""
    key = directional_light(torch.tensor([[-0.4, 0.5, 1.0]]), torch.full((1, 3), 0.75))
    return (ambient_light(1, 0.4) + key)[0].numpy()


class FaceViewer3D(QOpenGLWidget):
    """Interactive 3D view of a face.

    In painting mode the left button paints instead of orbiting: the surface point
    under the cursor is picked and reported in UV (right-drag still pans, the wheel
    still zooms).

    Signals:
        view_changed: emitted with the new :class:`OrbitView` after any orbit, pan or zoom.
        stroke_started(float, float): painting began at ``(u, v)`` (only on the face).
        stroke_moved(float, float): the cursor moved to ``(u, v)`` on the face.
        stroke_finished(): the button was released.
    """

    view_changed = Signal(object)
    stroke_started = Signal(float, float)
    stroke_moved = Signal(float, float)
    stroke_finished = Signal()

    def __init__(self, template: FaceTemplate, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        surface = QSurfaceFormat()
        surface.setVersion(3, 3)
        surface.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
        surface.setDepthBufferSize(24)
        surface.setSamples(4)
        self.setFormat(surface)
        self.setMinimumSize(160, 160)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("Drag to orbit, right-drag to pan, wheel to zoom, double-click or R to reset")
        self._template = template
        self._face_height = float(np.ptp(template.mean_vertices()[:, 1]))
        self._shape = template.mean_shape_uv
        self._albedo: np.ndarray | None = None
        self._lighting = viewer_lighting()
        self._mode = DisplayMode.GEOMETRY
        self._view = OrbitView()
        self._background = QColor(38, 40, 44)
        self._ctx: moderngl.Context | None = None
        self._renderer: GLFaceRenderer | None = None
        self._painting = False
        self._stroking = False
        self._dirty_shape = self._dirty_albedo = True
        self._drag_start: QPointF | None = None
        self._drag_button = Qt.MouseButton.NoButton

    # -- model ------------------------------------------------------------------------------

    @property
    def view(self) -> OrbitView:
        return self._view

    def set_view(self, view: OrbitView) -> None:
        if view != self._view:
            self._view = view
            self.view_changed.emit(view)
            self.update()

    def reset_view(self) -> None:
        self.set_view(OrbitView())

    @property
    def mode(self) -> DisplayMode:
        return self._mode

    def set_mode(self, mode: DisplayMode) -> None:
        self._mode = DisplayMode(mode)
        self.update()

    def set_shape(self, shape_uv: np.ndarray) -> None:
        """``(192, 224, 3)`` position map, canonical frame."""
        self._shape = np.asarray(shape_uv, dtype=np.float32)
        self._face_height = float(np.ptp(self._shape[self._template.mask][:, 1])) or 1.0
        self._dirty_shape = True
        self.update()

    def set_albedo(self, albedo_uv: np.ndarray | None) -> None:
        """``(h, w, 3 or 4)`` uint8 or float albedo (any resolution); ``None`` = neutral grey."""
        self._albedo = None if albedo_uv is None else np.asarray(albedo_uv)
        self._dirty_albedo = True
        self.update()

    def set_lighting(self, lighting: np.ndarray) -> None:
        """``(3, 9)`` SH lighting in the viewer's frame."""
        self._lighting = np.asarray(lighting, dtype=np.float64)
        self.update()

    # -- GL ---------------------------------------------------------------------------------

    def initializeGL(self) -> None:  # noqa: N802 - Qt override
        self._ctx = moderngl.create_context()
        self._renderer = GLFaceRenderer(self._ctx, self._template)
        self._dirty_shape = self._dirty_albedo = True

    def paintGL(self) -> None:  # noqa: N802 - Qt override
        if self._ctx is None or self._renderer is None:
            return
        if self._dirty_shape:
            self._renderer.set_shape(self._shape)
            self._dirty_shape = False
        if self._dirty_albedo:
            neutral = np.full((8, 8, 3), 0.72, dtype=np.float32)
            self._renderer.set_albedo(neutral if self._albedo is None else self._albedo)
            self._dirty_albedo = False
        ratio = self.devicePixelRatioF()
        width, height = max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio))
        fbo = self._ctx.detect_framebuffer(self.defaultFramebufferObject())
        fbo.use()
        fbo.viewport = (0, 0, width, height)
        background = self._background
        fbo.clear(background.redF(), background.greenF(), background.blueF(), 1.0, depth=1.0)
        camera = self._view.camera(width, height, self._face_height, ratio)
        self._renderer.draw(camera, self._lighting, (height, width), self._mode)

    def cleanup(self) -> None:
        """Release GL objects; call before the widget's context goes away."""
        if self._renderer is not None:
            self.makeCurrent()
            self._renderer.release()
            self._renderer = None
            self.doneCurrent()

    # -- input ------------------------------------------------------------------------------

    def set_painting(self, painting: bool) -> None:
        """Left drags paint (True) or orbit (False)."""
        self._painting = bool(painting)
        self.setCursor(Qt.CursorShape.CrossCursor if painting else Qt.CursorShape.ArrowCursor)

    def pick(self, x: float, y: float) -> tuple[float, float] | None:
        """The ``(u, v)`` of the face under widget position ``(x, y)`` (logical pixels), or None."""
        ratio = self.devicePixelRatioF()
        width, height = max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio))
        camera = self._view.camera(width, height, self._face_height, ratio)
        vertices = self._template.sample_vertices(self._shape.astype(np.float64))
        rotated = vertices @ camera.rotation().T
        screen = np.stack(
            [
                camera.scale * rotated[:, 0] + camera.translation[0],
                -camera.scale * rotated[:, 1] + camera.translation[1],
                camera.scale * rotated[:, 2],
            ],
            axis=1,
        )
        return pick_uv(screen, self._template.triangles, self._template.vertex_uv, (x * ratio, y * ratio))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._painting and event.button() == Qt.MouseButton.LeftButton:
            self._stroking = True
            hit = self.pick(event.position().x(), event.position().y())
            if hit is not None:
                self.stroke_started.emit(*hit)
            else:
                self.stroke_started.emit(float("nan"), float("nan"))
            return
        self._drag_start = event.position()
        self._drag_button = event.button()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._stroking:
            hit = self.pick(event.position().x(), event.position().y())
            if hit is not None:
                self.stroke_moved.emit(*hit)
            return
        if self._drag_start is None:
            return
        delta = event.position() - self._drag_start
        self._drag_start = event.position()
        if self._drag_button == Qt.MouseButton.LeftButton:
            self.set_view(self._view.orbited(delta.x(), delta.y()))
        elif self._drag_button in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
            self.set_view(self._view.panned(delta.x(), delta.y()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._stroking and event.button() == Qt.MouseButton.LeftButton:
            self._stroking = False
            self.stroke_finished.emit()
            return
        self._drag_start = None
        self._drag_button = Qt.MouseButton.NoButton

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.reset_view()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        self.set_view(self._view.zoomed(event.angleDelta().y() / 120.0))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_R:
            self.reset_view()
        else:
            super().keyPressEvent(event)
