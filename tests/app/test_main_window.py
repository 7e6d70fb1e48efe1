"""The whole application: open the sample photo, decompose, place a sticker, undo/redo, export."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from facecraft.app.main import build_window
from facecraft.app.state import Tool
from facecraft.core.editing.layers import LayerKind
from facecraft.core.io.image_read import load_image
from facecraft.core.resources import resource_path

ASTRONAUT = resource_path("samples/astronaut.jpg")
WAIT_MS = 90_000


def open_sample(window, qtbot):
    with qtbot.waitSignal(window.editor_ready, timeout=WAIT_MS):
        assert window.open_photo(ASTRONAUT)
    assert window.state.decomposition is not None


def changed_pixels(window) -> int:
    editor = window.state.editor
    return int((editor.edited_photo != editor.photo).any(-1).sum())


def test_open_sticker_undo_redo_export(window, qtbot, tmp_path):
    open_sample(window, qtbot)
    assert "astronaut.jpg" in window.windowTitle()
    assert window.photo_view.image_size == (512, 512)
    assert window.uv_view.image_size == window.state.editor.canvas_size

    # place the first sample sticker through the tool panel
    window.state.set_tool(Tool.STICKER)
    window.tool_panel.place_sticker_button.click()
    layers = window.state.document.layers
    assert len(layers) == 1 and layers[0].kind is LayerKind.STICKER
    assert changed_pixels(window) > 0
    assert window.isWindowModified()
    edited = window.state.editor.edited_photo.copy()

    window.undo_action.trigger()
    assert changed_pixels(window) == 0
    window.redo_action.trigger()
    assert np.array_equal(window.state.editor.edited_photo, edited)

    image = tmp_path / "out" / "edited.png"
    with qtbot.waitSignal(window.file_written, timeout=WAIT_MS) as written:
        assert window.export_image(image)  # written in the background
    assert written.args == ["image", str(image), True]
    assert np.array_equal(load_image(image).original, edited)
    mesh = tmp_path / "out" / "face.obj"
    assert window.export_mesh(mesh, wait=True)
    assert (tmp_path / "out" / "face.mtl").is_file() and (tmp_path / "out" / "face_albedo.png").is_file()

    session = tmp_path / "face.facecraft"
    assert window.save_session(session, wait=True)
    assert not window.isWindowModified()


def test_a_failed_export_keeps_the_edits(window, qtbot, tmp_path, monkeypatch):
    open_sample(window, qtbot)
    window.state.add_makeup()
    edited = window.state.editor.edited_photo.copy()
    shown = []
    monkeypatch.setattr(
        QMessageBox, "exec", lambda box: shown.append(box.text() + " | " + box.informativeText())
    )
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with qtbot.waitSignal(window.file_written, timeout=WAIT_MS) as written:
        window.export_image(blocker / "edited.png")
    assert written.args[2] is False
    assert shown and "your edits are kept" in shown[0]
    assert np.array_equal(window.state.editor.edited_photo, edited) and window.isWindowModified()
    assert window.export_image(tmp_path / "ok.png", wait=True) and (tmp_path / "ok.png").is_file()


def test_painting_on_the_photo_paints_the_face(window, qtbot):
    open_sample(window, qtbot)
    window.state.set_tool(Tool.BRUSH)
    landmarks = window.state.decomposition.detected_landmarks68
    start, end = (landmarks[3] + landmarks[31]) / 2, (landmarks[13] + landmarks[35]) / 2
    window.photo_view.stroke_started.emit(*start)
    for t in np.linspace(0, 1, 12):
        window.photo_view.stroke_moved.emit(*(start + t * (end - start)))
    window.photo_view.stroke_finished.emit()
    assert changed_pixels(window) > 50
    assert window.undo_action.isEnabled()


def test_an_unreadable_file_is_a_dialog_not_a_traceback(window, qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append((box.windowTitle(), box.text())) or 0)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"garbage")
    with qtbot.waitSignal(window.photo_failed, timeout=10_000):
        window.open_photo(broken)
    assert shown and shown[0][0] == "Cannot open the photo" and "broken.jpg" in shown[0][1]
    assert window.state.photo is None


def test_a_photo_without_a_face_says_so(window, qtbot, tmp_path, monkeypatch):
    from PIL import Image

    shown = []
    monkeypatch.setattr(
        QMessageBox, "exec", lambda box: shown.append(box.text() + box.informativeText()) or 0
    )
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((300, 300, 3), 120, np.uint8)).save(blank)
    with qtbot.waitSignal(window.runner.failed, timeout=WAIT_MS):
        assert window.open_photo(blank)
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert "no face" in shown[0]
    assert f"{blank}: no face" in shown[0] and shown[0].count(str(blank)) == 1  # which photo, named once


def test_closing_with_unsaved_edits_asks(window, qtbot, monkeypatch):
    open_sample(window, qtbot)
    window.state.add_makeup()
    asked = []
    monkeypatch.setattr(
        QMessageBox,
        "warning",
        lambda *args, **kwargs: asked.append(args[2]) or QMessageBox.StandardButton.Cancel,
    )
    assert not window.close()  # cancelled: the window stays
    assert asked and "not saved" in asked[0]
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kwargs: QMessageBox.StandardButton.Discard)


def test_several_faces_are_outlined_and_a_click_switches(window, qtbot, tmp_path):
    import cv2
    from PIL import Image

    rgb = load_image(ASTRONAUT).rgb
    canvas = np.full((520, 1100, 3), 200, np.uint8)
    canvas[4:516, 10:522] = rgb
    canvas[40:480, 640:1080] = cv2.resize(rgb, (440, 440), interpolation=cv2.INTER_AREA)
    photo = tmp_path / "two.png"
    Image.fromarray(canvas).save(photo)
    with qtbot.waitSignal(window.editor_ready, timeout=WAIT_MS):
        window.open_photo(photo)
    assert window.state.decomposition.face_count == 2 and window.state.decomposition.face_index == 0
    assert len(window.photo_view._boxes) == 2
    window.state.set_tool(Tool.NAVIGATE)
    x0, y0, x1, y1 = window.views.faces[1]
    with qtbot.waitSignal(window.editor_ready, timeout=WAIT_MS):
        window.photo_view.clicked.emit((x0 + x1) / 2, (y0 + y1) / 2)
    assert window.state.decomposition.face_index == 1
    assert window.state.decomposition.face_box[0] > 600


def test_brush_folder_and_layout_persist_between_runs(qtbot, tmp_path, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kwargs: QMessageBox.StandardButton.Discard)
    path = str(tmp_path / "settings.ini")
    first = build_window(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(first)
    brush = replace(first.state.brush, radius=33.0, colour=(0.1, 0.6, 0.3), hardness=0.25)
    first.state.set_brush(brush)
    first.preferences.remember_folder(tmp_path / "photo.jpg")
    first.docks["Layers"].hide()
    first.close()
    first.runner.shutdown()

    second = build_window(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    assert second.state.brush.radius == 33.0 and second.state.brush.hardness == 0.25
    assert np.allclose(second.state.brush.colour, (0.1, 0.6, 0.3))
    assert second.tool_panel.brush_size.value() == 33
    assert second.file_controller.last_folder() == str(tmp_path)
    assert not second.docks["Layers"].isVisibleTo(second)
    second.close()
    second.runner.shutdown()


def test_painting_on_the_3d_view_reaches_the_photo(window, qtbot):
    open_sample(window, qtbot)
    window.state.set_tool(Tool.BRUSH)
    window.viewer3d.stroke_started.emit(0.40, 0.62)
    for u in np.linspace(0.40, 0.60, 10):
        window.viewer3d.stroke_moved.emit(float(u), 0.62)
    window.viewer3d.stroke_finished.emit()
    assert changed_pixels(window) > 20
    # a press off the face starts nothing on the canvas but must not fail
    window.viewer3d.stroke_started.emit(float("nan"), float("nan"))
    window.viewer3d.stroke_finished.emit()


def test_sticker_handles_move_scale_and_rotate_as_one_undo_step_each(window, qtbot):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtWidgets import QGraphicsSceneMouseEvent

    open_sample(window, qtbot)
    window.tabs.setCurrentWidget(window.uv_view)
    window.state.set_tool(Tool.STICKER)
    window.tool_panel.place_sticker_button.click()
    layer = window.state.active_layer
    handles = window.sticker_handles
    assert handles.isVisible()
    start = layer.placement
    height, width = window.state.editor.canvas_size

    def drag(from_point: QPointF, to_point: QPointF) -> None:
        for kind, point in (
            (QEvent.Type.GraphicsSceneMousePress, from_point),
            (QEvent.Type.GraphicsSceneMouseMove, to_point),
            (QEvent.Type.GraphicsSceneMouseRelease, to_point),
        ):
            event = QGraphicsSceneMouseEvent(kind)
            event.setScenePos(point)
            event.setButton(Qt.MouseButton.LeftButton)
            {
                QEvent.Type.GraphicsSceneMousePress: handles.mousePressEvent,
                QEvent.Type.GraphicsSceneMouseMove: handles.mouseMoveEvent,
                QEvent.Type.GraphicsSceneMouseRelease: handles.mouseReleaseEvent,
            }[kind](event)

    centre = QPointF(start.centre[0] * width, start.centre[1] * height)
    drag(centre, centre + QPointF(50.0, -20.0))  # move
    moved = layer.placement
    assert moved.centre[0] == pytest.approx(start.centre[0] + 50.0 / width)
    assert moved.centre[1] == pytest.approx(start.centre[1] - 20.0 / height)
    corners, knob = handles._corners()
    new_centre = QPointF(moved.centre[0] * width, moved.centre[1] * height)
    drag(corners[2], new_centre + (corners[2] - new_centre) * 1.5)  # scale by 1.5
    assert layer.placement.width == pytest.approx(moved.width * 1.5, rel=1e-3)
    corners, knob = handles._corners()
    drag(knob, QPointF(new_centre.x() - (knob.y() - new_centre.y()) * -1.0, new_centre.y()))  # a quarter turn
    assert abs(abs(layer.placement.rotation - moved.rotation) - 90.0) < 1.0
    for _ in range(3):
        window.state.undo()
    assert layer.placement == start


def test_missing_weights_say_what_to_do(qtbot, tmp_path, monkeypatch):
    from facecraft.app.main_window import MainWindow
    from facecraft.app.workers import DecompositionRunner, prepare_face
    from facecraft.core.errors import ResourceError
    from facecraft.core.face.template import load_template

    shown = []
    monkeypatch.setattr(
        QMessageBox, "exec", lambda box: shown.append(box.text() + " | " + box.informativeText())
    )

    def broken_weights():
        raise ResourceError("facecraft.pt: the model weights are corrupt")

    runner = DecompositionRunner(broken_weights, postprocess=prepare_face)
    window = MainWindow(
        load_template(), runner, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(window)
    with qtbot.waitSignal(runner.failed, timeout=WAIT_MS):
        window.open_photo(ASTRONAUT)
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert "weights are corrupt" in shown[0] and "Reinstall" in shown[0]
    window.close()
    window.loader.wait()
    runner.shutdown()


def test_a_photo_dropped_on_the_window_opens(window, qtbot, file_drop):
    with qtbot.waitSignal(window.editor_ready, timeout=WAIT_MS):
        window.dropEvent(file_drop(ASTRONAUT))
    assert window.photo_path == ASTRONAUT
    assert str(ASTRONAUT) in window.file_controller.recent()


def test_a_saved_session_reopens_with_its_edits(window, qtbot, tmp_path, monkeypatch):
    open_sample(window, qtbot)
    window.state.add_makeup()
    window.state.set_tool(Tool.STICKER)
    window.tool_panel.place_sticker_button.click()
    edited = window.state.editor.edited_photo.copy()
    session = tmp_path / "face.facecraft"
    assert window.save_session(session, wait=True)
    window.state.undo()  # an unsaved change, discarded when the session is reopened
    with qtbot.waitSignal(window.editor_ready, timeout=WAIT_MS):
        window.open_session(session)
    assert len(window.state.document.layers) == 2
    assert np.array_equal(window.state.editor.edited_photo, edited)
    assert not window.isWindowModified() and "face.facecraft" in window.windowTitle()

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.windowTitle() + ": " + box.text()))
    damaged = tmp_path / "damaged.facecraft"
    damaged.write_bytes(session.read_bytes()[:1000])
    with qtbot.waitSignal(window.photo_failed, timeout=10_000):
        window.open_session(damaged)
    assert shown and shown[0].startswith("Cannot open the session") and "damaged.facecraft" in shown[0]
    assert np.array_equal(window.state.editor.edited_photo, edited)  # the open session is untouched


def test_relighting_from_the_panel_and_back(window, qtbot):
    open_sample(window, qtbot)
    panel = window.lighting_panel
    assert panel.isEnabled() and not panel.group.isChecked()
    panel.azimuth.set_value(70)
    panel.group.setChecked(True)
    assert window.state.relight_settings is not None and window.state.relight_settings.azimuth == 70.0
    assert changed_pixels(window) > 0.5 * window.state.editor.surface.covered.sum()
    assert window.isWindowModified()
    panel.group.setChecked(False)
    assert changed_pixels(window) == 0


def test_edits_never_reach_the_original_in_the_before_and_input_views(window, qtbot):
    open_sample(window, qtbot)
    window.state.add_makeup()
    original = window.state.photo.original
    for image in (window.photo_view._before.image, window.panes["Input"]._item.image):
        pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
        assert np.array_equal(
            pixels[:, : image.width() * 3].reshape(image.height(), image.width(), 3), original
        )
    edited = window.photo_view._item.image
    pixels = np.frombuffer(edited.constBits(), np.uint8).reshape(edited.height(), edited.bytesPerLine())
    assert not np.array_equal(
        pixels[:, : edited.width() * 3].reshape(edited.height(), edited.width(), 3), original
    )
