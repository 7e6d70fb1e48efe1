"""Step 1 of the template build: the canonical, mirror-symmetric mean of the Face Mesh vertices.

The train-split meshes are aligned by generalised Procrustes and averaged; the mean is put in
the canonical frame (:mod:`facecraft.core.conventions`) and made exactly mirror-symmetric with
the vertex mirror pairing found on the mean itself. The Face Mesh triangles come with it.
"""


from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy.optimize import linear_sum_assignment

from facecraft.core.face.landmark_indices import (
    MP_CHIN,
    MP_FOREHEAD_TOP,
    MP_LEFT_EYE_OUTER,
    MP_RIGHT_EYE_OUTER,
)
from facecraft.core.mesh_fit import similarity

MIRROR = np.array([-1.0, 1.0, 1.0])
"""Mirror in the canonical frame's x = 0 plane."""


# --- Procrustes -------------------------------------------------------------------------------


def generalised_procrustes(shapes: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Mean of ``(N, V, 3)`` shapes after aligning each to the mean by a similarity."""
    mean = shapes[0] - shapes[0].mean(axis=0)
    for _ in range(iterations):
        aligned = []
        for shape in shapes:
            scale, rotation, shift = similarity(shape, mean)
            aligned.append(scale * shape @ rotation.T + shift)
        mean = np.mean(aligned, axis=0)
        mean = (mean - mean.mean(axis=0)) / np.sqrt(((mean - mean.mean(axis=0)) ** 2).sum(axis=1).mean())
    return mean


# --- the canonical mean face ------------------------------------------------------------------


def to_model_axes(mesh_pixels: np.ndarray) -> np.ndarray:
    """``(..., 3)`` Face Mesh pixel coordinates (x right, y down, z away) to (x right, y up, z out)."""
    return mesh_pixels * np.array([1.0, -1.0, -1.0])


def upright_frame(points: np.ndarray) -> np.ndarray:
    """Rotate ``(468, 3)`` points so that the eyes lie along +x (subject's left) and the face looks +z."""
    x_axis = points[MP_LEFT_EYE_OUTER] - points[MP_RIGHT_EYE_OUTER]
    x_axis /= np.linalg.norm(x_axis)
    up = points[MP_FOREHEAD_TOP] - points[MP_CHIN]
    y_axis = up - x_axis * (up @ x_axis)
    y_axis /= np.linalg.norm(y_axis)
    rotation = np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)])
    return (points - points.mean(axis=0)) @ rotation.T


def mirror_pairing(points: np.ndarray) -> np.ndarray:
    """``(468,)`` index of each vertex's mirror partner, by optimal matching to the mirrored shape."""
    mirrored = points * MIRROR
    cost = np.linalg.norm(points[:, None, :] - mirrored[None, :, :], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    pairing = cols[np.argsort(rows)]
    if not np.array_equal(pairing[pairing], np.arange(len(points))):
        raise RuntimeError("the mirror pairing of the mean face is not an involution")
    return pairing


def symmetrise(points: np.ndarray, pairing: np.ndarray) -> np.ndarray:
    """Average each point with the mirror of its partner: an exactly symmetric shape."""
    return 0.5 * (points + points[pairing] * MIRROR)


def canonical_mean_face(meshes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric mean face in the canonical frame and its mirror pairing.

    Args:
        meshes: ``(N, 468, 3)`` Face Mesh vertices in image pixels.

    Returns:
        ``(468, 3)`` vertices (origin at the centroid, outer eye corners 1 apart)
        and the ``(468,)`` mirror pairing.
    """
    mean = upright_frame(generalised_procrustes(to_model_axes(meshes)))
    pairing = mirror_pairing(mean)
    for _ in range(5):  # rotate the mean onto its own symmetric version until they agree
        _, rotation, shift = similarity(mean, symmetrise(mean, pairing))
        mean = mean @ rotation.T + shift
    mean = symmetrise(mean, pairing)
    mean -= mean.mean(axis=0) * np.array([0.0, 1.0, 1.0])  # x is already centred by symmetry
    eye_distance = np.linalg.norm(mean[MP_LEFT_EYE_OUTER] - mean[MP_RIGHT_EYE_OUTER])
    return mean / eye_distance, pairing


def tessellation_triangles(points: np.ndarray) -> np.ndarray:
    """Face Mesh triangles from MediaPipe's published tessellation edges, oriented outwards.

    Returns:
        ``(F, 3)`` int32; each triangle's normal points away from the head (+z side).
    """
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    edges = {tuple(sorted(edge)) for edge in FACEMESH_TESSELATION}
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    triangles = sorted({tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]})
    triangles = np.array(triangles, dtype=np.int32)
    centre = np.array([0.0, points[:, 1].mean(), points[:, 2].min()])
    a, b, c = (points[triangles[:, i]] for i in range(3))
    normals = np.cross(b - a, c - a)
    outward = (a + b + c) / 3 - centre
    flip = (normals * outward).sum(axis=1) < 0
    triangles[flip] = triangles[flip][:, [0, 2, 1]]
    return triangles
