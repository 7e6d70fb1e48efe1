"""Saving and loading a trained model: weights, config and a JSON card.

A model file (``.pt``) holds only tensors, strings and numbers, so it loads with
``torch.load(..., weights_only=True)``; weights may be stored in float16. Beside
it, ``<stem>.json`` is the model card a person reads (data, config, steps,
hardware, metrics); the loader checks that its config matches the weights'.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from facecraft.core.errors import ResourceError
from facecraft.core.face.template import FaceTemplate
from facecraft.core.io.atomic import write_bytes_atomically
from facecraft.core.model.config import ModelConfig
from facecraft.core.model.model import FaceModel

MODEL_FORMAT = "facecraft-nonlinear-3dmm"
MODEL_VERSION = 1


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference, with what its card says about it.

    Attributes:
        model: in eval mode, float32.
        config: the architecture it was built from.
        card: the JSON card (empty when there was none).
    """

    model: FaceModel
    config: ModelConfig
    card: dict[str, Any]


def card_path(path: str | Path) -> Path:
    """Where the JSON card of the model file ``path`` lives."""
    path = Path(path)
    return path.with_suffix(".json")


def save_model(
    model: FaceModel, path: str | Path, card: dict[str, Any] | None = None, half: bool = True
) -> None:
    """Write ``model`` to ``path`` and its card beside it, each atomically.

    Args:
        model: the model to save.
        path: the ``.pt`` file.
        card: facts for the JSON card (the config is added to it).
        half: store floating-point weights as float16 (BatchNorm statistics included).
    """
    path = Path(path)
    state = {
        name: (tensor.detach().half() if half and tensor.is_floating_point() else tensor.detach())
        .cpu()
        .clone()
        for name, tensor in model.state_dict().items()
    }
    payload = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "config": json.dumps(model.config.to_dict()),
        "state_dict": state,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomically(path, buffer.getvalue())
    full_card = dict(card or {}) | {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "config": model.config.to_dict(),
        "weights_dtype": "float16" if half else "float32",
        "parameters": model.parameter_counts(),
    }
    write_bytes_atomically(card_path(path), (json.dumps(full_card, indent=2) + "\n").encode())


def load_model(path: str | Path, template: FaceTemplate, device: str | torch.device = "cpu") -> LoadedModel:
    """Read a model saved by :func:`save_model`.

    Raises:
        ResourceError: the file is missing, corrupt, not a FaceCraft model, of another
            version, or its weights do not fit its config (or its card's config).
    """
    path = Path(path)
    if not path.is_file():
        raise ResourceError(f"{path}: model weights not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise ResourceError(f"{path}: unreadable model weights ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ResourceError(f"{path}: not a FaceCraft model file")
    if payload.get("version") != MODEL_VERSION:
        raise ResourceError(
            f"{path}: model format version {payload.get('version')}, expected {MODEL_VERSION}"
        )
    try:
        config = ModelConfig.from_dict(json.loads(payload["config"]))
        state = payload["state_dict"]
        model = FaceModel(config, template)
        reference = model.state_dict()
        missing, unexpected = set(reference) - set(state), set(state) - set(reference)
        if missing or unexpected:
            raise ValueError(f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}")
        for name, tensor in state.items():
            if tensor.shape != reference[name].shape:
                raise ValueError(
                    f"{name} has shape {tuple(tensor.shape)}, expected {tuple(reference[name].shape)}"
                )
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise ValueError(f"{name} contains NaN or infinity")
        model.load_state_dict({name: tensor.to(reference[name].dtype) for name, tensor in state.items()})
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ResourceError(f"{path}: the model weights do not match their config ({exc})") from exc
    card = _read_card(card_path(path), config)
    return LoadedModel(model.to(device).eval(), config, card)


def _read_card(path: Path, config: ModelConfig) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResourceError(f"{path}: unreadable model card ({exc})") from exc
    if not isinstance(card, dict):
        raise ResourceError(f"{path}: the model card is not a JSON object")
    if "config" in card:
        try:
            card_config = ModelConfig.from_dict(card["config"])
        except (ValueError, TypeError) as exc:
            raise ResourceError(f"{path}: the model card's config is invalid ({exc})") from exc
        if card_config != config:
            raise ResourceError(f"{path}: the model card describes a different model than its weights")
    return card
