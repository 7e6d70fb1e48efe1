"""Step 4 of the template build: the 68 iBUG landmarks on the mean face, and the part boxes.

The landmarks are placed in 3D by least squares against the annotated points of every photo
(each photo's pose from a similarity fit of the mean face), unwrapped into UV, snapped into
the face mask and made mirror-symmetric; the four local-pathway boxes surround them.
"""


from __future__ import annotations

import numpy as np
from scipy import ndimage

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.face.landmark_indices import (
    IBUG_LEFT_BROW,
    IBUG_LEFT_EYE,
    IBUG_MIRROR,
    IBUG_MOUTH,
    IBUG_NOSE,
)
from facecraft.core.face.template import (
    PART_NAMES,
    PART_SIZE_MULTIPLE,
    UVBox,
)
from facecraft.core.mesh_fit import similarity
from facecraft.training.template_mean import MIRROR, to_model_axes

PART_MARGIN = 3.0
"""Texels added around the landmarks of a part before rounding the box up."""


def fit_landmarks_3d(mean: np.ndarray, meshes: np.ndarray, annotations: np.ndarray) -> np.ndarray:
    """3D positions of the 68 iBUG points on the mean face, by least squares over all photos.

    Each photo's weak-perspective pose comes from a similarity fit of the mean face
    to its Face Mesh vertices; then for every landmark the point ``X`` minimising
    ``sum_photos |P_i X + b_i - q_i|^2`` is solved for, and the result made mirror-symmetric.

    Args:
        mean: ``(468, 3)`` canonical mean face.
        meshes: ``(N, 468, 3)`` Face Mesh vertices in image pixels.
        annotations: ``(N, 68, 2)`` annotated points in image pixels.

    Returns:
        ``(68, 3)`` canonical points.
    """
    normal = np.zeros((3, 3))
    right = np.zeros((68, 3))
    flip_y = np.array([[1.0, 0.0], [0.0, -1.0]])
    for mesh, points in zip(to_model_axes(meshes), annotations, strict=True):
        scale, rotation, shift = similarity(mean, mesh)
        projection = flip_y @ (scale * rotation[:2])  # model point -> image pixels (2, 3)
        offset = flip_y @ shift[:2]
        normal += projection.T @ projection
        right += (points - offset) @ projection
    solved = np.linalg.solve(normal, right.T).T
    return 0.5 * (solved + solved[list(IBUG_MIRROR)] * MIRROR)


def snap_into_mask(texels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Move any ``(col, row)`` texel coordinate outside ``mask`` to the nearest face texel."""
    _, (rows, cols) = ndimage.distance_transform_edt(~mask, return_indices=True)
    out = texels.copy()
    for i, (col, row) in enumerate(texels):
        r, c = round(row), round(col)
        r, c = min(max(r, 0), UV_HEIGHT - 1), min(max(c, 0), UV_WIDTH - 1)
        if not mask[r, c]:
            out[i] = (cols[r, c], rows[r, c])
    return out


def mirror_consistent(texels: np.ndarray) -> np.ndarray:
    """Make ``(68, 2)`` ``(col, row)`` landmark texels exactly mirror-symmetric.

    The subject's-right member of each pair is kept and its partner set to its
    mirror image; midline points move onto the centre line.
    """
    out = texels.copy()
    for i, j in enumerate(IBUG_MIRROR):
        if i == j:
            out[i, 0] = (UV_WIDTH - 1) / 2
        elif i < j:
            out[j] = (UV_WIDTH - 1 - texels[i, 0], texels[i, 1])
    return out


def part_box(texels: np.ndarray, centred: bool) -> UVBox:
    """Box around ``(K, 2)`` ``(col, row)`` points, sides rounded up to multiples of 8.

    ``centred`` boxes are placed symmetrically about the UV centre line.
    """
    m = PART_SIZE_MULTIPLE
    lo = texels.min(axis=0) - PART_MARGIN
    hi = texels.max(axis=0) + PART_MARGIN
    if centred:
        half = max(UV_WIDTH / 2 - lo[0], hi[0] + 1 - UV_WIDTH / 2)
        width = int(np.ceil(2 * half / m) * m)
        left = (UV_WIDTH - width) // 2
    else:
        width = int(np.ceil((hi[0] - lo[0] + 1) / m) * m)
        left = round((lo[0] + hi[0] + 1) / 2 - width / 2)
    height = int(np.ceil((hi[1] - lo[1] + 1) / m) * m)
    top = round((lo[1] + hi[1] + 1) / 2 - height / 2)
    top = min(max(top, 0), UV_HEIGHT - height)
    left = min(max(left, 0), UV_WIDTH - width)
    return UVBox(top=top, left=left, height=height, width=width)


def part_boxes(landmark_texels: np.ndarray) -> dict[str, UVBox]:
    """The four local-pathway boxes; the right eye is the mirror of the left."""
    left_eye = part_box(landmark_texels[list(IBUG_LEFT_EYE + IBUG_LEFT_BROW)], centred=False)
    boxes = {
        "left_eye": left_eye,
        "right_eye": left_eye.mirrored(),
        "nose": part_box(landmark_texels[list(IBUG_NOSE)], centred=True),
        "mouth": part_box(landmark_texels[list(IBUG_MOUTH)], centred=True),
    }
    return {name: boxes[name] for name in PART_NAMES}
