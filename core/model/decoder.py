"""The decoders D_S and D_A: a latent code -> a UV map (proxy and true).

Dual-pathway (paper section 3.4, Fig. 3): a global pathway decodes the whole
192x224 UV map from a 6x7 grid; a local pathway decodes each facial part (the
template's part boxes) from an h/8 x w/8 grid, zero-pads it into the UV frame
and fuses overlapping parts by element-wise max; the two feature maps are
concatenated, a conv follows, and two heads give the proxy and the residual
that makes the true component. The linear variant is a single linear map.

Decoders output raw maps; :class:`facecraft.core.model.FaceModel` turns them
into shapes (offsets from the mean face) and albedos (a sigmoid).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.model.config import ModelConfig
from facecraft.core.model.encoder import conv_bn_elu
from facecraft.core.template import PART_NAMES, PART_SIZE_MULTIPLE, UVBox

GLOBAL_GRID = (UV_HEIGHT // 32, UV_WIDTH // 32)
"""6x7: the global pathway's first grid, five x2 stages below 192x224."""


class _GridFromCode(nn.Module):
    """Linear layer to a ``(C, h, w)`` grid, then BatchNorm + ELU."""

    def __init__(self, code_size: int, channels: int, height: int, width: int) -> None:
        super().__init__()
        self.shape = (channels, height, width)
        self.linear = nn.Linear(code_size, channels * height * width)
        self.norm = nn.BatchNorm2d(channels)
        self.activation = nn.ELU(inplace=True)

    def forward(self, code: Tensor) -> Tensor:
        return self.activation(self.norm(self.linear(code).view(-1, *self.shape)))


class _UpStage(nn.Sequential):
    """Nearest x2 up-sampling, then 3x3 conv + BatchNorm + ELU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2.0, mode="nearest"), conv_bn_elu(in_channels, out_channels)
        )


class GlobalPathway(nn.Module):
    """``(B, code)`` -> ``(B, C, 192, 224)`` features."""

    def __init__(self, code_size: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.grid = _GridFromCode(code_size, channels[0], *GLOBAL_GRID)
        self.stages = nn.Sequential(*(_UpStage(a, b) for a, b in itertools.pairwise(channels)))
        self.out_channels = channels[-1]

    def forward(self, code: Tensor) -> Tensor:
        return self.stages(self.grid(code))


class PartNetwork(nn.Module):
    """One local sub-network: ``(B, code)`` -> ``(B, C, h, w)`` features of its part box."""

    def __init__(self, code_size: int, box: UVBox, channels: tuple[int, ...]) -> None:
        super().__init__()
        if box.height % PART_SIZE_MULTIPLE or box.width % PART_SIZE_MULTIPLE:
            raise ValueError(f"part box sides must be multiples of {PART_SIZE_MULTIPLE}, got {box}")
        self.box = box
        self.grid = _GridFromCode(code_size, channels[0], box.height // 8, box.width // 8)
        self.stages = nn.Sequential(*(_UpStage(a, b) for a, b in itertools.pairwise(channels)))

    def forward(self, code: Tensor) -> Tensor:
        return self.stages(self.grid(code))


class LocalPathway(nn.Module):
    """All parts, placed into the UV frame and fused by element-wise max.

    Outside every part the features are zero; where parts overlap the larger value wins
    (parts that do not cover a texel take no part in its max).
    """

    def __init__(self, code_size: int, boxes: dict[str, UVBox], channels: tuple[int, ...]) -> None:
        super().__init__()
        self.parts = nn.ModuleDict(
            {name: PartNetwork(code_size, boxes[name], channels) for name in PART_NAMES}
        )
        self.out_channels = channels[-1]

    def forward(self, code: Tensor) -> Tensor:
        placed = []
        for part in self.parts.values():
            box = part.box
            padding = (box.left, UV_WIDTH - box.left - box.width, box.top, UV_HEIGHT - box.top - box.height)
            placed.append(F.pad(part(code), padding, value=-torch.inf))
        fused = torch.stack(placed).amax(dim=0)
        return torch.where(torch.isinf(fused), torch.zeros_like(fused), fused)


class DualPathwayDecoder(nn.Module):
    """D_S or D_A for the nonlinear variants.

    Args:
        config: model config (its variant decides the local pathway and the proxy head).
        code_size: length of the code decoded.
        part_boxes: the template's part boxes (used with a local pathway).
        out_channels: channels of the decoded map (3 for shape and albedo).
    """

    def __init__(
        self, config: ModelConfig, code_size: int, part_boxes: dict[str, UVBox], out_channels: int = 3
    ) -> None:
        super().__init__()
        widths = config.decoder
        self.global_pathway = GlobalPathway(code_size, widths.global_channels)
        features = self.global_pathway.out_channels
        self.local_pathway: LocalPathway | None = None
        if config.variant.has_local_pathway:
            self.local_pathway = LocalPathway(code_size, part_boxes, widths.local_channels)
            features += self.local_pathway.out_channels
        self.fusion = conv_bn_elu(features, widths.fusion_channels)
        self.proxy_head = _zero_conv(widths.fusion_channels, out_channels)
        self.residual_head = (
            _zero_conv(widths.fusion_channels, out_channels) if config.variant.has_proxy else None
        )

    def forward(self, code: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(B, code)`` -> raw proxy ``(B, C, 192, 224)`` and raw residual (``None`` without proxy)."""
        features = self.global_pathway(code)
        if self.local_pathway is not None:
            features = torch.cat([features, self.local_pathway(code)], dim=1)
        fused = self.fusion(features)
        residual = None if self.residual_head is None else self.residual_head(fused)
        return self.proxy_head(fused), residual


class LinearDecoder(nn.Module):
    """The linear 3DMM: one linear map from the code to a half-resolution grid,
    bilinearly up-sampled to 192x224 (a fixed linear map, so the whole stays linear).

    The half-resolution grid matches the render mesh, which has a vertex every
    second texel.
    """

    def __init__(self, code_size: int, out_channels: int = 3) -> None:
        super().__init__()
        self.grid = (out_channels, UV_HEIGHT // 2, UV_WIDTH // 2)
        self.basis = nn.Linear(code_size, out_channels * self.grid[1] * self.grid[2])
        nn.init.normal_(self.basis.weight, std=1e-3)
        nn.init.zeros_(self.basis.bias)

    def forward(self, code: Tensor) -> tuple[Tensor, None]:
        half = self.basis(code).view(-1, *self.grid)
        return F.interpolate(half, size=(UV_HEIGHT, UV_WIDTH), mode="bilinear", align_corners=False), None


def _zero_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A 3x3 head that starts at zero output (the mean face, a grey albedo, no residual)."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv
