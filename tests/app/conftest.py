"""GUI test fixtures: no test may leave a worker thread running behind it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from panel_support import PHOTO
from PySide6.QtCore import QMimeData, QPoint, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from facecraft.app.layer_panel import LayerPanel
from facecraft.app.main import build_window
from facecraft.app.state import EditorState
from facecraft.app.tool_panel import ToolPanel
from facecraft.core.decompose import Decomposer
from facecraft.core.io.image_read import load_image

THREAD_GRACE_S = 5.0
"""How long a test's threads get to finish after it before the test fails."""
WATCHED_PREFIX = "facecraft-"
"""Threads named like this must stop even when they are daemons."""


class ThreadWatch:
    """The threads alive when a test started, to tell which ones it left behind."""

    def __init__(self) -> None:
        self.before = set(threading.enumerate())

    def leaked(self, grace_s: float = THREAD_GRACE_S) -> list[threading.Thread]:
        """New non-daemon or ``facecraft-*`` threads still alive after polling for up to ``grace_s``."""
        deadline = time.monotonic() + grace_s
        while True:
            leaked = [
                thread
                for thread in threading.enumerate()
                if thread not in self.before
                and thread.is_alive()
                and (not thread.daemon or thread.name.startswith(WATCHED_PREFIX))
            ]
            if not leaked or time.monotonic() >= deadline:
                return leaked
            time.sleep(0.05)


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[ThreadWatch]:
    """Fail a test that leaves a non-daemon or ``facecraft-*`` thread running (after a grace period)."""
    watch = ThreadWatch()
    yield watch
    leaked = watch.leaked()
    if leaked:
        names = ", ".join(sorted(f"{t.name} (daemon={t.daemon})" for t in leaked))
        pytest.fail(f"the test left threads running after {THREAD_GRACE_S:.0f} s: {names}", pytrace=False)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    """The main window, shown, at fidelity 0; closed and its workers stopped afterwards."""
    # No modal dialog may block a test: "discard" answers the unsaved-edits question (tests that
    # check it answer differently), and message boxes are recorded instead of shown.
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kwargs: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QMessageBox, "exec", lambda box: 0)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = build_window(settings)
    qtbot.addWidget(window)
    window.state.set_fidelity(0.0)  # encoder only: fast
    window.show()
    yield window
    window.close()
    window.loader.wait()
    window.runner.shutdown()


@pytest.fixture
def file_drop():
    """Makes the event of a file dropped at (10, 10) (give it to a widget's ``dropEvent``)."""
    payloads: list[QMimeData] = []  # an event does not own its data: keep it alive for the test

    def make(path: object) -> QDropEvent:
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(str(path))])
        payloads.append(data)
        return QDropEvent(
            QPoint(10, 10),
            Qt.DropAction.CopyAction,
            data,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )

    return make


# -- the panels' editor state (modules may define their own ``photo`` or ``state``) -------------


@pytest.fixture(scope="module")
def photo():
    return load_image(PHOTO)


@pytest.fixture(scope="module")
def decomposition(photo, template):
    with Decomposer.load(template=template) as decomposer:
        return decomposer.decompose(photo.rgb, fidelity=0.0)


@pytest.fixture
def state(template):
    return EditorState(template)


@pytest.fixture
def loaded(state, photo, decomposition):
    """A state with a photo and its decomposition (an empty layer stack)."""
    state.open_photo(photo, PHOTO.read_bytes())
    state.set_decomposition(decomposition)
    return state


@pytest.fixture
def tools(qtbot, state):
    panel = ToolPanel(state)
    qtbot.addWidget(panel)
    return panel


@pytest.fixture
def layers(qtbot, state):
    panel = LayerPanel(state)
    qtbot.addWidget(panel)
    return panel
