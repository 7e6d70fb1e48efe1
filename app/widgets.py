"""Small reusable widgets: a slider with a spin box, a colour button, a scroll area, RGBA icons.

None of them knows the editor state: a panel binds them to it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QColorDialog, QHBoxLayout, QScrollArea, QSlider, QSpinBox, QToolButton, QWidget

Colour = tuple[float, float, float]

ICON_SIZE = 48
"""Side of the sticker gallery's icons, pixels."""


def _qcolor(colour: Colour) -> QColor:
    return QColor.fromRgbF(*(float(np.clip(c, 0.0, 1.0)) for c in colour))


def _rgb(colour: QColor) -> Colour:
    return (colour.red() / 255.0, colour.green() / 255.0, colour.blue() / 255.0)


def icon_from_rgba(image: np.ndarray, size: int = ICON_SIZE) -> QIcon:
    """A square icon showing an ``(h, w, 4)`` uint8 RGBA image, aspect kept."""
    array = np.ascontiguousarray(image)
    height, width = array.shape[:2]
    qimage = QImage(array.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()
    scaled = qimage.scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    return QIcon(QPixmap.fromImage(scaled))


class SliderSpin(QWidget):
    """A slider with a spin box showing the same integer value.

    Signals:
        value_changed(int): the user changed the value (every step of a drag).
        committed(int): the user finished a change: the slider was released, or it moved
            without a drag (keys, clicks on the groove), or the spin box changed.
    """

    value_changed = Signal(int)
    committed = Signal(int)

    def __init__(self, minimum: int, maximum: int, suffix: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(minimum, maximum)
        self.spin = QSpinBox()
        self.spin.setRange(minimum, maximum)
        self.spin.setSuffix(suffix)
        self.spin.setKeyboardTracking(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(self._slider_changed)
        self.slider.sliderReleased.connect(lambda: self.committed.emit(self.value()))
        self.spin.valueChanged.connect(self._spin_changed)

    def value(self) -> int:
        return self.slider.value()

    def set_value(self, value: int) -> None:
        """Show ``value`` (clamped to the range) without emitting anything."""
        with QSignalBlocker(self.slider), QSignalBlocker(self.spin):
            self.slider.setValue(int(value))
            self.spin.setValue(self.slider.value())

    @property
    def dragging(self) -> bool:
        return self.slider.isSliderDown()

    def _slider_changed(self, value: int) -> None:
        with QSignalBlocker(self.spin):
            self.spin.setValue(value)
        self.value_changed.emit(value)
        if not self.slider.isSliderDown():
            self.committed.emit(value)

    def _spin_changed(self, value: int) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(value)
        self.value_changed.emit(value)
        self.committed.emit(value)


class ColourButton(QToolButton):
    """Shows a colour swatch; a click opens a colour dialog.

    Signals:
        colour_chosen(tuple): the user picked an RGB colour in ``[0, 1]``.
    """

    colour_chosen = Signal(tuple)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = title
        self._colour: Colour = (0.0, 0.0, 0.0)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setToolTip(title)
        self.clicked.connect(self._choose)
        self.set_colour(self._colour)

    def colour(self) -> Colour:
        return self._colour

    def set_colour(self, colour: Colour) -> None:
        """Show ``colour`` (no signal)."""
        self._colour = tuple(float(c) for c in colour)
        swatch = QPixmap(28, 16)
        swatch.fill(_qcolor(self._colour))
        self.setIcon(QIcon(swatch))
        self.setText(_qcolor(self._colour).name())

    def _choose(self) -> None:
        colour = QColorDialog.getColor(_qcolor(self._colour), self, self._title)
        if colour.isValid():
            self.set_colour(_rgb(colour))
            self.colour_chosen.emit(self._colour)


def scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a scroll area, so that a tall panel never forces the window taller than the screen."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(widget)
    return area
