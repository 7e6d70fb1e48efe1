"""Supervised losses against the pseudo ground truth: the pose warm-up and the pre-train stage.

The pseudo ground truth of a photo is a weak-perspective camera into its crop and
a shape (the template's mean Face Mesh plus per-vertex offsets, spread over UV by
:class:`facecraft.core.mesh_fit.MeshToUV`). The terms here, each a scalar mean
over the batch:

* :meth:`CameraSpread.standardised_error` — the camera, each parameter divided by
  its spread over the train split, so that log-scale, angles and translation
  weigh alike (raw translation in crop widths squared was 20x too weak, issue 12);
* :func:`mesh_reprojection` — the pseudo-ground-truth Face Mesh projected through
  two cameras (pose) or two shapes through one camera (per-person shape), in eye
  units (pixels divided by the target camera's scale: one canonical unit is the
  outer-eye-corner distance);
* :func:`shape_deviation_correlation` — a diagnostic: how well the predicted
  deviation from the mean shape follows the pseudo ground truth's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from facecraft.core.appearance import facing_trust, solve_lighting
from facecraft.core.camera import CAMERA_PARAMS, Camera, CropTransform, project
from facecraft.core.face.template import FaceTemplate
from facecraft.core.mesh_fit import MeshToUV
from facecraft.core.model import losses
from facecraft.core.model.model import ModelOutput, sample_landmark_patches, sample_landmarks
from facecraft.core.render.renderer import Renderer
from facecraft.core.render.shading import ambient_light
from facecraft.core.render.unwrap import unwrap_image
from facecraft.training.config import PoseWeights, PretrainWeights
from facecraft.training.dataset import FaceBatch
from facecraft.training.pseudo_gt import pseudo_shape


@dataclass(frozen=True)
class CameraSpread:
    """Per-parameter spread of the pseudo-ground-truth cameras (the standardising scales).

    Attributes:
        log_scale_mean: mean of ``log(scale)`` (the model's scale prior is its exponential).
        spread: ``(6,)`` standard deviations of ``log(scale)``, pitch, yaw, roll (radians),
            ``tx``, ``ty`` (pixels), in :data:`CAMERA_PARAMS` order.
    """

    log_scale_mean: float
    spread: tuple[float, ...]

    @classmethod
    def from_cameras(cls, cameras: np.ndarray) -> CameraSpread:
        """From ``(N, 6)`` camera vectors; flips are accounted for (yaw, roll and ``tx`` mirror)."""
        cameras = np.asarray(cameras, dtype=np.float64)
        if cameras.ndim != 2 or cameras.shape[1] != len(CAMERA_PARAMS) or len(cameras) < 2:
            raise ValueError(f"cameras must be (N >= 2, {len(CAMERA_PARAMS)}), got {cameras.shape}")
        values = np.column_stack([np.log(cameras[:, 0]), cameras[:, 1:]])
        mirror_tx = 2 * values[:, 4].mean()
        mirrored = values * np.array([1, 1, -1, -1, -1, 1]) + np.array([0, 0, 0, 0, mirror_tx, 0])
        both = np.concatenate([values, mirrored])
        spread = np.maximum(both.std(axis=0), 1e-3)
        return cls(float(values[:, 0].mean()), tuple(float(s) for s in spread))

    @property
    def scale_prior(self) -> float:
        """The geometric mean scale, pixels per canonical unit."""
        return float(np.exp(self.log_scale_mean))

    def standardised_error(self, predicted: Camera, target: Camera) -> Tensor:
        """Mean over parameters and batch of the squared error in units of each parameter's spread."""
        spread = predicted.scale.new_tensor(self.spread)
        difference = torch.cat(
            [
                (predicted.scale.log() - target.scale.log())[:, None],
                predicted.angles - target.angles,
                predicted.translation - target.translation,
            ],
            dim=1,
        )
        return (difference / spread).square().mean()


def mesh_points(shape: Tensor, mesh_uv: Tensor) -> Tensor:
    """The Face Mesh vertices of ``(B, 3, 192, 224)`` position maps at ``(V, 2)`` UVs: ``(B, V, 3)``."""
    return sample_landmarks(shape, mesh_uv)


def mesh_reprojection(
    points: Tensor, camera: Camera, target_points: Tensor, target_camera: Camera, huber: float = 0.0
) -> Tensor:
    """Image-plane distance between two projected point sets, in eye units.

    Args:
        points: ``(B, V, 3)`` canonical points, projected through ``camera``.
        camera: ``B`` cameras.
        target_points: ``(B, V, 3)`` canonical points, projected through ``target_camera``.
        target_camera: ``B`` cameras; their scale (pixels per eye distance) normalises.
        huber: 0 for the squared distance; else the Huber loss with this threshold (eye units).

    Returns:
        Scalar: mean over points and batch.
    """
    if points.shape != target_points.shape or points.shape[-1] != 3:
        raise ValueError(
            f"points must both be (B, V, 3), got {tuple(points.shape)}, {tuple(target_points.shape)}"
        )
    error = project(points, camera)[..., :2] - project(target_points, target_camera)[..., :2]
    error = error / target_camera.scale[:, None, None]
    squared = error.square().sum(-1)
    if huber <= 0:
        return squared.mean()
    distance = (squared + 1e-12).sqrt()
    quadratic = distance.clamp(max=huber)
    return (0.5 * quadratic.square() + huber * (distance - quadratic)).mean() / huber


def shape_deviation_correlation(predicted: Tensor, target: Tensor, mean: Tensor) -> float:
    """Pearson correlation of predicted and target deviations from the mean, over ``(B, V, 3)`` points.

    Each item's deviations are centred per coordinate first, so a shared offset does not count.
    """
    p = (predicted - mean).detach().double()
    t = (target - mean).detach().double()
    p = p - p.mean(1, keepdim=True)
    t = t - t.mean(1, keepdim=True)
    denominator = (p.square().sum() * t.square().sum()).sqrt()
    return float((p * t).sum() / denominator) if float(denominator) > 0 else 0.0


class SupervisedLoss:
    """The pose warm-up and pre-train losses of a batch against its pseudo ground truth.

    Args:
        template: the face template (mean shape, mask, Face Mesh vertices and their UVs).
        renderer: renders the pseudo geometry's texel visibility for the texture target.
        spread: the camera standardisation of the train split.
    """

    def __init__(self, template: FaceTemplate, renderer: Renderer, spread: CameraSpread) -> None:
        self.renderer = renderer
        self.spread = spread
        self.mesh_to_uv = MeshToUV(template)
        device = next(iter(renderer.buffers()), torch.empty(0)).device
        self.mean_shape = torch.as_tensor(template.mean_shape_uv, dtype=torch.float32).permute(2, 0, 1)[None]
        self.uv_mask = torch.as_tensor(template.mask)[None, None].float()
        self.mesh_uv = torch.as_tensor(template.cylinder.to_uv(template.mesh_vertices), dtype=torch.float32)
        self.landmark_uv = torch.as_tensor(template.landmark_uv, dtype=torch.float32)
        self.to(device)

    def to(self, device: torch.device | str) -> SupervisedLoss:
        for name in ("mean_shape", "uv_mask", "mesh_uv", "landmark_uv"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def target_shape(self, batch: FaceBatch) -> Tensor:
        """``(B, 3, 192, 224)`` the pseudo-ground-truth position maps."""
        return pseudo_shape(batch.offsets, self.mean_shape, self.mesh_to_uv)

    def pose(self, camera: Camera, batch: FaceBatch, weights: PoseWeights) -> tuple[Tensor, dict[str, float]]:
        """Encoder-only loss of the predicted ``camera`` (the pose warm-up stage)."""
        target_camera = Camera.from_vector(batch.cameras)
        shape = self.target_shape(batch)
        mesh = mesh_points(shape, self.mesh_uv)
        mesh_term = mesh_reprojection(mesh, camera, mesh, target_camera)
        landmarks = project(sample_landmarks(shape, self.landmark_uv), camera)[..., :2]
        landmark_term = losses.landmark_loss(
            landmarks / target_camera.scale[:, None, None],
            batch.landmarks / target_camera.scale[:, None, None],
            batch.landmark_weights,
        )
        camera_term = self.spread.standardised_error(camera, target_camera)
        total = weights.camera * camera_term + weights.mesh * mesh_term + weights.landmark * landmark_term
        terms = {"camera": camera_term, "mesh": mesh_term, "landmark": landmark_term}
        return total, {name: float(value.detach()) for name, value in terms.items()}

    def pretrain(
        self, output: ModelOutput, batch: FaceBatch, weights: PretrainWeights
    ) -> tuple[Tensor, dict[str, float]]:
        """The supervised pre-train loss; terms are logged with the shape-deviation correlation."""
        size = batch.images.shape[-1]
        target_shape = self.target_shape(batch)
        target_camera = Camera.from_vector(batch.cameras)
        face = output.face
        shapes = _distinct(face.shape, face.shape_proxy)
        mask_sum = self.uv_mask.sum()
        shape_term = sum(
            ((s - target_shape).abs().mean(1, keepdim=True) * self.uv_mask).sum() / (mask_sum * s.shape[0])
            for s in shapes
        )
        target_mesh = mesh_points(target_shape, self.mesh_uv)
        predicted_meshes = [mesh_points(s, self.mesh_uv) for s in shapes]
        mesh_term = sum(
            mesh_reprojection(points, target_camera, target_mesh, target_camera, huber=0.05)
            for points in predicted_meshes
        )
        camera_term = self.spread.standardised_error(output.camera, target_camera)
        landmarks = sample_landmark_patches(face.shape_proxy, self.landmark_uv)
        projected = project(landmarks, output.camera)[..., :2]
        landmark_term = losses.landmark_loss(
            projected, batch.landmarks, batch.landmark_weights, normaliser=float(size)
        )
        if weights.texture == 0 and weights.lighting == 0:  # e.g. a fine-tune's anchor: no render needed
            texture_term = lighting_term = torch.zeros_like(shape_term)
        else:
            texture_term, lighting_term = self._appearance_terms(output, batch, target_shape, target_camera)
        smooth_term = sum(losses.shape_smoothness(s, self.uv_mask) for s in shapes)
        terms = {
            "shape": shape_term,
            "mesh": mesh_term,
            "camera": camera_term,
            "landmark": landmark_term,
            "texture": texture_term,
            "smoothness": smooth_term,
            "lighting": lighting_term,
        }
        total = sum(getattr(weights, name) * value for name, value in terms.items())
        logged = {name: float(value.detach()) for name, value in terms.items()}
        mean_mesh = mesh_points(self.mean_shape, self.mesh_uv)
        logged["shape_correlation"] = shape_deviation_correlation(predicted_meshes[0], target_mesh, mean_mesh)
        return total, logged

    def _appearance_terms(
        self, output: ModelOutput, batch: FaceBatch, target_shape: Tensor, target_camera: Camera
    ) -> tuple[Tensor, Tensor]:
        """The texture and lighting terms: albedos against the photo unwrapped through the pseudo
        geometry, lighting against the closed-form lighting of that photo."""
        size = batch.images.shape[-1] // TARGET_RENDER_SHRINK
        face = output.face
        with torch.no_grad():
            texture = unwrap_image(batch.images, target_shape, target_camera)
            shrink = 1.0 / TARGET_RENDER_SHRINK
            offset = 0.5 * shrink - 0.5  # pixel centres stay pixel centres
            geometry = self.renderer(
                target_shape,
                torch.zeros_like(target_shape),
                CropTransform(shrink, (offset, offset), (size, size)).camera_to_crop(target_camera),
                ambient_light(batch.images.shape[0], device=batch.images.device),
                (size, size),
            )
            seen, normals = geometry.visibility, geometry.normals_uv
            # The lighting that best explains the photo given the pseudo geometry and the predicted
            # albedo (closed form): the lighting head's target, from every other texel.
            stride = slice(None, None, LIGHTING_TARGET_STRIDE)
            every = (..., stride, stride)
            trust = facing_trust(normals[:, 2:3], seen) * self.uv_mask
            target_lighting = solve_lighting(
                texture[every], face.albedo.detach()[every], normals[every], trust[every]
            )
        texture_term = sum(
            ((a - texture).abs().mean(1, keepdim=True) * seen).sum() / seen.sum().clamp(min=1.0)
            for a in _distinct(face.albedo, face.albedo_proxy)
        )
        lighting_term = (output.lighting - target_lighting).square().sum((1, 2)).mean()
        return texture_term, lighting_term


TARGET_RENDER_SHRINK = 2
"""The pseudo geometry's visibility is rasterised at 1/2 the crop's side: 2.6x faster at batch 32,
its visible texels' IoU with the full-size render 0.96 (a texel's worth at the outline)."""
LIGHTING_TARGET_STRIDE = 2
"""The target lighting is solved on every 2nd texel each way: 6x faster, within 0.025 of the full
solve (coefficients up to 1.7)."""


def _distinct(*tensors: Tensor) -> list[Tensor]:
    """The tensors, each once (without proxies, proxy and true are the same tensor)."""
    return list({id(t): t for t in tensors}.values())
