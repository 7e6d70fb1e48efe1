"""Writing meshes: textured OBJ (with its material and texture) and binary PLY.

Every writer encodes its whole output in memory first and then writes it with
:func:`facecraft.core.io.atomic.write_files_together`, so a file is either its old
self or completely new, and :func:`write_textured_obj`'s three files (``.obj``, ``.mtl``,
texture ``.png``) appear together or not at all. Every
failure raises :class:`~facecraft.core.errors.ExportError` with a message naming
the file and the reason.

Meshes are written with the usual convention of OBJ and PLY files: triangles
are counter-clockwise seen from outside (their normals point out).
:func:`outward_winding` puts a face mesh in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecraft.core.errors import ExportError
from facecraft.core.io.atomic import write_files_together
from facecraft.core.io.image_write import encode_image

MATERIAL_NAME = "albedo"
"""Name of the one material in the ``.mtl`` file that :func:`write_textured_obj` writes."""

TEXTURE_SUFFIX = "_albedo.png"
"""Ending of the texture file written beside an ``.obj``: ``<stem>_albedo.png``."""


@dataclass(frozen=True)
class MeshFiles:
    """The files of one textured mesh, side by side in one folder.

    Attributes:
        obj: the ``.obj`` geometry; it names the material library by relative name.
        mtl: the ``.mtl`` material library; it names the texture by relative name.
        texture: the ``.png`` albedo texture.
    """

    obj: Path
    mtl: Path
    texture: Path


def write_textured_obj(
    obj_path: str | Path,
    vertices: np.ndarray,
    triangles: np.ndarray,
    uv: np.ndarray,
    texture: np.ndarray,
    normals: np.ndarray | None = None,
) -> MeshFiles:
    """Write a textured mesh as ``<stem>.obj``, ``<stem>.mtl`` and ``<stem>_albedo.png`` in one folder.

    The ``.obj`` names the ``.mtl`` and the ``.mtl`` names the texture by file name
    only, so the folder can be moved. Whitespace in the stem (which OBJ readers
    split on) is replaced by ``_`` in the names of the ``.mtl`` and the texture.
    The three files are written together: when one cannot be written, none of
    the new files is left behind (a file it replaced is not restored in the rare
    case that the final renames fail half way).

    Args:
        obj_path: the ``.obj`` file; its folder is created when missing.
        vertices: ``(V, 3)`` float positions.
        triangles: ``(F, 3)`` int 0-based vertex indices, counter-clockwise seen
            from outside (see :func:`outward_winding`).
        uv: ``(V, 2)`` float ``(u, v)`` texture coordinates in [0, 1], ``v``
            growing *down* the texture (row 0 is ``v = 0``); written as OBJ's
            bottom-up ``(u, 1 - v)``.
        texture: ``(H, W, 3)`` or ``(H, W, 4)`` uint8 RGB(A) image.
        normals: ``(V, 3)`` float vertex normals written as ``vn`` (e.g. from
            :func:`mesh_normals`), or None for none.

    Returns:
        The paths of the three files.

    Raises:
        ExportError: the path does not end in ``.obj``, an array has the wrong
            shape, type or values, or a file cannot be written.
    """
    obj_path = Path(obj_path)
    vertices, triangles = _checked_mesh(
        obj_path, ".obj", "a textured mesh must be saved as an .obj file", vertices, triangles
    )
    uv = _checked_floats(obj_path, "uv", uv, 2, rows=len(vertices))
    if normals is not None:
        normals = _checked_floats(obj_path, "normals", normals, 3, rows=len(vertices))
    texture = np.asarray(texture)
    if texture.dtype != np.uint8 or texture.ndim != 3 or texture.shape[2] not in (3, 4):
        raise ExportError(
            f"{obj_path}: the texture must be (H, W, 3) or (H, W, 4) uint8, "
            f"got {texture.shape} {texture.dtype}"
        )

    stem = "_".join(obj_path.stem.split()) or "mesh"
    files = MeshFiles(
        obj=obj_path,
        mtl=obj_path.with_name(f"{stem}.mtl"),
        texture=obj_path.with_name(f"{stem}{TEXTURE_SUFFIX}"),
    )
    contents = {
        files.obj: _obj_text(files.mtl.name, vertices, triangles, uv, normals).encode("utf-8"),
        files.mtl: _mtl_text(files.texture.name).encode("utf-8"),
        files.texture: encode_image(files.texture, texture, quality=95),
    }
    write_files_together(contents)
    return files


def write_ply(
    path: str | Path, vertices: np.ndarray, triangles: np.ndarray, colours: np.ndarray | None = None
) -> None:
    """Write a mesh as a binary little-endian PLY file.

    Vertices are ``float x, y, z`` (plus ``uchar red, green, blue`` with colours);
    faces are ``list uchar int vertex_indices``.

    Args:
        path: the destination, ending in ``.ply``; its folder is created when missing.
        vertices: ``(V, 3)`` float positions (stored as float32).
        triangles: ``(F, 3)`` int 0-based vertex indices, counter-clockwise seen
            from outside (see :func:`outward_winding`).
        colours: ``(V, 3)`` uint8 RGB vertex colours, or None for none.

    Raises:
        ExportError: the path does not end in ``.ply``, an array has the wrong
            shape, type or values, or the file cannot be written.
    """
    path = Path(path)
    vertices, triangles = _checked_mesh(
        path, ".ply", "a PLY mesh must be saved as a .ply file", vertices, triangles
    )
    columns = {name: vertices[:, axis].astype("<f4") for axis, name in enumerate("xyz")}
    if colours is not None:
        colours = np.asarray(colours)
        if colours.dtype != np.uint8 or colours.shape != (len(vertices), 3):
            raise ExportError(
                f"{path}: colours must be ({len(vertices)}, 3) uint8, got {colours.shape} {colours.dtype}"
            )
        columns |= {name: colours[:, channel] for channel, name in enumerate(("red", "green", "blue"))}

    vertex_records = np.empty(len(vertices), dtype=[(name, column.dtype) for name, column in columns.items()])
    for name, column in columns.items():
        vertex_records[name] = column
    face_records = np.empty(len(triangles), dtype=[("count", "u1"), ("indices", "<i4", (3,))])
    face_records["count"] = 3
    face_records["indices"] = triangles

    properties = "".join(
        f"property {'float' if column.dtype.kind == 'f' else 'uchar'} {name}\n"
        for name, column in columns.items()
    )
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment written by FaceCraft\n"
        f"element vertex {len(vertices)}\n{properties}"
        f"element face {len(triangles)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    write_files_together({path: header.encode("ascii") + vertex_records.tobytes() + face_records.tobytes()})


def mesh_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals.

    Each vertex gets the sum of the (area-scaled) normals of the triangles that
    use it, normalised; the normals point out when the triangles are
    counter-clockwise seen from outside.

    Args:
        vertices: ``(V, 3)`` float positions.
        triangles: ``(F, 3)`` int 0-based vertex indices.

    Returns:
        ``(V, 3)`` float64 unit normals; ``(0, 0, 0)`` for a vertex that no
        triangle of non-zero area uses.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    triangles = np.asarray(triangles, dtype=np.intp)
    face_normals = _face_normals(vertices, triangles)
    summed = np.empty_like(vertices)
    corners = triangles.ravel()
    for axis in range(3):
        weights = np.repeat(face_normals[:, axis], 3)
        summed[:, axis] = np.bincount(corners, weights=weights, minlength=len(vertices))
    length = np.linalg.norm(summed, axis=1, keepdims=True)
    return np.divide(summed, length, out=np.zeros_like(summed), where=length > 0)


def outward_winding(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Triangles of a face mesh ordered counter-clockwise seen from the front (normals towards ``+z``).

    A face mesh in the canonical frame (:mod:`facecraft.core.conventions`) looks
    down ``+z``, so its outside is the ``+z`` side. When the area-weighted mean
    normal points to ``-z`` every triangle is flipped (columns ``0, 2, 1``);
    otherwise the triangles are returned as they are. Callers pass face meshes
    through this before :func:`write_textured_obj` and :func:`write_ply`.

    Args:
        vertices: ``(V, 3)`` float positions in the canonical frame.
        triangles: ``(F, 3)`` int vertex indices.

    Returns:
        ``(F, 3)`` triangles, the input itself when no flip was needed.
    """
    triangles = np.asarray(triangles)
    mean_normal = _face_normals(np.asarray(vertices, dtype=np.float64), triangles).sum(axis=0)
    return np.ascontiguousarray(triangles[:, [0, 2, 1]]) if mean_normal[2] < 0 else triangles


def _face_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(F, 3)`` triangle normals with length twice the triangle's area."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    return np.cross(b - a, c - a)


def _obj_text(
    mtl_name: str, vertices: np.ndarray, triangles: np.ndarray, uv: np.ndarray, normals: np.ndarray | None
) -> str:
    """The ``.obj`` file: vertices, bottom-up texture coordinates, optional normals, 1-based faces."""
    obj_uv = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])
    indices = triangles.astype(np.int64) + 1
    parts = [
        f"# FaceCraft textured mesh: {len(vertices)} vertices, {len(triangles)} triangles\n",
        f"mtllib {mtl_name}\n",
        _rows("v %.6f %.6f %.6f\n", vertices),
        _rows("vt %.6f %.6f\n", obj_uv),
    ]
    if normals is not None:
        parts.append(_rows("vn %.6f %.6f %.6f\n", normals))
        face_format, copies = "f %d/%d/%d %d/%d/%d %d/%d/%d\n", 3
    else:
        face_format, copies = "f %d/%d %d/%d %d/%d\n", 2
    parts += [f"usemtl {MATERIAL_NAME}\n", _rows(face_format, np.repeat(indices, copies, axis=1))]
    return "".join(parts)


def _mtl_text(texture_name: str) -> str:
    """The ``.mtl`` file: one matte material whose diffuse colour is the texture."""
    return (
        "# FaceCraft material\n"
        f"newmtl {MATERIAL_NAME}\n"
        "Ka 0.000000 0.000000 0.000000\n"
        "Kd 1.000000 1.000000 1.000000\n"
        "Ks 0.000000 0.000000 0.000000\n"
        "Ns 1.000000\n"
        "d 1.000000\n"
        "illum 1\n"
        f"map_Kd {texture_name}\n"
    )


def _rows(line_format: str, values: np.ndarray) -> str:
    """Format every row of a ``(N, K)`` array with one ``%``-format line of ``K`` fields, in one go."""
    return (line_format * len(values)) % tuple(values.ravel().tolist()) if len(values) else ""


def _checked_mesh(
    path: Path, suffix: str, wrong_suffix: str, vertices: np.ndarray, triangles: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(V, 3)`` finite float vertices and ``(F, 3)`` in-range triangles for a ``suffix`` file.

    Raises:
        ExportError: ``path`` does not end in ``suffix`` (the message ends in ``wrong_suffix``),
            or an array is not what is expected.
    """
    if path.suffix.lower() != suffix:
        raise ExportError(f"{path}: {wrong_suffix}")
    vertices = _checked_floats(path, "vertices", vertices, 3)
    return vertices, _checked_triangles(path, triangles, len(vertices))


def _checked_floats(
    path: Path, name: str, values: np.ndarray, columns: int, rows: int | None = None
) -> np.ndarray:
    """``values`` as a float64 ``(N, columns)`` array, or ExportError naming ``path``."""
    array = np.asarray(values)
    expected = f"({'N' if rows is None else rows}, {columns})"
    if array.ndim != 2 or array.shape[1] != columns or (rows is not None and len(array) != rows):
        raise ExportError(f"{path}: {name} must be {expected}, got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise ExportError(f"{path}: {name} must be numbers, got {array.dtype}")
    if rows is None and len(array) == 0:
        raise ExportError(f"{path}: the mesh has no vertices")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ExportError(f"{path}: {name} contain NaN or infinity")
    return array


def _checked_triangles(path: Path, triangles: np.ndarray, vertex_count: int) -> np.ndarray:
    """``triangles`` as an int64 ``(F, 3)`` array indexing existing vertices, or ExportError."""
    array = np.asarray(triangles)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ExportError(f"{path}: triangles must be (F, 3), got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise ExportError(f"{path}: triangles must be integer vertex indices, got {array.dtype}")
    if len(array) == 0:
        raise ExportError(f"{path}: the mesh has no triangles")
    if array.min() < 0 or array.max() >= vertex_count:
        raise ExportError(f"{path}: triangles index vertices that do not exist (there are {vertex_count})")
    return array.astype(np.int64, copy=False)
