"""The layer panel: widgets <-> EditorState binding, without feedback loops."""

from __future__ import annotations

import pytest
from panel_support import PHOTO, STICKERS, record, texts
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QInputDialog

from facecraft.app.tool_panel import NEW_STICKER_PLACEMENT
from facecraft.core.editing.layers import MakeupSpec
from facecraft.core.editing.sticker import load_sticker


def test_layer_panel_is_disabled_without_a_document(layers, state, photo, decomposition):
    controls = (layers.layer_list, layers.new_button, layers.delete_button, layers.opacity)
    assert not any(widget.isEnabled() for widget in controls)
    state.open_photo(photo, PHOTO.read_bytes())
    assert not layers.layer_list.isEnabled()
    state.set_decomposition(decomposition)
    assert layers.layer_list.isEnabled() and layers.new_button.isEnabled()
    assert not layers.delete_button.isEnabled() and layers.layer_list.count() == 0


def test_layers_are_listed_top_first_with_their_kind(layers, loaded):
    state = loaded
    state.add_paint_layer()
    state.add_makeup(MakeupSpec("lips", (0.7, 0.1, 0.2), 0.5))
    sticker = state.add_sticker(load_sticker(STICKERS / "star.png"), NEW_STICKER_PLACEMENT, name="Star")
    assert texts(layers) == ["Star (sticker)", "Lips (makeup)", "Paint (paint)"]
    assert layers.layers == state.document.layers[::-1]
    assert layers.layer_list.currentRow() == 0 and state.active_layer is sticker
    assert all(layers.layer_list.item(row).checkState() == Qt.CheckState.Checked for row in range(3))


def test_layer_widgets_follow_the_model_with_one_signal_each(layers, loaded):
    state = loaded
    bottom = state.add_paint_layer()
    top = state.add_paint_layer()
    changes = record(state.layers_changed)
    revision = state.document.revision
    state.set_layer(bottom, visible=False)
    assert layers.layer_list.item(1).checkState() == Qt.CheckState.Unchecked
    state.set_layer(top, opacity=0.3)
    assert layers.opacity.value() == 30
    state.set_layer(top, name="Freckles")
    assert texts(layers)[0] == "Freckles (paint)"
    assert len(changes) == 3 and state.document.revision == revision + 3
    active = record(state.active_layer_changed)
    state.set_active_layer(bottom)
    assert layers.layer_list.currentRow() == 1 and layers.opacity.value() == 100
    assert active == [(bottom,)]
    state.set_active_layer(None)
    assert layers.layer_list.currentRow() == -1 and not layers.layer_list.selectedItems()
    assert not layers.delete_button.isEnabled() and not layers.opacity.isEnabled()


def test_selecting_and_ticking_items_changes_the_model(layers, loaded, qtbot):
    state = loaded
    bottom = state.add_paint_layer()
    state.add_paint_layer()
    rect = layers.layer_list.visualItemRect(layers.layer_list.item(1))
    qtbot.mouseClick(layers.layer_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert state.active_layer is bottom
    changes = record(state.layers_changed)
    layers.layer_list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert bottom.visible is False and len(changes) == 1
    state.undo()
    assert bottom.visible is True
    assert layers.layer_list.item(1).checkState() == Qt.CheckState.Checked


def test_opacity_slider_changes_the_active_layer_in_one_undo_step(layers, loaded):
    state = loaded
    layer = state.add_paint_layer()
    revision_steps = state.document.revision
    for value in (90, 70, 40):
        layers.opacity.slider.setValue(value)
    assert layer.opacity == pytest.approx(0.4)
    assert state.document.revision == revision_steps + 3
    state.undo()
    assert layer.opacity == 1.0 and layers.opacity.value() == 100
    state.undo()
    assert state.document.layers == [] and layers.layer_list.count() == 0


def test_layer_buttons_add_delete_and_move(layers, loaded):
    state = loaded
    layers.new_button.click()
    layers.new_button.click()
    first, second = state.document.layers
    assert texts(layers) == ["Paint 2 (paint)", "Paint (paint)"]
    assert state.active_layer is second
    assert not layers.up_button.isEnabled() and layers.down_button.isEnabled()
    layers.down_button.click()
    assert state.document.layers == [second, first] and layers.layer_list.currentRow() == 1
    assert layers.up_button.isEnabled() and not layers.down_button.isEnabled()
    layers.up_button.click()
    assert state.document.layers == [first, second]
    layers.delete_button.click()
    assert state.document.layers == [first] and texts(layers) == ["Paint (paint)"]
    assert state.active_layer is first
    state.undo()
    assert texts(layers) == ["Paint 2 (paint)", "Paint (paint)"]
    state.redo()
    assert texts(layers) == ["Paint (paint)"]


def test_double_click_renames_a_layer(layers, loaded, qtbot, monkeypatch):
    state = loaded
    layer = state.add_paint_layer()
    asked: list[str] = []

    def get_text(parent, title, label, echo, text):
        asked.append(text)
        return "  Freckles ", True

    monkeypatch.setattr(QInputDialog, "getText", get_text)
    rect = layers.layer_list.visualItemRect(layers.layer_list.item(0))
    point = QPoint(rect.right() - 4, rect.center().y())
    qtbot.mouseClick(layers.layer_list.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.mouseDClick(layers.layer_list.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert asked == ["Paint"]
    assert layer.name == "Freckles" and texts(layers) == ["Freckles (paint)"]
    monkeypatch.setattr(QInputDialog, "getText", lambda *args: ("Ignored", False))
    layers.layer_list.itemDoubleClicked.emit(layers.layer_list.item(0))
    assert layer.name == "Freckles"
