"""The application icon: shipped at every size, set on the application and so on its windows."""

from __future__ import annotations

from facecraft.app.main import ICON_SIZES, application_icon, configure_application
from facecraft.core.resources import resource_path


def test_icon_files_are_shipped():
    assert resource_path("icons/facecraft.svg").is_file()
    for size in ICON_SIZES:
        assert resource_path(f"icons/facecraft_{size}.png").is_file(), size


def test_the_application_and_its_windows_use_the_icon(qapp, qtbot):
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QWidget

    previous = (qapp.windowIcon(), qapp.desktopFileName())
    try:
        qapp.setWindowIcon(QIcon())
        configure_application(qapp)
        assert sorted(size.width() for size in application_icon().availableSizes()) == sorted(ICON_SIZES)
        assert qapp.desktopFileName() == "facecraft"
        window = QWidget()
        qtbot.addWidget(window)
        assert sorted(size.width() for size in window.windowIcon().availableSizes()) == sorted(ICON_SIZES)
    finally:
        qapp.setWindowIcon(previous[0])
        qapp.setDesktopFileName(previous[1])
