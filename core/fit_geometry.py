"""The dense geometric constraint of per-photo fitting: camera and shape from the Face Mesh.

The detector returns 478 Face Mesh points with depth; the template knows where
each of the first 468 lies on the face (``template.mesh_vertices`` and their
UVs). From them, without rendering:

1. :func:`mesh_in_crop` brings the points into the encoder's crop;
2. :func:`similarity_camera` is the least-squares similarity (Umeyama) of the
   template's mean Face Mesh onto them — the weak-perspective camera, exactly as the
   training's pseudo ground truth (:func:`facecraft.core.mesh_fit.fit_face_mesh`);
3. :class:`MeshConstraint` measures how far a UV shape's Face Mesh points lie from
   the detected ones in the camera frame (x, y in eye units; depth weighted less,
   since the detector's depth is a guess), for fitting the shape code, and
4. :meth:`MeshConstraint.offset_field` gives the smooth per-texel offset that
   carries a shape onto the points: the per-vertex residual spread over UV by the
   same linear operator as the pseudo ground truth (:class:`MeshToUV`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from facecraft.core.camera import Camera, CropTransform, euler_to_rotation, project
from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.face.landmark_indices import MEDIAPIPE_MESH_COUNT
from facecraft.core.face.template import FaceTemplate
from facecraft.core.mesh_fit import MeshToUV, UVInterpolator, fit_face_mesh
from facecraft.core.model.model import sample_landmarks

LANDMARK_PASSES = 3
"""Corrections towards the 68 landmarks (each removes most of what bilinear sampling left)."""
DEPTH_WEIGHT = 0.3
"""Weight of the camera-frame depth of the mesh residual against x and y (the detector's depth is coarse)."""


def mesh_in_crop(landmarks478: np.ndarray, crop: CropTransform) -> np.ndarray:
    """``(478 or 468, 3)`` photo-pixel Face Mesh points -> ``(468, 3)`` crop pixels (depth scaled alike)."""
    points = np.asarray(landmarks478, dtype=np.float64)[:MEDIAPIPE_MESH_COUNT]
    if points.shape != (MEDIAPIPE_MESH_COUNT, 3):
        raise ValueError(f"expected ({MEDIAPIPE_MESH_COUNT}+, 3) Face Mesh points, got {points.shape}")
    scale, offset = float(crop.scale), np.asarray(crop.offset, dtype=np.float64)
    return np.column_stack([points[:, :2] * scale + offset, points[:, 2] * scale])


@dataclass(frozen=True)
class MeshTarget:
    """The detected Face Mesh of one face, explained by the template.

    Attributes:
        camera: the similarity camera into the crop (batch of one).
        canonical: ``(1, 468, 3)`` the detected points brought into the canonical frame
            by the inverse of :attr:`camera` (x, y exact; depth from the detector).
    """

    camera: Camera
    canonical: Tensor


def similarity_camera(mesh_crop: np.ndarray, template: FaceTemplate) -> MeshTarget:
    """The least-squares similarity camera of the mean Face Mesh onto ``(468, 3)`` crop points."""
    fit = fit_face_mesh(mesh_crop, template)
    camera = Camera.from_vector(torch.as_tensor(fit.camera, dtype=torch.float32)[None])
    canonical = torch.as_tensor(template.mesh_vertices + fit.offsets, dtype=torch.float32)[None]
    return MeshTarget(camera, canonical)


class MeshConstraint:
    """Distances of a UV shape's Face Mesh points to a :class:`MeshTarget`, and the offset closing them.

    Args:
        template: supplies the Face Mesh vertices' UVs and the UV spreading operator.
        depth_weight: weight of the camera-frame depth component against x and y.
    """

    def __init__(self, template: FaceTemplate, depth_weight: float = DEPTH_WEIGHT) -> None:
        mesh_uv = template.cylinder.to_uv(template.mesh_vertices)
        self.mesh_uv = torch.as_tensor(mesh_uv, dtype=torch.float32)
        self.landmark_uv = torch.as_tensor(template.landmark_uv, dtype=torch.float32)
        self.mesh_to_uv = MeshToUV(template)
        # A mesh vertex within a texel of a landmark would pin the landmark's neighbourhood: drop it there.
        texel = 1.0 / min(UV_HEIGHT, UV_WIDTH)
        distance, _ = cKDTree(template.landmark_uv).query(mesh_uv)
        self.kept_mesh = torch.as_tensor(np.nonzero(distance > texel)[0])
        self.with_landmarks = UVInterpolator(np.concatenate([mesh_uv[self.kept_mesh], template.landmark_uv]))
        self.depth_weight = depth_weight

    def points(self, shape: Tensor) -> Tensor:
        """``(B, 3, 192, 224)`` position maps -> ``(B, 468, 3)`` canonical Face Mesh points."""
        return sample_landmarks(shape, self.mesh_uv.to(shape.device))

    def residual(
        self, shape: Tensor, target: MeshTarget, camera: Camera, depth_weight: float | None = None
    ) -> Tensor:
        """``(B, 468, 3)`` target minus the shape's points, camera frame of ``camera``, depth weighted."""
        rotation = euler_to_rotation(camera.angles).to(shape.dtype)  # (B, 3, 3)
        difference = target.canonical.to(shape) - self.points(shape)
        in_camera = difference @ rotation.transpose(1, 2)
        depth = self.depth_weight if depth_weight is None else depth_weight
        weight = in_camera.new_tensor([1.0, 1.0, depth])
        return in_camera * weight

    def loss(self, shape: Tensor, target: MeshTarget, camera: Camera) -> Tensor:
        """Mean squared weighted residual, canonical units (eye distances) squared: a scalar."""
        return self.residual(shape, target, camera).square().sum(-1).mean()

    def offset_field(
        self, shape: Tensor, target: MeshTarget, camera: Camera, landmarks: Tensor | None = None
    ) -> Tensor:
        """``(B, 3, 192, 224)`` smooth canonical offset carrying ``shape`` onto the target points.

        The camera-frame residual (depth weighted) is rotated back into the canonical
        frame and spread over UV by barycentric interpolation between the vertices.
        With ``landmarks`` (``(B, 68, 2)`` crop pixels), the template's 68 landmark
        points become nodes too, moved in the image plane (not in depth) so that they
        project onto the given landmarks through ``camera``.
        """
        rotation = euler_to_rotation(camera.angles).to(shape.dtype)
        field = self.mesh_to_uv(self.residual(shape, target, camera) @ rotation)  # R^T on row vectors
        if landmarks is None:
            return field
        landmark_uv = self.landmark_uv.to(shape.device)
        for _ in range(LANDMARK_PASSES):
            moved = shape + field
            pixels = landmarks.to(shape) - project(sample_landmarks(moved, landmark_uv), camera)[..., :2]
            in_camera = torch.cat([pixels[..., :1], -pixels[..., 1:], torch.zeros_like(pixels[..., :1])], -1)
            landmark_offsets = in_camera / camera.scale[:, None, None].to(shape) @ rotation
            mesh_offsets = self.residual(moved, target, camera, depth_weight=0.0) @ rotation  # depth done
            nodes = torch.cat([mesh_offsets[:, self.kept_mesh], landmark_offsets], dim=1)
            field = field + self.with_landmarks(nodes)
        return field
