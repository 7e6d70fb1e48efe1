"""Per-photo fitting: one schedule, driven by a single ``fidelity`` number (paper §4.4-4.5).

The encoder's estimate is refined in three stages that run one after the other:

1. **landmarks** — camera and shape code, so that the model's 68 landmarks land on
   the detected ones (no rendering: cheap);
2. **photometric** — shape and albedo codes, camera and lighting, against the
   photo through the differentiable renderer (l2,1 of ``I(S, A)``, landmarks kept);
3. **detail** — the codes are frozen and the true shape ``S`` and albedo ``A``
   get free per-texel residuals, trained with the paper's pairing on this one photo:
   ``I(S, Ã)`` and ``I(S̃, A)`` (plus ``I(S, A)``) against the photo, with the
   residual-magnitude, smoothness and residual-symmetry terms keeping them near
   the proxies.

:meth:`FitSchedule.from_fidelity` fills the stages in that order: a higher
fidelity runs every step a lower one runs, and then more. The step sizes never
depend on the total, and the best state seen (by the photometric error of
``I(S, A)``) is returned, so the error can only go down as the fidelity goes up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import torch
from torch import Tensor

from facecraft.core.camera import Camera, project
from facecraft.core.errors import FaceCraftError
from facecraft.core.model import losses
from facecraft.core.model.config import ObjectiveConfig
from facecraft.core.model.model import DecodedFace, FaceModel, ModelOutput
from facecraft.core.render.renderer import Renderer

LANDMARK_STEPS = 20
"""Steps of the landmark stage at full fidelity (it is full from ``fidelity`` 0.15 on)."""
PHOTOMETRIC_STEPS = 30
"""Steps of the photometric stage at full fidelity (full from 0.6 on)."""
DETAIL_STEPS = 120
"""Steps of the detail stage at fidelity 1."""
STAGE_ENDS = (0.15, 0.6, 1.0)
"""Fidelity at which each stage has all its steps."""
DEFAULT_FIDELITY = 0.5
"""The GUI's and CLI's default: landmarks and most of the photometric stage."""

CODE_PRIOR = 0.02
"""Weight of the pull of the codes towards the encoder's (mean square)."""
LEARNING_RATES = {
    "log_scale": 0.01,
    "angles": 0.01,
    "translation": 0.5,
    "codes": 0.05,
    "lighting": 0.02,
    "shape_residual": 0.002,
    "albedo_residual": 0.01,
}
"""Adam step sizes per parameter group (translation in crop pixels, residuals in model units)."""


class FitStage(StrEnum):
    """The stages of the schedule, in the order they run."""

    ENCODER = "encoder"
    LANDMARKS = "landmarks"
    PHOTOMETRIC = "photometric"
    DETAIL = "detail"


class FitCancelled(FaceCraftError):
    """The caller cancelled the fit; nothing was changed."""

    def __init__(self) -> None:
        super().__init__("fitting was cancelled")


@dataclass(frozen=True)
class FitSchedule:
    """How many Adam steps each stage runs."""

    landmark_steps: int = 0
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
        for end, full in zip(STAGE_ENDS, (LANDMARK_STEPS, PHOTOMETRIC_STEPS, DETAIL_STEPS), strict=True):
            share = min(max((fidelity - start) / (end - start), 0.0), 1.0)
            steps.append(round(share * full))
            start = end
        return cls(*steps)

    @property
    def total(self) -> int:
        """All steps."""
        return self.landmark_steps + self.photometric_steps + self.detail_steps

    def stages(self) -> tuple[tuple[FitStage, int], ...]:
        """``(stage, steps)`` of the stages that run, in order."""
        runs = (
            (FitStage.LANDMARKS, self.landmark_steps),
            (FitStage.PHOTOMETRIC, self.photometric_steps),
            (FitStage.DETAIL, self.detail_steps),
        )
        return tuple((stage, steps) for stage, steps in runs if steps > 0)


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
    """The outcome of :func:`fit_face`.

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
    camera = output.camera
    return FitState(
        shape_code=output.shape_code.detach(),
        albedo_code=output.albedo_code.detach(),
        camera=Camera(camera.scale.detach(), camera.angles.detach(), camera.translation.detach()),
        lighting=output.lighting.detach(),
        shape_residual=zeros,
        albedo_residual=zeros.clone(),
    )


def decode_state(model: FaceModel, state: FitState) -> DecodedFace:
    """Decode a state's codes and add its residuals to the true components."""
    face = model.decode(state.shape_code, state.albedo_code)
    return DecodedFace(
        shape=face.shape + state.shape_residual,
        shape_proxy=face.shape_proxy,
        albedo=(face.albedo + state.albedo_residual).clamp(0.0, 1.0),
        albedo_proxy=face.albedo_proxy,
    )


def photometric_error(
    renderer: Renderer, face: DecodedFace, camera: Camera, lighting: Tensor, image: Tensor
) -> Tensor:
    """``(B,)`` l2,1 error of ``I(S, A)`` against ``image`` ``(B, 3, H, W)`` over the face pixels."""
    result = renderer(
        face.shape, face.albedo, camera, lighting, (image.shape[2], image.shape[3]), background=image
    )
    return losses.reconstruction_l21_per_photo(result.image, image, result.mask)


class _Parameters:
    """The leaves Adam updates, built from a :class:`FitState`."""

    def __init__(self, state: FitState) -> None:
        def leaf(value: Tensor) -> Tensor:
            return value.detach().clone().requires_grad_(True)

        self.log_scale = leaf(state.camera.scale.log())
        self.angles = leaf(state.camera.angles)
        self.translation = leaf(state.camera.translation)
        self.shape_code = leaf(state.shape_code)
        self.albedo_code = leaf(state.albedo_code)
        self.lighting = leaf(state.lighting)
        self.shape_residual = leaf(state.shape_residual)
        self.albedo_residual = leaf(state.albedo_residual)

    def camera(self) -> Camera:
        return Camera(self.log_scale.exp(), self.angles, self.translation)

    def state(self) -> FitState:
        camera = self.camera()
        return FitState(
            shape_code=self.shape_code.detach().clone(),
            albedo_code=self.albedo_code.detach().clone(),
            camera=Camera(
                camera.scale.detach(), self.angles.detach().clone(), self.translation.detach().clone()
            ),
            lighting=self.lighting.detach().clone(),
            shape_residual=self.shape_residual.detach().clone(),
            albedo_residual=self.albedo_residual.detach().clone(),
        )

    def optimiser(self, stage: FitStage) -> torch.optim.Adam:
        rates = LEARNING_RATES
        camera = [
            {"params": [self.log_scale], "lr": rates["log_scale"]},
            {"params": [self.angles], "lr": rates["angles"]},
            {"params": [self.translation], "lr": rates["translation"]},
        ]
        if stage is FitStage.LANDMARKS:
            groups = [*camera, {"params": [self.lighting], "lr": rates["lighting"]}]
        elif stage is FitStage.PHOTOMETRIC:
            groups = [
                *camera,
                {"params": [self.shape_code, self.albedo_code], "lr": rates["codes"]},
                {"params": [self.lighting], "lr": rates["lighting"]},
            ]
        else:
            groups = [
                {"params": [self.shape_residual], "lr": rates["shape_residual"]},
                {"params": [self.albedo_residual], "lr": rates["albedo_residual"]},
            ]
        return torch.optim.Adam(groups, betas=(0.9, 0.999))


class _Best:
    """The lowest-error state seen so far."""

    def __init__(self, error: float, state: FitState) -> None:
        self.error = error
        self.state = state

    def offer(self, error: float, parameters: _Parameters) -> None:
        if error < self.error:
            self.error, self.state = error, parameters.state()


class FaceFitter:
    """Runs the schedule for one photo crop.

    Args:
        model: the trained model; used in eval mode, its weights must not require gradients.
        renderer: renders ``(1, 3, S, S)`` crops.
        weights: the weights of the regularisers (landmark, residual, smoothness, symmetry).
    """

    def __init__(self, model: FaceModel, renderer: Renderer, weights: ObjectiveConfig | None = None) -> None:
        self.model = model
        self.renderer = renderer
        self.weights = weights or ObjectiveConfig()

    def fit(
        self,
        image: Tensor,
        landmarks: Tensor,
        start: ModelOutput,
        schedule: FitSchedule,
        progress: ProgressCallback | None = None,
        cancelled: CancelCheck | None = None,
        seed: int = 0,
    ) -> FitResult:
        """Refine the encoder's estimate ``start`` of ``image``.

        Args:
            image: ``(1, 3, S, S)`` the crop, RGB in ``[0, 1]``.
            landmarks: ``(1, 68, 2)`` detected landmarks, crop pixels.
            start: the encoder's output for ``image``.
            schedule: steps per stage.
            progress: called after every step.
            cancelled: polled before every step; when it returns True the fit stops.
            seed: seeds torch's generator, so a fit is repeatable.

        Raises:
            FitCancelled: ``cancelled`` returned True.
        """
        torch.manual_seed(seed)
        state = initial_state(start)
        encoder_face = start.face  # the start state's face: no need to decode it again
        with torch.no_grad():
            encoder_error = float(
                photometric_error(self.renderer, encoder_face, state.camera, state.lighting, image)[0]
            )
        best = _Best(encoder_error, state)
        state_at_start = state
        stage_ms: dict[str, float] = {}
        done = 0
        for stage, steps in schedule.stages():
            began = time.perf_counter()
            parameters = _Parameters(state)
            optimiser = parameters.optimiser(stage)
            frozen_face = None
            if stage in (FitStage.LANDMARKS, FitStage.DETAIL):
                with torch.no_grad():
                    frozen_face = self.model.decode(parameters.shape_code, parameters.albedo_code)
            for _ in range(steps):
                if cancelled is not None and cancelled():
                    raise FitCancelled()
                optimiser.zero_grad(set_to_none=True)
                with torch.enable_grad():
                    terms = self._stage_loss(stage, parameters, image, landmarks, state, frozen_face)
                    terms["total"].backward()
                # "photometric" is the error of the state *before* this step.
                best.offer(float(terms["photometric"].detach()), parameters)
                optimiser.step()
                done += 1
                if progress is not None:
                    progress(
                        FitProgress(
                            done,
                            schedule.total,
                            stage,
                            {k: float(v.detach()) for k, v in terms.items()},
                            parameters.state(),
                        )
                    )
            state = parameters.state()
            with torch.no_grad():
                face = decode_state(self.model, state)
                error = float(photometric_error(self.renderer, face, state.camera, state.lighting, image)[0])
            best.offer(error, parameters)
            stage_ms[stage.value] = (time.perf_counter() - began) * 1000
        if best.state is state_at_start:
            best_face = encoder_face
        else:
            with torch.no_grad():
                best_face = decode_state(self.model, best.state)
        best_error, best_state = best.error, best.state
        return FitResult(best_state, best_face, best_error, encoder_error, schedule, stage_ms)

    def _stage_loss(
        self,
        stage: FitStage,
        parameters: _Parameters,
        image: Tensor,
        landmarks: Tensor,
        start: FitState,
        frozen_face: DecodedFace | None,
    ) -> dict[str, Tensor]:
        weights = self.weights
        size = (image.shape[2], image.shape[3])
        camera = parameters.camera()
        if stage is FitStage.LANDMARKS:
            assert frozen_face is not None
            result = self.renderer(
                frozen_face.shape, frozen_face.albedo, camera, parameters.lighting, size, background=image
            )
            reconstruction = losses.reconstruction_l21(result.image, image, result.mask)
            landmark = self._landmark_term(frozen_face.shape_proxy, camera, landmarks, size)
            total = reconstruction + weights.landmark * landmark
            return {
                "total": total,
                "reconstruction": reconstruction,
                "landmark": landmark,
                "photometric": reconstruction,
            }
        if stage is FitStage.PHOTOMETRIC:
            face = self.model.decode(parameters.shape_code, parameters.albedo_code)
            result = self.renderer(
                face.shape, face.albedo, camera, parameters.lighting, size, background=image
            )
            reconstruction = losses.reconstruction_l21(result.image, image, result.mask)
            landmark = self._landmark_term(face.shape_proxy, camera, landmarks, size)
            prior = (parameters.shape_code - start.shape_code).square().mean() + (
                parameters.albedo_code - start.albedo_code
            ).square().mean()
            total = reconstruction + weights.landmark * landmark + CODE_PRIOR * prior
            return {
                "total": total,
                "reconstruction": reconstruction,
                "landmark": landmark,
                "code_prior": prior,
                "photometric": reconstruction,
            }
        assert frozen_face is not None
        return self._detail_loss(parameters, image, frozen_face, camera)

    def _detail_loss(
        self, parameters: _Parameters, image: Tensor, face: DecodedFace, camera: Camera
    ) -> dict[str, Tensor]:
        weights = self.weights
        size = (image.shape[2], image.shape[3])
        lighting = parameters.lighting.detach()
        shape = face.shape + parameters.shape_residual
        albedo = (face.albedo + parameters.albedo_residual).clamp(0.0, 1.0)
        reconstruction = image.new_zeros(())
        renders = []
        for pair_shape, pair_albedo in (
            (shape, face.albedo_proxy),
            (face.shape_proxy, albedo),
            (shape, albedo),
        ):
            result = self.renderer(pair_shape, pair_albedo, camera, lighting, size, background=image)
            renders.append(losses.reconstruction_l21(result.image, image, result.mask))
            reconstruction = reconstruction + renders[-1]
            if len(renders) == 1:
                true_shape_render = result
        mask = self.model.uv_mask.to(image.dtype)
        residual = losses.residual_magnitude(shape, face.shape_proxy, albedo, face.albedo_proxy, mask)
        smoothness = losses.shape_smoothness(shape, mask)
        symmetry = losses.residual_symmetry(shape, face.shape_proxy, true_shape_render.visibility, mask)
        total = (
            reconstruction
            + weights.residual * residual
            + weights.shape_smoothness * smoothness
            + weights.residual_symmetry * symmetry
        )
        return {
            "total": total,
            "reconstruction": reconstruction,
            "residual": residual,
            "shape_smoothness": smoothness,
            "residual_symmetry": symmetry,
            "photometric": renders[2],
        }

    def _landmark_term(
        self, shape: Tensor, camera: Camera, landmarks: Tensor, size: tuple[int, int]
    ) -> Tensor:
        projected = project(self.model.landmark_points(shape), camera)[..., :2]
        return losses.landmark_loss(projected, landmarks, normaliser=float(size[1]))
