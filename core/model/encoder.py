"""The encoder E: a face crop -> shape code, albedo code, camera and lighting.

After the paper's code: a 7x7 stride-2 conv, then 3x3 conv stages with
BatchNorm + ELU down to 7x7. The shape and albedo codes come from conv heads with
global average pooling. Camera and lighting come from a :class:`PoseHead`: with
``SPATIAL`` (the default) a linear map of the whole flattened 7x7 feature map,
since a spatial mean throws away where in the crop the face is (issue 12: val NME
13.9 % pooled vs 7.7 % spatial after 600 pose-only steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from facecraft.core.camera import CAMERA_PARAMS, Camera
from facecraft.core.model.config import ModelConfig, PoseHead
from facecraft.core.render.shading import SH_COEFFICIENTS

LIGHTING_SIZE = 3 * SH_COEFFICIENTS
AMBIENT_PRIOR = 1.0
"""Constant SH coefficient the lighting head starts from (unit shading)."""
TRANSLATION_RANGE = 0.125
"""Crop widths per unit of the translation head's output."""
SPATIAL_HEAD_GAIN = 0.01
"""Output scale of the spatial pose head: without it the first steps overshoot and training diverges."""


@dataclass(frozen=True)
class EncoderOutput:
    """What E estimates from a batch of crops.

    Attributes:
        shape_code: ``(B, shape_code_size)`` f_S.
        albedo_code: ``(B, albedo_code_size)`` f_A.
        camera: ``B`` weak-perspective cameras into the crop (pixels).
        lighting: ``(B, 3, 9)`` SH lighting, camera frame.
    """

    shape_code: Tensor
    albedo_code: Tensor
    camera: Camera
    lighting: Tensor


def conv_bn_elu(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """``kernel x kernel`` conv (no bias), BatchNorm, ELU; 'same' padding."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ELU(inplace=True),
    )


class Encoder(nn.Module):
    """E of the paper.

    Args:
        config: the model config (code sizes, widths, camera prior).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        widths = config.encoder
        self.image_size = config.image_size
        self.camera_scale_prior = config.camera_scale_prior
        layers: list[nn.Module] = [conv_bn_elu(3, widths.stem_channels, kernel=7, stride=2)]
        channels = widths.stem_channels
        for stage_width in widths.stage_channels:
            layers.append(conv_bn_elu(channels, stage_width, stride=2))
            layers.extend(conv_bn_elu(stage_width, stage_width) for _ in range(widths.convs_per_stage - 1))
            channels = stage_width
        self.trunk = nn.Sequential(*layers)
        self.shape_head = self._head(channels, config.shape_code_size)
        self.albedo_head = self._head(channels, config.albedo_code_size)
        self.pose_head_kind = widths.pose_head
        if widths.pose_head.sees_position:
            side = config.image_size // 32
            outputs = len(CAMERA_PARAMS) + LIGHTING_SIZE
            self.pose_head: nn.Module = SpatialHead(channels * side * side, outputs)
        else:
            self.camera_head = self._head(channels, len(CAMERA_PARAMS), zero=True)
            self.lighting_head = self._head(channels, LIGHTING_SIZE, zero=True)
        self.register_buffer("rgb_mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1), persistent=False)

    @staticmethod
    def _head(channels: int, outputs: int, zero: bool = False) -> nn.Conv2d:
        head = nn.Conv2d(channels, outputs, 3, padding=1)
        if zero:  # start from the priors: a frontal, centred face under ambient light
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        return head

    def forward(self, images: Tensor) -> EncoderOutput:
        """Encode ``(B, 3, S, S)`` RGB crops in ``[0, 1]`` (``S`` = ``config.image_size``)."""
        size = self.image_size
        if images.dim() != 4 or images.shape[1:] != (3, size, size):
            raise ValueError(f"images must be (B, 3, {size}, {size}), got {tuple(images.shape)}")
        features = self.trunk((images - self.rgb_mean) * 2.0)
        # Under bf16 autocast the heads' outputs are bf16; cameras and lighting are float32 maths.
        shape_code = self.shape_head(features).float().mean(dim=(2, 3))
        albedo_code = self.albedo_head(features).float().mean(dim=(2, 3))
        if self.pose_head_kind is PoseHead.SPATIAL:
            raw_pose = self.pose_head(features).float()
            raw_camera, raw_lighting = raw_pose.split([len(CAMERA_PARAMS), LIGHTING_SIZE], 1)
        else:
            raw_camera = self.camera_head(features).float().mean(dim=(2, 3))
            raw_lighting = self.lighting_head(features).float().mean(dim=(2, 3))
        centre = (size - 1) / 2.0
        camera = Camera(
            scale=self.camera_scale_prior * torch.exp(raw_camera[:, 0]),
            angles=raw_camera[:, 1:4],
            translation=centre + raw_camera[:, 4:6] * (TRANSLATION_RANGE * size),
        )
        lighting = raw_lighting.view(-1, 3, SH_COEFFICIENTS)
        lighting = lighting + lighting.new_tensor([AMBIENT_PRIOR] + [0.0] * (SH_COEFFICIENTS - 1))
        return EncoderOutput(shape_code, albedo_code, camera, lighting)


class SpatialHead(nn.Module):
    """Linear map of the flattened ``(B, C, h, w)`` feature map to ``(B, outputs)``, times a small gain.

    Starts near zero output (the priors: a frontal, centred face under ambient light).
    """

    def __init__(self, inputs: int, outputs: int, gain: float = SPATIAL_HEAD_GAIN) -> None:
        super().__init__()
        self.linear = nn.Linear(inputs, outputs)
        nn.init.zeros_(self.linear.bias)
        self.gain = gain
        self.inputs = inputs

    def forward(self, features: Tensor) -> Tensor:
        flat = features.flatten(1)
        if flat.shape[1] != self.inputs:
            raise ValueError(f"SpatialHead expects {self.inputs} features per item, got {flat.shape[1]}")
        return self.linear(flat) * self.gain
