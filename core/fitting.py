"""Per-photo fitting: one schedule, driven by a single ``fidelity`` number (paper §4.2, §4.5).

The encoder's estimate is refined in three stages that run one after the other:

1. **geometry** — no rendering, no dependence on a good encoder: the similarity
   camera of the template's mean Face Mesh onto the 468 detected Face Mesh points
   (closed form, as the training's pseudo ground truth), then Adam steps on the
   shape code towards those points (depth weighted less) and the 68 landmarks, and
   a smooth per-texel offset that carries the shape onto them
   (:mod:`facecraft.core.fit_geometry`); the lighting is then solved in closed form
   for the model's albedo;
2. **photometric** — its first step solves albedo and lighting in closed form,
   alternately (:mod:`facecraft.core.appearance`), and starts the true albedo's
   residual from that albedo (the proxy stays the model's); the next steps refine the
   lighting, the albedo code and the residual against the l2,1 error of ``I(S, A)``;
3. **detail** — the codes are frozen and the true shape ``S`` and albedo ``A`` get
   per-texel residuals trained with the paper's pairing on this one photo:
   ``I(S, Ã)`` and ``I(S̃, A)`` (plus ``I(S, A)``), with the residual-magnitude,
   smoothness and residual-symmetry terms keeping them near the proxies.

:meth:`FitSchedule.from_fidelity` fills the stages in that order: a higher
fidelity runs every step a lower one runs, and then more. The step sizes never
depend on the total, and the best state seen (by the photometric error of
``I(S, A)``) is returned, so the error can only go down as the fidelity goes up
above 0. (The geometry follows the detector: it runs whole at any fidelity above
0, and its result replaces the encoder's estimate whatever their photometric
errors, since a poorly posed encoder estimate can score a similar error.)
Nothing in a fit is random: the same inputs give the same result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import torch
from torch import Tensor

from facecraft.core.appearance import alternate, facing_trust, solve_lighting
from facecraft.core.camera import Camera
from facecraft.core.errors import FaceCraftError
from facecraft.core.fit_geometry import MeshConstraint, MeshTarget, similarity_camera
from facecraft.core.fit_terms import FitTerms, detail_terms, geometry_terms, photometric_terms
from facecraft.core.model import losses
from facecraft.core.model.config import ObjectiveConfig
from facecraft.core.model.model import DecodedFace, FaceModel, ModelOutput
from facecraft.core.render.renderer import Renderer
from facecraft.core.render.shading import ambient_light
from facecraft.core.render.unwrap import unwrap_image
from facecraft.core.template import FaceTemplate

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
APPEARANCE_ROUNDS = 3
"""Lighting-then-albedo rounds of the closed-form appearance step."""


@dataclass(frozen=True)
class LearningRates:
    """Adam step sizes per parameter group (codes and residuals in model units)."""

    codes: float = 0.05
    photometric_lighting: float = 0.005
    photometric_albedo: float = 0.003
    shape_residual: float = 0.001
    albedo_residual: float = 0.003


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


def photometric_error(
    renderer: Renderer, face: DecodedFace, camera: Camera, lighting: Tensor, image: Tensor
) -> Tensor:
    """``(B,)`` l2,1 error of ``I(S, A)`` against ``image`` ``(B, 3, H, W)`` over the face pixels."""
    result = renderer(
        face.shape, face.albedo, camera, lighting, (image.shape[2], image.shape[3]), background=image
    )
    return losses.reconstruction_l21_per_photo(result.image, image, result.mask)


def _leaf(value: Tensor) -> Tensor:
    return value.detach().clone().requires_grad_(True)


class _Best:
    """The lowest-error state seen so far."""

    def __init__(self, error: float, state: FitState) -> None:
        self.error = error
        self.state = state

    def offer(self, error: float, state: FitState | Callable[[], FitState]) -> None:
        if error < self.error:
            self.error, self.state = error, state if isinstance(state, FitState) else state()


@dataclass
class _Run:
    """The bookkeeping of one fit: progress, cancellation, best state."""

    schedule: FitSchedule
    progress: ProgressCallback | None
    cancelled: CancelCheck | None
    best: _Best
    done: int = 0

    def check(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise FitCancelled()

    def report(self, stage: FitStage, terms: FitTerms, state: Callable[[], FitState]) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(FitProgress(self.done, self.schedule.total, stage, terms.as_floats(), state()))


class FaceFitter:
    """Runs the schedule for one photo crop.

    Args:
        model: the trained model; used in eval mode, its weights must not require gradients.
        renderer: renders ``(1, 3, S, S)`` crops.
        template: the face template (Face Mesh correspondences for the geometry stage).
        weights: the weights of the regularisers (residual, smoothness, symmetry).
        rates: Adam step sizes.
    """

    def __init__(
        self,
        model: FaceModel,
        renderer: Renderer,
        template: FaceTemplate,
        weights: ObjectiveConfig | None = None,
        rates: LearningRates | None = None,
    ) -> None:
        self.model = model
        self.renderer = renderer
        self.template = template
        self.constraint = MeshConstraint(template)
        self.weights = weights or ObjectiveConfig()
        self.rates = rates or LearningRates()

    def fit(
        self,
        image: Tensor,
        landmarks: Tensor,
        start: ModelOutput,
        schedule: FitSchedule,
        progress: ProgressCallback | None = None,
        cancelled: CancelCheck | None = None,
        mesh: Tensor | None = None,
    ) -> FitResult:
        """Refine the encoder's estimate ``start`` of ``image``.

        Args:
            image: ``(1, 3, S, S)`` the crop, RGB in ``[0, 1]``.
            landmarks: ``(1, 68, 2)`` detected landmarks, crop pixels.
            start: the encoder's output for ``image``.
            schedule: steps per stage.
            progress: called after every step.
            cancelled: polled before every step; when it returns True the fit stops.
            mesh: ``(468, 3)`` the detected Face Mesh in crop pixels (depth away from the
                camera); needed by the geometry stage.

        Raises:
            FitCancelled: ``cancelled`` returned True.
            ValueError: the schedule has a geometry stage and no ``mesh`` was given.
        """
        if schedule.geometry_steps and mesh is None:
            raise ValueError("the geometry stage needs the detected Face Mesh (mesh=...)")
        state = initial_state(start)
        with torch.no_grad():
            encoder_error = float(
                photometric_error(self.renderer, start.face, state.camera, state.lighting, image)[0]
            )
        encoder_state = state
        run = _Run(schedule, progress, cancelled, _Best(encoder_error, state))
        stage_ms: dict[str, float] = {}
        for stage, steps in schedule.stages():
            began = time.perf_counter()
            if stage is FitStage.GEOMETRY:
                assert mesh is not None
                state = self._geometry(run, state, start, image, landmarks, mesh, steps)
            elif stage is FitStage.PHOTOMETRIC:
                state = self._photometric(run, state, image, steps)
            else:
                state = self._detail(run, state, image, landmarks, steps)
            if stage is not FitStage.GEOMETRY:  # the geometry stage sets the state to beat itself
                run.best.offer(self._error(state, image), state)
            stage_ms[stage.value] = (time.perf_counter() - began) * 1000
        best = run.best.state
        if best is encoder_state:
            best_face = start.face  # no need to decode the encoder's face again
        else:
            with torch.no_grad():
                best_face = decode_state(self.model, best)
        return FitResult(best, best_face, run.best.error, encoder_error, schedule, stage_ms)

    # -- stages -----------------------------------------------------------------------------

    def _geometry(
        self,
        run: _Run,
        state: FitState,
        start: ModelOutput,
        image: Tensor,
        landmarks: Tensor,
        mesh: Tensor,
        steps: int,
    ) -> FitState:
        """Closed-form camera, shape-code steps towards the Face Mesh, closed-form offset and lighting.

        The result follows the detector, not the photometric error: it replaces the encoder's
        estimate as the state to beat, whatever their photometric errors.
        """
        fitted = similarity_camera(mesh.detach().double().cpu().numpy(), self.template)
        camera = Camera.from_vector(fitted.camera.to_vector().to(image))
        target = MeshTarget(camera, fitted.canonical.to(image))
        with torch.no_grad():
            albedo = self.model.decode_albedo(state.albedo_code)
        code = _leaf(state.shape_code)
        optimiser = torch.optim.Adam([code], lr=self.rates.codes)

        def preview() -> FitState:
            return self._geometry_state(state, code.detach().clone(), target, landmarks, image, albedo)[0]

        def terms_now() -> FitTerms:
            return geometry_terms(self.model, self.constraint, target, code, start.shape_code, landmarks)

        for step in range(steps):
            run.check()
            if step == 0:  # the closed-form camera: report how well the encoder's shape fits it
                with torch.no_grad():
                    terms = terms_now()
            else:
                optimiser.zero_grad(set_to_none=True)
                with torch.enable_grad():
                    terms = terms_now()
                    terms.total.backward()
                optimiser.step()
            run.report(FitStage.GEOMETRY, terms, preview)
        aligned, face = self._geometry_state(state, code.detach().clone(), target, landmarks, image, albedo)
        with torch.no_grad():
            error = photometric_error(self.renderer, face, aligned.camera, aligned.lighting, image)
        run.best = _Best(float(error[0]), aligned)
        return aligned

    def _error(self, state: FitState, image: Tensor) -> float:
        """l2,1 error of a state's ``I(S, A)`` against ``image``."""
        with torch.no_grad():
            face = decode_state(self.model, state)
            return float(photometric_error(self.renderer, face, state.camera, state.lighting, image)[0])

    def _geometry_state(
        self,
        state: FitState,
        shape_code: Tensor,
        target: MeshTarget,
        landmarks: Tensor,
        image: Tensor,
        albedo: tuple[Tensor, Tensor],
    ) -> tuple[FitState, DecodedFace]:
        """A shape code's state (its offset onto the mesh, the lighting for the model albedo) and face."""
        with torch.no_grad():
            shape_proxy, shape = self.model.decode_shape_pair(shape_code)
            residual = self.constraint.offset_field(shape, target, target.camera, landmarks)
            face = DecodedFace(shape + residual, shape_proxy, albedo[0], albedo[1])
            lighting = self._closed_form_lighting(face.shape, face.albedo, target.camera, image)
        fit_state = FitState(
            shape_code=shape_code,
            albedo_code=state.albedo_code,
            camera=target.camera.detach(),
            lighting=lighting,
            shape_residual=residual,
            albedo_residual=torch.zeros_like(residual),
        )
        return fit_state, face

    def _surface(self, shape: Tensor, camera: Camera, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(texture, normals, seen)`` in UV: the photo unwrapped, camera-frame normals, visibility."""
        size = (image.shape[2], image.shape[3])
        render = self.renderer(shape, torch.zeros_like(shape), camera, ambient_light(1).to(image), size)
        return unwrap_image(image, shape, camera), render.normals_uv, render.visibility

    def _closed_form_lighting(self, shape: Tensor, albedo: Tensor, camera: Camera, image: Tensor) -> Tensor:
        texture, normals, seen = self._surface(shape, camera, image)
        trust = facing_trust(normals[:, 2:3], seen) * self.model.uv_mask.to(seen.dtype)
        return solve_lighting(texture, albedo, normals, trust)

    def _photometric(self, run: _Run, state: FitState, image: Tensor, steps: int) -> FitState:
        """A closed-form albedo and lighting, then Adam on the lighting and the true albedo's residual.

        The albedo code stays (the proxy is the model's, as the paper's pairing wants), which also
        spares the albedo decoder in every step.
        """
        run.check()
        mask = self.model.uv_mask.to(image.dtype)
        with torch.no_grad():
            face = self.model.decode(state.shape_code, state.albedo_code)
            shape = face.shape + state.shape_residual
            texture, normals, seen = self._surface(shape, state.camera, image)
            appearance = alternate(texture, normals, seen, face.albedo, mask, APPEARANCE_ROUNDS)
        lighting = _leaf(appearance.lighting)
        albedo_residual = _leaf(appearance.albedo - face.albedo)

        def current() -> FitState:
            return FitState(
                state.shape_code,
                state.albedo_code,
                state.camera,
                lighting.detach().clone(),
                state.shape_residual,
                albedo_residual.detach().clone(),
            )

        def terms_now() -> FitTerms:
            full = with_residuals(face, state.shape_residual, albedo_residual)
            return photometric_terms(self.renderer, full, state.camera, lighting, image, mask)

        with torch.no_grad():
            terms = terms_now()
        run.report(FitStage.PHOTOMETRIC, terms, current)
        optimiser = torch.optim.Adam(
            [
                {"params": [lighting], "lr": self.rates.photometric_lighting},
                {"params": [albedo_residual], "lr": self.rates.photometric_albedo},
            ]
        )
        for _ in range(steps - 1):
            run.check()
            optimiser.zero_grad(set_to_none=True)
            with torch.enable_grad():
                terms = terms_now()
                terms.total.backward()
            assert terms.photometric is not None
            run.best.offer(float(terms.photometric.detach()), current)  # the state before this step
            optimiser.step()
            run.report(FitStage.PHOTOMETRIC, terms, current)
        return current()

    def _detail(self, run: _Run, state: FitState, image: Tensor, landmarks: Tensor, steps: int) -> FitState:
        """Per-texel residuals of ``S`` and ``A`` with the codes frozen, trained with the paper's pairing."""
        with torch.no_grad():
            frozen = self.model.decode(state.shape_code, state.albedo_code)
        shape_residual = _leaf(state.shape_residual)
        albedo_residual = _leaf(state.albedo_residual)
        lighting = state.lighting

        def current() -> FitState:
            return FitState(
                state.shape_code,
                state.albedo_code,
                state.camera,
                lighting,
                shape_residual.detach().clone(),
                albedo_residual.detach().clone(),
            )

        optimiser = torch.optim.Adam(
            [
                {"params": [shape_residual], "lr": self.rates.shape_residual},
                {"params": [albedo_residual], "lr": self.rates.albedo_residual},
            ]
        )
        for _ in range(steps):
            run.check()
            optimiser.zero_grad(set_to_none=True)
            with torch.enable_grad():
                face = with_residuals(frozen, shape_residual, albedo_residual)
                terms = detail_terms(
                    self.model, self.renderer, self.weights, face, state.camera, lighting, image, landmarks
                )
                terms.total.backward()
            assert terms.photometric is not None
            run.best.offer(float(terms.photometric.detach()), current)
            optimiser.step()
            run.report(FitStage.DETAIL, terms, current)
        return current()
