"""File > Export Turntable…: written in the background with progress; cancel leaves no file."""

from __future__ import annotations

import imageio

from facecraft.core.render.turntable import TurntableSettings
from facecraft.core.resources import resource_path

ASTRONAUT = resource_path("samples/astronaut.jpg")
WAIT_MS = 90_000


def test_export_a_turntable_then_cancel_one(window, qtbot, tmp_path):
    with qtbot.waitSignal(window.editor_ready, timeout=WAIT_MS):
        assert window.open_photo(ASTRONAUT)
    assert window.export_turntable_action.isEnabled()
    window.state.add_makeup()
    path = tmp_path / "turn.mp4"
    frames: list[int] = []
    window.turntable.progress.connect(lambda done, total: frames.append(done))
    with qtbot.waitSignal(window.file_written, timeout=WAIT_MS) as written:
        assert window.export_turntable(path, TurntableSettings(seconds=0.5, fps=10, size=128))
    assert written.args == ["turntable", str(path), True]
    assert frames == [1, 2, 3, 4, 5]
    video = list(imageio.get_reader(path).iter_data())  # (len() of an MP4 reader is inf)
    assert len(video) == 5 and video[0].shape[:2] == (128, 128)
    assert window.status.text() == "Exported turn.mp4"

    cancelled = tmp_path / "cancelled.gif"
    window.turntable.progress.connect(lambda done, total: window.turntable.cancel())
    with qtbot.waitSignal(window.file_written, timeout=WAIT_MS) as written:
        assert window.export_turntable(cancelled, TurntableSettings(seconds=2, fps=10, size=128))
    assert written.args == ["turntable", str(cancelled), False]
    assert "cancelled" in window.status.text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".gif", ".mp4")) == ["turn.mp4"]
    assert not any(".partial" in p.name for p in tmp_path.iterdir())
    window.turntable.wait()
    assert len(window.state.document.layers) == 1  # the edits are untouched
