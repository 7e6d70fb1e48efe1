"""Render screenshots of the application's main states to PNG, for review (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" python packaging/screenshots.py [--out docs/screenshots]

States: just opened (encoder-only decomposition), fitted (default fidelity), painting
(a sticker, makeup and a brush stroke, on the UV canvas tab), the 3D view, the
before/after split, and a studio relighting (the Lighting dock). Each is the whole
window grabbed after the event loop settles.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QEventLoop, QPoint, QSettings, QTimer
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

from facecraft.app.main import build_window, create_application
from facecraft.app.main_window import MainWindow
from facecraft.app.state import Tool
from facecraft.core.editing.layers import MakeupSpec, StickerPlacement
from facecraft.core.editing.sticker import load_sticker
from facecraft.core.fitting import DEFAULT_FIDELITY
from facecraft.core.resources import resource_path


def settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal: object, timeout_ms: int = 120_000) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)  # type: ignore[attr-defined]
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def grab_window(window: object) -> QImage:
    """The whole window, with the 3D view's picture painted in (QWidget.grab misses its native GL window)."""
    image = window.grab().toImage()  # type: ignore[attr-defined]
    viewer = window.viewer3d  # type: ignore[attr-defined]
    if viewer.isVisible():
        painter = QPainter(image)
        frame = viewer.grabFramebuffer()
        frame.setDevicePixelRatio(image.devicePixelRatio())
        painter.drawImage(viewer.mapTo(window, QPoint(0, 0)), frame)
        painter.end()
    return image


def open_window(description: str) -> tuple[argparse.Namespace, QApplication, MainWindow, Path]:
    """Parse ``--out``/``--photo``, then show a 1500x920 window with its own settings at fidelity 0.

    Returns:
        ``(arguments, application, window, a scratch folder)``.
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--photo", type=Path, default=resource_path("samples/astronaut.jpg"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())
    app = create_application()
    window = build_window(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1500, 920)
    window.show()
    window.state.set_fidelity(0.0)
    settle()
    return args, app, window, work


def close_window(app: QApplication, window: MainWindow) -> None:
    """Close without the unsaved-changes question and stop the worker threads."""
    window.state.mark_saved(Path("unused"))
    window.close()
    window.runner.shutdown()
    app.processEvents()


def quantize_in_place(path: Path) -> None:
    """Rewrite a screenshot PNG with 256 colours: a third of the bytes, kept small in the repository."""
    with Image.open(path) as full:
        quantized = full.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE)
    quantized.save(path, optimize=True)


def main() -> int:
    args, app, window, _ = open_window(__doc__ or "")

    def shot(name: str) -> None:
        settle(400)
        path = args.out / f"{name}.png"
        grab_window(window).save(str(path))
        quantize_in_place(path)
        print(path)

    window.open_photo(args.photo)
    wait_for(window.editor_ready)
    shot("1_opened")

    window.state.set_fidelity(DEFAULT_FIDELITY)
    window.request_fit(DEFAULT_FIDELITY)
    wait_for(window.editor_ready)
    window.tabs.setCurrentIndex(window.tabs.indexOf(window.panes["Reconstruction"]))
    shot("2_fitted")

    state = window.state
    state.add_makeup(MakeupSpec("lips", (0.75, 0.1, 0.25), 0.7))
    sticker = load_sticker(resource_path("stickers/butterfly.png"))
    state.add_sticker(sticker, StickerPlacement((0.64, 0.62), 0.12, -15.0), name="Butterfly")
    state.set_tool(Tool.BRUSH)
    landmarks = state.decomposition.detected_landmarks68
    editor = state.editor
    stroke, valid = editor.photo_to_canvas(np.linspace(landmarks[17], landmarks[26], 20))
    state.begin_stroke(stroke[valid][:1])
    state.continue_stroke(stroke[valid][1:])
    state.end_stroke()
    state.set_tool(Tool.STICKER)
    state.set_active_layer(state.document.layers[1])
    window.tabs.setCurrentWidget(window.uv_view)
    shot("3_painting")

    window.tabs.setCurrentWidget(window.viewer3d)
    window.viewer3d.set_view(window.viewer3d.view.orbited(120, 20))
    shot("4_3d_view")

    window.split_slider.setValue(50)
    shot("5_before_after")

    window.split_slider.setValue(0)
    window.docks["Lighting"].raise_()
    window.lighting_panel.azimuth.set_value(-60)
    window.lighting_panel.group.setChecked(True)
    window.tabs.setCurrentWidget(window.panes["Input"])
    shot("6_relit")
    close_window(app, window)
    return 0


if __name__ == "__main__":
    sys.exit(main())
