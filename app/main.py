"""Start the desktop application: ``facecraft [PHOTO | SESSION]``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from facecraft.core.errors import FaceCraftError
from facecraft.core.face.template import load_template
from facecraft.core.io.session import SUFFIX
from facecraft.core.resources import resource_path

SAMPLE_PHOTO = "samples/astronaut.jpg"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
"""The PNG sizes of the application icon in ``resources/icons`` (``packaging/make_icons.py``)."""
DESKTOP_FILE_NAME = "facecraft"
"""The desktop entry's name (``packaging/facecraft.desktop``), so desktops match windows to it."""


def application_icon() -> QIcon:
    """FaceCraft's icon, from the shipped PNGs (empty when they are missing)."""
    icon = QIcon()
    for size in ICON_SIZES:
        path = resource_path(f"icons/facecraft_{size}.png")
        if path.is_file():
            icon.addFile(str(path))
    return icon


def create_application(argv: Sequence[str] = ()) -> QApplication:
    """The QApplication (reused when one exists), high-DPI ready."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication([sys.argv[0] if sys.argv else "facecraft", *argv])
    configure_application(app)
    return app


def configure_application(app: QApplication) -> None:
    """Names, desktop entry and icon of the application (every window shows the icon)."""
    app.setApplicationName("FaceCraft")
    app.setOrganizationName("FaceCraft")
    app.setApplicationDisplayName("FaceCraft")
    app.setDesktopFileName(DESKTOP_FILE_NAME)
    app.setWindowIcon(application_icon())


def build_window(settings: QSettings | None = None):  # noqa: ANN201 - MainWindow, imported lazily
    """The main window with its worker (raises FaceCraftError when the template is unusable)."""
    from facecraft.app.main_window import MainWindow
    from facecraft.app.startup import settle_heap
    from facecraft.app.workers import DecompositionRunner, prepare_face

    settle_heap()  # no 0.3 s full garbage collection on the GUI thread later (app/startup.py)
    template = load_template()
    runner = DecompositionRunner(postprocess=prepare_face)
    window = MainWindow(template, runner, settings or QSettings())
    runner.setParent(window)
    return window


def run_app(argv: Sequence[str]) -> int:
    """Open the window (with ``argv[0]`` as the photo or session, else the sample photo); the exit code."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    app = create_application()
    try:
        window = build_window()
    except FaceCraftError as exc:
        QMessageBox.critical(
            None,
            "FaceCraft cannot start",
            f"{exc}\n\nReinstall FaceCraft: a file it ships with is missing or damaged.",
        )
        return 1
    window.show()
    window.runner.preload()  # the model and detector load in the background while the window comes up
    target = Path(argv[0]) if argv else resource_path(SAMPLE_PHOTO)

    def open_first() -> None:
        if target.suffix == SUFFIX:
            window.open_session(target)
        else:
            window.open_photo(target)

    QTimer.singleShot(0, open_first)
    code = app.exec()
    window.loader.wait()
    window.runner.shutdown()
    return int(code)
