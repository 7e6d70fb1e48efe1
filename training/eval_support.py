"""What evaluating a model and drawing its figure share: crops as images, a frozen model, checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn

from facecraft.core.model.model import FaceModel
from facecraft.training.prepare_data import PreparedSplit


def crops_to_images(crops: np.ndarray, device: torch.device | str = "cpu") -> Tensor:
    """``(B, S, S, 3)`` uint8 crops to ``(B, 3, S, S)`` float32 RGB in ``[0, 1]``."""
    images = torch.as_tensor(np.ascontiguousarray(crops)).to(device)
    return images.permute(0, 3, 1, 2).float().div(255.0).contiguous()


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no gradients into the weights for the ``with`` block; both restored after."""
    was_training = model.training
    flags = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    model.eval()
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield model
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)
        model.train(was_training)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's weights are (the CPU for a model without any)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def check_split(model: FaceModel, split: PreparedSplit) -> None:
    """Refuse an empty split or crops the model does not take (``ValueError``)."""
    if len(split) == 0:
        raise ValueError("the split holds no photos")
    size = model.config.image_size
    if split.crops.ndim != 4 or split.crops.shape[1:] != (size, size, 3):
        raise ValueError(
            f"the split's crops are {tuple(split.crops.shape[1:])}, the model takes ({size}, {size}, 3)"
        )
