"""Build the face template (``resources/template.npz``) from the annotated training photos.

Steps (DESIGN §3):

1. Face Mesh vertices of every train-split photo (cached by
   :mod:`facecraft.training.mesh_cache`) are aligned by generalised Procrustes
   and averaged; the mean is put in the canonical frame and made exactly
   mirror-symmetric using the vertex mirror pairing found on the mean itself.
2. A cylindrical unwrap of the mean (azimuth -> u, height -> v) defines the
   192x224 UV layout; the mean shape is interpolated into a UV position map and
   the face mask is the union of the mesh triangles in UV, holes filled.
3. The render mesh has one vertex every ``stride`` texels inside the mask and two
   triangles per grid cell whose corners are all on the face; the vertices on its outline
   are then moved onto the mask's smooth contour, so the outline is smooth, not a staircase.
4. The 68 iBUG landmarks are placed in 3D by least squares against the annotated
   points of every photo (each photo's pose from Procrustes against the mean),
   then unwrapped into UV; the four part boxes surround them.

    python -m facecraft.training.build_template     # writes resources/template.npz and .png
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from scipy import interpolate, ndimage
from scipy.optimize import linear_sum_assignment

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH, texel_centres_uv, texel_to_uv, uv_to_texel
from facecraft.core.face.landmark_indices import (
    IBUG_LEFT_BROW,
    IBUG_LEFT_EYE,
    IBUG_MIRROR,
    IBUG_MOUTH,
    IBUG_NOSE,
    MEDIAPIPE_MESH_COUNT,
    MP_CHIN,
    MP_FOREHEAD_TOP,
    MP_LEFT_EYE_OUTER,
    MP_RIGHT_EYE_OUTER,
)
from facecraft.core.face.template import (
    PART_NAMES,
    PART_SIZE_MULTIPLE,
    TEMPLATE_FILE,
    CylindricalUV,
    FaceTemplate,
    UVBox,
    save_template,
)
from facecraft.core.mesh_fit import similarity
from facecraft.core.resources import resource_path
from facecraft.training.faces_data import DEFAULT_CACHE_DIR, DEFAULT_DATA_DIR
from facecraft.training.mesh_cache import load_or_build

UV_FILL = 0.94
"""Fraction of the UV width and height the face spans."""
PART_MARGIN = 3.0
"""Texels added around the landmarks of a part before rounding the box up."""
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


# --- UV layout ---------------------------------------------------------------------------------


def fit_cylinder(points: np.ndarray, fill: float = UV_FILL) -> CylindricalUV:
    """The cylindrical unwrap for the mean face: the axis at the depth of the face's sides."""
    lateral = np.abs(points[:, 0]) >= np.quantile(np.abs(points[:, 0]), 0.9)
    axis_z = float(points[lateral, 2].mean())
    theta = np.arctan2(points[:, 0], points[:, 2] - axis_z)
    top, bottom = points[:, 1].max(), points[:, 1].min()
    return CylindricalUV(
        axis_z=axis_z,
        theta_max=float(np.abs(theta).max()),
        y_centre=float((top + bottom) / 2),
        y_span=float(top - bottom),
        fill=fill,
    )


def interpolate_surface(points: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """``(192, 224, 3)`` piecewise-cubic (Clough-Tocher) interpolation of the mean face at texel centres.

    NaN outside the convex hull of the vertices' UV positions.
    """
    centres = texel_centres_uv()
    return np.stack([
        interpolate.CloughTocher2DInterpolator(uv, points[:, axis])(centres[..., 0], centres[..., 1])
        for axis in range(3)
    ], axis=-1)


def rasterise_mask(uv: np.ndarray, triangles: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(192, 224)`` bool face mask, mirror-symmetric.

    The texels covered by the UV triangles, holes (eyes, mouth) filled, kept only
    where ``valid`` (the interpolated surface exists) and where the mirrored texel is too.
    """
    shift = 4  # sub-texel precision of cv2.fillPoly
    fixed = np.round(uv_to_texel(uv) * (1 << shift)).astype(np.int32)
    canvas = np.zeros((UV_HEIGHT, UV_WIDTH), np.uint8)
    for triangle in triangles:
        cv2.fillPoly(canvas, [fixed[triangle]], 1, lineType=cv2.LINE_8, shift=shift)
    mask = ndimage.binary_fill_holes(canvas.astype(bool)) & valid
    return mask & mask[:, ::-1]


def position_map(surface: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(192, 224, 3)`` float32 position map from an interpolated surface.

    Inside ``mask`` the surface itself; outside, every texel takes the value of
    the nearest face texel. The result is made exactly mirror-symmetric.
    """
    _, (rows, cols) = ndimage.distance_transform_edt(~mask, return_indices=True)
    filled = surface[rows, cols]
    filled = 0.5 * (filled + filled[:, ::-1] * MIRROR)
    return filled.astype(np.float32)


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


# --- landmarks and parts ----------------------------------------------------------------------


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


# --- the whole build -------------------------------------------------------------------------


def build(meshes: np.ndarray, annotations: np.ndarray, stride: int = 2) -> FaceTemplate:
    """Build the template from train-split Face Mesh vertices and their annotations.

    Args:
        meshes: ``(N, 478, 3)`` Face Mesh vertices in image pixels.
        annotations: ``(N, 68, 2)`` annotated iBUG points in image pixels.
        stride: texel spacing of the render-mesh grid.
    """
    face_meshes = meshes[:, :MEDIAPIPE_MESH_COUNT]
    mean, pairing = canonical_mean_face(face_meshes)
    triangles = tessellation_triangles(mean)
    cylinder = fit_cylinder(mean)
    uv = cylinder.to_uv(mean)
    surface = interpolate_surface(mean, uv)
    mask = rasterise_mask(uv, triangles, valid=np.isfinite(surface).all(axis=-1))
    shape_uv = position_map(surface, mask)
    texels, mesh_triangles = grid_mesh(mask, stride)
    positions = snap_outline(texels, mesh_triangles, mask, stride)

    landmarks = fit_landmarks_3d(mean, face_meshes, annotations)
    landmark_uv = cylinder.to_uv(landmarks)
    landmark_texels = mirror_consistent(snap_into_mask(uv_to_texel(landmark_uv), mask))
    landmark_uv = texel_to_uv(landmark_texels)
    vertex_uv = texel_to_uv(positions[:, ::-1])  # (row, col) -> (col, row) -> (u, v)
    return FaceTemplate(
        mean_shape_uv=shape_uv,
        mask=mask,
        vertex_texels=texels,
        vertex_uv=vertex_uv.astype(np.float32),
        triangles=mesh_triangles,
        landmark_uv=landmark_uv.astype(np.float32),
        landmark_points=landmarks.astype(np.float32),
        part_boxes=part_boxes(landmark_texels),
        mesh_vertices=mean.astype(np.float32),
        mesh_triangles=triangles,
        mesh_mirror=pairing.astype(np.int32),
        cylinder=cylinder,
        mesh_stride=stride,
    )


def main(argv: list[str] | None = None) -> int:
    from facecraft.training.template_figure import save_template_figure

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="training data folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE_DIR, help="cache folder")
    parser.add_argument("--out", type=Path, default=resource_path(TEMPLATE_FILE), help="template file")
    parser.add_argument("--stride", type=int, default=2, help="render-mesh grid spacing in texels")
    args = parser.parse_args(argv)
    train = load_or_build(args.cache, args.data).select("train")
    template = build(train.meshes, train.annotations, args.stride)
    save_template(template, args.out)
    figure = args.out.with_suffix(".png")
    save_template_figure(template, figure)
    summary = {
        "photos": len(train.relpaths),
        "render_mesh_vertices": template.vertex_count,
        "render_mesh_triangles": template.triangle_count,
        "mask_texels": int(template.mask.sum()),
        "face_mesh_triangles": int(template.mesh_triangles.shape[0]),
        "part_boxes": {n: b.__dict__ for n, b in template.part_boxes.items()},
    }
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out} and {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

