"""The main window's files: open dialogs, save and export in the background, recent files.

Every write runs as a :class:`~facecraft.app.file_workers.FileJobs` job (one at a time): the
window stays responsive and the edits stay in memory whatever happens to the file. What
was written is a :class:`FileKind`; :attr:`FileController.written` reports each write's
end as ``(kind, path, success)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu

from facecraft.app.file_workers import FileJobs
from facecraft.app.turntable_export import scene_snapshot
from facecraft.core.io.image_write import IMAGE_SUFFIXES, write_image
from facecraft.core.io.pixels import unit_to_uint8
from facecraft.core.io.records import export_mesh
from facecraft.core.io.session import SUFFIX, save_session
from facecraft.core.render.turntable import TurntableSettings

if TYPE_CHECKING:
    from facecraft.app.main_window import MainWindow

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.tif *.tiff *.bmp);;All files (*)"
SESSION_FILTER = f"FaceCraft sessions (*{SUFFIX})"


class FileKind(StrEnum):
    """What a write produced (the value is what :attr:`FileController.written` carries)."""

    SESSION = "session"
    IMAGE = "image"
    MESH = "mesh"
    TURNTABLE = "turntable"


FAILURE_TITLES = {
    FileKind.SESSION: "Cannot save the session",
    FileKind.IMAGE: "Cannot export the image",
    FileKind.MESH: "Cannot export the mesh",
    FileKind.TURNTABLE: "Cannot export the turntable",
}
"""The title of the dialog that reports a failed write."""


class FileController(QObject):
    """Open, save, export and the recent-files menu of one :class:`~facecraft.app.main_window.MainWindow`.

    Args:
        window: the window whose state is saved and whose dialogs, status line and actions it uses.

    Signals:
        written(str, str, bool): a write ended: its :class:`FileKind`, its path, whether it succeeded.
    """

    written = Signal(str, str, bool)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.jobs = FileJobs(self)
        self.jobs.finished.connect(self._on_file_written)
        self.recent_menu: QMenu | None = None
        window.turntable.finished.connect(self._on_turntable_written)

    # -- opening ----------------------------------------------------------------------------------

    def choose_photo(self) -> None:
        window = self.window
        if not window.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(window, "Open Photo", self.last_folder(), IMAGE_FILTER)
        if path:
            window.open_photo(Path(path))

    def choose_session(self) -> None:
        window = self.window
        if not window.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(window, "Open Session", self.last_folder(), SESSION_FILTER)
        if path:
            window.open_session(Path(path))

    def open_file(self, path: Path) -> None:
        """Open a session or a photo, by its ending, asking first about unsaved edits."""
        window = self.window
        if path.suffix == SUFFIX:
            if window.confirm_discard():
                window.open_session(path)
        else:
            window.open_photo(path, confirm=True)

    # -- saving and export ------------------------------------------------------------------------

    def save(self, wait: bool = False) -> bool:
        session_path = self.window.state.session_path
        if session_path is None:
            return self.save_as(wait)
        return self.save_session(session_path, wait)

    def save_as(self, wait: bool = False) -> bool:
        if self.window.state.editor is None:
            return False
        suggested = str(Path(self.last_folder()) / f"{self.window.stem()}{SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save Session", suggested, SESSION_FILTER)
        if not path:
            return False
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_suffix(SUFFIX)
        return self.save_session(path, wait)

    def save_session(self, path: Path, wait: bool = False) -> bool:
        """Save the session in the background (with ``wait``, before returning); False if not started."""
        window = self.window
        state, editor = window.state, window.state.editor
        if editor is None or state.photo is None:
            return False
        photo_path = window.photo_path
        name = photo_path.name if photo_path is not None else f"photo.{state.photo.format.lower()}"
        lighting = editor.lighting if editor.compositor.relit else None
        layers = [replace(layer, pixels=layer.pixels.copy()) for layer in editor.document.layers]
        photo_bytes, decomposition, canvas = state.photo_bytes, editor.decomposition, editor.canvas_size
        revision = editor.document.revision

        def job() -> int:
            save_session(path, photo_bytes, name, decomposition, layers, canvas, lighting)
            return revision

        return self._write(FileKind.SESSION, Path(path), job, wait)

    def choose_image_export(self) -> None:
        if self.window.state.editor is None:
            return
        suggested = str(Path(self.last_folder()) / f"{self.window.stem()}_edited.png")
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export Image", suggested, "PNG (*.png);;JPEG (*.jpg *.jpeg)"
        )
        if path:
            self.export_image(Path(path))

    def export_image(self, path: Path, wait: bool = False) -> bool:
        """Write the edited photo in the background; False if not started."""
        editor = self.window.state.editor
        if editor is None:
            return False
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            path = path.with_suffix(".png")
        pixels = editor.edited_photo.copy()
        return self._write(FileKind.IMAGE, path, lambda: write_image(path, pixels), wait)

    def choose_mesh_export(self) -> None:
        if self.window.state.editor is None:
            return
        suggested = str(Path(self.last_folder()) / f"{self.window.stem()}.obj")
        path, _ = QFileDialog.getSaveFileName(self.window, "Export Mesh", suggested, "Wavefront OBJ (*.obj)")
        if path:
            self.export_mesh(Path(path))

    def export_mesh(self, path: Path, wait: bool = False) -> bool:
        """Write the textured mesh (OBJ + MTL + PNG) in the background; False if not started."""
        editor = self.window.state.editor
        if editor is None:
            return False
        if path.suffix.lower() != ".obj":
            path = path.with_suffix(".obj")
        texture = unit_to_uint8(editor.edited_albedo())
        shape, template = editor.decomposition.shape, self.window.template
        return self._write(FileKind.MESH, path, lambda: export_mesh(path, shape, texture, template), wait)

    def choose_turntable_export(self) -> None:
        editor = self.window.state.editor
        if editor is not None:
            suggested = Path(self.last_folder()) / f"{self.window.stem()}_turntable.mp4"
            self.window.turntable.choose(scene_snapshot(editor), suggested)

    def export_turntable(self, path: Path, settings: TurntableSettings) -> bool:
        """Write a turntable of the edited face in the background; False if not started."""
        window = self.window
        editor = window.state.editor
        if editor is None or not window.turntable.export(path, scene_snapshot(editor), settings):
            return False
        window.status.setText(f"Rendering {path.name}…")
        return True

    def wait(self) -> None:
        """Block until the running write (if any) has ended."""
        self.jobs.wait()

    def _on_turntable_written(self, path: Path, error: str, cancelled: bool) -> None:
        window = self.window
        if cancelled:
            window.status.setText("Turntable export cancelled; nothing was written")
        elif error:
            advice = "Choose another folder or a .gif; your edits are kept."
            window.show_error(FAILURE_TITLES[FileKind.TURNTABLE], error, advice)
        else:
            self.remember_folder(path)
            window.status.setText(f"Exported {path.name}")
        self.written.emit(FileKind.TURNTABLE.value, str(path), not (error or cancelled))

    def _write(self, kind: FileKind, path: Path, job: Callable[[], object], wait: bool) -> bool:
        window = self.window
        if not self.jobs.run(kind.value, path, job):
            window.status.setText("Still writing the previous file; try again in a moment")
            return False
        window.status.setText(f"Writing {path.name}…")
        window.update_actions()
        if wait:
            self.jobs.wait()
            QApplication.processEvents()
        return True

    def _on_file_written(self, kind_value: str, path: Path, result: object, error: str) -> None:
        window = self.window
        kind = FileKind(kind_value)
        window.update_actions()
        if error:
            window.show_error(FAILURE_TITLES[kind], error, "Choose another folder; your edits are kept.")
            self.written.emit(kind.value, str(path), False)
            return
        self.remember_folder(path)
        if kind is FileKind.SESSION:
            window.state.mark_saved(path, int(result))  # type: ignore[call-overload]
            window.status.setText(f"Saved {path.name}")
        elif kind is FileKind.MESH:
            files = result
            window.status.setText(f"Exported {files.obj.name}, {files.mtl.name} and {files.texture.name}")  # type: ignore[attr-defined]
        else:
            window.status.setText(f"Exported {path.name}")
        self.written.emit(kind.value, str(path), True)

    # -- folders and recent files -----------------------------------------------------------------

    def last_folder(self) -> str:
        return self.window.preferences.last_folder

    def remember_folder(self, path: Path) -> None:
        self.window.preferences.remember_folder(path)

    def remember(self, path: Path) -> None:
        """Put ``path`` first in the recent files (and the menu)."""
        self.window.preferences.remember_file(path)
        self.rebuild_recent_menu()

    def recent(self) -> list[str]:
        return self.window.preferences.recent_files

    def rebuild_recent_menu(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        for path in self.recent():
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_file(Path(p)))
        self.recent_menu.setEnabled(bool(self.recent()))
