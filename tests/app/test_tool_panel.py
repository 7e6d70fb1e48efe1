"""The tool panel: widgets <-> EditorState binding without feedback loops; the active layer it shares."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from panel_support import PHOTO, STICKERS, record, texts
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QFileDialog, QMessageBox

from facecraft.app.state import Tool
from facecraft.app.tool_panel import NEW_STICKER_PLACEMENT
from facecraft.core.editing.document import BrushSettings
from facecraft.core.editing.layers import LayerKind, MakeupSpec
from facecraft.core.editing.regions import MAKEUP_PRESETS, MAKEUP_REGIONS
from facecraft.core.editing.sticker import load_sticker


def test_tool_actions_are_exclusive_checkable_and_have_shortcuts(tools, state):
    keys = {tool: action.shortcut().toString() for tool, action in tools.tool_actions.items()}
    assert keys == {Tool.NAVIGATE: "N", Tool.BRUSH: "B", Tool.ERASER: "E", Tool.STICKER: "S"}
    assert all(action.isCheckable() for action in tools.tool_actions.values())
    assert tools.tool_group.isExclusive()
    assert tools.tool_actions[state.tool].isChecked()
    assert "(E)" in tools.tool_buttons[Tool.ERASER].toolTip()
    assert tools.tool_buttons[Tool.ERASER].defaultAction() is tools.tool_actions[Tool.ERASER]


def test_model_tool_change_checks_its_button_without_echo(tools, state):
    changes = record(state.tool_changed)
    state.set_tool(Tool.ERASER)
    assert tools.tool_buttons[Tool.ERASER].isChecked()
    assert not tools.tool_buttons[Tool.BRUSH].isChecked()
    assert changes == [(Tool.ERASER,)]


def test_clicking_a_tool_button_or_its_shortcut_action_sets_the_tool(tools, state, qtbot):
    changes = record(state.tool_changed)
    qtbot.mouseClick(tools.tool_buttons[Tool.NAVIGATE], Qt.MouseButton.LeftButton)
    assert state.tool is Tool.NAVIGATE
    tools.tool_actions[Tool.STICKER].trigger()
    assert state.tool is Tool.STICKER
    assert tools.tool_actions[Tool.STICKER].isChecked()
    assert changes == [(Tool.NAVIGATE,), (Tool.STICKER,)]


# -- tool panel: brush -------------------------------------------------------------------------------


def test_brush_widgets_follow_the_model(tools, state):
    changes = record(state.brush_changed)
    brush = BrushSettings(colour=(0.2, 0.4, 0.6), radius=40.0, hardness=0.25, opacity=0.6)
    state.set_brush(brush)
    assert tools.brush_size.value() == 40 and tools.brush_size.spin.value() == 40
    assert tools.brush_hardness.value() == 25
    assert tools.brush_opacity.spin.value() == 60
    assert tools.brush_colour.colour() == pytest.approx((0.2, 0.4, 0.6))
    assert changes == [(brush,)]
    assert state.brush == brush


def test_brush_widgets_change_the_model(tools, state, monkeypatch):
    changes = record(state.brush_changed)
    tools.brush_size.slider.setValue(80)
    assert state.brush.radius == 80.0 and tools.brush_size.spin.value() == 80
    tools.brush_hardness.spin.setValue(30)
    assert state.brush.hardness == pytest.approx(0.3) and tools.brush_hardness.slider.value() == 30
    tools.brush_opacity.slider.setValue(45)
    assert state.brush.opacity == pytest.approx(0.45)
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args: QColor(0, 128, 255))
    tools.brush_colour.click()
    assert state.brush.colour == pytest.approx((0.0, 128 / 255, 1.0), abs=1e-3)
    assert len(changes) == 4


def test_cancelling_the_colour_dialog_changes_nothing(tools, state, monkeypatch):
    changes = record(state.brush_changed)
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args: QColor())
    tools.brush_colour.click()
    assert changes == []


def test_bracket_actions_step_the_brush_size(tools, state):
    smaller, larger = tools.extra_actions
    assert (smaller.shortcut().toString(), larger.shortcut().toString()) == ("[", "]")
    state.set_brush(replace(state.brush, radius=20.0))
    larger.trigger()
    assert state.brush.radius == 23.0 and tools.brush_size.value() == 23
    smaller.trigger()
    smaller.trigger()
    assert state.brush.radius < 20.0
    state.set_brush(replace(state.brush, radius=1.0))
    smaller.trigger()
    assert state.brush.radius == 1.0
    state.set_brush(replace(state.brush, radius=2.0))
    larger.trigger()
    assert state.brush.radius == 3.0


def test_shortcut_keys_work_in_a_shown_window(tools, state, qtbot):
    with qtbot.waitActive(tools):
        tools.show()
        tools.activateWindow()
    radius = state.brush.radius
    qtbot.keyClick(tools, Qt.Key.Key_BracketRight)
    assert state.brush.radius > radius
    qtbot.keyClick(tools, Qt.Key.Key_N)
    assert state.tool is Tool.NAVIGATE and tools.tool_buttons[Tool.NAVIGATE].isChecked()


# -- tool panel: makeup ------------------------------------------------------------------------------


def test_makeup_presets_cover_the_regions():
    assert sorted(preset.region for preset in MAKEUP_PRESETS) == sorted(MAKEUP_REGIONS)
    assert [preset.label for preset in MAKEUP_PRESETS] == ["Lipstick", "Blush", "Eyeshadow"]


def test_makeup_widgets_follow_the_model(tools, state):
    assert tools.makeup_preset.currentText() == "Lipstick"
    changes = record(state.makeup_changed)
    spec = MakeupSpec("cheeks", (0.9, 0.5, 0.4), 0.35)
    state.set_makeup(spec)
    assert tools.makeup_preset.currentText() == "Blush"
    assert tools.makeup_colour.colour() == pytest.approx(spec.colour)
    assert tools.makeup_strength.value() == 35
    assert changes == [(spec,)]


def test_makeup_widgets_change_the_model(tools, state, monkeypatch):
    tools.makeup_preset.setCurrentIndex(2)
    eyeshadow = MAKEUP_PRESETS[2]
    assert state.makeup == MakeupSpec(eyeshadow.region, eyeshadow.colour, 0.5)
    tools.makeup_strength.slider.setValue(70)
    assert state.makeup.strength == pytest.approx(0.7)
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args: QColor(255, 0, 0))
    tools.makeup_colour.click()
    assert state.makeup.colour == (1.0, 0.0, 0.0)
    assert state.makeup.region == "eyelids"


def test_apply_makeup_needs_a_document_and_adds_a_makeup_layer(tools, state, photo, decomposition):
    assert not tools.apply_makeup_button.isEnabled()
    state.open_photo(photo, PHOTO.read_bytes())
    assert not tools.apply_makeup_button.isEnabled()
    state.set_decomposition(decomposition)
    assert tools.apply_makeup_button.isEnabled()
    tools.apply_makeup_button.click()
    (layer,) = state.document.layers
    assert layer.kind is LayerKind.MAKEUP and layer.makeup == state.makeup
    assert state.active_layer is layer


def test_active_makeup_layer_updates_once_when_the_slider_is_released(tools, loaded):
    state = loaded
    layer = state.add_makeup(MakeupSpec("lips", (0.7, 0.1, 0.2), 0.5))
    revision = state.document.revision
    slider = tools.makeup_strength.slider
    slider.setSliderDown(True)
    for value in (55, 60, 65, 80):
        slider.setValue(value)
    assert layer.makeup.strength == 0.5 and state.document.revision == revision
    assert state.makeup.strength == pytest.approx(0.8)
    slider.setSliderDown(False)
    assert layer.makeup.strength == pytest.approx(0.8)
    assert state.document.revision == revision + 1
    state.undo()
    assert layer.makeup.strength == 0.5
    assert tools.makeup_strength.value() == 50 and state.makeup.strength == 0.5


def test_active_makeup_layer_follows_preset_and_colour(tools, loaded, monkeypatch):
    state = loaded
    layer = state.add_makeup()
    tools.makeup_preset.setCurrentIndex(1)
    assert layer.makeup.region == "cheeks"
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args: QColor(0, 0, 255))
    tools.makeup_colour.click()
    assert layer.makeup.colour == (0.0, 0.0, 1.0)
    paint = state.add_paint_layer()
    assert state.active_layer is paint
    tools.makeup_preset.setCurrentIndex(0)
    assert layer.makeup.region == "cheeks"


def test_selecting_a_makeup_layer_shows_its_settings(tools, loaded):
    state = loaded
    blush = state.add_makeup(MakeupSpec("cheeks", (0.9, 0.4, 0.4), 0.3))
    state.add_paint_layer()
    state.set_makeup(MakeupSpec("lips", (0.7, 0.1, 0.2), 0.9))
    state.set_active_layer(blush)
    assert state.makeup == blush.makeup
    assert tools.makeup_preset.currentText() == "Blush" and tools.makeup_strength.value() == 30


# -- tool panel: stickers ----------------------------------------------------------------------------


def test_gallery_lists_the_shipped_stickers(tools):
    gallery = tools.sticker_gallery
    paths = [gallery.item(row).data(Qt.ItemDataRole.UserRole) for row in range(gallery.count())]
    assert paths == [str(path) for path in sorted(STICKERS.glob("*.png"))]
    assert len(paths) >= 5 and gallery.currentRow() == 0
    assert not gallery.item(0).icon().isNull()


def test_shipped_stickers_are_small_rgba_images_with_soft_edges():
    for name in ("star", "heart", "flower", "butterfly", "tattoo_swirl"):
        path = STICKERS / f"{name}.png"
        assert path.stat().st_size < 64_000
        image = load_sticker(path)
        assert image.shape == (256, 256, 4)
        alpha = image[..., 3]
        assert alpha[0].max() == alpha[-1].max() == 0
        assert 0.1 < (alpha > 0).mean() < 0.9
        assert ((alpha > 0) & (alpha < 255)).sum() > 200


def test_place_sticker_adds_the_selected_gallery_sticker(tools, state, photo, decomposition):
    assert not tools.place_sticker_button.isEnabled()
    state.open_photo(photo, PHOTO.read_bytes())
    state.set_decomposition(decomposition)
    assert tools.place_sticker_button.isEnabled()
    changes = record(state.layers_changed)
    tools.place_sticker_button.click()
    (layer,) = state.document.layers
    first = tools.sticker_gallery.item(0).data(Qt.ItemDataRole.UserRole)
    assert layer.kind is LayerKind.STICKER
    np.testing.assert_array_equal(layer.sticker, load_sticker(first))
    assert layer.placement == NEW_STICKER_PLACEMENT
    assert state.active_layer is layer and len(changes) == 1


def test_tattoo_checkbox_places_a_multiply_layer(tools, loaded):
    tools.tattoo_checkbox.setChecked(True)
    tools.place_sticker_button.click()
    assert loaded.document.layers[-1].kind is LayerKind.TATTOO
    tattoo_row = next(
        row
        for row in range(tools.sticker_gallery.count())
        if "tattoo" in tools.sticker_gallery.item(row).text().lower()
    )
    tools.sticker_gallery.setCurrentRow(tattoo_row)
    assert tools.tattoo_checkbox.isChecked()
    tools.sticker_gallery.setCurrentRow(0)
    assert not tools.tattoo_checkbox.isChecked()


def test_loading_a_broken_png_shows_a_warning(tools, tmp_path, monkeypatch):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    warnings: list[tuple[str, str]] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(broken), ""))
    monkeypatch.setattr(
        QMessageBox, "warning", lambda parent, title, text, *rest: warnings.append((title, text))
    )
    count = tools.sticker_gallery.count()
    tools.load_sticker_button.click()
    assert len(warnings) == 1
    title, text = warnings[0]
    assert title == "Cannot load sticker"
    assert "broken.png" in text and "not an image" in text and "Traceback" not in text
    assert tools.sticker_gallery.count() == count


def test_loading_a_png_adds_it_to_the_gallery_and_places_it(tools, loaded, tmp_path, monkeypatch):
    from PIL import Image

    image = np.zeros((40, 60, 4), np.uint8)
    image[10:30, 10:50] = (0, 200, 0, 255)
    path = tmp_path / "green box.png"
    Image.fromarray(image).save(path)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(path), ""))
    tools.load_sticker_button.click()
    tools.load_sticker_button.click()
    gallery = tools.sticker_gallery
    assert [gallery.item(row).text() for row in range(gallery.count())].count("Green box") == 1
    assert gallery.currentItem().text() == "Green box"
    tools.place_sticker_button.click()
    np.testing.assert_array_equal(loaded.document.layers[-1].sticker, image)
    assert loaded.document.layers[-1].name == "Green box"


def test_cancelling_the_file_dialog_does_nothing(tools, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: ("", ""))
    count = tools.sticker_gallery.count()
    tools.load_sticker_button.click()
    assert tools.sticker_gallery.count() == count


# -- layer panel -------------------------------------------------------------------------------------


def test_both_panels_share_the_active_layer(tools, layers, loaded):
    state = loaded
    tools.apply_makeup_button.click()
    tools.place_sticker_button.click()
    assert texts(layers) == ["Butterfly (sticker)", "Lips (makeup)"]
    assert layers.layer_list.currentRow() == 0
    layers.layer_list.setCurrentRow(1)
    assert state.active_layer is state.document.layers[0]
    assert tools.makeup_preset.currentText() == "Lipstick"
