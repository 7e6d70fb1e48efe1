"""The training objective, composed in one place (paper eqs. 11-16).

With proxies (``global_local_proxy``) the reconstruction loss is taken on the
three paired renders ``I(S~, A~)``, ``I(S~, A)`` and ``I(S, A~)``, never on
``I(S, A)`` (eq. 15); the regularizers act on the proxies only (eq. 13), and the
residual magnitude (eq. 14) and the residual soft symmetry (eq. 16) tie the true
components to them. Without proxies, the single render ``I(S, A)`` is
reconstructed and the regularizers act on ``S`` and ``A`` (eqs. 11-12).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

from facecraft.core.camera import project
from facecraft.core.face.template import FaceTemplate
from facecraft.core.model import losses
from facecraft.core.model.config import ObjectiveConfig, Variant
from facecraft.core.model.model import DecodedFace, ModelOutput, sample_landmark_patches
from facecraft.core.model.perceptual import PerceptualNetwork, perceptual_loss
from facecraft.core.render.renderer import Renderer, RenderResult
from facecraft.core.render.unwrap import unwrap_image


@dataclass(frozen=True)
class ObjectiveTargets:
    """What a batch is compared against.

    Attributes:
        images: ``(B, 3, S, S)`` input crops, RGB in ``[0, 1]``.
        landmarks: ``(B, 68, 2)`` target landmarks in crop pixels.
        landmark_weights: optional ``(B, 68)``, 0 for missing points.
    """

    images: Tensor
    landmarks: Tensor
    landmark_weights: Tensor | None = None


@dataclass(frozen=True)
class LossTerms:
    """Unweighted values of every term (scalars), and the weighted total.

    Reconstruction-type terms are summed over the renders that enter the objective.
    Terms a variant does not use are zero.
    """

    total: Tensor
    reconstruction: Tensor
    perceptual: Tensor
    gradient_difference: Tensor
    landmark: Tensor
    albedo_symmetry: Tensor
    albedo_constancy: Tensor
    shape_smoothness: Tensor
    residual: Tensor
    residual_symmetry: Tensor

    def as_floats(self) -> dict[str, float]:
        """Plain numbers, for logs and progress displays."""
        return {f.name: float(getattr(self, f.name).detach()) for f in fields(self)}


@dataclass(frozen=True)
class ObjectiveResult:
    """The loss terms and the renders they were computed on.

    Attributes:
        terms: see :class:`LossTerms`.
        renders: ``(name, result)`` per render, names like ``"S~,A~"`` (proxy = ``~``).
        projected_landmarks: ``(B, 68, 2)`` model landmarks in crop pixels.
    """

    terms: LossTerms
    renders: tuple[tuple[str, RenderResult], ...]
    projected_landmarks: Tensor


class Objective(nn.Module):
    """Eq. 15's paired objective (or eq. 11's single one without proxies).

    Args:
        template: face template (render mesh, mask, landmarks).
        config: weights of the terms.
        variant: decides paired vs. single reconstruction and the residual terms.
        perceptual: the feature network for eq. 5; required when its weight is non-zero.
    """

    def __init__(
        self,
        template: FaceTemplate,
        config: ObjectiveConfig,
        variant: Variant,
        perceptual: PerceptualNetwork | None = None,
    ) -> None:
        super().__init__()
        if config.perceptual > 0 and perceptual is None:
            raise ValueError("the perceptual loss has a non-zero weight but no network was given")
        self.config = config
        self.variant = variant
        self.renderer = Renderer(template)
        self.perceptual = perceptual
        self.register_buffer("uv_mask", torch.as_tensor(template.mask)[None, None].float(), persistent=False)
        self.register_buffer(
            "landmark_uv", torch.as_tensor(template.landmark_uv, dtype=torch.float32), persistent=False
        )

    def pairs(self, face: DecodedFace) -> tuple[tuple[str, Tensor, Tensor], ...]:
        """The (name, shape, albedo) combinations that are rendered and reconstructed."""
        if not self.variant.has_proxy:
            return (("S,A", face.shape, face.albedo),)
        return (
            ("S~,A~", face.shape_proxy, face.albedo_proxy),
            ("S~,A", face.shape_proxy, face.albedo),
            ("S,A~", face.shape, face.albedo_proxy),
        )

    def render_pairs(
        self, face: DecodedFace, output: ModelOutput, images: Tensor
    ) -> list[tuple[str, RenderResult]]:
        """Every pair of :meth:`pairs` rendered over ``images``, in that order; pairs that share
        a shape share one geometry pass (:meth:`Renderer.render_albedos`)."""
        size = (images.shape[2], images.shape[3])
        pairs = self.pairs(face)
        by_shape: dict[int, list[int]] = {}
        for index, (_, shape, _) in enumerate(pairs):
            by_shape.setdefault(id(shape), []).append(index)
        results: dict[int, RenderResult] = {}
        for indices in by_shape.values():
            shape = pairs[indices[0]][1]
            albedos = tuple(pairs[i][2] for i in indices)
            rendered = self.renderer.render_albedos(
                shape, albedos, output.camera, output.lighting, size, background=images
            )
            results.update(zip(indices, rendered, strict=True))
        return [(name, results[index]) for index, (name, _, _) in enumerate(pairs)]

    def landmarks(self, shape: Tensor, output: ModelOutput) -> Tensor:
        """``(B, 68, 2)`` landmarks of ``shape`` (patch means, :func:`sample_landmark_patches`)
        projected by the estimated camera."""
        return project(sample_landmark_patches(shape, self.landmark_uv), output.camera)[..., :2]

    def forward(self, output: ModelOutput, targets: ObjectiveTargets) -> ObjectiveResult:
        config = self.config
        images = targets.images
        size = (images.shape[2], images.shape[3])
        face = output.face
        zero = images.new_zeros(())
        reconstruction = perceptual = gradient = zero
        renders = self.render_pairs(face, output, images)
        for _, result in renders:
            reconstruction = reconstruction + losses.reconstruction_l21(result.image, images, result.mask)
            if config.perceptual > 0 and self.perceptual is not None:
                perceptual = perceptual + perceptual_loss(self.perceptual, result.image, images)
            if config.gradient_difference > 0:
                gradient = gradient + losses.gradient_difference(result.image, images, result.mask)

        projected = self.landmarks(face.shape_proxy, output)
        landmark = losses.landmark_loss(
            projected, targets.landmarks, targets.landmark_weights, normaliser=float(size[1])
        )
        with torch.no_grad():
            photo_texture = unwrap_image(images, face.shape_proxy, output.camera)
        chroma = losses.chromaticity(photo_texture)
        mask = self.uv_mask
        symmetry = losses.albedo_symmetry(face.albedo_proxy, mask)
        constancy = losses.albedo_constancy(
            face.albedo_proxy, chroma, mask, config.constancy_exponent, config.constancy_sharpness
        )
        smoothness = losses.shape_smoothness(face.shape_proxy, mask)
        residual = residual_symmetry = zero
        if self.variant.has_proxy:
            residual = losses.residual_magnitude(
                face.shape, face.shape_proxy, face.albedo, face.albedo_proxy, mask
            )
            true_shape_render = renders[2][1]  # I(S, A~): the visibility of the true shape
            residual_symmetry = losses.residual_symmetry(
                face.shape, face.shape_proxy, true_shape_render.visibility, mask
            )
        total = (
            config.reconstruction * reconstruction
            + config.perceptual * perceptual
            + config.gradient_difference * gradient
            + config.landmark * landmark
            + config.albedo_symmetry * symmetry
            + config.albedo_constancy * constancy
            + config.shape_smoothness * smoothness
            + config.residual * residual
            + config.residual_symmetry * residual_symmetry
        )
        terms = LossTerms(
            total,
            reconstruction,
            perceptual,
            gradient,
            landmark,
            symmetry,
            constancy,
            smoothness,
            residual,
            residual_symmetry,
        )
        return ObjectiveResult(terms, tuple(renders), projected)
