"""The main window's actions, shortcuts and menus.

:func:`build_actions` makes every action of the window (kept as the window's
``*_action`` attributes, which enable and disable them) and puts them in the menu bar:
File (open, recent, reference, save, export, quit), Edit (undo, redo), Tools, View (tabs,
3D mode, docks) and Help. The slots are the window's and its file controller's methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from facecraft.core.render.gl import DisplayMode

if TYPE_CHECKING:
    from facecraft.app.main_window import MainWindow


def make_action(
    parent: QObject, text: str, slot: object, shortcut: QKeySequence | str | None = None, tip: str = ""
) -> QAction:
    """A QAction of ``parent`` that calls ``slot``, with an optional shortcut and tooltip."""
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    return action


def build_actions(window: MainWindow) -> None:
    """Make the window's actions (its ``*_action`` attributes) and its menus."""
    files = window.file_controller
    std = QKeySequence.StandardKey
    window.open_action = make_action(
        window, "&Open Photo…", files.choose_photo, std.Open, "Open a face photo"
    )
    window.open_session_action = make_action(
        window, "Open &Session…", files.choose_session, "Ctrl+Shift+O", "Resume a saved editing session"
    )
    window.save_action = make_action(
        window, "&Save Session", files.save, std.Save, "Save the edits and the decomposition"
    )
    window.save_as_action = make_action(window, "Save Session &As…", files.save_as, std.SaveAs)
    window.export_image_action = make_action(
        window,
        "Export &Image…",
        files.choose_image_export,
        "Ctrl+E",
        "Write the edited photo at its original resolution",
    )
    window.export_mesh_action = make_action(
        window,
        "Export &Mesh…",
        files.choose_mesh_export,
        "Ctrl+Shift+E",
        "Write the textured mesh (OBJ + MTL + PNG)",
    )
    window.open_reference_action = make_action(
        window,
        "Open &Reference…",
        window.choose_reference,
        "Ctrl+Shift+R",
        "A second photo to copy makeup, texture or light from",
    )
    window.export_turntable_action = make_action(
        window,
        "Export &Turntable…",
        files.choose_turntable_export,
        "Ctrl+T",
        "A video of the edited face turning left and right (MP4 or GIF)",
    )
    window.quit_action = make_action(window, "&Quit", window.close, std.Quit)
    window.undo_action = make_action(window, "&Undo", window.state.undo, std.Undo)
    window.redo_action = make_action(window, "&Redo", window.state.redo, QKeySequence("Ctrl+Shift+Z"))
    window.fit_action = make_action(
        window, "&Fit Photo", window.photo_view.fit, "F", "Fit the photo in the view"
    )

    file_menu = window.menuBar().addMenu("&File")
    file_menu.addAction(window.open_action)
    files.recent_menu = file_menu.addMenu("Open &Recent")
    file_menu.addAction(window.open_session_action)
    file_menu.addAction(window.open_reference_action)
    file_menu.addSeparator()
    file_menu.addAction(window.save_action)
    file_menu.addAction(window.save_as_action)
    file_menu.addSeparator()
    file_menu.addAction(window.export_image_action)
    file_menu.addAction(window.export_mesh_action)
    file_menu.addAction(window.export_turntable_action)
    file_menu.addSeparator()
    file_menu.addAction(window.quit_action)
    edit_menu = window.menuBar().addMenu("&Edit")
    edit_menu.addAction(window.undo_action)
    edit_menu.addAction(window.redo_action)
    tools_menu = window.menuBar().addMenu("&Tools")
    for action in window.tool_panel.tool_actions.values():
        tools_menu.addAction(action)
    for action in window.tool_panel.extra_actions:
        window.addAction(action)
    view_menu = window.menuBar().addMenu("&View")
    view_menu.addAction(window.fit_action)
    for index in range(window.tabs.count()):
        action = make_action(
            window,
            window.tabs.tabText(index),
            lambda _=False, i=index: window.tabs.setCurrentIndex(i),
            f"Ctrl+{index + 1}",
        )
        view_menu.addAction(action)
    modes = view_menu.addMenu("3D &Mode")
    for mode, key in zip(DisplayMode, ("Alt+1", "Alt+2", "Alt+3", "Alt+4"), strict=False):
        modes.addAction(
            make_action(window, mode.name.capitalize(), lambda _=False, m=mode: window._set_mode(m), key)
        )
    view_menu.addSeparator()
    for dock in window.docks.values():
        view_menu.addAction(dock.toggleViewAction())
    help_menu = window.menuBar().addMenu("&Help")
    help_menu.addAction(make_action(window, "&About FaceCraft", window._about))
    files.rebuild_recent_menu()
