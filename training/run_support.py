"""Helpers of the training loop: float32 views of autocast outputs, CSV logs, model-card totals."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from torch import Tensor

from facecraft.core.camera import Camera
from facecraft.core.model.io import card_path
from facecraft.core.model.model import ModelOutput


def read_card(model_path: Path) -> dict[str, Any]:
    """The JSON card of the model file ``model_path``; empty when it is missing or unreadable."""
    try:
        card = json.loads(card_path(model_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def read_card_totals(model_path: Path) -> tuple[float, int]:
    """``(train_seconds, images_seen)`` from a model card's ``training_totals`` (zeros when absent).

    Cards written before totals were recorded give their ``wall_seconds_this_session`` and
    the images of their train config's stages.
    """
    card = read_card(model_path)
    totals = card.get("training_totals")
    if isinstance(totals, dict):
        return float(totals.get("train_seconds", 0.0)), int(totals.get("images_seen", 0))
    stages = card.get("train_config", {}).get("stages", [])
    images = sum(int(s.get("steps", 0)) * int(s.get("batch_size", 0)) for s in stages)
    seconds = card.get("wall_seconds", card.get("wall_seconds_this_session", 0.0))
    return float(seconds), images


def as_float32(tensor: Tensor) -> Tensor:
    """Float32 (contiguous) of a floating-point tensor, unchanged otherwise."""
    return tensor.float().contiguous() if tensor.is_floating_point() else tensor


FACE_MAPS = ("shape", "shape_proxy", "albedo", "albedo_proxy")


def camera_to_float(camera: Camera) -> Camera:
    return Camera(as_float32(camera.scale), as_float32(camera.angles), as_float32(camera.translation))


def to_float(output: ModelOutput) -> ModelOutput:
    """Undo autocast's bfloat16 (and channels-last) before rendering."""
    face = output.face
    return ModelOutput(
        as_float32(output.shape_code),
        as_float32(output.albedo_code),
        camera_to_float(output.camera),
        as_float32(output.lighting),
        type(face)(*(as_float32(getattr(face, name)) for name in FACE_MAPS)),
    )


def append_csv(path: Path, row: dict[str, float]) -> None:
    new = not path.is_file()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(
            {k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v) for k, v in row.items()}
        )
