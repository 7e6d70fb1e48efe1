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
        {"type": "eraser", "space": "uv", "points": [[0.5, 0.5]], "radius": 0.01},
        {"type": "transfer", "reference": "b.jpg", "regions": ["lips", "eyelids"], "mode": "colour",
         "strength": 0.7},
        {"type": "light", "reference": "b.jpg", "mix": 1.0}
      ],
      "lighting": null
    }

Sticker centres and widths are in UV (``[0, 1]``, width as a fraction of the
canvas width); brush points are photo pixels (``"space": "photo"``, the default,
with a radius in photo pixels) or UV (``"space": "uv"``, radius as a fraction of
the canvas width). Image paths are relative to the recipe file.

A ``transfer`` copies from a reference photo's face (its largest, or ``"face": n``)
the regions named (``lips``, ``eyelids``, ``cheeks``, ``brows``, ``face``, or
``painted`` with ``"mask": "mask.png"``, a grey mask on the UV canvas): its
colour relative to skin (``"mode": "colour"``, makeup) or its detailed albedo
(``"texture"``). A ``light`` edit relights the face with the reference photo's
lighting, ``mix`` of the way from the photo's own (see
:mod:`facecraft.core.editing.transfer`, :class:`~facecraft.core.editing.relighting.ReferenceLight`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facecraft.core.conventions import uv_to_texel
from facecraft.core.editing.document import BrushSettings
from facecraft.core.editing.editor import FaceEditor
from facecraft.core.editing.layers import MakeupSpec, StickerPlacement, TransferSpec
from facecraft.core.editing.reference import Reference
from facecraft.core.editing.regions import MAKEUP_REGIONS, TRANSFER_REGIONS
from facecraft.core.editing.relighting import ReferenceLight
from facecraft.core.editing.sticker import load_sticker
from facecraft.core.editing.transfer import PAINTED, add_transfer
from facecraft.core.errors import FaceCraftError, ImageLoadError
from facecraft.core.io.image_read import load_image

EDIT_TYPES = ("sticker", "tattoo", "makeup", "brush", "eraser", "transfer", "light")

ReferenceSource = Callable[[Path, int], Reference]
"""Decomposes a reference photo's face ``(path, face number)`` at the editor's canvas size."""


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
    elif kind in ("transfer", "light"):
        _check_reference(edit, folder)
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


def _check_reference(edit: dict[str, Any], folder: Path) -> None:
    reference = folder / str(edit["reference"])
    if not reference.is_file():
        raise ValueError(f"reference photo {reference} not found")
    edit["reference"] = reference
    if int(edit.get("face", 0)) < 0:
        raise ValueError('"face" must be 0 (the largest) or more')
    if edit["type"] == "light":
        _unit(edit.get("mix", 1.0), "mix")
        return
    regions = edit.get("regions", ["lips"])
    known = (*TRANSFER_REGIONS, PAINTED)
    if isinstance(regions, str) or not regions or any(region not in known for region in regions):
        raise ValueError(f'"regions" must be a non-empty list of {", ".join(known)}')
    if PAINTED in regions:
        mask = folder / str(edit.get("mask", ""))
        if "mask" not in edit or not mask.is_file():
            raise ValueError(f'the "{PAINTED}" region needs "mask": a mask image on the UV canvas')
        edit["mask"] = mask
    TransferSpec(
        edit["reference"].name,
        tuple(regions),
        str(edit.get("mode", "colour")),
        _unit(edit.get("strength", 1.0), "strength"),
    )


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


def apply_recipe(editor: FaceEditor, recipe: Recipe, references: ReferenceSource | None = None) -> None:
    """Apply every edit of ``recipe`` to ``editor`` (each one an undo step), then relight.

    Args:
        editor: the face to edit.
        recipe: the edits.
        references: decomposes reference photos (needed by ``transfer`` and ``light`` edits).

    Raises:
        RecipeError: a sticker image cannot be read, a stroke misses the face entirely, or a
            reference cannot be used (unreadable, no face, the region turned away).
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
        elif kind in ("transfer", "light"):
            _apply_reference_edit(editor, edit, number, references)
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


def _apply_reference_edit(
    editor: FaceEditor, edit: dict[str, Any], number: int, references: ReferenceSource | None
) -> None:
    if references is None:
        raise RecipeError(f"edit {number}: {edit['type']} edits need a way to decompose reference photos")
    try:
        reference = references(edit["reference"], int(edit.get("face", 0)))
        if edit["type"] == "light":
            light = ReferenceLight.of(reference.lighting, float(edit.get("mix", 1.0)), reference.name)
            editor.relight(light.lighting(editor.decomposition.lighting))
            return
        painted = None
        if "mask" in edit:
            painted = load_image(edit["mask"]).rgb.mean(axis=-1).astype(np.float32) / 255.0
        spec = TransferSpec(
            reference.name,
            tuple(str(region) for region in edit.get("regions", ["lips"])),
            str(edit.get("mode", "colour")),
            float(edit.get("strength", 1.0)),
        )
        add_transfer(editor.document, editor.base_albedo(), reference, spec, painted)
    except FaceCraftError as exc:
        raise RecipeError(f"edit {number} ({edit['type']}): {exc}") from exc


def _stroke_points(
    editor: FaceEditor, edit: dict[str, Any], width: int, number: int
) -> tuple[np.ndarray, float]:
    points = np.asarray(edit["points"], dtype=np.float64)
    radius = float(edit.get("radius", 8.0))
    if edit.get("space", "photo") == "uv":
        height = editor.canvas_size[0]
        return uv_to_texel(points, height, width), radius * width
    canvas, valid = editor.photo_to_canvas(points)
    if not valid.any():
        raise RecipeError(f"edit {number}: the stroke's points are all off the face")
    return canvas[valid], editor.canvas_radius(radius)
