"""The Lighting panel: re-render the face under a studio light or another photo's, not its own."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from facecraft.app.state import EditorState
from facecraft.app.widgets import SliderSpin
from facecraft.core.editing.reference import Reference
from facecraft.core.editing.relighting import ReferenceLight, RelightSettings


class LightingPanel(QWidget):
    """A checkable "Relight" group with the key light's direction and the two light levels, and a
    checkable "Use the reference's lighting" group with a mix between the photo's light and the
    reference's (enabled once a reference photo is open: :meth:`set_reference`). At most one is on.

    Changes apply when a slider is released (re-lighting a 12-megapixel face takes ~0.1 s).

    Args:
        state: the editor state (``relight`` / ``relight_changed``).
    """

    def __init__(self, state: EditorState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.group = _switch_group(
            "Relight with a studio light",
            "Re-render the face under a key light and ambient light of the photo's colour; "
            "off = the lighting estimated from the photo",
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
        self.reference_group = _switch_group(
            "Use the reference's lighting",
            "Re-render the face under the light of the reference photo (File > Open Reference…): "
            "its colour and direction",
        )
        self.mix = SliderSpin(0, 100, " %")
        self.mix.set_value(100)
        self.mix.setToolTip("0 % = the photo's own light, 100 % = the reference's")
        self.mix.committed.connect(self._apply_reference)
        self.reference_label = QLabel("Open a reference photo first")
        self.reference_label.setWordWrap(True)
        reference_form = QFormLayout(self.reference_group)
        reference_form.addRow(self.reference_label)
        reference_form.addRow("Mix", self.mix)
        self._reference: Reference | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.group)
        layout.addWidget(self.reference_group)
        layout.addStretch(1)
        self.group.toggled.connect(self._apply)
        self.reference_group.toggled.connect(self._apply_reference)
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

    def set_reference(self, reference: Reference | None) -> None:
        """The reference photo whose lighting the second group uses (None: none open)."""
        self._reference = reference
        self.reference_label.setText(
            "Open a reference photo first (File > Open Reference…)"
            if reference is None
            else f"Light of {reference.name}"
        )
        self._enable()
        if isinstance(self.state.relight_settings, ReferenceLight):
            self._apply_reference()

    def _apply(self, *_: object) -> None:
        self.state.relight(self.settings() if self.group.isChecked() else None)

    def _apply_reference(self, *_: object) -> None:
        reference = self._reference
        if self.reference_group.isChecked() and reference is not None:
            light = ReferenceLight.of(reference.lighting, self.mix.value() / 100.0, reference.name)
            self.state.relight(light)
        elif not self.group.isChecked():
            self.state.relight(None)

    def _show(self, settings: RelightSettings | ReferenceLight | None) -> None:
        with QSignalBlocker(self.group), QSignalBlocker(self.reference_group):
            self.group.setChecked(isinstance(settings, RelightSettings))
            self.reference_group.setChecked(isinstance(settings, ReferenceLight))
        if isinstance(settings, ReferenceLight):
            self.mix.set_value(round(settings.mix * 100))
        elif settings is not None:
            self.azimuth.set_value(round(settings.azimuth))
            self.elevation.set_value(round(settings.elevation))
            self.intensity.set_value(round(settings.intensity * 100))
            self.ambient.set_value(round(settings.ambient * 100))

    def _enable(self) -> None:
        self.setEnabled(self.state.editor is not None)
        self.reference_group.setEnabled(self._reference is not None)
        self._show(self.state.relight_settings)


def _switch_group(title: str, tip: str) -> QGroupBox:
    """A checkable group box, off."""
    group = QGroupBox(title)
    group.setCheckable(True)
    group.setChecked(False)
    group.setToolTip(tip)
    return group
