"""File > Export Turntable…: the edited face turning left and right, as MP4 or GIF, off the GUI thread.

:class:`TurntableExporter` asks for the length and size (:class:`TurntableDialog`)
and the file, snapshots the edits on the GUI thread (copies of the flattened
edit maps: cheap), then renders and writes in a background thread
(:func:`facecraft.core.render.turntable.write_turntable`, atomic) while a
progress dialog with a Cancel button is shown. A cancelled export leaves no file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QProgressDialog,
    QWidget,
)

from facecraft.core.editing.editor import FaceEditor
from facecraft.core.editing.layers import apply_to_albedo
from facecraft.core.errors import FaceCraftError
from facecraft.core.face.template import FaceTemplate
from facecraft.core.io.pixels import unit_to_uint8
from facecraft.core.render.turntable import (
    ExportCancelled,
    TurntableScene,
    TurntableSettings,
    write_turntable,
)

VIDEO_FILTER = "MP4 video (*.mp4);;Animated GIF (*.gif)"
SIZES = (256, 384, 512, 768, 1024)

SceneSource = Callable[[], TurntableScene]
"""Builds the scene (in the worker thread) from a snapshot taken on the GUI thread."""


def scene_snapshot(editor: FaceEditor) -> SceneSource:
    """Copy what the turntable needs of ``editor`` now; the edited albedo is made later, in the worker."""
    base = editor.base_albedo()
    multiplier, addend = editor.document.multiplier.copy(), editor.document.addend.copy()
    shape, lighting = editor.decomposition.shape, editor.lighting.copy()
    return lambda: TurntableScene(shape, unit_to_uint8(apply_to_albedo(base, multiplier, addend)), lighting)


class TurntableDialog(QDialog):
    """Length and frame size of the turntable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export Turntable")
        defaults = TurntableSettings()
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(0.5, 20.0)
        self.seconds.setSingleStep(0.5)
        self.seconds.setSuffix(" s")
        self.seconds.setValue(defaults.seconds)
        self.size = QComboBox()
        for size in SIZES:
            self.size.addItem(f"{size} × {size}", size)
        self.size.setCurrentIndex(SIZES.index(defaults.size))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Length", self.seconds)
        form.addRow("Size", self.size)
        form.addRow(buttons)

    def settings(self) -> TurntableSettings:
        """The settings chosen (30 frames per second, ±60° sweep)."""
        return TurntableSettings(float(self.seconds.value()), size=int(self.size.currentData()))


class TurntableExporter(QObject):
    """Writes turntables in a background thread, one at a time, with progress and cancel.

    Signals:
        progress(int, int): frames done, frames in all.
        finished(object, str, bool): the path, an error message ("" on success), and whether
            the export was cancelled (then nothing was written).

    Args:
        template: the render mesh.
        parent: the window the dialogs belong to.
    """

    progress = Signal(int, int)
    finished = Signal(object, str, bool)

    def __init__(self, template: FaceTemplate, parent: QWidget) -> None:
        super().__init__(parent)
        self.template = template
        self._window = parent
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._dialog: QProgressDialog | None = None
        self.progress.connect(self._show_progress)
        self.finished.connect(self._close_dialog)

    @property
    def busy(self) -> bool:
        """Whether a turntable is being written."""
        return self._thread is not None and self._thread.is_alive()

    def choose(self, source: SceneSource, suggested: Path) -> bool:
        """Ask for settings and a file, then export; False when the user cancelled or one is running."""
        dialog = TurntableDialog(self._window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        path, chosen = QFileDialog.getSaveFileName(
            self._window, "Export Turntable", str(suggested), VIDEO_FILTER
        )
        if not path:
            return False
        path = Path(path)
        if path.suffix.lower() not in (".mp4", ".gif"):
            path = path.with_suffix(".gif" if "GIF" in chosen else ".mp4")
        return self.export(path, source, dialog.settings(), show_progress=True)

    def export(
        self, path: Path, source: SceneSource, settings: TurntableSettings, show_progress: bool = False
    ) -> bool:
        """Start writing ``path``; False when another turntable is still being written."""
        if self.busy:
            return False
        self._cancel.clear()
        if show_progress:
            dialog = QProgressDialog(
                f"Rendering {path.name}…", "Cancel", 0, settings.frame_count, self._window
            )
            dialog.setWindowTitle("Export Turntable")
            dialog.setWindowModality(Qt.WindowModality.WindowModal)
            dialog.setMinimumDuration(0)
            dialog.canceled.connect(self.cancel)
            dialog.setValue(0)
            self._dialog = dialog
        self._thread = threading.Thread(
            target=self._work, args=(path, source, settings), name="facecraft-turntable", daemon=True
        )
        self._thread.start()
        return True

    def cancel(self) -> None:
        """Stop the running export (it leaves no file)."""
        self._cancel.set()

    def wait(self, timeout: float = 120.0) -> None:
        """Wait for the running export (closing, tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self, path: Path, source: SceneSource, settings: TurntableSettings) -> None:
        try:
            write_turntable(
                path,
                source(),
                self.template,
                settings,
                progress=self.progress.emit,
                cancelled=self._cancel.is_set,
            )
        except ExportCancelled as exc:
            self.finished.emit(path, str(exc), True)
        except FaceCraftError as exc:
            self.finished.emit(path, str(exc), False)
        except Exception as exc:  # reported, never lost: the edits stay in memory
            self.finished.emit(path, f"{path}: {type(exc).__name__}: {exc}", False)
        else:
            self.finished.emit(path, "", False)

    def _show_progress(self, done: int, total: int) -> None:
        if self._dialog is not None and not self._cancel.is_set():
            self._dialog.setValue(done)

    def _close_dialog(self, *_: object) -> None:
        if self._dialog is not None:
            self._dialog.reset()
            self._dialog.deleteLater()
            self._dialog = None
