"""Camera and shape from Face Mesh landmarks: the pseudo ground truth of pre-training.

Face Mesh gives 468 surface points per face in image pixels with a relative
depth. A similarity (Umeyama) takes the template's mean Face Mesh onto them: its
scale, rotation and translation are a weak-perspective :class:`Camera`; what is
left over, brought back into the canonical frame, is a per-vertex offset, which
:class:`MeshToUV` spreads over the UV map (linear interpolation in the
template's UV layout) to give a full position map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import Delaunay, cKDTree
from torch import Tensor

from facecraft.core.camera import rotation_to_euler
from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH, texel_centres_uv
from facecraft.core.face.landmark_indices import MEDIAPIPE_MESH_COUNT
from facecraft.core.face.template import FaceTemplate


@dataclass(frozen=True)
class MeshFit:
    """A face's Face Mesh explained by the template.

    Attributes:
        camera: ``(6,)`` float64 in :data:`facecraft.core.camera.CAMERA_PARAMS` order.
        offsets: ``(468, 3)`` float64 canonical-frame displacement of each mean
            Face Mesh vertex that the face needs on top of the similarity.
        residual_px: RMS distance, in pixels, between the Face Mesh points and the
            similarity-aligned mean mesh (how far the face is from the mean shape).
    """

    camera: np.ndarray
    offsets: np.ndarray
    residual_px: float


def similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity (Umeyama): ``target ~ scale * source @ rotation.T + translation``.

    Args:
        source, target: ``(N, 3)`` corresponding points.
    """
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(sigma) @ d) / (s**2).sum())
    return scale, rotation, mu_t - scale * mu_s @ rotation.T


def fit_face_mesh(landmarks478: np.ndarray, template: FaceTemplate) -> MeshFit:
    """Fit the template's mean Face Mesh to one detected Face Mesh.

    Args:
        landmarks478: ``(478, 3)`` (or ``(468, 3)``) Face Mesh vertices: ``x, y`` image
            pixels, ``z`` pixels growing away from the camera (as detection gives them).
        template: supplies the mean Face Mesh in the canonical frame.
    """
    points = np.asarray(landmarks478, dtype=np.float64)[:MEDIAPIPE_MESH_COUNT]
    if points.shape != (MEDIAPIPE_MESH_COUNT, 3) or not np.isfinite(points).all():
        raise ValueError(f"expected finite ({MEDIAPIPE_MESH_COUNT}, 3) Face Mesh points, got {points.shape}")
    # Image pixels (y down, z away) -> a right-handed camera frame in pixels (y up, z towards the viewer).
    camera_points = points * np.array([1.0, -1.0, -1.0])
    mean_mesh = template.mesh_vertices.astype(np.float64)
    scale, rotation, translation = similarity(mean_mesh, camera_points)
    aligned = scale * mean_mesh @ rotation.T + translation
    canonical = (camera_points - translation) @ rotation / scale
    angles = rotation_to_euler(torch.from_numpy(rotation)[None])[0].numpy()
    camera = np.array([scale, *angles, translation[0], -translation[1]])
    residual = float(np.sqrt(((aligned - camera_points)[:, :2] ** 2).sum(1).mean()))
    return MeshFit(camera=camera, offsets=canonical - mean_mesh, residual_px=residual)


class UVInterpolator:
    """Linear map from values at scattered UV points ("nodes") to a whole UV map.

    Each texel inside the convex hull of the nodes takes the barycentric blend of its
    Delaunay triangle; texels outside take the nearest node. A node at the same place
    as an earlier one is ignored by the triangulation. Built once (a sparse
    ``(192*224, N)`` matrix).

    Args:
        node_uv: ``(N, 2)`` ``(u, v)`` of the nodes.
    """

    def __init__(self, node_uv: np.ndarray) -> None:
        node_uv = np.asarray(node_uv, dtype=np.float64)
        if node_uv.ndim != 2 or node_uv.shape[1] != 2 or len(node_uv) < 3:
            raise ValueError(f"node_uv must be (N >= 3, 2), got {node_uv.shape}")
        self.nodes = len(node_uv)
        centres = texel_centres_uv().reshape(-1, 2)
        triangulation = Delaunay(node_uv)
        simplex = triangulation.find_simplex(centres)
        rows, cols, values = [], [], []
        inside = np.nonzero(simplex >= 0)[0]
        transform = triangulation.transform[simplex[inside]]  # (n, 3, 2)
        partial = np.einsum("nij,nj->ni", transform[:, :2], centres[inside] - transform[:, 2])
        bary = np.column_stack([partial, 1.0 - partial.sum(1)])
        corners = triangulation.simplices[simplex[inside]]
        rows.append(np.repeat(inside, 3))
        cols.append(corners.ravel())
        values.append(bary.ravel())
        outside = np.nonzero(simplex < 0)[0]
        _, nearest = cKDTree(node_uv).query(centres[outside])
        rows.append(outside)
        cols.append(nearest)
        values.append(np.ones(len(outside)))
        indices = torch.as_tensor(np.stack([np.concatenate(rows), np.concatenate(cols)]), dtype=torch.long)
        self.matrix = torch.sparse_coo_tensor(
            indices,
            torch.as_tensor(np.concatenate(values), dtype=torch.float32),
            (UV_HEIGHT * UV_WIDTH, self.nodes),
            check_invariants=True,
        ).coalesce()

    def __call__(self, values: Tensor) -> Tensor:
        """``(B, N, C)`` node values to ``(B, C, 192, 224)`` UV maps."""
        if values.dim() != 3 or values.shape[1] != self.nodes:
            raise ValueError(f"values must be (B, {self.nodes}, C), got {tuple(values.shape)}")
        batch, _, channels = values.shape
        flat = values.permute(1, 0, 2).reshape(self.nodes, batch * channels).float()
        uv = torch.sparse.mm(self.matrix.to(values.device), flat)  # (H*W, B*C)
        return uv.view(UV_HEIGHT, UV_WIDTH, batch, channels).permute(2, 3, 0, 1).to(values.dtype)


class MeshToUV(UVInterpolator):
    """Linear map from per-vertex values on the 468 Face Mesh vertices to a UV map.

    The :class:`UVInterpolator` whose nodes are the template's mean Face Mesh vertices.
    """

    def __init__(self, template: FaceTemplate) -> None:
        super().__init__(template.cylinder.to_uv(template.mesh_vertices))
        assert self.nodes == MEDIAPIPE_MESH_COUNT
