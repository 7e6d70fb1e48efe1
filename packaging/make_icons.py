"""Render the application icon ``resources/icons/facecraft.svg`` to the PNG sizes desktops use.

    python packaging/make_icons.py            # writes resources/icons/facecraft_<N>.png
    python packaging/make_icons.py --out DIR

The PNGs are committed (the wheel, the bundle and the XDG install use them as they are); rerun
this after changing the SVG. Rendering uses Qt's SVG renderer, offscreen (no display needed).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from facecraft.app.main import ICON_SIZES

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"


def render_icons(svg: Path, out: Path, sizes: tuple[int, ...] = ICON_SIZES) -> list[Path]:
    """Write ``out/facecraft_<N>.png`` for every size; the paths written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG file")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = out / f"facecraft_{size}.png"
        if not image.save(str(path)):
            raise SystemExit(f"{path}: cannot be written")
        written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--svg", type=Path, default=ICONS / "facecraft.svg")
    parser.add_argument("--out", type=Path, default=ICONS)
    args = parser.parse_args()
    for path in render_icons(args.svg, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
