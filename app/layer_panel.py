"""The layer panel: the edit layers, top first, with visibility, opacity, order and names.

Bound to :class:`~facecraft.app.state.EditorState` like every view: user actions
call model methods; the list is refreshed from ``layers_changed`` and
``active_layer_changed`` with the panel's own signals blocked.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from facecraft.app.state import EditorState
from facecraft.app.widgets import SliderSpin
from facecraft.core.editing.layers import Layer


def layer_label(layer: Layer) -> str:
    """How a layer is named in the list, e.g. ``"Lips (makeup)"``."""
    return f"{layer.name} ({layer.kind.value})"


class LayerPanel(QWidget):
    """The layer stack of the state's document, top layer first.

    Attributes:
        layer_list: one checkable item per layer (checked = visible), top first.
        opacity: the active layer's opacity, in percent.
        new_button, delete_button, up_button, down_button: act on the stack / the active layer.
    """

    def __init__(self, state: EditorState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._layers: list[Layer] = []
        """The layers as shown, top first."""

        self.layer_list = QListWidget()
        self.layer_list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.layer_list.setToolTip("Tick to show a layer; double-click to rename it")
        self.opacity = SliderSpin(0, 100, " %")
        self.opacity.setToolTip("Opacity of the selected layer")
        self.new_button = QPushButton("New paint layer")
        self.delete_button = QPushButton("Delete")
        self.up_button = QPushButton("Move up")
        self.down_button = QPushButton("Move down")
        self.new_button.setToolTip("Add an empty paint layer on top")
        self.delete_button.setToolTip("Delete the selected layer")
        self.up_button.setToolTip("Move the selected layer above the next one")
        self.down_button.setToolTip("Move the selected layer below the previous one")

        form = QFormLayout()
        form.addRow("Opacity", self.opacity)
        buttons = QGridLayout()
        buttons.addWidget(self.new_button, 0, 0)
        buttons.addWidget(self.delete_button, 0, 1)
        buttons.addWidget(self.up_button, 1, 0)
        buttons.addWidget(self.down_button, 1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.layer_list, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)

        self.layer_list.currentRowChanged.connect(self._row_selected)
        self.layer_list.itemChanged.connect(self._item_changed)
        self.layer_list.itemDoubleClicked.connect(self._rename)
        self.opacity.value_changed.connect(self._opacity_changed)
        self.new_button.clicked.connect(self._new_layer)
        self.delete_button.clicked.connect(self._delete_layer)
        self.up_button.clicked.connect(lambda: self._move(+1))
        self.down_button.clicked.connect(lambda: self._move(-1))

        state.layers_changed.connect(self._sync)
        state.active_layer_changed.connect(self._show_active)
        state.photo_changed.connect(self._sync)
        state.decomposition_changed.connect(self._sync)
        self._sync()

    # -- queries ----------------------------------------------------------------------------------

    @property
    def layers(self) -> list[Layer]:
        """The layers as shown, top first."""
        return list(self._layers)

    def _row(self, layer: Layer | None) -> int:
        return next((row for row, other in enumerate(self._layers) if other is layer), -1)

    def _active(self) -> Layer | None:
        """The state's active layer if it is in the document (undo may have removed it)."""
        layer = self.state.active_layer
        return layer if self._row(layer) >= 0 else None

    # -- model -> view ----------------------------------------------------------------------------

    def _sync(self, *_args: object) -> None:
        """Show the document's layers: rebuild the list if the stack changed, else update the items."""
        document = self.state.document
        layers = [] if document is None else list(reversed(document.layers))
        same = len(layers) == len(self._layers) and all(
            a is b for a, b in zip(layers, self._layers, strict=True)
        )
        with QSignalBlocker(self.layer_list):
            if not same:
                self.layer_list.clear()
                for _layer in layers:
                    self.layer_list.addItem(QListWidgetItem())
            self._layers = layers
            for row, layer in enumerate(layers):
                item = self.layer_list.item(row)
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable
                )
                item.setText(layer_label(layer))
                item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
        self._show_active(self.state.active_layer)

    def _show_active(self, _layer: object = None) -> None:
        """Select the active layer's row and show its opacity; enable what applies."""
        active = self._active()
        row = self._row(active)
        with QSignalBlocker(self.layer_list):
            self.layer_list.setCurrentRow(row)
            if row < 0:
                self.layer_list.clearSelection()
        has_document = self.state.document is not None
        self.layer_list.setEnabled(has_document)
        self.new_button.setEnabled(has_document)
        self.delete_button.setEnabled(active is not None)
        self.opacity.setEnabled(active is not None)
        self.opacity.set_value(round(active.opacity * 100) if active is not None else 100)
        self.up_button.setEnabled(active is not None and row > 0)
        self.down_button.setEnabled(active is not None and row < len(self._layers) - 1)

    # -- view -> model ----------------------------------------------------------------------------

    def _row_selected(self, row: int) -> None:
        self.state.set_active_layer(self._layers[row] if 0 <= row < len(self._layers) else None)

    def _item_changed(self, item: QListWidgetItem) -> None:
        row = self.layer_list.row(item)
        if not 0 <= row < len(self._layers):
            return
        layer = self._layers[row]
        visible = item.checkState() == Qt.CheckState.Checked
        if visible != layer.visible:
            self.state.set_layer(layer, visible=visible)

    def _rename(self, item: QListWidgetItem) -> None:
        row = self.layer_list.row(item)
        if not 0 <= row < len(self._layers):
            return
        layer = self._layers[row]
        name, ok = QInputDialog.getText(
            self, "Rename layer", "Layer name:", QLineEdit.EchoMode.Normal, layer.name
        )
        name = name.strip()
        if ok and name and name != layer.name and self._row(layer) >= 0:
            self.state.set_layer(layer, name=name)

    def _opacity_changed(self, value: int) -> None:
        layer = self._active()
        if layer is not None:
            self.state.set_layer(layer, opacity=value / 100.0)

    def _new_layer(self) -> None:
        if self.state.document is not None:
            self.state.add_paint_layer()

    def _delete_layer(self) -> None:
        layer = self._active()
        if layer is None:
            return
        row = self._row(layer)
        self.state.remove_layer(layer)
        if self._layers:
            self.state.set_active_layer(self._layers[min(row, len(self._layers) - 1)])

    def _move(self, step: int) -> None:
        """Move the active layer ``step`` places up (towards the top of the stack) or down."""
        layer = self._active()
        document = self.state.document
        if layer is None or document is None:
            return
        index = document.index(layer) + step
        if 0 <= index < len(document.layers):
            self.state.move_layer(layer, index)
