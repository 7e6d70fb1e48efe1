"""The loss of one fitting step, per stage, as typed terms (used by :mod:`facecraft.core.fitting`).

* geometry — the shape code against the detected Face Mesh (:class:`MeshConstraint`)
  and landmarks, no rendering;
* photometric — l2,1 of ``I(S, A)`` against the crop, with the true albedo's residual
  kept near the proxy;
* detail — the paper's pairing on this one photo: ``I(S, A~)``, ``I(S~, A)`` and
  ``I(S, A)``, with the residual-magnitude, smoothness and residual-symmetry terms and
  the 68 landmarks.

Each stage's function returns its own frozen :class:`FitTerms` subclass, one field per term.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from torch import Tensor

from facecraft.core.camera import Camera, project
from facecraft.core.fit_geometry import MeshConstraint, MeshTarget
from facecraft.core.model import losses
from facecraft.core.model.config import ObjectiveConfig
from facecraft.core.model.model import DecodedFace, FaceModel
from facecraft.core.render.renderer import Renderer

CODE_PRIOR = 0.02
"""Weight of the pull of the shape code towards the encoder's in the geometry stage (mean square)."""
PHOTOMETRIC_RESIDUAL = 0.05
"""Pull of the true albedo towards the proxy in the photometric stage (weak: the closed-form albedo
it starts from already explains the photo)."""
DETAIL_PAIRING = 0.2
"""Weight of the paired renders ``I(S, A~)`` and ``I(S~, A)`` against ``I(S, A)`` in the detail stage: on one
photo the pairing regularises, while ``I(S, A)`` is what the user sees (at equal weights the detail
stage never lowered the error of ``I(S, A)`` below the photometric stage's on the astronaut)."""
DETAIL_LANDMARK = 100.0
"""Weight of the 68 landmarks (squared eye units) in the detail stage: the shape residual keeps them
where the geometry stage put them (1 % of the eye distance costs 0.01)."""
GEOMETRY_LANDMARK = 1.0
"""Weight of the 68 landmarks (squared eye units) in the geometry stage, beside the dense mesh term."""


class FitTerms:
    """The loss of one fitting step; each stage has its own frozen subclass with a field per term.

    Every subclass has ``total``, what the step descends (a scalar with a graph), and
    ``photometric``, the l2,1 error of ``I(S, A)`` against the crop before the step (``None`` where
    the stage does not render). The other fields are the stage's unweighted terms (scalars).
    """

    total: Tensor
    photometric: Tensor | None

    def as_floats(self) -> dict[str, float]:
        """Every term as a float, by field name in field order (for the progress report and the loss
        plot); ``photometric`` only when the stage renders."""
        return {
            item.name: float(value.detach())
            for item in fields(self)  # type: ignore[arg-type]  # every subclass is a dataclass
            if (value := getattr(self, item.name)) is not None
        }


@dataclass(frozen=True)
class GeometryTerms(FitTerms):
    """The geometry stage's terms; nothing is rendered.

    Attributes:
        mesh: the shape against the detected Face Mesh through the target camera (:class:`MeshConstraint`).
        landmark: the 68 landmarks, squared eye units.
        code_prior: mean square of the shape code's change from the encoder's.
    """

    mesh: Tensor
    landmark: Tensor
    code_prior: Tensor
    total: Tensor
    photometric: None = None


@dataclass(frozen=True)
class PhotometricTerms(FitTerms):
    """The photometric stage's terms.

    Attributes:
        reconstruction: l2,1 of ``I(S, A)`` against the crop (the same value as ``photometric``).
        residual: mean ``|A - Ã|`` over the UV mask.
    """

    reconstruction: Tensor
    residual: Tensor
    total: Tensor
    photometric: Tensor


@dataclass(frozen=True)
class DetailTerms(FitTerms):
    """The detail stage's terms.

    Attributes:
        reconstruction: ``DETAIL_PAIRING`` x (``I(S, Ã)`` + ``I(S̃, A)``) + ``I(S, A)``, l2,1 each.
        landmark: the 68 landmarks of ``S``, squared eye units.
        residual: residual magnitude of both pairs (eq. 14).
        shape_smoothness: smoothness of ``S`` (eq. 16).
        residual_symmetry: symmetry of the shape residual over the seen texels.
    """

    reconstruction: Tensor
    landmark: Tensor
    residual: Tensor
    shape_smoothness: Tensor
    residual_symmetry: Tensor
    total: Tensor
    photometric: Tensor


def landmark_term(model: FaceModel, shape: Tensor, camera: Camera, landmarks: Tensor) -> Tensor:
    """68-landmark error of ``shape`` through ``camera`` in squared eye units (scalar)."""
    projected = project(model.landmark_points(shape), camera)[..., :2]
    scale = camera.scale[:, None, None]
    return losses.landmark_loss(projected / scale, landmarks / scale)


def geometry_terms(
    model: FaceModel,
    constraint: MeshConstraint,
    target: MeshTarget,
    shape_code: Tensor,
    start_code: Tensor,
    landmarks: Tensor,
) -> GeometryTerms:
    """The shape code against the detected Face Mesh and landmarks, through the target's camera."""
    shape = model.decode_shape(shape_code)
    mesh = constraint.loss(shape, target, target.camera)
    landmark = landmark_term(model, shape, target.camera, landmarks)
    prior = (shape_code - start_code).square().mean()
    total = mesh + GEOMETRY_LANDMARK * landmark + CODE_PRIOR * prior
    return GeometryTerms(mesh=mesh, landmark=landmark, code_prior=prior, total=total)


def photometric_terms(
    renderer: Renderer,
    face: DecodedFace,
    camera: Camera,
    lighting: Tensor,
    image: Tensor,
    mask: Tensor,
) -> PhotometricTerms:
    """l2,1 of ``I(S, A)``, the true albedo's residual kept weakly near the proxy."""
    size = (image.shape[2], image.shape[3])
    result = renderer(face.shape, face.albedo, camera, lighting, size, background=image)
    reconstruction = losses.reconstruction_l21(result.image, image, result.mask)
    residual = (face.albedo - face.albedo_proxy).abs().mean(1, keepdim=True)
    residual = (residual * mask).sum() / mask.sum().clamp(min=1.0)
    total = reconstruction + PHOTOMETRIC_RESIDUAL * residual
    return PhotometricTerms(
        reconstruction=reconstruction, residual=residual, total=total, photometric=reconstruction
    )


def detail_terms(
    model: FaceModel,
    renderer: Renderer,
    weights: ObjectiveConfig,
    face: DecodedFace,
    camera: Camera,
    lighting: Tensor,
    image: Tensor,
    landmarks: Tensor,
) -> DetailTerms:
    """The paper's pairing on one photo, the residuals regularised (eqs. 10, 14, 16), landmarks kept."""
    mask = model.uv_mask.to(image.dtype)
    size = (image.shape[2], image.shape[3])
    renders = []
    reconstruction = image.new_zeros(())
    for pair_shape, pair_albedo, weight in (
        (face.shape, face.albedo_proxy, DETAIL_PAIRING),
        (face.shape_proxy, face.albedo, DETAIL_PAIRING),
        (face.shape, face.albedo, 1.0),
    ):
        result = renderer(pair_shape, pair_albedo, camera, lighting, size, background=image)
        renders.append((result, losses.reconstruction_l21(result.image, image, result.mask)))
        reconstruction = reconstruction + weight * renders[-1][1]
    true_shape_render = renders[0][0]
    residual = losses.residual_magnitude(face.shape, face.shape_proxy, face.albedo, face.albedo_proxy, mask)
    smoothness = losses.shape_smoothness(face.shape, mask)
    symmetry = losses.residual_symmetry(face.shape, face.shape_proxy, true_shape_render.visibility, mask)
    landmark = landmark_term(model, face.shape, camera, landmarks)
    total = (
        reconstruction
        + weights.residual * residual
        + weights.shape_smoothness * smoothness
        + weights.residual_symmetry * symmetry
        + DETAIL_LANDMARK * landmark
    )
    return DetailTerms(
        reconstruction=reconstruction,
        landmark=landmark,
        residual=residual,
        shape_smoothness=smoothness,
        residual_symmetry=symmetry,
        total=total,
        photometric=renders[2][1],
    )
