"""The tool panel: the active tool, the brush, makeup presets and the sticker gallery.

Every control is bound to :class:`~facecraft.app.state.EditorState`: a user change
calls a model method, and the panel updates itself from the model's signals with
its own signals blocked, so a model change never echoes back.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSignalBlocker, QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from facecraft.app.state import EditorState, Tool
from facecraft.app.widgets import ICON_SIZE, Colour, ColourButton, SliderSpin, icon_from_rgba
from facecraft.core.editing.document import BrushSettings
from facecraft.core.editing.layers import Layer, LayerKind, MakeupSpec, StickerPlacement
from facecraft.core.editing.regions import MAKEUP_PRESETS
from facecraft.core.editing.sticker import load_sticker
from facecraft.core.errors import ImageLoadError
from facecraft.core.resources import resource_path

BRUSH_RADIUS_RANGE = (1, 200)
"""Brush radius limits of the size controls, canvas texels."""
BRUSH_SIZE_STEP = 1.15
"""``[`` and ``]`` divide or multiply the brush radius by this (changing it by at least 1 texel)."""
NEW_STICKER_PLACEMENT = StickerPlacement((0.5, 0.42), 0.18, 0.0)
"""Where "Place sticker" puts a new sticker: mid-face, a little above the centre of the canvas."""
STICKER_FILE_FILTER = "Images (*.png *.webp *.jpg *.jpeg *.bmp *.tif *.tiff);;All files (*)"


_TOOLS = (
    (Tool.NAVIGATE, "Navigate", "N", "Pan and zoom the views; drag does not edit"),
    (Tool.BRUSH, "Brush", "B", "Paint on the albedo"),
    (Tool.ERASER, "Eraser", "E", "Erase paint from the active paint layer"),
    (Tool.STICKER, "Sticker", "S", "Move, scale and rotate the active sticker"),
)


class ToolPanel(QWidget):
    """Tools, brush settings, makeup presets and stickers, bound to an :class:`EditorState`.

    Attributes:
        tool_actions: one checkable action per tool, in an exclusive group, with the
            shortcuts N, B, E and S; the main window may add them to its menus.
        extra_actions: "Smaller brush" (``[``) and "Larger brush" (``]``).
        tool_buttons: the buttons showing :attr:`tool_actions`.
    """

    def __init__(self, state: EditorState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._images: dict[str, np.ndarray] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_tools())
        layout.addWidget(self._build_brush())
        layout.addWidget(self._build_makeup())
        layout.addWidget(self._build_stickers())
        layout.addStretch(1)

        state.tool_changed.connect(self._show_tool)
        state.brush_changed.connect(self._show_brush)
        state.makeup_changed.connect(self._show_makeup)
        state.active_layer_changed.connect(self._follow_active_layer)
        state.layers_changed.connect(self._follow_active_layer)
        state.photo_changed.connect(self._update_enabled)
        state.decomposition_changed.connect(self._update_enabled)
        self._show_tool(state.tool)
        self._show_brush(state.brush)
        self._show_makeup(state.makeup)
        self._update_enabled()

    # -- building ---------------------------------------------------------------------------------

    def _build_tools(self) -> QGroupBox:
        box = QGroupBox("Tools")
        row = QHBoxLayout(box)
        group = QActionGroup(self)
        group.setExclusive(True)
        self.tool_actions: dict[Tool, QAction] = {}
        self.tool_buttons: dict[Tool, QToolButton] = {}
        for tool, label, key, tip in _TOOLS:
            action = QAction(label, self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{label} ({key}): {tip}")
            action.triggered.connect(lambda _checked=False, tool=tool: self.state.set_tool(tool))
            group.addAction(action)
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setAutoRaise(False)
            row.addWidget(button)
            self.tool_actions[tool] = action
            self.tool_buttons[tool] = button
        self.tool_group = group
        return box

    def _build_brush(self) -> QGroupBox:
        box = QGroupBox("Brush")
        form = QFormLayout(box)
        self.brush_size = SliderSpin(*BRUSH_RADIUS_RANGE, " px")
        self.brush_size.setToolTip("Brush radius in albedo texels ([ smaller, ] larger)")
        self.brush_hardness = SliderSpin(0, 100, " %")
        self.brush_hardness.setToolTip("How much of the radius is fully covered; the rest fades out")
        self.brush_opacity = SliderSpin(0, 100, " %")
        self.brush_opacity.setToolTip("The most one stroke covers")
        self.brush_colour = ColourButton("Brush colour")
        form.addRow("Size", self.brush_size)
        form.addRow("Hardness", self.brush_hardness)
        form.addRow("Opacity", self.brush_opacity)
        form.addRow("Colour", self.brush_colour)
        self.brush_size.value_changed.connect(lambda v: self._change_brush(radius=float(v)))
        self.brush_hardness.value_changed.connect(lambda v: self._change_brush(hardness=v / 100.0))
        self.brush_opacity.value_changed.connect(lambda v: self._change_brush(opacity=v / 100.0))
        self.brush_colour.colour_chosen.connect(lambda c: self._change_brush(colour=c))

        smaller = QAction("Smaller brush", self)
        smaller.setShortcut(QKeySequence("["))
        smaller.triggered.connect(lambda: self.step_brush_size(-1))
        larger = QAction("Larger brush", self)
        larger.setShortcut(QKeySequence("]"))
        larger.triggered.connect(lambda: self.step_brush_size(+1))
        self.extra_actions: list[QAction] = [smaller, larger]
        self.addActions(self.extra_actions)
        return box

    def _build_makeup(self) -> QGroupBox:
        box = QGroupBox("Makeup")
        form = QFormLayout(box)
        self.makeup_preset = QComboBox()
        for preset in MAKEUP_PRESETS:
            self.makeup_preset.addItem(preset.label, preset.region)
        self.makeup_colour = ColourButton("Makeup colour")
        self.makeup_strength = SliderSpin(0, 100, " %")
        self.makeup_strength.setToolTip("How strongly the tint covers the centre of the region")
        self.apply_makeup_button = QPushButton("Apply makeup")
        self.apply_makeup_button.setToolTip("Add a makeup layer with these settings")
        form.addRow("Preset", self.makeup_preset)
        form.addRow("Colour", self.makeup_colour)
        form.addRow("Strength", self.makeup_strength)
        form.addRow(self.apply_makeup_button)
        self.makeup_preset.currentIndexChanged.connect(self._preset_chosen)
        self.makeup_colour.colour_chosen.connect(self._makeup_colour_chosen)
        self.makeup_strength.value_changed.connect(
            lambda v: self.state.set_makeup(replace(self.state.makeup, strength=v / 100.0))
        )
        self.makeup_strength.committed.connect(lambda _v: self._commit_makeup())
        self.apply_makeup_button.clicked.connect(self._apply_makeup)
        return box

    def _build_stickers(self) -> QGroupBox:
        box = QGroupBox("Stickers")
        column = QVBoxLayout(box)
        self.sticker_gallery = QListWidget()
        self.sticker_gallery.setViewMode(QListView.ViewMode.IconMode)
        self.sticker_gallery.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.sticker_gallery.setGridSize(QSize(ICON_SIZE + 28, ICON_SIZE + 26))
        self.sticker_gallery.setMovement(QListView.Movement.Static)
        self.sticker_gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.sticker_gallery.setMinimumHeight(2 * (ICON_SIZE + 26) + 8)
        for path in sorted(resource_path("stickers").glob("*.png")):
            self._add_gallery_item(path, QIcon(str(path)))
        if self.sticker_gallery.count():
            self.sticker_gallery.setCurrentRow(0)
        self.load_sticker_button = QPushButton("Load PNG…")
        self.load_sticker_button.setToolTip("Add an image file (with transparency) to the gallery")
        self.tattoo_checkbox = QCheckBox("Tattoo (multiply)")
        self.tattoo_checkbox.setToolTip("Darken the skin like ink instead of covering it")
        self.place_sticker_button = QPushButton("Place sticker")
        self.place_sticker_button.setToolTip("Add the selected sticker as a new layer")
        row = QHBoxLayout()
        row.addWidget(self.load_sticker_button)
        row.addWidget(self.tattoo_checkbox)
        column.addWidget(self.sticker_gallery)
        column.addLayout(row)
        column.addWidget(self.place_sticker_button)
        self.sticker_gallery.currentItemChanged.connect(self._sticker_selected)
        self.load_sticker_button.clicked.connect(self._load_sticker_file)
        self.place_sticker_button.clicked.connect(self._place_sticker)
        self._sticker_selected(self.sticker_gallery.currentItem())
        return box

    # -- brush ------------------------------------------------------------------------------------

    def _change_brush(self, **values: object) -> None:
        self.state.set_brush(replace(self.state.brush, **values))

    def step_brush_size(self, direction: int) -> None:
        """Make the brush larger (``direction`` > 0) or smaller by :data:`BRUSH_SIZE_STEP`."""
        radius = self.state.brush.radius
        if direction > 0:
            new = max(radius * BRUSH_SIZE_STEP, radius + 1.0)
        else:
            new = min(radius / BRUSH_SIZE_STEP, radius - 1.0)
        new = float(np.clip(round(new), *BRUSH_RADIUS_RANGE))
        if new != radius:
            self._change_brush(radius=new)

    def _show_brush(self, brush: BrushSettings) -> None:
        self.brush_size.set_value(round(brush.radius))
        self.brush_hardness.set_value(round(brush.hardness * 100))
        self.brush_opacity.set_value(round(brush.opacity * 100))
        self.brush_colour.set_colour(brush.colour)

    def _show_tool(self, tool: Tool) -> None:
        # setChecked emits toggled (which the exclusive group needs to uncheck the others),
        # never triggered, which is what sets the tool: no echo.
        self.tool_actions[Tool(tool)].setChecked(True)

    # -- makeup -----------------------------------------------------------------------------------

    def _show_makeup(self, spec: MakeupSpec) -> None:
        with QSignalBlocker(self.makeup_preset):
            self.makeup_preset.setCurrentIndex(self.makeup_preset.findData(spec.region))
        self.makeup_colour.set_colour(spec.colour)
        self.makeup_strength.set_value(round(spec.strength * 100))

    def _preset_chosen(self, index: int) -> None:
        preset = MAKEUP_PRESETS[index]
        self.state.set_makeup(MakeupSpec(preset.region, preset.colour, self.state.makeup.strength))
        self._commit_makeup()

    def _makeup_colour_chosen(self, colour: Colour) -> None:
        self.state.set_makeup(replace(self.state.makeup, colour=colour))
        self._commit_makeup()

    def _active_makeup_layer(self) -> Layer | None:
        layer = self.state.active_layer
        document = self.state.document
        if layer is None or document is None or layer.kind is not LayerKind.MAKEUP:
            return None
        return layer if any(other is layer for other in document.layers) else None

    def _commit_makeup(self) -> None:
        """Apply the makeup settings to the active makeup layer (one undo step), if there is one."""
        layer = self._active_makeup_layer()
        if layer is not None and layer.makeup != self.state.makeup:
            self.state.update_makeup(layer, self.state.makeup)

    def _follow_active_layer(self, *_args: object) -> None:
        """Show the active makeup layer's settings (after selecting it, or an undo changed it)."""
        layer = self._active_makeup_layer()
        if layer is not None and not self.makeup_strength.dragging and layer.makeup != self.state.makeup:
            self.state.set_makeup(layer.makeup)

    def _apply_makeup(self) -> None:
        if self.state.document is not None:
            self.state.add_makeup()

    # -- stickers ---------------------------------------------------------------------------------

    def _add_gallery_item(self, path: Path, icon: QIcon) -> QListWidgetItem:
        label = path.stem.replace("_", " ").capitalize()
        item = QListWidgetItem(icon, label)
        item.setData(Qt.ItemDataRole.UserRole, str(path))
        item.setToolTip(str(path))
        self.sticker_gallery.addItem(item)
        return item

    def _sticker_selected(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is not None:
            stem = Path(item.data(Qt.ItemDataRole.UserRole)).stem.lower()
            self.tattoo_checkbox.setChecked(stem.startswith("tattoo"))
        self._update_enabled()

    def _load_sticker_file(self) -> None:
        name, _filter = QFileDialog.getOpenFileName(self, "Load sticker", "", STICKER_FILE_FILTER)
        if not name:
            return
        image = self._read_sticker(Path(name))
        if image is None:
            return
        existing = self.sticker_gallery.findItems("*", Qt.MatchFlag.MatchWildcard)
        for item in existing:
            if item.data(Qt.ItemDataRole.UserRole) == name:
                self.sticker_gallery.takeItem(self.sticker_gallery.row(item))
        item = self._add_gallery_item(Path(name), icon_from_rgba(image))
        self.sticker_gallery.setCurrentItem(item)

    def _read_sticker(self, path: Path) -> np.ndarray | None:
        """The sticker image, or None after telling the user why it could not be read."""
        try:
            image = load_sticker(path)
        except ImageLoadError as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            QMessageBox.warning(self, "Cannot load sticker", f"Could not load “{path.name}”:\n{reason}")
            return None
        self._images[str(path)] = image
        return image

    def _place_sticker(self) -> None:
        item = self.sticker_gallery.currentItem()
        if item is None or self.state.document is None:
            return
        path = item.data(Qt.ItemDataRole.UserRole)
        image = self._images.get(path)
        if image is None:
            image = self._read_sticker(Path(path))
            if image is None:
                return
        self.state.add_sticker(
            image, NEW_STICKER_PLACEMENT, tattoo=self.tattoo_checkbox.isChecked(), name=item.text()
        )

    # -- availability -----------------------------------------------------------------------------

    def _update_enabled(self, *_args: object) -> None:
        has_document = self.state.document is not None
        self.apply_makeup_button.setEnabled(has_document)
        self.place_sticker_button.setEnabled(has_document and self.sticker_gallery.currentItem() is not None)
