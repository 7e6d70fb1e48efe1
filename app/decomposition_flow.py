"""From a file to a shown decomposition: the encoder first, then the fit at the chosen fidelity.

:class:`DecompositionFlow` reads photos and sessions in the background
(:class:`~facecraft.app.file_workers.PhotoLoader`), posts an encoder-only request to the
:class:`~facecraft.app.workers.DecompositionRunner` for a new photo (shown at once), then one at
the state's fidelity; results arrive as prepared
:class:`~facecraft.core.editing.editor.FaceEditor` objects built in the worker, so the GUI thread
only swaps them in. Failures come with their error type and get advice that fits it. With several
faces in a photo, a click on another one decomposes that face.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from facecraft.app.file_workers import PhotoLoader
from facecraft.app.state import Tool
from facecraft.app.workers import DecomposeRequest, DecompositionRunner, Failure, PreparedFace
from facecraft.core.errors import NoFaceFound, ResourceError
from facecraft.core.io.image_read import LoadedImage
from facecraft.core.io.session import SUFFIX, LoadedSession

if TYPE_CHECKING:
    from facecraft.app.main_window import MainWindow


class DecompositionFlow(QObject):
    """Opens photos and sessions and runs their decompositions for ``window``.

    Args:
        window: the main window (its state, views, status line, dialogs and signals).
        runner: runs decompositions off the GUI thread.
    """

    def __init__(self, window: MainWindow, runner: DecompositionRunner) -> None:
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.runner = runner
        self.loader = PhotoLoader(self)
        self._target_fidelity: float | None = None
        runner.finished.connect(self._on_finished)
        runner.failure.connect(self._on_failed)
        runner.preview.connect(lambda _request, preview: window.views.show_preview(preview))
        runner.faces_found.connect(self._on_faces_found)
        self.loader.loaded.connect(self._on_photo_loaded)
        self.loader.failed.connect(self._on_photo_failed)
        self.loader.session_loaded.connect(self._on_session_loaded)

    # -- opening ----------------------------------------------------------------------------------

    def open_photo(self, path: Path) -> None:
        """Start reading ``path`` (then decomposing it); a file that cannot be read gets a dialog."""
        self.window.status.setText(f"Opening {Path(path).name}…")
        self.loader.load(Path(path))

    def open_session(self, path: Path) -> None:
        """Start reading and preparing the session ``path``; problems go to a dialog."""
        self.window.status.setText(f"Opening {Path(path).name}…")
        self.loader.load_session(Path(path), self.window.template)

    def _on_photo_loaded(
        self, load_id: int, path: Path, photo: LoadedImage, data: bytes, image: QImage
    ) -> None:
        self.window.photo_path = Path(path)
        self.window.file_controller.remember(Path(path))
        self.window.views.offer_image(photo.original, image)
        self.state.open_photo(photo, data)
        self._decompose(0)

    def _on_photo_failed(self, load_id: int, path: Path, message: str) -> None:
        if Path(path).suffix == SUFFIX:
            self.window.show_error(
                "Cannot open the session",
                message,
                "The file may be damaged or from another program; open the photo instead.",
            )
        else:
            self.window.show_error(
                "Cannot open the photo", message, "Choose a JPEG, PNG, WebP, TIFF or BMP photo."
            )
        self.window.photo_failed.emit(message)

    def _on_session_loaded(
        self, load_id: int, path: Path, session: LoadedSession, prepared: PreparedFace, image: QImage
    ) -> None:
        self.runner.cancel()
        self.window.photo_path = None
        self.window.file_controller.remember(path)
        self.window.views.prepared = prepared
        self.window.views.offer_image(session.photo.original, image)
        self.state.open_session(session.photo, session.photo_bytes, prepared.editor, path)
        self.window.status.setText(f"Opened {Path(path).name}")
        self.window.editor_ready.emit()

    # -- decomposing ------------------------------------------------------------------------------

    def _decompose(self, face: int) -> None:
        photo = self.state.photo
        if photo is None:
            return
        self._target_fidelity = self.state.fidelity
        self.window.status.setText("Decomposing…")
        self.runner.submit(DecomposeRequest(photo.rgb, 0.0, face=face, tag=photo, source=photo.path))

    def request_fit(self, fidelity: float) -> None:
        """Run the fit at ``fidelity`` for the current photo (cancels any running one)."""
        photo = self.state.photo
        if photo is None:
            return
        face = 0 if self.state.decomposition is None else self.state.decomposition.face_index
        self._target_fidelity = None
        self.runner.submit(
            DecomposeRequest(photo.rgb, float(fidelity), face=face, tag=photo, source=photo.path)
        )

    def photo_clicked(self, x: float, y: float) -> None:
        """With several faces, a click on another face (outside the current one) switches to it."""
        decomposition = self.state.decomposition
        if (
            decomposition is None
            or decomposition.face_count < 2
            or self.state.tool in (Tool.BRUSH, Tool.ERASER)
        ):
            return
        for index, box in enumerate(self.window.views.faces):
            x0, y0, x1, y1 = box
            if x0 <= x <= x1 and y0 <= y <= y1 and index != decomposition.face_index:
                self.window.status.setText(f"Switching to face {index + 1}…")
                photo = self.state.photo
                self.runner.submit(
                    DecomposeRequest(photo.rgb, self.state.fidelity, face=index, tag=photo, source=photo.path)
                )
                return

    def _on_finished(self, request_id: int, result: object) -> None:
        photo = self.state.photo
        if not isinstance(result, PreparedFace) or photo is None or result.editor.photo is not photo.original:
            return  # a result for a photo that is no longer open
        self.window.views.prepared = result
        self.state.set_editor(result.editor)
        decomposition = self.state.decomposition
        assert decomposition is not None
        self.window.status.setText(
            f"Face {decomposition.face_index + 1} of {decomposition.face_count} — fidelity "
            f"{decomposition.fidelity:.2f}, photometric error {decomposition.error:.3f}"
            + (" — click another face on the photo to switch" if decomposition.face_count > 1 else "")
        )
        self.window.editor_ready.emit()
        if self._target_fidelity is not None and self._target_fidelity > 0.0:
            target, self._target_fidelity = self._target_fidelity, None
            self.request_fit(target)

    def _on_faces_found(self, request_id: int, faces: tuple) -> None:
        self.window.views.show_faces([np.asarray(face.box) for face in faces])

    def _on_failed(self, request_id: int, failure: Failure) -> None:
        self.window.status.setText("Decomposition failed")
        advice = "Try another photo."
        if issubclass(failure.error, NoFaceFound):
            advice = "Use a photo where one face is clearly visible, roughly frontal and not too small."
        elif issubclass(failure.error, ResourceError):
            advice = "Reinstall FaceCraft: its model file is missing or damaged."
        self.window.show_error("Cannot decompose the photo", failure.message, advice)
