"""The 3D view: orbit controls (pure) and the ModernGL-in-Qt widget under Xvfb."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from facecraft.app.viewer3d import PITCH_LIMIT, ZOOM_RANGE, FaceViewer3D, OrbitView
from facecraft.core.render.gl import DisplayMode


def test_orbit_pan_and_zoom_update_the_view():
    view = OrbitView().orbited(100, -50)
    assert view.yaw > 0 and view.pitch < 0
    assert OrbitView().orbited(0, 10_000).pitch == PITCH_LIMIT
    assert OrbitView().panned(3, -4).pan == (3, -4)
    assert OrbitView().zoomed(1000).zoom == ZOOM_RANGE[1]
    assert OrbitView().zoomed(-1000).zoom == ZOOM_RANGE[0]


def test_camera_fits_the_face_and_follows_the_pan():
    camera = OrbitView(pan=(10, -5)).camera(200, 100, face_height=2.0, device_ratio=2.0)
    assert camera.scale == pytest.approx(0.8 * 100 / 2.0)
    assert camera.translation == pytest.approx((99.5 + 20, 49.5 - 10))


def grab(widget: FaceViewer3D) -> np.ndarray:
    image = widget.grabFramebuffer().convertToFormat(QImage.Format.Format_RGB888)
    array = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return (
        array.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]
        .reshape(image.height(), image.width(), 3)
        .copy()
    )


@pytest.fixture
def viewer(qtbot, template):
    widget = FaceViewer3D(template)
    qtbot.addWidget(widget)
    widget.resize(240, 240)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.cleanup()
    widget.close()
    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_widget_draws_the_face_in_the_middle(viewer):
    frame = grab(viewer)
    background = frame[2, 2].astype(int)
    centre = frame[100:140, 100:140].astype(int)
    assert (np.abs(centre - background).sum(-1) > 60).all()
    assert np.abs(frame[:, :4].astype(int) - background).max() <= 2


def test_albedo_mode_shows_the_albedo_and_edits_appear_live(viewer):
    red = np.zeros((64, 64, 3), dtype=np.uint8)
    red[..., 0] = 230
    viewer.set_albedo(red)
    viewer.set_mode(DisplayMode.ALBEDO)
    centre = grab(viewer)[120, 120]
    assert centre[0] > 200 and centre[1] < 30 and centre[2] < 30
    red[..., 2] = 230
    viewer.set_albedo(red)
    assert grab(viewer)[120, 120, 2] > 200


def test_dragging_orbits_and_double_click_resets(viewer, qtbot):
    before = grab(viewer)
    with qtbot.waitSignal(viewer.view_changed, timeout=2000):
        qtbot.mousePress(viewer, Qt.MouseButton.LeftButton, pos=QPoint(100, 120))
        qtbot.mouseMove(viewer, QPoint(160, 120))
        qtbot.mouseRelease(viewer, Qt.MouseButton.LeftButton, pos=QPoint(160, 120))
    assert viewer.view.yaw > 0.2
    assert np.abs(grab(viewer).astype(int) - before).sum() > 0
    qtbot.mouseDClick(viewer, Qt.MouseButton.LeftButton, pos=QPoint(120, 120))
    assert viewer.view == OrbitView()


def test_the_controls_hint_shows_when_the_pointer_rests(viewer, qtbot):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    from facecraft.app.viewer3d import CONTROLS_HINT, HINT_DELAY_MS

    point = QPointF(100, 100)
    move = QMouseEvent(QEvent.Type.MouseMove, point, viewer.mapToGlobal(point), Qt.MouseButton.NoButton,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewer, move)
    assert not QToolTip.isVisible()  # not at once
    qtbot.waitUntil(QToolTip.isVisible, timeout=HINT_DELAY_MS + 2000)
    assert QToolTip.text() == CONTROLS_HINT
    viewer.pointer_left()
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=2000)


def test_the_view_is_a_native_gl_window_not_a_gl_widget(viewer):
    # A QOpenGLWidget would make Qt composite the whole main window through OpenGL (slow on llvmpipe).
    from PySide6.QtOpenGLWidgets import QOpenGLWidget

    assert not isinstance(viewer, QOpenGLWidget) and not viewer.findChildren(QOpenGLWidget)
    assert viewer.findChild(QWidget) is not None  # the window container
