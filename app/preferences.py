"""What the application remembers between runs: folders, recent files, the brush, the window layout.

A typed wrapper over ``QSettings``: every value read back is validated, so a damaged
or foreign settings file falls back to defaults instead of breaking the window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from facecraft.core.editing.document import BrushSettings

RECENT_LIMIT = 8
"""Recent files kept."""


class Preferences:
    """Typed access to the application's ``QSettings``.

    Args:
        settings: the store (the user's by default; tests pass an INI file).
    """

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    @property
    def last_folder(self) -> str:
        """The folder of the last file opened or written (the home folder at first)."""
        return str(self.settings.value("last_folder", str(Path.home())))

    def remember_folder(self, path: Path) -> None:
        """Remember the folder ``path`` is in."""
        self.settings.setValue("last_folder", str(Path(path).parent))

    @property
    def recent_files(self) -> list[str]:
        """Most recent first."""
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def remember_file(self, path: Path) -> None:
        """Put ``path`` first among the recent files (and remember its folder)."""
        self.remember_folder(path)
        recent = [str(path)] + [p for p in self.recent_files if p != str(path)]
        self.settings.setValue("recent_files", recent[:RECENT_LIMIT])

    def brush(self) -> BrushSettings | None:
        """The brush of the last run, or None when none (or no valid one) was saved."""
        try:
            colour = tuple(float(c) for c in self.settings.value("brush/colour"))
            brush = BrushSettings(
                colour,  # type: ignore[arg-type]
                float(self.settings.value("brush/radius")),
                float(self.settings.value("brush/hardness")),
                float(self.settings.value("brush/opacity")),
            )
        except (TypeError, ValueError):
            return None
        if len(brush.colour) != 3 or not all(0.0 <= c <= 1.0 for c in brush.colour):
            return None
        return brush

    def save_brush(self, brush: BrushSettings) -> None:
        self.settings.setValue("brush/colour", list(brush.colour))
        self.settings.setValue("brush/radius", brush.radius)
        self.settings.setValue("brush/hardness", brush.hardness)
        self.settings.setValue("brush/opacity", brush.opacity)

    def layout(self, name: str) -> QByteArray | None:
        """A saved ``saveGeometry``/``saveState`` blob (``name``: geometry, state, splitter)."""
        value = self.settings.value(f"window/{name}")
        return value if isinstance(value, QByteArray) else None

    def save_layout(self, name: str, blob: QByteArray) -> None:
        self.settings.setValue(f"window/{name}", blob)

    def sync(self) -> None:
        self.settings.sync()
