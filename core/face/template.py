"""The face template: mean shape in UV, face mask, render mesh, landmarks and part boxes.

Built from the training photos by :mod:`facecraft.training.build_template` and
shipped as ``resources/template.npz``; :func:`load_template` returns it as a
frozen :class:`FaceTemplate`. Frames and UV conventions are those of
:mod:`facecraft.core.conventions`.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH, uv_to_texel
from facecraft.core.errors import ResourceError
from facecraft.core.face.landmark_indices import IBUG_COUNT, MEDIAPIPE_MESH_COUNT
from facecraft.core.resources import resource_path

TEMPLATE_FILE = "template.npz"
TEMPLATE_VERSION = 1

PART_NAMES = ("left_eye", "right_eye", "nose", "mouth")
"""The local-pathway parts, in the order the decoders use them (subject's left/right)."""

PART_SIZE_MULTIPLE = 8
"""Part boxes have sides divisible by this: the local pathway starts at h/8 x w/8."""


@dataclass(frozen=True)
class UVBox:
    """An axis-aligned box of texels: rows ``top:top+height``, columns ``left:left+width``."""

    top: int
    left: int
    height: int
    width: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices that cut the box out of a ``(H, W, ...)`` UV map."""
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)

    def mirrored(self, uv_width: int = UV_WIDTH) -> UVBox:
        """The box reflected by the UV layout's left-right mirror."""
        return UVBox(self.top, uv_width - self.left - self.width, self.height, self.width)

    def contains(self, col: float, row: float) -> bool:
        """True when the texel coordinate ``(col, row)`` lies inside the box."""
        return (self.left - 0.5 <= col <= self.left + self.width - 0.5
                and self.top - 0.5 <= row <= self.top + self.height - 0.5)


@dataclass(frozen=True)
class CylindricalUV:
    """The cylindrical unwrap that defines the UV layout.

    A canonical point ``(X, Y, Z)`` has azimuth ``theta = atan2(X, Z - axis_z)``
    around the vertical axis through ``(0, *, axis_z)``;
    ``u = 0.5 + theta / (2 * theta_max) * fill`` and
    ``v = 0.5 + (y_centre - Y) / (y_span) * fill``. ``theta -> -theta`` maps
    ``u -> 1 - u``, which is what makes the layout mirror-symmetric.
    """

    axis_z: float
    theta_max: float
    y_centre: float
    y_span: float
    fill: float

    def to_uv(self, points: np.ndarray) -> np.ndarray:
        """``(..., 3)`` canonical points to ``(..., 2)`` UV coordinates."""
        points = np.asarray(points, dtype=np.float64)
        theta = np.arctan2(points[..., 0], points[..., 2] - self.axis_z)
        u = 0.5 + theta / (2.0 * self.theta_max) * self.fill
        v = 0.5 + (self.y_centre - points[..., 1]) / self.y_span * self.fill
        return np.stack([u, v], axis=-1)


@dataclass(frozen=True)
class VertexSampling:
    """How each render-mesh vertex reads a UV map: a weighted sum of up to four face texels.

    Attributes:
        texels: ``(V, 4)`` int64 flat texel indices ``row * 224 + col`` (the bilinear footprint).
        weights: ``(V, 4)`` float32, each row summing to 1; 0 for footprint texels off the face.
            A vertex on a texel centre has weight 1 on that texel and 0 elsewhere.
    """

    texels: np.ndarray
    weights: np.ndarray


def vertex_sampling(vertex_uv: np.ndarray, vertex_texels: np.ndarray, mask: np.ndarray) -> VertexSampling:
    """The masked bilinear footprint of every vertex (see :class:`VertexSampling`).

    Args:
        vertex_uv: ``(V, 2)`` ``(u, v)`` of the vertices.
        vertex_texels: ``(V, 2)`` ``(row, col)`` face texel of each vertex: the fallback where no
            footprint texel is on the face.
        mask: ``(192, 224)`` bool face mask.
    """
    position = uv_to_texel(np.asarray(vertex_uv, dtype=np.float64))  # (V, 2) (col, row), centres at integers
    nearest = np.round(position)
    position = np.where(np.abs(position - nearest) < 1e-4, nearest, position)  # float32 UVs of centres
    low = np.floor(position).astype(np.int64)
    frac = position - low
    cols = np.clip(np.stack([low[:, 0], low[:, 0] + 1, low[:, 0], low[:, 0] + 1], axis=1), 0, UV_WIDTH - 1)
    rows = np.clip(np.stack([low[:, 1], low[:, 1], low[:, 1] + 1, low[:, 1] + 1], axis=1), 0, UV_HEIGHT - 1)
    fc, fr = frac[:, :1], frac[:, 1:]
    weights = np.concatenate([(1 - fc) * (1 - fr), fc * (1 - fr), (1 - fc) * fr, fc * fr], axis=1)
    weights = np.where(mask[rows, cols], weights, 0.0)
    total = weights.sum(axis=1, keepdims=True)
    texels = rows * UV_WIDTH + cols
    lost = total[:, 0] <= 1e-9
    texels[lost] = (vertex_texels[lost, 0] * UV_WIDTH + vertex_texels[lost, 1])[:, None]
    weights[lost] = [1.0, 0.0, 0.0, 0.0]
    total[lost] = 1.0
    return VertexSampling(texels, (weights / total).astype(np.float32))


@dataclass(frozen=True)
class FaceTemplate:
    """Everything fixed about the face model's UV space.

    Attributes:
        mean_shape_uv: ``(192, 224, 3)`` float32 position map of the mean face in
            the canonical frame (outside the mask: nearest face value).
        mask: ``(192, 224)`` bool, texels on the face; mirror-symmetric.
        vertex_texels: ``(V, 2)`` int32 ``(row, col)`` of the face texel at (or nearest to) each
            render-mesh vertex.
        vertex_uv: ``(V, 2)`` float32 ``(u, v)`` of each render-mesh vertex: a texel centre inside
            the face; on the outline, a point of the mask's smooth contour between texel centres
            (so the mesh's outline is smooth, not a staircase). Read maps at the vertices with
            :meth:`FaceTemplate.sample_vertices` (or :attr:`FaceTemplate.vertex_sampling`).
        triangles: ``(T, 3)`` int32 vertex indices, counter-clockwise seen from
            outside the face (normals point out).
        landmark_uv: ``(68, 2)`` float32 ``(u, v)`` of the iBUG landmarks.
        landmark_points: ``(68, 3)`` float32 landmark positions on the mean face.
        part_boxes: the four local-pathway boxes, keyed by :data:`PART_NAMES`.
        mesh_vertices: ``(468, 3)`` float32 mean Face Mesh vertices (canonical frame).
        mesh_triangles: ``(F, 3)`` int32 Face Mesh triangles.
        mesh_mirror: ``(468,)`` int32, the Face Mesh vertex each one mirrors to.
        cylinder: the unwrap that defines the layout.
        mesh_stride: spacing, in texels, of the render-mesh grid.
    """

    mean_shape_uv: np.ndarray
    mask: np.ndarray
    vertex_texels: np.ndarray
    vertex_uv: np.ndarray
    triangles: np.ndarray
    landmark_uv: np.ndarray
    landmark_points: np.ndarray
    part_boxes: dict[str, UVBox]
    mesh_vertices: np.ndarray
    mesh_triangles: np.ndarray
    mesh_mirror: np.ndarray
    cylinder: CylindricalUV
    mesh_stride: int

    @property
    def vertex_count(self) -> int:
        """Vertices of the render mesh."""
        return int(self.vertex_texels.shape[0])

    @property
    def triangle_count(self) -> int:
        """Triangles of the render mesh."""
        return int(self.triangles.shape[0])

    @cached_property
    def vertex_sampling(self) -> VertexSampling:
        """How each render-mesh vertex reads a UV map (computed once)."""
        return vertex_sampling(self.vertex_uv, self.vertex_texels, self.mask)

    def sample_vertices(self, uv_map: np.ndarray) -> np.ndarray:
        """``(V, C)`` values of a ``(192, 224, C)`` UV map at the render-mesh vertices, in its dtype.

        Exactly the texel's value at a vertex on a texel centre; the bilinear blend of the face
        texels around an outline vertex.
        """
        sampling = self.vertex_sampling
        flat = np.asarray(uv_map).reshape(UV_HEIGHT * UV_WIDTH, -1)
        weights = sampling.weights.astype(flat.dtype, copy=False)
        return np.einsum("vkc,vk->vc", flat[sampling.texels], weights)

    def mean_vertices(self) -> np.ndarray:
        """``(V, 3)`` render-mesh vertices of the mean face (read from :attr:`mean_shape_uv`)."""
        return self.sample_vertices(self.mean_shape_uv)

    def landmark_texels(self) -> np.ndarray:
        """``(68, 2)`` continuous ``(col, row)`` texel coordinates of the landmarks."""
        return uv_to_texel(self.landmark_uv)


_ARRAY_SPECS: dict[str, tuple[tuple[int | None, ...], str]] = {
    "mean_shape_uv": ((UV_HEIGHT, UV_WIDTH, 3), "f"),
    "mask": ((UV_HEIGHT, UV_WIDTH), "b"),
    "vertex_texels": ((None, 2), "i"),
    "vertex_uv": ((None, 2), "f"),
    "triangles": ((None, 3), "i"),
    "landmark_uv": ((IBUG_COUNT, 2), "f"),
    "landmark_points": ((IBUG_COUNT, 3), "f"),
    "mesh_vertices": ((MEDIAPIPE_MESH_COUNT, 3), "f"),
    "mesh_triangles": ((None, 3), "i"),
    "mesh_mirror": ((MEDIAPIPE_MESH_COUNT,), "i"),
}


def save_template(template: FaceTemplate, path: str | Path) -> None:
    """Write ``template`` to an ``.npz`` file atomically (no pickled objects)."""
    path = Path(path)
    arrays = {name: getattr(template, name) for name in _ARRAY_SPECS}
    arrays["part_names"] = np.array(PART_NAMES)
    arrays["part_boxes"] = np.array(
        [[b.top, b.left, b.height, b.width] for b in (template.part_boxes[n] for n in PART_NAMES)],
        dtype=np.int32,
    )
    c = template.cylinder
    arrays["cylinder"] = np.array([c.axis_z, c.theta_max, c.y_centre, c.y_span, c.fill])
    arrays["mesh_stride"] = np.int32(template.mesh_stride)
    arrays["version"] = np.int32(TEMPLATE_VERSION)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_template(path: str | Path | None = None) -> FaceTemplate:
    """Read and validate the face template (default: the shipped one).

    Raises:
        ResourceError: the file is missing, corrupt, of another version, or
            any array has the wrong shape or type.
    """
    path = resource_path(TEMPLATE_FILE) if path is None else Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.array(data[name]) for name in data.files}
    except FileNotFoundError as exc:
        raise ResourceError(
            f"{path}: the face template is missing; rebuild it with "
            "`python -m facecraft.training.build_template`"
        ) from exc
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ResourceError(f"{path}: the face template is unreadable ({exc})") from exc
    try:
        return _from_arrays(arrays)
    except (KeyError, ValueError, TypeError) as exc:
        raise ResourceError(f"{path}: not a valid FaceCraft face template ({exc})") from exc


def _from_arrays(arrays: dict[str, np.ndarray]) -> FaceTemplate:
    version = int(arrays["version"])
    if version != TEMPLATE_VERSION:
        raise ValueError(f"version {version}, expected {TEMPLATE_VERSION}")
    checked = {}
    for name, (shape, kind) in _ARRAY_SPECS.items():
        array = arrays[name]
        matches = array.ndim == len(shape) and all(
            e is None or a == e for a, e in zip(array.shape, shape, strict=True)
        )
        if not matches:
            raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
        if array.dtype.kind != kind:
            raise ValueError(f"{name} has dtype {array.dtype}, expected kind {kind!r}")
        if kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or infinity")
        checked[name] = array
    vertex_count = checked["vertex_texels"].shape[0]
    triangles = checked["triangles"]
    if triangles.size and (triangles.min() < 0 or triangles.max() >= vertex_count):
        raise ValueError("triangles index vertices that do not exist")
    names = tuple(str(n) for n in arrays["part_names"])
    if names != PART_NAMES:
        raise ValueError(f"part names {names}, expected {PART_NAMES}")
    boxes = arrays["part_boxes"]
    if boxes.shape != (len(PART_NAMES), 4):
        raise ValueError(f"part_boxes has shape {boxes.shape}, expected (4, 4)")
    cylinder = arrays["cylinder"]
    if cylinder.shape != (5,):
        raise ValueError(f"cylinder has shape {cylinder.shape}, expected (5,)")
    return FaceTemplate(
        **checked,
        part_boxes={n: UVBox(*(int(v) for v in b)) for n, b in zip(PART_NAMES, boxes, strict=True)},
        cylinder=CylindricalUV(*(float(v) for v in cylinder)),
        mesh_stride=int(arrays["mesh_stride"]),
    )

