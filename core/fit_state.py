"""The fitting schedule and the states a fit passes through (see :mod:`facecraft.core.fitting`).

:class:`FitSchedule` turns one ``fidelity`` number into steps per :class:`FitStage`,
:class:`LearningRates` are the Adam step sizes of those steps;
:class:`FitState` is everything a fit changes (codes, camera, lighting, per-texel
residuals), :class:`FitProgress` what a progress callback receives, and
:class:`FitResult` what a fit returns; :class:`FitRun` keeps one fit's books (progress,
cancellation, the lowest-error state so far).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from facecraft.core.camera import Camera
from facecraft.core.errors import FaceCraftError
from facecraft.core.model.model import DecodedFace, FaceModel, ModelOutput

if TYPE_CHECKING:
    from facecraft.core.fit_terms import FitTerms

GEOMETRY_STEPS = 4
"""Steps of the geometry stage, run whole at any fidelity above 0 so that every such fidelity starts
from the same aligned state; the first is the closed-form camera, the others descend the shape code."""
PHOTOMETRIC_STEPS = 8
"""Steps of the photometric stage at full fidelity (full from 0.6 on); the first is closed form."""
DETAIL_STEPS = 40
"""Steps of the detail stage at fidelity 1."""
STAGE_ENDS = (0.15, 0.6, 1.0)
"""Fidelity at which each stage has all its steps."""
DEFAULT_FIDELITY = 0.5
"""The GUI's and CLI's default: the geometry and most of the photometric stage."""


class FitStage(StrEnum):
    """The stages of the schedule, in the order they run."""

    ENCODER = "encoder"
    GEOMETRY = "geometry"
    PHOTOMETRIC = "photometric"
    DETAIL = "detail"


class FitCancelled(FaceCraftError):
    """The caller cancelled the fit; nothing was changed."""

    def __init__(self) -> None:
        super().__init__("fitting was cancelled")


@dataclass(frozen=True)
class FitSchedule:
    """How many Adam steps each stage runs."""

    geometry_steps: int = 0
    photometric_steps: int = 0
    detail_steps: int = 0

    @classmethod
    def from_fidelity(cls, fidelity: float) -> FitSchedule:
        """The schedule of a fidelity in ``[0, 1]``: 0 = encoder only, 1 = every stage in full.

        Raises:
            ValueError: ``fidelity`` is not a number in ``[0, 1]``.
        """
        fidelity = float(fidelity)
        if not 0.0 <= fidelity <= 1.0:
            raise ValueError(f"fidelity must be in [0, 1], got {fidelity}")
        steps = []
        start = 0.0
        for end, full in zip(STAGE_ENDS, (GEOMETRY_STEPS, PHOTOMETRIC_STEPS, DETAIL_STEPS), strict=True):
            share = min(max((fidelity - start) / (end - start), 0.0), 1.0)
            if share > 0 and full == GEOMETRY_STEPS and start == 0.0:
                share = 1.0  # the geometry runs whole at any fidelity above 0 (see the module notes)
            steps.append(max(1, round(share * full)) if share > 0 else 0)
            start = end
        return cls(*steps)

    @property
    def total(self) -> int:
        """All steps."""
        return self.geometry_steps + self.photometric_steps + self.detail_steps

    def stages(self) -> tuple[tuple[FitStage, int], ...]:
        """``(stage, steps)`` of the stages that run, in order."""
        runs = (
            (FitStage.GEOMETRY, self.geometry_steps),
            (FitStage.PHOTOMETRIC, self.photometric_steps),
            (FitStage.DETAIL, self.detail_steps),
        )
        return tuple((stage, steps) for stage, steps in runs if steps > 0)


@dataclass(frozen=True)
class LearningRates:
    """Adam step sizes of the fit, per stage and parameter group (codes and residuals in model units)."""

    geometry_shape_code: float = 0.05
    """The shape code, geometry stage."""
    photometric_lighting: float = 0.005
    """The SH lighting, photometric stage."""
    photometric_albedo_residual: float = 0.003
    """The true albedo's per-texel residual, photometric stage."""
    detail_shape_residual: float = 0.001
    """The true shape's per-texel residual, detail stage."""
    detail_albedo_residual: float = 0.003
    """The true albedo's per-texel residual, detail stage."""


@dataclass(frozen=True)
class FitState:
    """Everything a fit changes, detached (batch of one).

    Attributes:
        shape_code: ``(1, Ns)``.
        albedo_code: ``(1, Na)``.
        camera: camera into the crop.
        lighting: ``(1, 3, 9)`` SH lighting.
        shape_residual: ``(1, 3, 192, 224)`` per-texel offset of ``S`` (zeros before the detail stage).
        albedo_residual: ``(1, 3, 192, 224)`` per-texel offset of ``A``.
    """

    shape_code: Tensor
    albedo_code: Tensor
    camera: Camera
    lighting: Tensor
    shape_residual: Tensor
    albedo_residual: Tensor


@dataclass(frozen=True)
class FitProgress:
    """What the progress callback receives after every step.

    Attributes:
        step: steps done so far (1-based), over all stages.
        total: steps of the whole schedule.
        stage: the stage the step belonged to.
        terms: unweighted loss terms of the step (names depend on the stage) and ``"total"``.
        state: the current state, for a live preview.
    """

    step: int
    total: int
    stage: FitStage
    terms: dict[str, float]
    state: FitState


@dataclass(frozen=True)
class FitResult:
    """The outcome of :meth:`FaceFitter.fit`.

    Attributes:
        state: the best state found (the encoder's when no step improved on it).
        face: ``S``, ``S̃``, ``A``, ``Ã`` of that state, residuals included.
        error: l2,1 photometric error of ``I(S, A)`` against the crop, face pixels.
        encoder_error: the same error for the encoder's estimate.
        schedule: the schedule that ran.
        stage_ms: wall time of each stage that ran.
    """

    state: FitState
    face: DecodedFace
    error: float
    encoder_error: float
    schedule: FitSchedule
    stage_ms: dict[str, float] = field(default_factory=dict)


ProgressCallback = Callable[[FitProgress], None]
CancelCheck = Callable[[], bool]


def initial_state(output: ModelOutput) -> FitState:
    """The encoder's estimate as a :class:`FitState` (zero residuals)."""
    zeros = torch.zeros_like(output.face.shape.detach())
    return FitState(
        shape_code=output.shape_code.detach(),
        albedo_code=output.albedo_code.detach(),
        camera=output.camera.detach(),
        lighting=output.lighting.detach(),
        shape_residual=zeros,
        albedo_residual=zeros.clone(),
    )


def decode_state(model: FaceModel, state: FitState) -> DecodedFace:
    """Decode a state's codes and add its residuals to the true components."""
    face = model.decode(state.shape_code, state.albedo_code)
    return with_residuals(face, state.shape_residual, state.albedo_residual)


def with_residuals(face: DecodedFace, shape_residual: Tensor, albedo_residual: Tensor) -> DecodedFace:
    """``face`` with per-texel residuals added to its true shape and albedo (albedo kept in [0, 1])."""
    return DecodedFace(
        shape=face.shape + shape_residual,
        shape_proxy=face.shape_proxy,
        albedo=(face.albedo + albedo_residual).clamp(0.0, 1.0),
        albedo_proxy=face.albedo_proxy,
    )


@dataclass
class FitRun:
    """The bookkeeping of one fit: progress, cancellation and the lowest-error state seen so far."""

    schedule: FitSchedule
    progress: ProgressCallback | None
    cancelled: CancelCheck | None
    best_error: float
    best_state: FitState
    done: int = 0

    def check(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise FitCancelled()

    def offer(self, error: float, state: FitState | Callable[[], FitState]) -> None:
        """Keep ``state`` (made only when needed) if its error is the lowest so far."""
        if error < self.best_error:
            self.best_error = error
            self.best_state = state if isinstance(state, FitState) else state()

    def report(self, stage: FitStage, terms: FitTerms, state: Callable[[], FitState]) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(FitProgress(self.done, self.schedule.total, stage, terms.as_floats(), state()))
