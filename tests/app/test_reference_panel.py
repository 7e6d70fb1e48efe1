"""The Reference dock: open a reference, copy lips at 50 %, undo; bad references change nothing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from facecraft.core.editing.layers import LayerKind
from facecraft.core.editing.relighting import ReferenceLight
from facecraft.core.io.image_read import load_image
from facecraft.core.io.image_write import write_image
from facecraft.core.resources import resource_path

ASTRONAUT = resource_path("samples/astronaut.jpg")
WAIT_MS = 90_000


@pytest.fixture
def reference_photo(tmp_path) -> Path:
    """The astronaut mirrored with its hue turned (a different-looking face, the same person)."""
    rgb = load_image(ASTRONAUT).rgb[:, ::-1]
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + 150) % 180).astype(np.uint8)
    path = tmp_path / "reference.png"
    write_image(path, cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
    return path


@pytest.fixture
def opened(window, qtbot):
    with qtbot.waitSignal(window.editor_ready, timeout=WAIT_MS):
        assert window.open_photo(ASTRONAUT)
    return window


def load(window, qtbot, path: Path, face: int = 0) -> None:
    panel = window.reference_panel
    with qtbot.waitSignal(panel.reference_changed, timeout=WAIT_MS):
        panel.open(path, face)
    window.reference_panel.loader.wait()


def test_open_a_reference_copy_lips_at_half_strength_and_undo(opened, qtbot, reference_photo):
    window, panel = opened, opened.reference_panel
    assert not panel.copy_button.isEnabled()  # nothing to copy from yet
    load(window, qtbot, reference_photo)
    assert panel.reference.name == "reference.png"
    assert panel.photo_view.image_size == (512, 512) and panel.uv_view.image_size != (0, 0)
    assert panel.regions() == ("lips",) and panel.copy_button.isEnabled()
    assert window.lighting_panel.reference_group.isEnabled()

    original = window.state.editor.edited_photo.copy()
    panel.strength.set_value(50)
    panel.copy_button.click()
    (layer,) = window.state.document.layers
    assert layer.kind is LayerKind.COLOUR_COPY and layer.transfer.strength == 0.5
    assert abs(int(layer.pixels[..., 3].max()) - 0.5 * 255) <= 1.0
    assert window.layer_panel.isEnabled() and window.state.active_layer is layer
    changed = (window.state.editor.edited_photo != original).any(-1)
    assert changed.sum() > 100 and window.isWindowModified()
    window.undo_action.trigger()
    assert window.state.document.layers == []
    assert np.array_equal(window.state.editor.edited_photo, original)


def test_a_reference_without_a_face_is_a_message_and_changes_nothing(opened, qtbot, tmp_path, monkeypatch):
    window, panel = opened, opened.reference_panel
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(f"{box.windowTitle()}: {box.text()}"))
    wall = tmp_path / "wall.png"
    write_image(wall, np.full((120, 160, 3), 70, np.uint8))
    with qtbot.waitSignal(panel.loader.failed, timeout=WAIT_MS):
        panel.open(wall)
    panel.loader.wait()
    assert shown and shown[0].startswith("Cannot use the reference photo") and "wall.png" in shown[0]
    assert panel.reference is None and not panel.copy_button.isEnabled()
    assert window.state.document.layers == []


def test_a_turned_away_region_is_refused_by_name(opened, qtbot, reference_photo, monkeypatch):
    window, panel = opened, opened.reference_panel
    load(window, qtbot, reference_photo)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.text()))
    reference = panel.reference
    weight = reference.weight.copy()
    weight[:, :] = 0.0  # as if the reference showed nothing of its face
    object.__setattr__(reference, "weight", weight)
    panel.region_boxes["brows"].setChecked(True)
    assert not panel.copy()
    assert shown and "of the reference's lips is visible" in shown[0]
    assert window.state.document.layers == []


def test_painted_mask_copies_only_where_painted(opened, qtbot, reference_photo):
    window, panel = opened, opened.reference_panel
    load(window, qtbot, reference_photo)
    panel.region_boxes["lips"].setChecked(False)
    panel.region_boxes["painted"].setChecked(True)
    assert panel.uv_view.painting and panel.clear_mask_button.isEnabled()
    panel.mode.setCurrentIndex(panel.mode.findData("texture"))
    panel.uv_view.stroke_started.emit(336.0, 290.0)  # the middle of the preview (672 x 576)
    panel.uv_view.stroke_moved.emit(346.0, 300.0)
    assert panel.copy()
    (layer,) = window.state.document.layers
    rows, cols = np.nonzero(layer.pixels[..., 3])
    assert layer.kind is LayerKind.TEXTURE_COPY and layer.transfer.regions == ("painted",)
    assert 500 < rows.mean() < 700 and 560 < cols.mean() < 800


def test_the_references_lighting_from_the_lighting_dock(opened, qtbot, reference_photo):
    window = opened
    load(window, qtbot, reference_photo)
    lighting = window.lighting_panel
    lighting.mix.set_value(60)
    lighting.reference_group.setChecked(True)
    settings = window.state.relight_settings
    assert isinstance(settings, ReferenceLight) and settings.mix == 0.6
    assert window.state.editor.compositor.relit and not lighting.group.isChecked()
    lighting.group.setChecked(True)  # the studio light replaces it
    assert not lighting.reference_group.isChecked()
    lighting.group.setChecked(False)
    editor = window.state.editor
    assert not editor.compositor.relit and np.array_equal(editor.edited_photo, editor.photo)


def test_a_photo_dropped_on_the_reference_dock_becomes_the_reference(
    opened, qtbot, reference_photo, file_drop
):
    window, panel = opened, opened.reference_panel
    with qtbot.waitSignal(panel.reference_changed, timeout=WAIT_MS):
        panel.dropEvent(file_drop(reference_photo))
    panel.loader.wait()
    assert panel.reference.name == "reference.png"
    assert window.photo_path == ASTRONAUT  # the photo being edited is still the same


def test_cancelling_a_reference_keeps_the_previous_one(opened, qtbot, reference_photo):
    window, panel = opened, opened.reference_panel
    load(window, qtbot, reference_photo)
    first = panel.reference
    assert not panel.cancel_button.isVisible()
    # the worker waits on the engine's lock, so Cancel comes before any work
    with qtbot.waitSignal(panel.loader.cancelled, timeout=20_000), panel.loader._engine_lock:
        panel.open(reference_photo, face=0)
        panel.cancel_button.click()
    panel.loader.wait()
    assert panel.reference is first and not panel.cancel_button.isVisible()
    assert panel.status.text() == "Reference: reference.png"


def test_a_click_on_another_face_of_the_reference_uses_that_face(opened, qtbot, tmp_path):
    window, panel = opened, opened.reference_panel
    rgb = load_image(ASTRONAUT).rgb
    photo = np.full((520, 1100, 3), 200, np.uint8)
    photo[4:516, 10:522] = rgb
    photo[40:480, 640:1080] = cv2.resize(rgb, (440, 440), interpolation=cv2.INTER_AREA)
    path = tmp_path / "two.png"
    write_image(path, photo)
    load(window, qtbot, path)
    assert panel.reference.face_index == 0 and len(panel.reference.face_boxes) == 2
    assert "face 1 of 2" in panel.status.text()
    x0, y0, x1, y1 = panel.reference.face_boxes[1]
    with qtbot.waitSignal(panel.reference_changed, timeout=WAIT_MS):
        panel._photo_clicked((x0 + x1) / 2, (y0 + y1) / 2)
    panel.loader.wait()
    assert panel.reference.face_index == 1 and "face 2 of 2" in panel.status.text()
