"""What the engine writes for a decomposed photo: the JSON record, UV map images, the textured mesh.

Shared by the CLI and the GUI's export actions, so both write the same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from facecraft.core.camera import CAMERA_PARAMS
from facecraft.core.decomposition import Decomposition
from facecraft.core.face.template import FaceTemplate
from facecraft.core.io.meshes import MeshFiles, mesh_normals, outward_winding, write_ply, write_textured_obj
from facecraft.core.io.pixels import unit_to_uint8

UV_MAPS = ("albedo", "albedo_proxy", "shading", "texture", "shape", "normals", "visibility")
"""UV maps written as ``<stem>_uv_<name>.png``."""


def _rounded(values: np.ndarray, digits: int) -> Any:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def face_record(decomposition: Decomposition) -> dict[str, Any]:
    """The JSON-able summary of one decomposed face (photo pixels, origin at the top-left pixel's centre)."""
    camera = dict(zip(CAMERA_PARAMS, _rounded(decomposition.camera, 5), strict=True))
    return {
        "face_index": decomposition.face_index,
        "box": _rounded(decomposition.face_box, 2),
        "landmarks68": _rounded(decomposition.landmarks68, 2),
        "detected_landmarks68": _rounded(decomposition.detected_landmarks68, 2),
        "camera": camera,
        "lighting": _rounded(decomposition.lighting, 5),
        "fidelity": decomposition.fidelity,
        "photometric_error": round(decomposition.error, 5),
        "encoder_photometric_error": round(decomposition.encoder_error, 5),
        "timings_ms": {name: round(ms, 1) for name, ms in decomposition.timings_ms.items()},
    }


def uv_map_images(decomposition: Decomposition, template: FaceTemplate) -> dict[str, np.ndarray]:
    """``(192, 224, 3)`` uint8 RGB pictures of the UV maps, keyed by :data:`UV_MAPS` names.

    Colour maps are written as they are; the shape is its canonical x, y, z scaled to
    the face's extent; normals as ``(n + 1) / 2``; visibility as white on black.
    """
    mask = template.mask
    shape = decomposition.shape
    low, high = shape[mask].min(0), shape[mask].max(0)
    maps = {
        "albedo": decomposition.albedo,
        "albedo_proxy": decomposition.albedo_proxy,
        "shading": decomposition.shading / max(float(decomposition.shading[mask].max()), 1e-6),
        "texture": decomposition.texture,
        "shape": np.where(mask[..., None], (shape - low) / np.maximum(high - low, 1e-6), 0.0),
        "normals": np.where(mask[..., None], (decomposition.normals + 1.0) / 2.0, 0.0),
        "visibility": np.repeat(decomposition.visibility[..., None].astype(np.float32), 3, axis=2),
    }
    return {name: unit_to_uint8(value) for name, value in maps.items()}


def mesh_vertices(shape_uv: np.ndarray, template: FaceTemplate) -> np.ndarray:
    """``(V, 3)`` render-mesh vertices read from a ``(192, 224, 3)`` position map."""
    return template.sample_vertices(np.asarray(shape_uv, dtype=np.float64))


def export_mesh(
    path: str | Path, shape_uv: np.ndarray, texture: np.ndarray, template: FaceTemplate
) -> MeshFiles:
    """Write the face as OBJ + MTL + PNG albedo (with normals), atomically and all-or-nothing.

    Args:
        path: the ``.obj`` file.
        shape_uv: ``(192, 224, 3)`` the fitted shape (canonical frame, +y up, +z towards the viewer).
        texture: ``(H, W, 3)`` uint8 albedo texture (any resolution; the UV layout's aspect).
        template: gives the mesh and its UVs.

    Raises:
        ExportError: the files cannot be written.
    """
    vertices = mesh_vertices(shape_uv, template)
    triangles = outward_winding(vertices, template.triangles)
    return write_textured_obj(
        path, vertices, triangles, template.vertex_uv, texture, normals=mesh_normals(vertices, triangles)
    )


def export_ply(path: str | Path, shape_uv: np.ndarray, albedo_uv: np.ndarray, template: FaceTemplate) -> None:
    """Write the face's shape as a binary PLY with per-vertex albedo colours.

    Args:
        path: the ``.ply`` file.
        shape_uv: ``(192, 224, 3)`` the fitted shape.
        albedo_uv: ``(192, 224, 3)`` albedo in ``[0, 1]`` (the model's ``A``).
        template: gives the mesh.

    Raises:
        ExportError: the file cannot be written.
    """
    vertices = mesh_vertices(shape_uv, template)
    colours = unit_to_uint8(mesh_vertices(albedo_uv, template))
    write_ply(path, vertices, outward_winding(vertices, template.triangles), colours)
