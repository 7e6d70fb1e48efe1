"""The Lighting panel: re-render the face under a studio light instead of the photo's own."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QFormLayout, QGroupBox, QVBoxLayout, QWidget

from facecraft.app.state import EditorState
from facecraft.app.tool_panel import SliderSpin
from facecraft.core.relighting import RelightSettings


class LightingPanel(QWidget):
    """A checkable "Relight" group with the key light's direction and the two light levels.

    Changes apply when a slider is released (re-lighting a 12-megapixel face takes ~0.1 s).

    Args:
        state: the editor state (``relight`` / ``relight_changed``).
    """

    def __init__(self, state: EditorState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.group = QGroupBox("Relight with a studio light")
        self.group.setCheckable(True)
        self.group.setChecked(False)
        self.group.setToolTip(
            "Re-render the face under a key light and ambient light of the photo's colour; "
            "off = the lighting estimated from the photo"
        )
        defaults = RelightSettings()
        self.azimuth = SliderSpin(-90, 90, "°")
        self.azimuth.setToolTip("Where the key light comes from: left (−) or right (+) of the camera")
        self.elevation = SliderSpin(-60, 60, "°")
        self.elevation.setToolTip("Key light from below (−) or above (+)")
        self.intensity = SliderSpin(0, 200, " %")
        self.intensity.setToolTip("Key light strength, relative to the photo's light")
        self.ambient = SliderSpin(0, 150, " %")
        self.ambient.setToolTip("Ambient (shadowless) light, relative to the photo's light")
        for widget, value in (
            (self.azimuth, defaults.azimuth),
            (self.elevation, defaults.elevation),
            (self.intensity, defaults.intensity * 100),
            (self.ambient, defaults.ambient * 100),
        ):
            widget.set_value(round(value))
            widget.committed.connect(self._apply)
        form = QFormLayout(self.group)
        form.addRow("Direction", self.azimuth)
        form.addRow("Height", self.elevation)
        form.addRow("Key light", self.intensity)
        form.addRow("Ambient", self.ambient)
        layout = QVBoxLayout(self)
        layout.addWidget(self.group)
        layout.addStretch(1)
        self.group.toggled.connect(self._apply)
        state.relight_changed.connect(self._show)
        state.decomposition_changed.connect(self._enable)
        state.photo_changed.connect(self._enable)
        self._enable()

    def settings(self) -> RelightSettings:
        """The settings the sliders show."""
        return RelightSettings(
            float(self.azimuth.value()),
            float(self.elevation.value()),
            self.intensity.value() / 100.0,
            self.ambient.value() / 100.0,
        )

    def _apply(self, *_: object) -> None:
        self.state.relight(self.settings() if self.group.isChecked() else None)

    def _show(self, settings: RelightSettings | None) -> None:
        with QSignalBlocker(self.group):
            self.group.setChecked(settings is not None)
        if settings is not None:
            self.azimuth.set_value(round(settings.azimuth))
            self.elevation.set_value(round(settings.elevation))
            self.intensity.set_value(round(settings.intensity * 100))
            self.ambient.set_value(round(settings.ambient * 100))

    def _enable(self) -> None:
        self.setEnabled(self.state.editor is not None)
        self._show(self.state.relight_settings)
