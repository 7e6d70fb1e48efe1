"""Per-photo fitting: one schedule, driven by a single ``fidelity`` number (paper §4.2, §4.5).

:class:`FaceFitter` refines the encoder's estimate of one crop in up to three stages,
run one after the other (:class:`FitSchedule` says how many steps each gets; the
terms each stage descends are in :mod:`facecraft.core.fit_terms`):

1. **geometry** — no rendering, no dependence on a good encoder: the similarity
   camera of the template's mean Face Mesh onto the 468 detected Face Mesh points
   (closed form, as the training's pseudo ground truth), then Adam steps on the
   shape code towards those points (depth weighted less) and the 68 landmarks; the
   final code's shape is carried onto them by a smooth per-texel offset
   (:mod:`facecraft.core.fit_geometry`), and the lighting is solved in closed form
   for the model's albedo;
2. **photometric** — its first step solves albedo and lighting in closed form,
   alternately (:mod:`facecraft.core.appearance`), and starts the true albedo's
   residual from that albedo (the proxy stays the model's); the next steps are Adam
   on the lighting and that residual against the l2,1 error of ``I(S, A)``. The
   codes, the camera and the shape stay as the geometry stage left them;
3. **detail** — the codes are frozen and the per-texel residuals of the true shape
   ``S`` and albedo ``A`` are trained with the paper's pairing on this one photo:
   ``I(S, Ã)`` and ``I(S̃, A)`` (weighted below ``I(S, A)``), with the
   residual-magnitude, smoothness and residual-symmetry terms keeping them near the
   proxies and the 68 landmarks keeping the shape where the geometry put it.

:meth:`FitSchedule.from_fidelity` fills the stages in that order: a higher
fidelity runs every step a lower one runs, and then more. The step sizes
(:class:`LearningRates`) never depend on the total, and the best state seen (by the
photometric error of ``I(S, A)``) is returned, so the error can only go down as the
fidelity goes up above 0. (The geometry follows the detector: it runs whole at any
fidelity above 0, and its result replaces the encoder's estimate whatever their
photometric errors, since a poorly posed encoder estimate can score a similar error.)
Nothing in a fit is random (no sampling, no dropout; Adam and the closed-form steps
are deterministic), so no seed is set: the same inputs give the same result.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor

from facecraft.core import fit_terms
from facecraft.core.appearance import alternate, facing_trust, solve_lighting
from facecraft.core.camera import Camera
from facecraft.core.face.template import FaceTemplate
from facecraft.core.fit_geometry import MeshConstraint, MeshTarget, similarity_camera
from facecraft.core.fit_state import (
    DEFAULT_FIDELITY,
    DETAIL_STEPS,
    GEOMETRY_STEPS,
    PHOTOMETRIC_STEPS,
    STAGE_ENDS,
    CancelCheck,
    FitCancelled,
    FitProgress,
    FitResult,
    FitRun,
    FitSchedule,
    FitStage,
    FitState,
    LearningRates,
    ProgressCallback,
    decode_state,
    initial_state,
    with_residuals,
)
from facecraft.core.model import losses
from facecraft.core.model.config import ObjectiveConfig
from facecraft.core.model.model import DecodedFace, FaceModel, ModelOutput
from facecraft.core.render.renderer import Renderer
from facecraft.core.render.shading import ambient_light
from facecraft.core.render.unwrap import unwrap_image

__all__ = [  # the schedule, rates and state types live in fit_state; importers may take them from here
    "DEFAULT_FIDELITY",
    "DETAIL_STEPS",
    "GEOMETRY_STEPS",
    "PHOTOMETRIC_STEPS",
    "STAGE_ENDS",
    "CancelCheck",
    "FaceFitter",
    "FitCancelled",
    "FitProgress",
    "FitResult",
    "FitSchedule",
    "FitStage",
    "FitState",
    "LearningRates",
    "ProgressCallback",
    "decode_state",
    "initial_state",
    "photometric_error",
    "with_residuals",
]

APPEARANCE_ROUNDS = 3
"""Lighting-then-albedo rounds of the closed-form appearance step."""


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
        run = FitRun(schedule, progress, cancelled, encoder_error, state)
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
                run.offer(self._error(state, image), state)
            stage_ms[stage.value] = (time.perf_counter() - began) * 1000
        best = run.best_state
        if best is encoder_state:
            best_face = start.face  # no need to decode the encoder's face again
        else:
            with torch.no_grad():
                best_face = decode_state(self.model, best)
        return FitResult(best, best_face, run.best_error, encoder_error, schedule, stage_ms)

    # -- stages -----------------------------------------------------------------------------

    def _geometry(
        self,
        run: FitRun,
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
        optimiser = torch.optim.Adam([code], lr=self.rates.geometry_shape_code)

        def preview() -> FitState:
            return self._geometry_state(state, code.detach().clone(), target, landmarks, image, albedo)[0]

        def terms_now() -> fit_terms.GeometryTerms:
            return fit_terms.geometry_terms(
                self.model, self.constraint, target, code, start.shape_code, landmarks
            )

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
        run.best_error, run.best_state = float(error[0]), aligned
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

    def _photometric(self, run: FitRun, state: FitState, image: Tensor, steps: int) -> FitState:
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

        def terms_now() -> fit_terms.PhotometricTerms:
            full = with_residuals(face, state.shape_residual, albedo_residual)
            return fit_terms.photometric_terms(self.renderer, full, state.camera, lighting, image, mask)

        with torch.no_grad():
            terms = terms_now()
        run.report(FitStage.PHOTOMETRIC, terms, current)
        optimiser = torch.optim.Adam(
            [
                {"params": [lighting], "lr": self.rates.photometric_lighting},
                {"params": [albedo_residual], "lr": self.rates.photometric_albedo_residual},
            ]
        )
        for _ in range(steps - 1):
            run.check()
            optimiser.zero_grad(set_to_none=True)
            with torch.enable_grad():
                terms = terms_now()
                terms.total.backward()
            run.offer(float(terms.photometric.detach()), current)  # the state before this step
            optimiser.step()
            run.report(FitStage.PHOTOMETRIC, terms, current)
        return current()

    def _detail(self, run: FitRun, state: FitState, image: Tensor, landmarks: Tensor, steps: int) -> FitState:
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
                {"params": [shape_residual], "lr": self.rates.detail_shape_residual},
                {"params": [albedo_residual], "lr": self.rates.detail_albedo_residual},
            ]
        )
        for _ in range(steps):
            run.check()
            optimiser.zero_grad(set_to_none=True)
            with torch.enable_grad():
                face = with_residuals(frozen, shape_residual, albedo_residual)
                terms = fit_terms.detail_terms(
                    self.model, self.renderer, self.weights, face, state.camera, lighting, image, landmarks
                )
                terms.total.backward()
            run.offer(float(terms.photometric.detach()), current)
            optimiser.step()
            run.report(FitStage.DETAIL, terms, current)
        return current()
