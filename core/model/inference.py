"""The model prepared for inference: every BatchNorm folded into the layer before it.

In eval mode a BatchNorm is a per-channel affine map, ``y = g * x + b`` with
``g = gamma / sqrt(running_var + eps)`` and ``b = beta - g * running_mean``, so it can be
absorbed into the convolution, transposed convolution or linear layer that feeds it; the
folded network computes the same function (to float32 rounding) with one pass over each
feature map fewer. Folding is what :func:`fold_batch_norms` does, on a copy:

* ``conv -> BatchNorm`` inside an ``nn.Sequential`` (the encoder's stages, the decoders'
  up-sampling stages);
* the decoders' ``_GridFromCode`` (``linear -> view (C, h, w) -> BatchNorm``: each output
  row of the linear layer belongs to channel ``row // (h * w)``);
* the dual-pathway fusion, ``BatchNorm(conv_g(global) + conv_l(local))``: both convs are
  scaled, the shift goes to the global conv's bias (the local one is added to it).

The folded copy is still a :class:`~facecraft.core.model.model.FaceModel` and differentiable
(the fitter optimises codes through it); it has no running statistics left to train.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import Tensor, nn

from facecraft.core.model.decoder import DualPathwayDecoder, _GridFromCode
from facecraft.core.model.model import FaceModel


def fold_batch_norms(model: FaceModel) -> FaceModel:
    """An eval-mode copy of ``model`` with every BatchNorm folded away (``model`` is untouched).

    Folding a folded model gives an equal copy.

    Raises:
        ValueError: a BatchNorm was left that no rule above covers (the architecture changed).
    """
    folded = copy.deepcopy(model).eval()
    with torch.no_grad():
        for module in list(folded.modules()):
            if isinstance(module, nn.Sequential):
                _fold_sequential(module)
            elif isinstance(module, _GridFromCode):
                _fold_grid(module)
            elif isinstance(module, DualPathwayDecoder):
                _fold_fusion(module)
    left = [name for name, module in folded.named_modules() if isinstance(module, nn.BatchNorm2d)]
    if left:
        raise ValueError(f"fold_batch_norms: no rule folds {', '.join(left)}")
    return folded


def _affine(norm: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """``(g, b)`` with ``norm(x) = g * x + b`` per channel, in eval mode."""
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError("fold_batch_norms: a BatchNorm without running statistics cannot be folded")
    gain = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return gain, norm.bias - gain * norm.running_mean


def _scale_outputs(
    layer: nn.Conv2d | nn.ConvTranspose2d | nn.Linear, gain: Tensor, shift: Tensor | None
) -> None:
    """``layer(x) -> gain * layer(x) + shift`` per output channel (``shift`` None: no bias added)."""
    weight = layer.weight
    if isinstance(layer, nn.ConvTranspose2d):  # (in, out, kh, kw)
        weight.mul_(gain.view(1, -1, 1, 1))
    else:  # conv (out, in, kh, kw), linear (out, in)
        weight.mul_(gain.view(-1, *([1] * (weight.dim() - 1))))
    bias = layer.bias.mul(gain) if layer.bias is not None else torch.zeros_like(gain)
    if shift is not None:
        bias = bias + shift
    if layer.bias is not None or shift is not None:
        layer.bias = nn.Parameter(bias, requires_grad=weight.requires_grad)


def _fold_sequential(sequence: nn.Sequential) -> None:
    names = list(sequence._modules)
    for before, name in itertools.pairwise(names):
        layer, norm = sequence._modules[before], sequence._modules[name]
        if isinstance(norm, nn.BatchNorm2d) and isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            _scale_outputs(layer, *_affine(norm))
            sequence._modules[name] = nn.Identity()


def _fold_grid(grid: _GridFromCode) -> None:
    if not isinstance(grid.norm, nn.BatchNorm2d):
        return
    gain, shift = _affine(grid.norm)
    per_channel = grid.shape[1] * grid.shape[2]
    _scale_outputs(grid.linear, gain.repeat_interleave(per_channel), shift.repeat_interleave(per_channel))
    grid.norm = nn.Identity()


def _fold_fusion(decoder: DualPathwayDecoder) -> None:
    norm = decoder.fusion_activation[0]
    if not isinstance(norm, nn.BatchNorm2d):
        return
    gain, shift = _affine(norm)
    _scale_outputs(decoder.fusion_global, gain, shift)
    if decoder.fusion_local is not None:
        _scale_outputs(decoder.fusion_local, gain, None)
    decoder.fusion_activation[0] = nn.Identity()


def with_layer_weights_in(model: FaceModel, dtype: torch.dtype) -> FaceModel:
    """A copy of ``model`` whose convolution and linear weights are stored in ``dtype``.

    For inference under autocast to that dtype: autocast casts a float32 weight on every
    call unless it is a leaf that requires gradients, which the weights of a frozen model
    are not (on the sample photo that was ~200 casts per forward pass). Buffers (the mean
    shape, the landmarks' UV positions) and the outputs stay float32.
    """
    converted = copy.deepcopy(model)
    for module in converted.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            module.to(dtype)
    return converted
