"""Build the face template (``resources/template.npz``) from the annotated training photos.

Steps (DESIGN §3):

1. Face Mesh vertices of every train-split photo (cached by
   :mod:`facecraft.training.mesh_cache`) are aligned by generalised Procrustes
   and averaged; the mean is put in the canonical frame and made exactly
   mirror-symmetric using the vertex mirror pairing found on the mean itself
   (:mod:`facecraft.training.template_mean`).
2. A cylindrical unwrap of the mean (azimuth -> u, height -> v) defines the
   192x224 UV layout; the mean shape is interpolated into a UV position map and
   the face mask is the union of the mesh triangles in UV, holes filled (here).
3. The render mesh has one vertex every ``stride`` texels inside the mask and two
   triangles per grid cell whose corners are all on the face; the vertices on its outline
   are then moved onto the mask's smooth contour, so the outline is smooth, not a staircase
   (:mod:`facecraft.training.template_mesh`).
4. The 68 iBUG landmarks are placed in 3D by least squares against the annotated
   points of every photo (each photo's pose from Procrustes against the mean),
   then unwrapped into UV; the four part boxes surround them
   (:mod:`facecraft.training.template_landmarks`).

    python -m facecraft.training.build_template     # writes resources/template.npz and .png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from scipy import interpolate, ndimage

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH, texel_centres_uv, texel_to_uv, uv_to_texel
from facecraft.core.face.landmark_indices import (
    MEDIAPIPE_MESH_COUNT,
)
from facecraft.core.face.template import (
    TEMPLATE_FILE,
    CylindricalUV,
    FaceTemplate,
    save_template,
)
from facecraft.core.resources import resource_path
from facecraft.training.faces_data import DEFAULT_CACHE_DIR, DEFAULT_DATA_DIR
from facecraft.training.mesh_cache import load_or_build
from facecraft.training.template_landmarks import (
    fit_landmarks_3d,
    mirror_consistent,
    part_boxes,
    snap_into_mask,
)
from facecraft.training.template_mean import MIRROR, canonical_mean_face, tessellation_triangles
from facecraft.training.template_mesh import grid_mesh, snap_outline

UV_FILL = 0.94
"""Fraction of the UV width and height the face spans."""
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

