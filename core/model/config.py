"""Typed configuration of the nonlinear 3DMM and of its training objective.

One :class:`ModelConfig` describes a network (its :class:`Variant` picks the
row of the paper's Table 1); one :class:`ObjectiveConfig` holds the weights of
every loss term. Both are frozen dataclasses that round-trip through JSON-able
dicts, so a saved model carries the exact config it was built from.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from typing import Any


class PoseHead(enum.StrEnum):
    """How the encoder reads camera and lighting off its final feature map."""

    POOLED = "pooled"
    """A 3x3 conv then a spatial mean, like the code heads: blind to where the face is."""
    SPATIAL = "spatial"
    """A linear map of the whole flattened feature map, so position in the crop is visible."""

    @property
    def sees_position(self) -> bool:
        return self is PoseHead.SPATIAL


class Variant(enum.StrEnum):
    """The model variants compared in the paper's ablation (Table 1)."""

    LINEAR = "linear"
    """A single linear map from each code to its UV map: the linear 3DMM baseline."""
    GLOBAL = "global"
    """Nonlinear decoders with the global pathway only."""
    GLOBAL_LOCAL = "global_local"
    """Global and local (per facial part) pathways: "+GL"."""
    GLOBAL_LOCAL_PROXY = "global_local_proxy"
    """Global and local pathways with proxy and true heads: "+GL+Proxy", the paper's full model."""

    @property
    def is_linear(self) -> bool:
        return self is Variant.LINEAR

    @property
    def has_local_pathway(self) -> bool:
        return self in (Variant.GLOBAL_LOCAL, Variant.GLOBAL_LOCAL_PROXY)

    @property
    def has_proxy(self) -> bool:
        """Whether the decoders have separate proxy and true heads (otherwise proxy = true)."""
        return self is Variant.GLOBAL_LOCAL_PROXY


@dataclass(frozen=True)
class EncoderConfig:
    """Widths of the encoder E.

    Attributes:
        stem_channels: output of the 7x7 stride-2 stem (224 -> 112).
        stage_channels: one stride-2 stage each (112 -> 56 -> 28 -> 14 -> 7).
        convs_per_stage: 3x3 conv + BatchNorm + ELU layers per stage (the first strided).
        pose_head: how camera and lighting are read off the final features.
    """

    stem_channels: int = 32
    stage_channels: tuple[int, ...] = (48, 64, 96, 160)
    convs_per_stage: int = 2
    pose_head: PoseHead = PoseHead.SPATIAL

    def __post_init__(self) -> None:
        if not isinstance(self.pose_head, PoseHead):
            object.__setattr__(self, "pose_head", PoseHead(self.pose_head))


@dataclass(frozen=True)
class DecoderConfig:
    """Widths of the dual-pathway decoders D_S and D_A.

    Attributes:
        global_channels: feature channels at 6x7 and after each of the five x2 stages
            (12x14 ... 192x224).
        local_channels: feature channels of each part network at h/8 x w/8 and after
            each of its three x2 stages.
        fusion_channels: channels of the convs after the two pathways are concatenated.
    """

    global_channels: tuple[int, ...] = (128, 128, 96, 48, 24, 16)
    local_channels: tuple[int, ...] = (64, 48, 24, 16)
    fusion_channels: int = 16


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes a model's architecture.

    Attributes:
        variant: which row of the ablation.
        shape_code_size: length of f_S (paper: 320).
        albedo_code_size: length of f_A (paper: 320).
        image_size: side of the square input crop, pixels.
        camera_scale_prior: pixels per canonical unit (outer-eye-corner distance) of
            a face in a standard crop; the encoder predicts a log-factor on it. The
            default is the geometric mean of the prepared train split's pseudo cameras
            (92.5; training checks it against its data).
        shape_offset_scale: canonical units per unit of decoder output, for the
            offset from the template's mean shape.
        encoder: encoder widths.
        decoder: decoder widths (unused by the linear variant).
    """

    variant: Variant = Variant.GLOBAL_LOCAL_PROXY
    shape_code_size: int = 320
    albedo_code_size: int = 320
    image_size: int = 224
    camera_scale_prior: float = 92.5
    shape_offset_scale: float = 0.1
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.variant, Variant):
            object.__setattr__(self, "variant", Variant(self.variant))
        if len(self.decoder.global_channels) != 6:
            raise ValueError("decoder.global_channels needs 6 entries: 6x7 and five x2 stages")
        if len(self.decoder.local_channels) != 4:
            raise ValueError("decoder.local_channels needs 4 entries: h/8 and three x2 stages")
        if self.image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32, got {self.image_size}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (tuples become lists)."""
        encoder = asdict(self.encoder) | {"pose_head": self.encoder.pose_head.value}
        return asdict(self) | {"variant": self.variant.value, "encoder": encoder}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error.

        Raises:
            ValueError: a key is unknown or a value has the wrong type.
        """
        return _from_dict(cls, data)


@dataclass(frozen=True)
class ObjectiveConfig:
    """Weights of the loss terms (paper eqs. 4-16) and their hyper-parameters.

    Attributes:
        reconstruction: robust l2,1 photometric loss (eq. 4), per render.
        perceptual: feature loss (eq. 5, lambda_f of eq. 6), per render.
        gradient_difference: image-gradient difference loss (paper section 4.1), per render.
        landmark: 68-landmark alignment (eq. 7), in squared crop-normalised units.
        albedo_symmetry: eq. 8 on the albedo proxy.
        albedo_constancy: eq. 9 on the albedo proxy (lambda_con).
        shape_smoothness: UV Laplacian (eq. 10) on the shape proxy (lambda_smo).
        residual: ||S - S~||_1 + ||A - A~||_1 (eq. 14).
        residual_symmetry: soft symmetry of the depth residual on occluded texels (eq. 16).
        constancy_exponent: p of eq. 9 (paper's code: 0.8).
        constancy_sharpness: alpha of eq. 9's weight exp(-alpha * chromaticity distance) (15).
    """

    reconstruction: float = 1.0
    perceptual: float = 0.05
    gradient_difference: float = 0.0
    landmark: float = 20.0
    albedo_symmetry: float = 0.5
    albedo_constancy: float = 1.0
    shape_smoothness: float = 2000.0
    residual: float = 0.5
    residual_symmetry: float = 0.5
    constancy_exponent: float = 0.8
    constancy_sharpness: float = 15.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectiveConfig:
        return _from_dict(cls, data)


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} must be a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        default = getattr(cls(), name) if name not in ("encoder", "decoder") else None
        if name == "encoder":
            if isinstance(value, dict) and "pose_head" not in value:
                value = value | {"pose_head": PoseHead.POOLED.value}  # written before the key existed
            values[name] = _from_dict(EncoderConfig, value)
        elif name == "decoder":
            values[name] = _from_dict(DecoderConfig, value)
        elif isinstance(default, tuple):
            values[name] = tuple(int(v) for v in value)
        elif isinstance(default, enum.Enum):
            values[name] = type(default)(value)
        elif isinstance(default, bool) or not isinstance(default, int | float):
            values[name] = value
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{cls.__name__}.{name} must be a number, got {value!r}")
        else:
            values[name] = type(default)(value)
    return cls(**values)
