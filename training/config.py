"""Typed configuration of a training run: its stages, their loss weights, and the run itself.

A run is a sequence of :class:`StageConfig`, each of a :class:`Stage` kind: an
encoder-only pose warm-up, the supervised pre-train against pseudo ground truth,
and the fine-tune with the paper's paired objective. Everything round-trips
through JSON (``training/configs/*.json``) with strict parsing: an unknown key
is an error, not a silent default.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

from facecraft.core.model.config import ModelConfig, ObjectiveConfig
from facecraft.training.dataset import Augmentation
from facecraft.training.prepare_data import PREPARED_DIR


class Stage(enum.StrEnum):
    """What a training stage optimises."""

    POSE = "pose"
    """Encoder only: camera against the pseudo ground truth (dense Face Mesh reprojection + landmarks)."""
    PRETRAIN = "pretrain"
    """Encoder and decoders, supervised by the pseudo ground truth (paper section 4)."""
    FINETUNE = "finetune"
    """Encoder and decoders, the paired self-supervised objective (paper eqs. 4-16)."""

    @property
    def uses_decoders(self) -> bool:
        return self is not Stage.POSE

    @property
    def supervised(self) -> bool:
        """Whether the stage learns from the pseudo ground truth (otherwise from the photo alone)."""
        return self is not Stage.FINETUNE


@dataclass(frozen=True)
class PoseWeights:
    """Weights of the encoder-only pose warm-up.

    Attributes:
        camera: the camera, each parameter standardised by its data spread.
        mesh: the pseudo-ground-truth Face Mesh (468 points) reprojected by the predicted
            camera against the pseudo camera, squared eye units.
        landmark: the 68 target landmarks against the pseudo shape's, reprojected by the
            predicted camera, squared eye units.
    """

    camera: float = 0.1
    mesh: float = 10.0
    landmark: float = 10.0


@dataclass(frozen=True)
class PretrainWeights:
    """Weights of the supervised pre-train losses.

    Attributes:
        shape: l1 UV position error of S and S~ (canonical units), on the face mask.
        mesh: per-person shape in pixel space: S's and S~'s Face Mesh points against the
            pseudo ground truth's, both through the pseudo camera, Huber in eye units.
        camera: the camera, standardised per parameter (:class:`CameraSpread`).
        landmark: 68 landmarks of S~ through the predicted camera, squared crop widths.
        texture: l1 of A and A~ against the photo unwrapped through the pseudo geometry.
        smoothness: UV Laplacian of the shapes.
        lighting: squared distance to the closed-form SH lighting of the photo given the pseudo
            geometry and the predicted albedo (:func:`facecraft.core.appearance.solve_lighting`).
    """

    shape: float = 10.0
    mesh: float = 20.0
    camera: float = 0.1
    landmark: float = 20.0
    texture: float = 1.0
    smoothness: float = 2000.0
    lighting: float = 1.0


@dataclass(frozen=True)
class StageConfig:
    """One training stage.

    Attributes:
        name: what the stage optimises.
        steps: optimiser steps in this stage.
        batch_size: images per step (over all processes).
        learning_rate: Adam's step size (paper: 1e-3).
        beta1: Adam's beta1 (paper's code: 0.5).
        pose: loss weights of the pose warm-up.
        pretrain: loss weights of the pre-train stage (and of a fine-tune's anchor).
        objective: loss weights of the fine-tune stage.
        anchor: fine-tune only: adds ``anchor`` times the pre-train loss (weighted by
            ``pretrain``) against the pseudo ground truth. The paper fine-tunes unsupervised;
            on a CPU-length run that let the landmark and photometric terms pull single
            vertices into spikes (shape normals torn at the landmarks, visible UV fraction of
            the sample photo 0.67 -> 0.16 in 5,600 steps), which the anchor holds back.
    """

    name: Stage
    steps: int
    batch_size: int = 16
    learning_rate: float = 1e-3
    beta1: float = 0.5
    pose: PoseWeights = field(default_factory=PoseWeights)
    pretrain: PretrainWeights = field(default_factory=PretrainWeights)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    anchor: float = 0.0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "name", Stage(self.name))
        except ValueError:
            names = ", ".join(repr(s.value) for s in Stage)
            raise ValueError(f"stage name must be one of {names}, got {self.name!r}") from None
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError(f"stage {self.name.value}: steps >= 0 and batch_size >= 1 expected")
        if self.anchor < 0 or (self.anchor > 0 and self.name is not Stage.FINETUNE):
            raise ValueError(
                f"stage {self.name.value}: anchor must be >= 0 and is only for a finetune stage, "
                f"got {self.anchor}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageConfig:
        """From a JSON mapping; unknown keys (here or in the weights) are an error."""
        data = dict(data)
        pose = _strict(PoseWeights, data.pop("pose", {}))
        pretrain = _strict(PretrainWeights, data.pop("pretrain", {}))
        objective = ObjectiveConfig.from_dict(data.pop("objective", {}))
        return _strict(cls, data, pose=pose, pretrain=pretrain, objective=objective)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"name": self.name.value}


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run.

    Attributes:
        model: the architecture (its variant is the ablation row).
        stages: run in order.
        prepared: folder with ``train.npz`` / ``val.npz`` from ``prepare_data``.
        seed: seeds the model initialisation, data order and augmentations.
        checkpoint_every: steps between checkpoints.
        checkpoint_minutes: also checkpoint when this much wall time has passed since the last.
        log_every: steps between log lines.
        workers: DataLoader worker processes.
        mixed_precision: bfloat16 autocast of the networks where the device runs bf16
            natively (CUDA; CPUs with AVX512-BF16 or AMX); renders and losses stay float32.
        channels_last: NHWC memory layout for the convolutions. Off by default: 5-8 % slower
            on an AVX2-only CPU; on an AVX512-BF16/AMX CPU 1.2x faster in the fine-tune on one
            day and even on another (1.97 against 1.90 s a step, batch 16, 2026-12-06). Its
            memory growth (~11 MB a step, one run killed at 13 GB) came from jemalloc with page
            decay off; with the default allocator (``train --allocator keep``) both layouts
            stayed at 3.47 GB.
        augmentation: random changes per sample.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    stages: tuple[StageConfig, ...] = (
        StageConfig(Stage.PRETRAIN, 1000),
        StageConfig(Stage.FINETUNE, 1000),
    )
    prepared: str = str(PREPARED_DIR)
    seed: int = 0
    checkpoint_every: int = 200
    checkpoint_minutes: float = 10.0
    log_every: int = 10
    workers: int = 2
    mixed_precision: bool = True
    channels_last: bool = False
    augmentation: Augmentation = field(default_factory=Augmentation)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a JSON mapping; unknown keys are an error."""
        data = dict(data)
        stages = tuple(StageConfig.from_dict(stage) for stage in data.pop("stages", []))
        model = ModelConfig.from_dict(data.pop("model", {}))
        augmentation = _strict(Augmentation, data.pop("augmentation", {}))
        extra: dict[str, Any] = {"model": model, "augmentation": augmentation}
        if stages:
            extra["stages"] = stages
        return _strict(cls, data, **extra)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {
            "model": self.model.to_dict(),
            "stages": [stage.to_dict() for stage in self.stages],
        }


def _strict(cls: type, data: Any, **given: Any) -> Any:
    """``cls(**data, **given)``, refusing a non-mapping or unknown keys with a message naming them."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} must be a mapping, got {type(data).__name__}")
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    return cls(**data, **given)
