"""The main window: the photo (before | after), the decomposition panes, the 3D view, the tools.

The window is a thin view over :class:`~facecraft.app.state.EditorState`: it builds the views
and docks and hands the work to its parts: :class:`~facecraft.app.decomposition_flow.DecompositionFlow`
(opening photos and sessions, the encoder then the fit), :class:`~facecraft.app.view_sync.ViewSync`
(the views kept in step with the state), :class:`~facecraft.app.file_controller.FileController`
(save, export, recent files), :class:`~facecraft.app.stroke_router.StrokeRouter` (painting) and
:func:`~facecraft.app.actions.build_actions` (menus and shortcuts).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
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
from facecraft.app.decomposition_flow import DecompositionFlow
from facecraft.app.fidelity_panel import FidelityPanel
from facecraft.app.file_controller import FileController
from facecraft.app.image_view import CompareView, ImageView
from facecraft.app.layer_panel import LayerPanel
from facecraft.app.lighting_panel import LightingPanel
from facecraft.app.preferences import Preferences
from facecraft.app.reference_panel import ReferencePanel
from facecraft.app.state import EditorState, Tool
from facecraft.app.sticker_handles import StickerHandles
from facecraft.app.stroke_router import StrokeRouter
from facecraft.app.tool_panel import ToolPanel
from facecraft.app.turntable_export import TurntableExporter
from facecraft.app.view_sync import ViewSync
from facecraft.app.viewer3d import FaceViewer3D
from facecraft.app.widgets import scrolling
from facecraft.app.workers import (
    DecompositionRunner,
)
from facecraft.core.editing.relighting import studio_lighting
from facecraft.core.face.template import FaceTemplate
from facecraft.core.render.gl import DisplayMode
from facecraft.core.render.turntable import TurntableSettings


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
        self.photo_path: Path | None = None

        self.setWindowTitle("FaceCraft")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self._build_views()
        self._build_docks()
        self.views = ViewSync(
            self.state, self.photo_view, self.uv_view, self.panes, self.viewer3d, self.sticker_handles, self
        )
        self.flow = DecompositionFlow(self, runner)
        self.loader = self.flow.loader
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
        for changed in (state.photo_changed, state.decomposition_changed):
            changed.connect(self._update_title)
            changed.connect(self.update_actions)
        state.history_changed.connect(self._update_title)
        state.history_changed.connect(self.update_actions)
        state.tool_changed.connect(self._on_tool_changed)
        self.split_slider.valueChanged.connect(lambda v: self.photo_view.set_split(v / 100))
        self.photo_view.clicked.connect(self.flow.photo_clicked)
        self._on_tool_changed(state.tool)

    # -- opening ----------------------------------------------------------------------------------

    def open_photo(self, path: Path, confirm: bool = False) -> bool:
        """Start opening a photo (read in the background, then decomposed).

        Returns False when the user cancelled at the unsaved-edits question; a file that
        cannot be read is reported in a dialog when its reading fails.
        """
        if confirm and not self.confirm_discard():
            return False
        self.flow.open_photo(Path(path))
        return True

    def request_fit(self, fidelity: float) -> None:
        """Run the fit at ``fidelity`` for the current photo (cancels any running one)."""
        self.flow.request_fit(fidelity)

    def open_session(self, path: Path) -> bool:
        """Start opening a session (read and prepared in the background); problems go to a dialog."""
        self.flow.open_session(Path(path))
        return True

    def _set_mode(self, mode: DisplayMode) -> None:
        self.viewer3d.set_mode(mode)
        self.tabs.setCurrentWidget(self.viewer3d)

    def _on_tool_changed(self, tool: Tool) -> None:
        self.strokes.set_tool(tool)
        self.sticker_handles.set_enabled(tool is Tool.STICKER)

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
