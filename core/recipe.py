"""Edit recipes: a small JSON file describing edits, applied by ``facecraft edit``.

Example::

    {
      "fidelity": 0.3,
      "face": 0,
      "edits": [
        {"type": "sticker", "image": "star.png", "centre": [0.62, 0.35], "width": 0.12, "rotation": 20},
        {"type": "tattoo", "image": "rose.png", "centre": [0.3, 0.6], "width": 0.15},
        {"type": "makeup", "region": "lips", "colour": "#b3243c", "strength": 0.6},
        {"type": "brush", "space": "photo", "points": [[120, 200], [140, 210]],
         "colour": "#2050d0", "radius": 4, "hardness": 0.8, "opacity": 1.0},
        {"type": "eraser", "space": "uv", "points": [[0.5, 0.5]], "radius": 0.01}
      ],
      "lighting": null
    }

Sticker centres and widths are in UV (``[0, 1]``, width as a fraction of the
canvas width); brush points are photo pixels (``"space": "photo"``, the default,
with a radius in photo pixels) or UV (``"space": "uv"``, radius as a fraction of
the canvas width). Image paths are relative to the recipe file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facecraft.core.editing.document import BrushSettings
from facecraft.core.editing.layers import MakeupSpec, StickerPlacement
from facecraft.core.editing.paint import load_sticker
from facecraft.core.editing.regions import MAKEUP_REGIONS
from facecraft.core.editor import FaceEditor
from facecraft.core.errors import FaceCraftError, ImageLoadError

EDIT_TYPES = ("sticker", "tattoo", "makeup", "brush", "eraser")


class RecipeError(FaceCraftError):
    """A recipe file is missing, not JSON, or describes an edit that cannot be made."""


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe.

    Attributes:
        fidelity: the fitting fidelity to decompose at, or None for the caller's default.
        face: which face (0 = largest).
        edits: the edit records, validated, with image paths resolved.
        lighting: ``(3, 9)`` relighting, or None.
    """

    fidelity: float | None
    face: int
    edits: tuple[dict[str, Any], ...]
    lighting: np.ndarray | None


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe.

    Raises:
        RecipeError: with the file and the first problem found.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise RecipeError(f"{path}: no such recipe file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecipeError(f"{path}: not a readable JSON recipe ({exc})") from exc
    if not isinstance(data, dict):
        raise RecipeError(f'{path}: a recipe is a JSON object with an "edits" list')
    try:
        return _parse(data, path.parent)
    except (KeyError, TypeError, ValueError) as exc:
        raise RecipeError(f"{path}: {exc}") from exc


def _parse(data: dict[str, Any], folder: Path) -> Recipe:
    fidelity = data.get("fidelity")
    if fidelity is not None:
        fidelity = float(fidelity)
        if not 0.0 <= fidelity <= 1.0:
            raise ValueError(f"fidelity must be in [0, 1], got {fidelity}")
    face = int(data.get("face", 0))
    if face < 0:
        raise ValueError("face must be 0 (the largest) or more")
    edits = []
    for number, edit in enumerate(data.get("edits", []), start=1):
        if not isinstance(edit, dict) or edit.get("type") not in EDIT_TYPES:
            raise ValueError(f'edit {number}: "type" must be one of {", ".join(EDIT_TYPES)}')
        edit = dict(edit)
        try:
            _check_edit(edit, folder)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"edit {number} ({edit['type']}): {exc}") from exc
        edits.append(edit)
    lighting = data.get("lighting")
    if lighting is not None:
        lighting = np.asarray(lighting, dtype=np.float32)
        if lighting.shape != (3, 9) or not np.isfinite(lighting).all():
            raise ValueError("lighting must be 3 rows of 9 SH coefficients")
    return Recipe(fidelity, face, tuple(edits), lighting)


def _check_edit(edit: dict[str, Any], folder: Path) -> None:
    kind = edit["type"]
    if kind in ("sticker", "tattoo"):
        image = folder / str(edit["image"])
        if not image.is_file():
            raise ValueError(f"sticker image {image} not found")
        edit["image"] = image
        StickerPlacement(
            _pair(edit.get("centre", (0.5, 0.5))),
            float(edit.get("width", 0.2)),
            float(edit.get("rotation", 0.0)),
        )
        _unit(edit.get("opacity", 1.0), "opacity")
    elif kind == "makeup":
        if edit.get("region") not in MAKEUP_REGIONS:
            raise ValueError(f'"region" must be one of {", ".join(MAKEUP_REGIONS)}')
        MakeupSpec(
            edit["region"], parse_colour(edit.get("colour", "#b3243c")), float(edit.get("strength", 0.5))
        )
    else:
        if edit.get("space", "photo") not in ("photo", "uv"):
            raise ValueError('"space" must be "photo" or "uv"')
        points = np.asarray(edit["points"], dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0 or not np.isfinite(points).all():
            raise ValueError('"points" must be a non-empty list of [x, y] pairs')
        if float(edit.get("radius", 8.0)) <= 0:
            raise ValueError('"radius" must be positive')
        parse_colour(edit.get("colour", "#000000"))
        _unit(edit.get("hardness", 0.7), "hardness")
        _unit(edit.get("opacity", 1.0), "opacity")


def _pair(value: Any) -> tuple[float, float]:
    x, y = value
    return float(x), float(y)


def _unit(value: Any, name: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f'"{name}" must be in [0, 1], got {value}')
    return value


def parse_colour(value: Any) -> tuple[float, float, float]:
    """``"#rrggbb"`` or ``[r, g, b]`` (0-255 integers or 0-1 floats) to RGB in ``[0, 1]``."""
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if len(text) != 6:
            raise ValueError(f"colour {value!r} is not #rrggbb")
        return tuple(int(text[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
    channels = [float(c) for c in value]
    if len(channels) != 3:
        raise ValueError(f"colour {value!r} needs 3 channels")
    if any(c > 1.0 for c in channels):
        channels = [c / 255.0 for c in channels]
    if not all(0.0 <= c <= 1.0 for c in channels):
        raise ValueError(f"colour {value!r} is out of range")
    return channels[0], channels[1], channels[2]


def apply_recipe(editor: FaceEditor, recipe: Recipe) -> None:
    """Apply every edit of ``recipe`` to ``editor`` (each one an undo step), then relight.

    Raises:
        RecipeError: a sticker image cannot be read, or a stroke misses the face entirely.
    """
    document = editor.document
    width = editor.canvas_size[1]
    paint_layer = None
    for number, edit in enumerate(recipe.edits, start=1):
        kind = edit["type"]
        if kind in ("sticker", "tattoo"):
            try:
                image = load_sticker(edit["image"])
            except ImageLoadError as exc:
                raise RecipeError(f"edit {number}: {exc}") from exc
            placement = StickerPlacement(
                _pair(edit.get("centre", (0.5, 0.5))),
                float(edit.get("width", 0.2)),
                float(edit.get("rotation", 0.0)),
            )
            layer = document.add_sticker(image, placement, tattoo=kind == "tattoo")
            document.set_layer(layer, opacity=float(edit.get("opacity", 1.0)))
        elif kind == "makeup":
            document.add_makeup(
                MakeupSpec(
                    edit["region"],
                    parse_colour(edit.get("colour", "#b3243c")),
                    float(edit.get("strength", 0.5)),
                )
            )
        else:
            if paint_layer is None:
                paint_layer = document.add_paint_layer()
            points, radius = _stroke_points(editor, edit, width, number)
            brush = BrushSettings(
                parse_colour(edit.get("colour", "#000000")),
                radius,
                float(edit.get("hardness", 0.7)),
                float(edit.get("opacity", 1.0)),
            )
            stroke = document.begin_stroke(paint_layer, brush, erase=kind == "eraser")
            stroke.add_points(points)
            document.end_stroke(stroke)
    if recipe.lighting is not None:
        editor.relight(recipe.lighting)
    editor.refresh(None)


def _stroke_points(
    editor: FaceEditor, edit: dict[str, Any], width: int, number: int
) -> tuple[np.ndarray, float]:
    points = np.asarray(edit["points"], dtype=np.float64)
    radius = float(edit.get("radius", 8.0))
    if edit.get("space", "photo") == "uv":
        height = editor.canvas_size[0]
        return np.stack([points[:, 0] * width - 0.5, points[:, 1] * height - 0.5], axis=1), radius * width
    canvas, valid = editor.photo_to_canvas(points)
    if not valid.any():
        raise RecipeError(f"edit {number}: the stroke's points are all off the face")
    return canvas[valid], editor.canvas_radius(radius)
