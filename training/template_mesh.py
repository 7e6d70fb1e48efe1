"""Step 3 of the template build: the render mesh on a texel grid, its outline made smooth.

One vertex every ``stride`` texels inside the face mask, two triangles per grid cell whose
corners are all on the face (one for three); the vertices on the mesh's outline then move
onto the level set of the smoothed mask, so the outline is a smooth curve, not a staircase,
and every vertex's bilinear footprint stays on face texels (:func:`pull_onto_face`).
"""


from __future__ import annotations

import numpy as np
from scipy import ndimage

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH


def grid_mesh(mask: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Render mesh on a texel grid of the given stride.

    Returns:
        ``(V, 2)`` int32 ``(row, col)`` vertex texels and ``(T, 3)`` int32
        triangles: two per grid cell whose four corners are on the face, one per cell
        with three, wound so that normals point out of the face (u grows with +x, v with -y).
    """
    rows = np.arange(0, UV_HEIGHT, stride)
    cols = np.arange(0, UV_WIDTH, stride)
    on_grid = mask[np.ix_(rows, cols)]
    index = np.full(on_grid.shape, -1, dtype=np.int64)
    index[on_grid] = np.arange(on_grid.sum())
    gr, gc = np.nonzero(on_grid)
    texels = np.stack([rows[gr], cols[gc]], axis=-1).astype(np.int32)
    tl, tr = index[:-1, :-1], index[:-1, 1:]
    bl, br = index[1:, :-1], index[1:, 1:]
    full = (tl >= 0) & (tr >= 0) & (bl >= 0) & (br >= 0)
    corners = (tl >= 0).astype(int) + (tr >= 0) + (bl >= 0) + (br >= 0)
    half = corners == 3  # three corners on the face: the one triangle they make (a 45-degree edge)
    triangles = np.concatenate([
        np.stack([tl[full], bl[full], tr[full]], axis=-1),
        np.stack([tr[full], bl[full], br[full]], axis=-1),
        *(np.stack([a[cut], b[cut], c[cut]], axis=-1)
          for a, b, c, cut in ((tl, bl, tr, half & (br < 0)), (tr, bl, br, half & (tl < 0)),
                               (tl, bl, br, half & (tr < 0)), (tl, br, tr, half & (bl < 0)))),
    ]).astype(np.int32)
    return texels, triangles


OUTLINE_SIGMA = 1.5
"""Texels: the Gaussian that smooths the face mask into the field whose level set is the outline."""
OUTLINE_LEVEL = 0.8
"""Level of the smoothed mask the outline follows: about a texel inside the mask's edge, so that
the bilinear footprint of every outline vertex (and texture fetches there) stays on face texels."""


def boundary_vertices(triangles: np.ndarray, vertex_count: int) -> np.ndarray:
    """``(V,)`` bool: vertices on an edge that only one triangle uses (the mesh's outline)."""
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    edges = np.sort(edges, axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    on_outline = np.zeros(vertex_count, dtype=bool)
    on_outline[unique[counts == 1].ravel()] = True
    return on_outline


def snap_outline(texels: np.ndarray, triangles: np.ndarray, mask: np.ndarray, stride: int) -> np.ndarray:
    """Move the grid mesh's outline vertices onto the mask's smooth contour (no staircase).

    The contour is the :data:`OUTLINE_LEVEL` level set of the mask blurred by a Gaussian of
    :data:`OUTLINE_SIGMA` texels; each outline vertex takes Newton steps along the field's
    gradient onto it (at most ``stride`` texels in all). A move that would fold a triangle in UV
    (flip it or shrink it below a tenth of its area) is undone, and a vertex whose bilinear
    footprint would read an off-face texel is pulled back until it does not.

    Args:
        texels: ``(V, 2)`` int ``(row, col)`` grid vertices.
        triangles: ``(T, 3)`` the grid mesh's triangles.
        mask: ``(192, 224)`` bool face mask.
        stride: the grid's spacing in texels.

    Returns:
        ``(V, 2)`` float64 ``(row, col)`` vertex positions; inside vertices stay on their texel centres.
    """
    field = ndimage.gaussian_filter(mask.astype(np.float64), OUTLINE_SIGMA, mode="constant")
    gradient = np.stack(np.gradient(field), axis=0)  # (2, H, W): d/drow, d/dcol
    positions = texels.astype(np.float64)
    outline = np.nonzero(boundary_vertices(triangles, len(texels)))[0]
    start = positions[outline].copy()
    points = start.copy()
    for _ in range(10):
        value = ndimage.map_coordinates(field, points.T, order=1, mode="nearest")
        slope = np.stack([ndimage.map_coordinates(g, points.T, order=1, mode="nearest") for g in gradient], 1)
        step = ((value - OUTLINE_LEVEL) / np.maximum((slope**2).sum(axis=1), 1e-12))[:, None] * slope
        points = points - step
        offset = points - start
        length = np.linalg.norm(offset, axis=1, keepdims=True)
        points = start + offset * np.minimum(1.0, stride / np.maximum(length, 1e-12))
    positions[outline] = points

    def signed_areas(where: np.ndarray) -> np.ndarray:
        a, b, c = (where[triangles[:, i]] for i in range(3))
        e1, e2 = b - a, c - a
        return e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]

    before = signed_areas(texels.astype(np.float64))
    for _ in range(len(outline)):
        folded = signed_areas(positions) / before < 0.1
        if not folded.any():
            break
        undo = np.intersect1d(np.unique(triangles[folded]), outline)
        positions[undo] = texels[undo]
    return pull_onto_face(positions, texels.astype(np.float64), mask)


def footprint_on_face(points: np.ndarray, mask: np.ndarray, tolerance: float = 1e-3) -> np.ndarray:
    """``(N,)`` bool: every texel with a bilinear weight at ``(N, 2)`` ``(row, col)`` is on the face.

    Weights below ``tolerance`` (float32 rounding of the stored UVs) do not count.
    """
    low = np.floor(points).astype(np.int64)
    fraction = points - low
    inside = np.ones(len(points), dtype=bool)
    for d_row in (0, 1):
        for d_col in (0, 1):
            row_weight = fraction[:, 0] if d_row else 1.0 - fraction[:, 0]
            col_weight = fraction[:, 1] if d_col else 1.0 - fraction[:, 1]
            used = (row_weight > tolerance) & (col_weight > tolerance)
            rows = np.clip(low[:, 0] + d_row, 0, mask.shape[0] - 1)
            cols = np.clip(low[:, 1] + d_col, 0, mask.shape[1] - 1)
            inside &= ~used | mask[rows, cols]
    return inside


def pull_onto_face(positions: np.ndarray, texels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Move any vertex whose bilinear footprint leaves the face back towards its texel (bisection)."""
    positions = positions.copy()
    off = np.nonzero(~footprint_on_face(positions, mask, tolerance=1e-6))[0]
    low, high = np.zeros(len(off)), np.ones(len(off))
    for _ in range(20):
        middle = (low + high) / 2
        candidate = texels[off] + middle[:, None] * (positions[off] - texels[off])
        good = footprint_on_face(candidate, mask, tolerance=1e-6)
        low, high = np.where(good, middle, low), np.where(good, high, middle)
    positions[off] = texels[off] + low[:, None] * (positions[off] - texels[off])
    return positions
