"""The live 3D view: the face drawn by ModernGL in a ``QOpenGLWindow`` inside a window container.

Left-drag orbits, right- or middle-drag pans, the wheel zooms, double-click or
``R`` resets. The view shows the face in its canonical frame (not the photo's
pose), lit by the given SH lighting, which stays fixed to the viewer.

Why a ``QOpenGLWindow`` and not a ``QOpenGLWidget``: a ``QOpenGLWidget`` makes Qt composite the
*whole* main window through OpenGL, so with Mesa's software renderer (llvmpipe, no GPU) every
repaint of any pane held the GUI thread 30-40 ms waiting for the GL composition. A native child
window draws only itself. Multisampling is asked for only on a hardware renderer (on llvmpipe it
made a frame four times slower). Window containers get no widget tooltips, so the controls hint is
shown when the pointer rests on the view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import moderngl
import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QOffscreenSurface,
    QOpenGLContext,
    QSurfaceFormat,
    QWheelEvent,
)
from PySide6.QtOpenGL import QOpenGLWindow
from PySide6.QtWidgets import QToolTip, QVBoxLayout, QWidget

from facecraft.core.editing.relighting import studio_lighting
from facecraft.core.face.template import FaceTemplate
from facecraft.core.render.gl import DisplayMode, GLCamera, GLFaceRenderer
from facecraft.core.render.pick import pick_uv

CONTROLS_HINT = "Drag to orbit, right-drag to pan, wheel to zoom, double-click or R to reset"
GL_RENDERER = 0x1F01
FIRST_FRAME_WAIT_S = 5.0
"""How long a grab waits for the view's first frame (which creates its GL context)."""
HINT_DELAY_MS = 700
"""The pointer rests this long on the view before the controls hint shows."""
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


def software_renderer() -> bool:
    """Whether OpenGL here is Mesa's software rasteriser (llvmpipe/softpipe), asked once per call."""
    surface = QOffscreenSurface()
    surface.create()
    context = QOpenGLContext()
    if not context.create() or not context.makeCurrent(surface):
        return True
    try:
        value = context.functions().glGetString(GL_RENDERER) or ""
        renderer = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    finally:
        context.doneCurrent()
    return any(name in renderer.lower() for name in ("llvmpipe", "softpipe", "software"))


class _GLWindow(QOpenGLWindow):
    """The native window the face is drawn in; input goes to its :class:`FaceViewer3D`."""

    def __init__(self, owner: FaceViewer3D) -> None:
        super().__init__()
        self._owner = owner

    def initializeGL(self) -> None:  # noqa: N802 - Qt override
        self._owner.initializeGL()

    def paintGL(self) -> None:  # noqa: N802 - Qt override
        self._owner.paintGL()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._owner.mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._owner.mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._owner.mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._owner.mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        self._owner.wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        self._owner.keyPressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave:
            self._owner.pointer_left()
        return super().event(event)


class FaceViewer3D(QWidget):
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
        if not software_renderer():
            surface.setSamples(4)
        self._window = _GLWindow(self)
        self._window.setFormat(surface)
        container = QWidget.createWindowContainer(self._window, self)
        container.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(container)
        self.setMinimumSize(160, 160)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)  # pointer moves without a button start the hint's timer
        self._hint_timer = QTimer(self, singleShot=True, interval=HINT_DELAY_MS)
        self._hint_timer.timeout.connect(self._show_hint)
        self._template = template
        self._face_height = float(np.ptp(template.mean_vertices()[:, 1]))
        self._shape = template.mean_shape_uv
        self._albedo: np.ndarray | None = None
        self._lighting = studio_lighting()
        self._mode = DisplayMode.GEOMETRY
        self._view = OrbitView()
        self._background = QColor(38, 40, 44)
        self._ctx: moderngl.Context | None = None
        self._renderer: GLFaceRenderer | None = None
        self._framebuffer: moderngl.Framebuffer | None = None
        self._framebuffer_id = -1
        self._painting = False
        self._stroking = False
        self._dirty_shape = self._dirty_albedo = True
        self._drag_start: QPointF | None = None
        self._drag_button = Qt.MouseButton.NoButton

    def update(self) -> None:  # type: ignore[override]
        """Schedule a new frame of the 3D view."""
        self._window.update()

    def makeCurrent(self) -> None:  # noqa: N802 - mirrors QOpenGLWidget
        self._window.makeCurrent()

    def doneCurrent(self) -> None:  # noqa: N802 - mirrors QOpenGLWidget
        self._window.doneCurrent()

    def grabFramebuffer(self) -> QImage:  # noqa: N802 - mirrors QOpenGLWidget
        """The view's picture with every change made so far (renders a frame to read it back)."""
        deadline = time.monotonic() + FIRST_FRAME_WAIT_S
        while self._ctx is None and self.isVisible() and time.monotonic() < deadline:
            self._window.update()  # its first frame makes the GL context (a busy machine may lag)
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if self._ctx is None:
            return self._window.grabFramebuffer()
        self.makeCurrent()
        try:
            self.paintGL()
            width, height = self._frame_size()
            fbo = self._ctx.detect_framebuffer(self._window.defaultFramebufferObject())
            pixels = fbo.read(viewport=(0, 0, width, height), components=4, alignment=1)
        finally:
            self.doneCurrent()
        image = QImage(pixels, width, height, 4 * width, QImage.Format.Format_RGBA8888)
        return image.flipped(Qt.Orientation.Vertical)  # GL rows run bottom-up; flipped() copies them

    def _frame_size(self) -> tuple[int, int]:
        """``(width, height)`` of the view in device pixels."""
        ratio = self.devicePixelRatioF()
        return max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio))

    def devicePixelRatioF(self) -> float:  # noqa: N802 - Qt override
        return float(self._window.devicePixelRatio())

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
        width, height = self._frame_size()
        fbo = self._ctx.detect_framebuffer(self._window.defaultFramebufferObject())
        fbo.use()
        fbo.viewport = (0, 0, width, height)
        background = self._background
        fbo.clear(background.redF(), background.greenF(), background.blueF(), 1.0, depth=1.0)
        camera = self._view.camera(width, height, self._face_height, ratio)
        self._renderer.draw(camera, self._lighting, (height, width), self._mode)

    def cleanup(self) -> None:
        """Release GL objects; call before the view's context goes away."""
        if self._renderer is not None:
            self.makeCurrent()
            self._renderer.release()
            self._renderer = None
            self._framebuffer = None
            self.doneCurrent()

    # -- the controls hint (a window container shows no widget tooltips) -------------------------

    def _show_hint(self) -> None:
        if self._drag_start is None and not self._stroking:
            QToolTip.showText(QCursor.pos(), CONTROLS_HINT, self)

    def pointer_left(self) -> None:
        """The pointer left the view: no hint."""
        self._hint_timer.stop()
        QToolTip.hideText()

    # -- input ------------------------------------------------------------------------------

    def set_painting(self, painting: bool) -> None:
        """Left drags paint (True) or orbit (False)."""
        self._painting = bool(painting)
        self.setCursor(Qt.CursorShape.CrossCursor if painting else Qt.CursorShape.ArrowCursor)

    def pick(self, x: float, y: float) -> tuple[float, float] | None:
        """The ``(u, v)`` of the face under widget position ``(x, y)`` (logical pixels), or None."""
        ratio = self.devicePixelRatioF()
        width, height = self._frame_size()
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
        if self._drag_start is None and not self._stroking:
            QToolTip.hideText()
            self._hint_timer.start()  # shown if the pointer rests here
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
