"""Screenshots of borrowing from another photo (issue 15), for review (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" python packaging/screenshots_reference.py [--out docs/screenshots]

The photo is zoomed on the face with the before | after divider in the middle (left: the
photo as it was). States: a reference photo open in the Reference dock (7), its lips copied at 50 % (8),
undone (9), its whole face copied as texture (10), the face relit with the reference's
lighting (11), the turntable export's progress dialog (12, the whole screen), and a strip
of frames of the exported turntable (``turntable_frames.png``). The reference is the
sample photo mirrored, its colours turned and its lips painted plum, made here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import imageio
import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QApplication

# packaging/ is this script's folder
from screenshots import close_window, open_window, quantize_in_place, settle, wait_for

from facecraft.app.turntable_export import scene_snapshot
from facecraft.core.face.detection import FaceDetector
from facecraft.core.fitting import DEFAULT_FIDELITY
from facecraft.core.io.image_read import load_image
from facecraft.core.io.image_write import write_image
from facecraft.core.render.turntable import TurntableSettings

HUE_TURN = 150
"""OpenCV hue units the reference's colours are turned by (skin pinker)."""
LIPSTICK = (110, 25, 90)
"""The plum the reference's lips are tinted with (multiplied)."""
LIPSTICK_ALPHA = 0.85


def make_reference(photo: Path, folder: Path) -> Path:
    """The photo mirrored, its hue turned and its lips painted plum: a reference that looks different."""
    rgb = np.ascontiguousarray(load_image(photo).rgb[:, ::-1])
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + HUE_TURN) % 180).astype(np.uint8)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    with FaceDetector() as detector:
        landmarks = detector.detect(rgb)[0].landmarks68
    lips = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.rint(landmarks[48:60]).astype(np.int32)], 255)
    cv2.fillPoly(lips, [np.rint(landmarks[60:68]).astype(np.int32)], 0)
    alpha = cv2.GaussianBlur(lips, (5, 5), 1.5)[..., None].astype(np.float32) / 255.0 * LIPSTICK_ALPHA
    tinted = rgb.astype(np.float32) * np.asarray(LIPSTICK, np.float32) / 255.0
    rgb = np.rint(rgb * (1.0 - alpha) + tinted * alpha).astype(np.uint8)
    path = folder / "reference.png"
    write_image(path, rgb)
    return path


def main() -> int:
    args, app, window, work = open_window(__doc__ or "")

    def shot(name: str, screen: bool = False) -> None:
        settle(400)
        path = args.out / f"{name}.png"
        picture = QApplication.primaryScreen().grabWindow(0) if screen else window.grab()
        picture.save(str(path))
        quantize_in_place(path)
        print(path)

    window.open_photo(args.photo)
    wait_for(window.editor_ready)
    window.state.set_fidelity(DEFAULT_FIDELITY)  # the photo, then the reference, fitted as by default
    window.request_fit(DEFAULT_FIDELITY)
    wait_for(window.editor_ready)
    for name in ("Fidelity", "Tools"):  # room for the Reference dock
        window.docks[name].hide()
    x0, y0, x1, y1 = window.state.decomposition.face_box
    margin = 0.25 * (x1 - x0)
    settle()
    window.photo_view.fitInView(
        QRectF(x0 - margin, y0 - margin, x1 - x0 + 2 * margin, y1 - y0 + 2 * margin),
        Qt.AspectRatioMode.KeepAspectRatio,
    )
    window.photo_view.centerOn((x0 + x1) / 2, (y0 + y1) / 2)
    window.split_slider.setValue(round(100 * (x0 + x1) / 2 / window.state.photo.width))  # before | after
    panel = window.reference_panel
    window.docks["Reference"].raise_()
    panel.open(make_reference(args.photo, work))
    wait_for(panel.reference_changed)
    shot("7_reference_open")

    panel.strength.set_value(50)
    panel.copy()
    shot("8_reference_lips_50")

    window.state.undo()
    shot("9_reference_undone")

    panel.region_boxes["lips"].setChecked(False)
    panel.region_boxes["face"].setChecked(True)
    panel.mode.setCurrentIndex(panel.mode.findData("texture"))
    panel.strength.set_value(100)
    panel.copy()
    window.tabs.setCurrentWidget(window.uv_view)
    shot("10_reference_face_texture")
    window.state.undo()

    window.docks["Lighting"].raise_()
    window.lighting_panel.reference_group.setChecked(True)
    shot("11_reference_lighting")
    window.lighting_panel.reference_group.setChecked(False)

    panel.region_boxes["face"].setChecked(False)
    panel.region_boxes["lips"].setChecked(True)
    panel.mode.setCurrentIndex(panel.mode.findData("colour"))
    panel.copy()
    video = work / "turntable.gif"
    exporter = window.turntable
    exporter.progress.connect(lambda done, _: done == 40 and shot("12_turntable_export", screen=True))
    source = scene_snapshot(window.state.editor)
    exporter.export(video, source, TurntableSettings(seconds=4, size=512), show_progress=True)
    wait_for(exporter.finished)
    frames = [frame[..., :3] for frame in imageio.get_reader(video)]
    strip = np.concatenate([frames[i] for i in (0, 15, 30, 60, 90)], axis=1)
    write_image(args.out.parent / "turntable_frames.png", cv2.resize(strip, None, fx=0.5, fy=0.5))
    print(args.out.parent / "turntable_frames.png")

    close_window(app, window)
    return 0


if __name__ == "__main__":
    sys.exit(main())
