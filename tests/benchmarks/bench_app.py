"""Benchmark: the desktop application (not a test; run it by hand under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" python tests/benchmarks/bench_app.py

Measures, on the sample photo and on it scaled to 12 and 24 megapixels:

* open → first decomposition shown: from ``MainWindow.open_photo`` to the window's
  ``editor_ready`` (photo decoding, detection, encoder, the editor built in the
  worker, panes and views updated);
* a brush stroke segment → its composite on screen: from the photo view's
  ``stroke_moved`` to the event loop having painted the changed parts of the photo
  and UV views (layer painted, stack flattened, photo re-composited, images patched,
  the dirty regions repainted);
  issue 7's target is <= 50 ms on this CPU for a 12-megapixel photo;
* the 3D view's frame time (``paintGL`` + ``glFinish``, 1024-ish view, textured);
* the longest time the GUI thread was blocked while a photo opened (a 5 ms heartbeat timer),
  and while the edited 24-megapixel photo was exported as PNG (written in the background);
* the process's peak resident memory after a 24-megapixel photo is open and edited.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication
from timing import wall_ms

from facecraft.app.main import build_window, create_application
from facecraft.app.state import Tool
from facecraft.core.io.image_read import load_image
from facecraft.core.resources import resource_path


def wait_for(signal: object, timeout_ms: int = 180_000) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)  # type: ignore[attr-defined]
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def scaled_photo(folder: Path, megapixels: int) -> Path:
    """The sample photo scaled up and padded to a 4:3 photo of about ``megapixels``."""
    rgb = load_image(resource_path("samples/astronaut.jpg")).rgb
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = width * 3 // 4
    scaled = cv2.resize(rgb, (height, height), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((height, width, 3), 180, np.uint8)
    left = (width - height) // 2
    canvas[:, left : left + height] = scaled
    path = folder / f"photo_{megapixels}mp.jpg"
    cv2.imwrite(str(path), canvas[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


class Heartbeat:
    """A 5 ms timer on the GUI thread: the longest gap between its ticks is the longest GUI block."""

    def __init__(self) -> None:
        self.timer = QTimer(interval=5)
        self.timer.timeout.connect(self.tick)
        self.last = time.perf_counter()
        self.longest = 0.0

    def tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now

    def __enter__(self) -> Heartbeat:
        self.last = time.perf_counter()
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.stop()


def open_time(window: object, path: Path) -> tuple[float, float]:
    """Open → first decomposition shown (ms), and the longest GUI-thread block meanwhile (ms)."""
    with Heartbeat() as heartbeat:
        start = time.perf_counter()
        window.open_photo(path)  # type: ignore[attr-defined]
        wait_for(window.editor_ready)  # type: ignore[attr-defined]
        elapsed = (time.perf_counter() - start) * 1000
    return elapsed, heartbeat.longest * 1000


def stroke_latency(window: object, repeats: int) -> dict:
    state = window.state  # type: ignore[attr-defined]
    view = window.photo_view  # type: ignore[attr-defined]
    state.set_tool(Tool.BRUSH)
    landmarks = state.decomposition.detected_landmarks68
    start, end = (landmarks[3] + landmarks[31]) / 2, (landmarks[13] + landmarks[35]) / 2
    view.stroke_started.emit(*start)
    positions = [start + t * (end - start) for t in np.linspace(0, 1, repeats + 8)]
    index = [0]

    def segment() -> None:
        index[0] = (index[0] + 1) % len(positions)
        view.stroke_moved.emit(*positions[index[0]])
        QApplication.processEvents()  # paints the dirty parts of the photo and UV views

    result = wall_ms(segment, repeats)
    view.stroke_finished.emit()
    return result


def frame_time(window: object, repeats: int) -> dict:
    viewer = window.viewer3d  # type: ignore[attr-defined]
    window.tabs.setCurrentWidget(viewer)  # type: ignore[attr-defined]
    QApplication.processEvents()
    viewer.makeCurrent()

    def frame() -> None:
        viewer.paintGL()
        viewer._ctx.finish()

    result = wall_ms(frame, repeats)
    viewer.doneCurrent()
    result["view_size"] = [viewer.width(), viewer.height()]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    app = create_application()
    folder = Path(tempfile.mkdtemp())
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = build_window(settings)
    window.resize(1500, 920)
    window.show()
    window.state.set_fidelity(0.0)  # the first decomposition only; fitting is bench_engine's
    app.processEvents()
    window.runner.preload()  # as `facecraft` does once its window is up
    report: dict[str, object] = {}
    photos = {
        "sample_512": resource_path("samples/astronaut.jpg"),
        "12MP": scaled_photo(folder, 12),
        "24MP": scaled_photo(folder, 24),
    }
    for name, path in photos.items():
        window.state._saved_revision = window.state.document.revision if window.state.document else 0
        elapsed, blocked = open_time(window, path)
        report[f"open_to_first_decomposition_ms_{name}"] = round(elapsed, 1)
        report[f"longest_gui_block_during_open_ms_{name}"] = round(blocked, 1)
        if name != "sample_512":
            report[f"stroke_to_screen_{name}"] = stroke_latency(window, args.repeats)
        if name == "sample_512":
            report["3d_frame"] = frame_time(window, args.repeats)
    with Heartbeat() as heartbeat:
        start = time.perf_counter()
        window.export_image(folder / "edited_24mp.png")
        wait_for(window.file_written)
        report["export_png_24MP"] = {
            "total_ms": round((time.perf_counter() - start) * 1000, 1),
            "longest_gui_block_ms": round(heartbeat.longest * 1000, 1),
        }
    report["peak_rss_mb_after_24MP"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    window.state._saved_revision = window.state.document.revision
    window.close()
    window.runner.shutdown()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
