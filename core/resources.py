"""Where the shipped resources (template, landmark map, weights, samples) live."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(name: str) -> Path:
    """Path of a file shipped in ``facecraft.resources`` (it may not exist yet)."""
    return Path(str(files("facecraft.resources").joinpath(name)))
