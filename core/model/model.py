"""The nonlinear 3DMM: encoder E and decoders D_S, D_A around the face template.

Shapes are UV position maps in the canonical frame, decoded as offsets from the
template's mean shape; albedos are RGB UV maps in ``[0, 1]``. With the proxy
variant, each decoder gives a proxy (``S~``, ``A~``) and a true component (``S``,
``A``) = proxy + residual; otherwise the two are the same tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from facecraft.core.camera import Camera
from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.face.template import FaceTemplate
from facecraft.core.model.config import ModelConfig
from facecraft.core.model.decoder import DualPathwayDecoder, LinearDecoder
from facecraft.core.model.encoder import Encoder
from facecraft.core.render.texture import sample_texture


@dataclass(frozen=True)
class DecodedFace:
    """Decoded UV maps, each ``(B, 3, 192, 224)``.

    Attributes:
        shape: true shape S, canonical frame.
        shape_proxy: proxy shape S~ (the same tensor as ``shape`` without proxies).
        albedo: true albedo A, RGB in ``[0, 1]``.
        albedo_proxy: proxy albedo A~.
    """

    shape: Tensor
    shape_proxy: Tensor
    albedo: Tensor
    albedo_proxy: Tensor


@dataclass(frozen=True)
class ModelOutput:
    """Everything the model estimates from a batch of crops.

    Attributes:
        shape_code: ``(B, Ns)`` f_S.
        albedo_code: ``(B, Na)`` f_A.
        camera: ``B`` cameras into the crop.
        lighting: ``(B, 3, 9)`` SH lighting.
        face: the decoded UV maps.
    """

    shape_code: Tensor
    albedo_code: Tensor
    camera: Camera
    lighting: Tensor
    face: DecodedFace


class FaceModel(nn.Module):
    """E, D_S and D_A with the template's mean shape and landmarks as buffers.

    Args:
        config: the architecture.
        template: the face template (mean shape, mask, landmarks, part boxes).
    """

    def __init__(self, config: ModelConfig, template: FaceTemplate) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        if config.variant.is_linear:
            self.shape_decoder: nn.Module = LinearDecoder(config.shape_code_size)
            self.albedo_decoder: nn.Module = LinearDecoder(config.albedo_code_size)
        else:
            self.shape_decoder = DualPathwayDecoder(config, config.shape_code_size, template.part_boxes)
            self.albedo_decoder = DualPathwayDecoder(config, config.albedo_code_size, template.part_boxes)
        mean_shape = torch.as_tensor(template.mean_shape_uv, dtype=torch.float32).permute(2, 0, 1)[None]
        self.register_buffer("mean_shape", mean_shape, persistent=False)
        self.register_buffer("uv_mask", torch.as_tensor(template.mask)[None, None], persistent=False)
        landmark_uv = torch.as_tensor(template.landmark_uv, dtype=torch.float32)
        self.register_buffer("landmark_uv", landmark_uv, persistent=False)

    def forward(self, images: Tensor) -> ModelOutput:
        """Decompose ``(B, 3, S, S)`` RGB crops in ``[0, 1]``."""
        encoded = self.encoder(images)
        face = self.decode(encoded.shape_code, encoded.albedo_code)
        return ModelOutput(encoded.shape_code, encoded.albedo_code, encoded.camera, encoded.lighting, face)

    def decode(self, shape_code: Tensor, albedo_code: Tensor) -> DecodedFace:
        """Decode ``(B, Ns)`` and ``(B, Na)`` codes to UV maps."""
        shape_proxy, shape = self.decode_shape_pair(shape_code)
        albedo, albedo_proxy = self.decode_albedo(albedo_code)
        return DecodedFace(shape, shape_proxy, albedo, albedo_proxy)

    def decode_shape(self, shape_code: Tensor) -> Tensor:
        """The true shape ``S`` alone of ``(B, Ns)`` codes (the albedo decoder does not run)."""
        return self.decode_shape_pair(shape_code)[1]

    def decode_shape_pair(self, shape_code: Tensor) -> tuple[Tensor, Tensor]:
        """``(S~, S)`` of ``(B, Ns)`` codes (the albedo decoder does not run)."""
        shape_raw, shape_residual = self.shape_decoder(shape_code)
        scale = self.config.shape_offset_scale
        shape_proxy = self.mean_shape + scale * shape_raw
        return shape_proxy, shape_proxy if shape_residual is None else shape_proxy + scale * shape_residual

    def decode_albedo(self, albedo_code: Tensor) -> tuple[Tensor, Tensor]:
        """``(A, A~)`` of ``(B, Na)`` codes (the shape decoder does not run)."""
        albedo_raw, albedo_residual = self.albedo_decoder(albedo_code)
        albedo_proxy = torch.sigmoid(albedo_raw)
        albedo = albedo_proxy if albedo_residual is None else torch.sigmoid(albedo_raw + albedo_residual)
        return albedo, albedo_proxy

    def landmark_points(self, shape: Tensor) -> Tensor:
        """The 68 landmarks of ``(B, 3, 192, 224)`` shapes: ``(B, 68, 3)`` canonical points."""
        return sample_landmarks(shape, self.landmark_uv)

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters of E, D_S and D_A."""

        def count(module: nn.Module) -> int:
            return sum(p.numel() for p in module.parameters() if p.requires_grad)

        return {
            "encoder": count(self.encoder),
            "shape_decoder": count(self.shape_decoder),
            "albedo_decoder": count(self.albedo_decoder),
            "total": count(self),
        }


LANDMARK_PATCH = 9
"""Texels per side of the neighbourhood whose mean is a landmark in the training losses."""


def sample_landmark_patches(shape: Tensor, landmark_uv: Tensor, patch: int = LANDMARK_PATCH) -> Tensor:
    """The mean of each landmark's ``patch x patch`` texel neighbourhood: ``(B, N, 3)``.

    A loss on a bilinear sample reaches 4 texels; a CPU fine-tune met its landmark term by pulling
    those few texels into a spike (the sample photo's nose ridge 0.9 canonical units out of the
    face, hiding most of it). Through the patch mean the same loss moves ``patch**2`` texels
    together, which the decoder does smoothly; on a smooth surface the mean is the point itself.
    """
    if patch < 1 or patch % 2 == 0:
        raise ValueError(f"patch must be an odd number of texels, got {patch}")
    # The mean of bilinear samples a whole texel apart (only around the landmarks, not a pooled map).
    steps = torch.arange(patch, dtype=landmark_uv.dtype, device=landmark_uv.device) - patch // 2
    rows, cols = torch.meshgrid(steps, steps, indexing="ij")
    offsets = torch.stack([cols.flatten() / UV_WIDTH, rows.flatten() / UV_HEIGHT], dim=-1)  # (P, 2)
    around = (landmark_uv[:, None, :] + offsets[None]).reshape(-1, 2)  # (N * P, 2)
    points = sample_landmarks(shape, around)
    return points.view(shape.shape[0], landmark_uv.shape[0], patch * patch, 3).mean(2)


def sample_landmarks(shape: Tensor, landmark_uv: Tensor) -> Tensor:
    """Points of ``(B, 3, H, W)`` position maps at ``(N, 2)`` UV coordinates: ``(B, N, 3)`` (bilinear)."""
    uv = landmark_uv.to(shape.dtype)[None, None].expand(shape.shape[0], 1, -1, -1)  # (B, 1, N, 2)
    return sample_texture(shape, uv)[:, :, 0].transpose(1, 2)
