"""Helpers of the panel tests: the sample photo, the shipped stickers, signal recorders."""

from __future__ import annotations

from facecraft.app.layer_panel import LayerPanel
from facecraft.core.resources import resource_path

PHOTO = resource_path("samples/astronaut.jpg")
STICKERS = resource_path("stickers")


def record(signal) -> list:
    calls: list = []
    signal.connect(lambda *args: calls.append(args))
    return calls


def texts(panel: LayerPanel) -> list[str]:
    return [panel.layer_list.item(row).text() for row in range(panel.layer_list.count())]
