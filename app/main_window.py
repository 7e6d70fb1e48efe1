"""The main window: the photo (before | after), the decomposition panes, the 3D view, the tools.

The window is a thin view over :class:`~facecraft.app.state.EditorState`. Opening a
photo posts an encoder-only request to the :class:`~facecraft.app.workers.DecompositionRunner`
(shown at once), then one at the chosen fidelity; the results arrive as prepared
:class:`~facecraft.core.editing.editor.FaceEditor` objects built in the worker, so the GUI
thread only swaps them in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from facecraft import __version__
from facecraft.app.actions import build_actions
from facecraft.app.fidelity_panel import FidelityPanel
from facecraft.app.file_controller import FileController
from facecraft.app.image_view import CompareView, ImageView, to_qimage
from facecraft.app.layer_panel import LayerPanel
from facecraft.app.lighting_panel import LightingPanel
from facecraft.app.preferences import Preferences
from facecraft.app.reference_panel import ReferencePanel
from facecraft.app.state import EditorState, Tool
from facecraft.app.sticker_handles import StickerHandles
from facecraft.app.stroke_router import StrokeRouter
from facecraft.app.tool_panel import ToolPanel
from facecraft.app.turntable_export import TurntableExporter
from facecraft.app.viewer3d import FaceViewer3D
from facecraft.app.widgets import scrolling
from facecraft.app.workers import (
    DecomposeRequest,
    DecompositionRunner,
    Failure,
    FitPreview,
    PhotoLoader,
    PreparedFace,
    shaded_geometry,
)
from facecraft.core.editing.rect import Rect
from facecraft.core.editing.relighting import studio_lighting
from facecraft.core.errors import NoFaceFound, ResourceError
from facecraft.core.face.template import FaceTemplate
from facecraft.core.io.image_read import LoadedImage
from facecraft.core.io.pixels import unit_to_uint8
from facecraft.core.io.session import SUFFIX, LoadedSession
from facecraft.core.render.gl import DisplayMode
from facecraft.core.render.turntable import TurntableSettings

TEXTURE_REFRESH_MS = 60
"""The 3D view's texture is re-uploaded at most this often while painting."""


class MainWindow(QMainWindow):
    """FaceCraft's main window.

    Args:
        template: the face template.
        runner: runs decompositions off the GUI thread.
        settings: where window layout, folders, recent files and the brush persist.

    Signals:
        editor_ready: a decomposition (and its editor) is shown.
        photo_failed(str): a photo could not be read (after the dialog).
        file_written(str, str, bool): a session, image or mesh write ended (kind, path, success).
    """

    editor_ready = Signal()
    photo_failed = Signal(str)
    file_written = Signal(str, str, bool)

    def __init__(self, template: FaceTemplate, runner: DecompositionRunner, settings: QSettings) -> None:
        super().__init__()
        self.template = template
        self.runner = runner
        self.preferences = Preferences(settings)
        self.state = EditorState(template, self)
        self.loader = PhotoLoader(self)
        self.photo_path: Path | None = None
        self._target_fidelity: float | None = None
        self._uv_pixels: np.ndarray | None = None
        self._prepared: PreparedFace | None = None
        self._loaded_image: tuple[np.ndarray, QImage] | None = None
        """A photo's pixels and the QImage the loader made of them, until the views take it."""
        self._faces: list[np.ndarray] = []
        self._shown_textured = False
        self._face_region: Rect | None = None
        self._texture_timer = QTimer(self, singleShot=True, interval=TEXTURE_REFRESH_MS)
        self._texture_timer.timeout.connect(self._push_texture)

        self.setWindowTitle("FaceCraft")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self._build_views()
        self._build_docks()
        self.file_controller = FileController(self)
        self.file_controller.written.connect(self.file_written)
        self.strokes = StrokeRouter(self.state, self.photo_view, self.uv_view, self.viewer3d, self)
        build_actions(self)
        self._connect()
        self._restore_settings()
        self._update_title()
        self.update_actions()

    # -- construction -----------------------------------------------------------------------------

    def _build_views(self) -> None:
        self.photo_view = CompareView()
        self.photo_view.placeholder = "Open a photo (Ctrl+O) or drop one here"
        self.split_slider = QSlider(Qt.Orientation.Horizontal)
        self.split_slider.setRange(0, 100)
        self.split_slider.setToolTip("Before | after: drag to show the original photo on the left")
        left = QWidget()
        layout = QVBoxLayout(left)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.photo_view, 1)
        layout.addWidget(self.split_slider)

        self.uv_view = ImageView()
        self.uv_view.placeholder = "The albedo you paint on appears here"
        self.sticker_handles = StickerHandles(self.uv_view)
        self.viewer3d = FaceViewer3D(self.template)
        self.viewer3d.set_lighting(studio_lighting())
        self.panes = {name: ImageView() for name in ("Input", "Reconstruction", "Albedo", "Shape", "Shading")}
        self.tabs = QTabWidget()
        self.tabs.addTab(self.uv_view, "Paint (UV)")
        self.tabs.addTab(self.viewer3d, "3D")
        for name, pane in self.panes.items():
            self.tabs.addTab(pane, name)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.setCentralWidget(self.splitter)
        self.status = QLabel("Ready")
        self.statusBar().addWidget(self.status, 1)

    def _build_docks(self) -> None:
        self.fidelity_panel = FidelityPanel(self.state)
        self.tool_panel = ToolPanel(self.state)
        self.layer_panel = LayerPanel(self.state)
        self.lighting_panel = LightingPanel(self.state)
        self.reference_panel = ReferencePanel(self.state)
        self.reference_panel.reference_changed.connect(self.lighting_panel.set_reference)
        self.turntable = TurntableExporter(self.template, self)
        self.docks = {}
        for name, widget in (
            ("Fidelity", self.fidelity_panel),
            ("Tools", self.tool_panel),
            ("Layers", self.layer_panel),
            ("Lighting", scrolling(self.lighting_panel)),
            ("Reference", scrolling(self.reference_panel)),
        ):
            dock = QDockWidget(name, self)
            dock.setObjectName(f"dock_{name.lower()}")
            dock.setWidget(widget)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.docks[name] = dock
        self.tabifyDockWidget(self.docks["Layers"], self.docks["Lighting"])
        self.tabifyDockWidget(self.docks["Lighting"], self.docks["Reference"])
        self.docks["Layers"].raise_()

    def _connect(self) -> None:
        state, runner = self.state, self.runner
        self.fidelity_panel.connect_runner(runner)
        self.fidelity_panel.fit_requested.connect(self.request_fit)
        self.fidelity_panel.cancel_requested.connect(runner.cancel)
        runner.finished.connect(self._on_finished)
        runner.failure.connect(self._on_failed)
        runner.preview.connect(self._on_preview)
        runner.faces_found.connect(self._on_faces_found)
        self.loader.loaded.connect(self._on_photo_loaded)
        self.loader.failed.connect(self._on_photo_failed)
        self.loader.session_loaded.connect(self._on_session_loaded)
        state.photo_changed.connect(self._on_photo_changed)
        state.decomposition_changed.connect(self._on_decomposition_changed)
        state.photo_edited.connect(self._on_photo_edited)
        state.canvas_edited.connect(self._on_canvas_edited)
        state.history_changed.connect(self._update_title)
        state.history_changed.connect(self.update_actions)
        state.tool_changed.connect(self._on_tool_changed)
        self.split_slider.valueChanged.connect(lambda v: self.photo_view.set_split(v / 100))
        self.photo_view.clicked.connect(self._photo_clicked)
        self._on_tool_changed(state.tool)

    # -- opening ----------------------------------------------------------------------------------

    def open_photo(self, path: Path, confirm: bool = False) -> bool:
        """Start opening a photo (read in the background, then decomposed).

        Returns False when the user cancelled at the unsaved-edits question; a file that
        cannot be read is reported in a dialog when its reading fails.
        """
        if confirm and not self.confirm_discard():
            return False
        self.status.setText(f"Opening {Path(path).name}…")
        self.loader.load(Path(path))
        return True

    def _on_photo_loaded(
        self, load_id: int, path: Path, photo: LoadedImage, data: bytes, image: QImage
    ) -> None:
        self.photo_path = Path(path)
        self.file_controller.remember(Path(path))
        self._loaded_image = (photo.original, image)
        self.state.open_photo(photo, data)
        self._decompose(0)

    def _on_photo_failed(self, load_id: int, path: Path, message: str) -> None:
        if Path(path).suffix == SUFFIX:
            self.show_error(
                "Cannot open the session",
                message,
                "The file may be damaged or from another program; open the photo instead.",
            )
        else:
            self.show_error("Cannot open the photo", message, "Choose a JPEG, PNG, WebP, TIFF or BMP photo.")
        self.photo_failed.emit(message)

    def _decompose(self, face: int) -> None:
        photo = self.state.photo
        if photo is None:
            return
        self._target_fidelity = self.state.fidelity
        self.status.setText("Decomposing…")
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

    def open_session(self, path: Path) -> bool:
        """Start opening a session (read and prepared in the background); problems go to a dialog."""
        self.status.setText(f"Opening {Path(path).name}…")
        self.loader.load_session(Path(path), self.template)
        return True

    def _on_session_loaded(
        self, load_id: int, path: Path, session: LoadedSession, prepared: PreparedFace, image: QImage
    ) -> None:
        self.runner.cancel()
        self.photo_path = None
        self.file_controller.remember(path)
        self._prepared = prepared
        self._loaded_image = (session.photo.original, image)
        self.state.open_session(session.photo, session.photo_bytes, prepared.editor, path)
        self.status.setText(f"Opened {Path(path).name}")
        self.editor_ready.emit()

    # -- runner results ---------------------------------------------------------------------------

    def _on_finished(self, request_id: int, result: object) -> None:
        photo = self.state.photo
        if not isinstance(result, PreparedFace) or photo is None or result.editor.photo is not photo.original:
            return  # a result for a photo that is no longer open
        self._prepared = result
        self.state.set_editor(result.editor)
        decomposition = self.state.decomposition
        assert decomposition is not None
        self.status.setText(
            f"Face {decomposition.face_index + 1} of {decomposition.face_count} — fidelity "
            f"{decomposition.fidelity:.2f}, photometric error {decomposition.error:.3f}"
            + (" — click another face on the photo to switch" if decomposition.face_count > 1 else "")
        )
        self.editor_ready.emit()
        if self._target_fidelity is not None and self._target_fidelity > 0.0:
            target, self._target_fidelity = self._target_fidelity, None
            self.request_fit(target)

    def _on_faces_found(self, request_id: int, faces: tuple) -> None:
        self._faces = [np.asarray(face.box) for face in faces]
        self._show_face_boxes()

    def _show_face_boxes(self) -> None:
        """Outline every face when there are several (the chosen one highlighted); click one to switch."""
        decomposition = self.state.decomposition
        chosen = decomposition.face_index if decomposition is not None else 0
        boxes = self._faces if len(self._faces) > 1 else []
        self.photo_view.set_boxes(boxes, chosen)

    def _on_failed(self, request_id: int, failure: Failure) -> None:
        self.status.setText("Decomposition failed")
        advice = "Try another photo."
        if issubclass(failure.error, NoFaceFound):
            advice = "Use a photo where one face is clearly visible, roughly frontal and not too small."
        elif issubclass(failure.error, ResourceError):
            advice = "Reinstall FaceCraft: its model file is missing or damaged."
        self.show_error("Cannot decompose the photo", failure.message, advice)

    def _on_preview(self, request_id: int, preview: FitPreview) -> None:
        if self.state.decomposition is None:
            return
        self.viewer3d.set_shape(preview.shape)
        self.panes["Albedo"].set_image(preview.albedo)

    # -- views ------------------------------------------------------------------------------------

    def _on_photo_changed(self) -> None:
        photo = self.state.photo
        if photo is None:
            return
        # One copy, shared by the three views (copied on first edit); made by the loader when it can.
        made, self._loaded_image = self._loaded_image, None
        image = made[1] if made is not None and made[0] is photo.original else to_qimage(photo.original)
        self.photo_view.set_image(image, fit=True)
        self.photo_view.set_before(image)
        self.panes["Input"].set_image(image, fit=True)
        for name in ("Reconstruction", "Albedo", "Shape", "Shading"):
            self.panes[name].set_image(None)
        self.uv_view.set_image(None)
        self._uv_pixels = None
        self._faces = []
        self._face_region = None
        self.photo_view.set_boxes([], 0)
        self._update_title()
        self.update_actions()

    def _on_decomposition_changed(self) -> None:
        editor, decomposition = self.state.editor, self.state.decomposition
        if editor is None or decomposition is None:
            return
        prepared = self._prepared
        if prepared is None or prepared.editor is not editor:  # a session or a synchronous decomposition
            prepared = PreparedFace(editor, editor.reconstruction()[0], shaded_geometry(editor))
        self.panes["Reconstruction"].set_image(prepared.reconstruction)
        self.panes["Albedo"].set_image(decomposition.albedo)
        self.panes["Shading"].set_image(decomposition.shading / max(float(decomposition.shading.max()), 1e-6))
        self.panes["Shape"].set_image(prepared.geometry)
        self._uv_pixels = editor.edited_albedo8().copy()  # made by the worker when there are no edits
        self.uv_view.set_image(self._uv_pixels)
        self.viewer3d.set_shape(decomposition.shape)
        self.viewer3d.set_albedo(self._uv_pixels)
        if not self._shown_textured:  # the first face: show it textured, then keep the user's choice
            self._shown_textured = True
            self.viewer3d.set_mode(DisplayMode.TEXTURED)
        # only the face changes between decompositions of one photo: patch the old and new face areas
        region = editor.surface.region
        for rect in (self._face_region, region):
            if rect is not None:
                self.photo_view.update_region(editor.edited_photo, rect)
        self._face_region = region
        self.sticker_handles.bind(self.state)
        self._show_face_boxes()
        self.update_actions()

    def _on_photo_edited(self, rect: Rect) -> None:
        editor = self.state.editor
        if editor is not None:
            self.photo_view.update_region(editor.edited_photo, rect)

    def _on_canvas_edited(self, rect: Rect) -> None:
        editor = self.state.editor
        if editor is None or self._uv_pixels is None:
            return
        rect = rect.clip(*editor.canvas_size)
        if rect.empty:
            return
        rows, cols = rect.slices()
        if (rect.bottom - rect.top, rect.right - rect.left) == editor.canvas_size:
            self._uv_pixels[...] = editor.edited_albedo8()  # remembered when there are no edits
        else:
            self._uv_pixels[rows, cols] = unit_to_uint8(editor.edited_albedo(rect))
        self.uv_view.update_region(self._uv_pixels, rect)
        if not self._texture_timer.isActive():
            self._texture_timer.start()

    def _push_texture(self) -> None:
        if self._uv_pixels is not None:
            self.viewer3d.set_albedo(self._uv_pixels)

    def _set_mode(self, mode: DisplayMode) -> None:
        self.viewer3d.set_mode(mode)
        self.tabs.setCurrentWidget(self.viewer3d)

    def _on_tool_changed(self, tool: Tool) -> None:
        self.strokes.set_tool(tool)
        self.sticker_handles.set_enabled(tool is Tool.STICKER)

    def _photo_clicked(self, x: float, y: float) -> None:
        """With several faces, a click on another face (outside the current one) switches to it."""
        decomposition = self.state.decomposition
        if (
            decomposition is None
            or decomposition.face_count < 2
            or self.state.tool in (Tool.BRUSH, Tool.ERASER)
        ):
            return
        faces = self._faces
        for index, box in enumerate(faces):
            x0, y0, x1, y1 = box
            if x0 <= x <= x1 and y0 <= y <= y1 and index != decomposition.face_index:
                self.status.setText(f"Switching to face {index + 1}…")
                photo = self.state.photo
                self.runner.submit(
                    DecomposeRequest(photo.rgb, self.state.fidelity, face=index, tag=photo, source=photo.path)
                )
                return

    # -- saving and export (the file controller's; here for scripts and tests) ---------------------

    def save(self, wait: bool = False) -> bool:
        return self.file_controller.save(wait)

    def save_session(self, path: Path, wait: bool = False) -> bool:
        """Save the session in the background (with ``wait``, before returning); False if not started."""
        return self.file_controller.save_session(path, wait)

    def export_image(self, path: Path, wait: bool = False) -> bool:
        """Write the edited photo in the background; False if not started."""
        return self.file_controller.export_image(path, wait)

    def export_mesh(self, path: Path, wait: bool = False) -> bool:
        """Write the textured mesh (OBJ + MTL + PNG) in the background; False if not started."""
        return self.file_controller.export_mesh(path, wait)

    def export_turntable(self, path: Path, settings: TurntableSettings) -> bool:
        """Write a turntable of the edited face in the background; False if not started."""
        return self.file_controller.export_turntable(path, settings)

    def choose_reference(self) -> None:
        self.docks["Reference"].raise_()
        self.reference_panel.choose()

    # -- window -----------------------------------------------------------------------------------

    def stem(self) -> str:
        if self.photo_path is not None:
            return self.photo_path.stem
        if self.state.session_path is not None:
            return self.state.session_path.stem
        return "face"

    def _update_title(self) -> None:
        name = (
            self.photo_path.name
            if self.photo_path
            else (self.state.session_path.name if self.state.session_path else "")
        )
        self.setWindowTitle(f"{name}[*] — FaceCraft" if name else "FaceCraft")
        self.setWindowModified(self.state.modified)

    def update_actions(self) -> None:
        has_editor = self.state.editor is not None
        document = self.state.document
        for action in (
            self.save_action,
            self.save_as_action,
            self.export_image_action,
            self.export_mesh_action,
            self.export_turntable_action,
        ):
            action.setEnabled(has_editor)
        self.undo_action.setEnabled(document is not None and document.can_undo)
        self.redo_action.setEnabled(document is not None and document.can_redo)

    def confirm_discard(self) -> bool:
        """True when there are no unsaved edits, or the user chose to save or discard them."""
        if not self.state.modified:
            return True
        answer = QMessageBox.warning(
            self,
            "Unsaved edits",
            "The edits on this photo are not saved. Save them as a session first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            # the user is leaving this photo: write the session before going on
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                started = self.save(wait=True)
            finally:
                QApplication.restoreOverrideCursor()
            return started and not self.state.modified
        return answer == QMessageBox.StandardButton.Discard

    def show_error(self, title: str, message: str, advice: str) -> None:
        self.status.setText(title)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setInformativeText(advice)
        box.exec()

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About FaceCraft",
            f"FaceCraft {__version__}\n\nA face photo turned into an editable 3D decomposition with a "
            "nonlinear 3D morphable model (Tran, Liu & Liu, CVPR 2019).",
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self.confirm_discard():
            event.ignore()
            return
        self._save_settings()
        self.file_controller.wait()
        self.turntable.cancel()
        self.turntable.wait()
        self.reference_panel.shutdown()
        self.runner.cancel()
        self.viewer3d.cleanup()
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        urls = [url for url in event.mimeData().urls() if url.isLocalFile()]
        if not urls:
            return
        path = Path(urls[0].toLocalFile())
        event.acceptProposedAction()
        self.file_controller.open_file(path)

    # -- settings ---------------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        preferences = self.preferences
        geometry = preferences.layout("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 920)
            self.resizeDocks(list(self.docks.values()), [360] * len(self.docks), Qt.Orientation.Horizontal)
            self.splitter.setSizes([640, 480])
        state = preferences.layout("state")
        if state is not None:
            self.restoreState(state)
        splitter = preferences.layout("splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        brush = preferences.brush()
        if brush is not None:
            self.state.set_brush(brush)

    def _save_settings(self) -> None:
        preferences = self.preferences
        preferences.save_layout("geometry", self.saveGeometry())
        preferences.save_layout("state", self.saveState())
        preferences.save_layout("splitter", self.splitter.saveState())
        preferences.save_brush(self.state.brush)
        preferences.sync()
