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
from facecraft.core.face.template import PART_NAMES, PART_SIZE_MULTIPLE, UVBox
from facecraft.core.model.config import ModelConfig

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
    """x2 up-sampling by a 4x4 stride-2 transposed conv (as in the paper's code), BatchNorm, ELU.

    (A nearest up-sampling followed by a 3x3 conv costs 2.25x the multiply-adds for the same
    receptive field.)
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        up = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)
        _bilinear_init(up)
        super().__init__(up, nn.BatchNorm2d(out_channels), nn.ELU(inplace=True))


def _bilinear_init(up: nn.ConvTranspose2d) -> None:
    """Start a 4x4 stride-2 transposed conv as bilinear x2 up-sampling followed by a random 1x1 conv.

    A random 4x4 kernel gives each of the four output phases its own weights, which
    shows as a checkerboard in the decoded maps until training evens it out; this
    start has none, and training is free to grow any 4x4 kernel from it.
    """
    taps = torch.tensor([0.25, 0.75, 0.75, 0.25])
    kernel = torch.outer(taps, taps)  # each output phase's taps sum to 1
    mixing = torch.empty(up.in_channels, up.out_channels, 1, 1)
    nn.init.kaiming_uniform_(mixing, a=5**0.5)
    with torch.no_grad():
        up.weight.copy_(mixing * kernel)


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
    (parts that do not cover a texel take no part in its max). Since everything outside
    the parts is zero, the fused map is computed on the parts' union box only
    (:attr:`union`); :meth:`in_frame` places it in the full UV frame.
    """

    def __init__(self, code_size: int, boxes: dict[str, UVBox], channels: tuple[int, ...]) -> None:
        super().__init__()
        self.parts = nn.ModuleDict(
            {name: PartNetwork(code_size, boxes[name], channels) for name in PART_NAMES}
        )
        self.out_channels = channels[-1]
        top = min(boxes[n].top for n in PART_NAMES)
        left = min(boxes[n].left for n in PART_NAMES)
        bottom = max(boxes[n].top + boxes[n].height for n in PART_NAMES)
        right = max(boxes[n].left + boxes[n].width for n in PART_NAMES)
        self.union = UVBox(top, left, bottom - top, right - left)

    def forward(self, code: Tensor) -> Tensor:
        """``(B, code)`` -> ``(B, C, h, w)`` fused features of the :attr:`union` box.

        Each part is maxed into its own box of the union only (stacking every part padded to
        the whole union cost four union-sized copies, forward and backward).
        """
        union = self.union
        decoded = [(part.box, part(code)) for part in self.parts.values()]
        batch, channels = decoded[0][1].shape[:2]
        fused = decoded[0][1].new_full((batch, channels, union.height, union.width), -torch.inf)
        for box, features in decoded:
            rows = slice(box.top - union.top, box.top - union.top + box.height)
            cols = slice(box.left - union.left, box.left - union.left + box.width)
            fused[:, :, rows, cols] = torch.maximum(fused[:, :, rows, cols].clone(), features)
        return torch.where(torch.isinf(fused), torch.zeros_like(fused), fused)

    def in_frame(self, fused: Tensor) -> Tensor:
        """Zero-pad union-box features to the ``(B, C, 192, 224)`` UV frame."""
        union = self.union
        padding = (
            union.left,
            UV_WIDTH - union.left - union.width,
            union.top,
            UV_HEIGHT - union.top - union.height,
        )
        return F.pad(fused, padding)


class DualPathwayDecoder(nn.Module):
    """D_S or D_A for the nonlinear variants.

    The fusion conv over the concatenated pathways is computed as the sum of a conv of
    the global features and a conv of the local ones; the latter only where the local
    features are non-zero (the parts' union box and a one-texel rim), which is the same
    map at a fraction of the cost. The proxy and residual heads share one conv.

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
        self.out_channels = out_channels
        self.global_pathway = GlobalPathway(code_size, widths.global_channels)
        self.fusion_global = nn.Conv2d(
            self.global_pathway.out_channels, widths.fusion_channels, 3, padding=1, bias=False
        )
        self.local_pathway: LocalPathway | None = None
        self.fusion_local: nn.Conv2d | None = None
        if config.variant.has_local_pathway:
            self.local_pathway = LocalPathway(code_size, part_boxes, widths.local_channels)
            union = self.local_pathway.union
            if (
                union.top < 1
                or union.left < 1
                or union.top + union.height > UV_HEIGHT - 1
                or union.left + union.width > UV_WIDTH - 1
            ):
                raise ValueError(f"the part boxes must stay one texel inside the UV frame, union {union}")
            self.fusion_local = nn.Conv2d(
                self.local_pathway.out_channels, widths.fusion_channels, 3, padding=2, bias=False
            )
        self.fusion_activation = nn.Sequential(nn.BatchNorm2d(widths.fusion_channels), nn.ELU(inplace=True))
        heads = 2 if config.variant.has_proxy else 1
        self.heads = _zero_conv(widths.fusion_channels, heads * out_channels)

    def fused_features(self, code: Tensor) -> Tensor:
        """``(B, code)`` -> ``(B, F, 192, 224)``: the fusion conv over both pathways, before BN + ELU."""
        fused = self.fusion_global(self.global_pathway(code))
        if self.local_pathway is not None and self.fusion_local is not None:
            union = self.local_pathway.union
            # padding=2 on the union features gives the conv's output on the union plus a 1-texel rim.
            local = self.fusion_local(self.local_pathway(code))
            rows = slice(union.top - 1, union.top + union.height + 1)
            cols = slice(union.left - 1, union.left + union.width + 1)
            fused[:, :, rows, cols] += local
        return fused

    def forward(self, code: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(B, code)`` -> float32 raw proxy ``(B, C, 192, 224)`` and raw residual (None without proxy)."""
        heads = self.heads(self.fusion_activation(self.fused_features(code))).float()
        if heads.shape[1] == self.out_channels:
            return heads, None
        # split, not two slices: its backward concatenates the two gradients, where each
        # slice's backward zero-fills a whole (B, 6, 192, 224) map and adds it.
        proxy, residual = heads.split(self.out_channels, dim=1)
        return proxy, residual


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
        half = self.basis(code).float().view(-1, *self.grid)
        return F.interpolate(half, size=(UV_HEIGHT, UV_WIDTH), mode="bilinear", align_corners=False), None


def _zero_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A 3x3 head that starts at zero output (the mean face, a grey albedo, no residual)."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv
