"""core/io/meshes: textured OBJ and binary PLY, read back by independent readers; winding and normals."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
import trimesh

from facecraft.core.errors import ExportError
from facecraft.core.face.template import FaceTemplate
from facecraft.core.io import atomic
from facecraft.core.io.image_read import load_image
from facecraft.core.io.meshes import (
    MeshFiles,
    mesh_normals,
    outward_winding,
    write_ply,
    write_textured_obj,
)


def _gradient(h: int = 24, w: int = 32) -> np.ndarray:
    """An asymmetric RGB test card: swapped channels or flipped rows change it."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], -1).astype(np.uint8)


def _files(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden temporaries included."""
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def face(template: FaceTemplate) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean face: ``(V, 3)`` vertices, outward ``(F, 3)`` triangles, ``(V, 2)`` uv (v down)."""
    vertices = template.mean_vertices()
    return vertices, outward_winding(vertices, template.triangles), template.vertex_uv


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    return _gradient(256, 256)


# ---------------------------------------------------------------- meshes


def test_textured_obj_reads_back_with_trimesh(tmp_path: Path, face, texture):
    vertices, triangles, uv = face
    files = write_textured_obj(tmp_path / "face.obj", vertices, triangles, uv, texture)
    assert files == MeshFiles(tmp_path / "face.obj", tmp_path / "face.mtl", tmp_path / "face_albedo.png")
    assert _files(tmp_path) == ["face.mtl", "face.obj", "face_albedo.png"]

    mesh = trimesh.load(files.obj, process=False, force="mesh")
    assert mesh.vertices.shape == vertices.shape
    assert np.allclose(mesh.vertices, vertices, atol=1e-6)
    assert np.array_equal(mesh.faces, triangles)
    assert np.allclose(mesh.visual.uv, np.column_stack([uv[:, 0], 1.0 - uv[:, 1]]), atol=1e-6)
    image = mesh.visual.material.image
    assert image.size == (texture.shape[1], texture.shape[0])
    assert np.array_equal(np.asarray(image.convert("RGB")), texture)

    obj_lines = files.obj.read_text().splitlines()
    assert "mtllib face.mtl" in obj_lines
    assert "usemtl albedo" in obj_lines
    assert not any(line.startswith("vn ") for line in obj_lines)
    first_face = next(line for line in obj_lines if line.startswith("f "))
    a, b, c = triangles[0] + 1
    assert first_face == f"f {a}/{a} {b}/{b} {c}/{c}"
    mtl_lines = files.mtl.read_text().splitlines()
    assert "newmtl albedo" in mtl_lines
    assert "map_Kd face_albedo.png" in mtl_lines
    assert "Kd 1.000000 1.000000 1.000000" in mtl_lines


def test_obj_uv_v_is_flipped_bottom_up(tmp_path: Path, texture):
    # One triangle in the texture's top-left corner (v = 0 is the top row).
    vertices = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    uv = np.array([[0.0, 0.0], [0.25, 0.0], [0.0, 0.125]])
    files = write_textured_obj(tmp_path / "tri.obj", vertices, np.array([[0, 1, 2]]), uv, texture)
    vt = [line for line in files.obj.read_text().splitlines() if line.startswith("vt ")]
    assert vt == ["vt 0.000000 1.000000", "vt 0.250000 1.000000", "vt 0.000000 0.875000"]


def test_obj_with_normals(tmp_path: Path, face, texture):
    vertices, triangles, uv = face
    normals = mesh_normals(vertices, triangles)
    files = write_textured_obj(tmp_path / "face.obj", vertices, triangles, uv, texture, normals=normals)
    lines = files.obj.read_text().splitlines()
    assert sum(line.startswith("vn ") for line in lines) == len(vertices)
    a, b, c = triangles[0] + 1
    assert next(line for line in lines if line.startswith("f ")) == f"f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}"
    mesh = trimesh.load(files.obj, process=False, force="mesh")
    assert np.array_equal(mesh.faces, triangles)
    assert np.allclose(mesh.vertex_normals, normals, atol=1e-5)


def test_obj_with_rgba_texture(tmp_path: Path, face):
    vertices, triangles, uv = face
    rgba = np.dstack([_gradient(64, 64), np.full((64, 64), 200, np.uint8)])
    files = write_textured_obj(tmp_path / "face.obj", vertices, triangles, uv, rgba)
    assert np.array_equal(load_image(files.texture).original, rgba)


def test_whitespace_in_the_name_is_kept_out_of_the_references(tmp_path: Path, face, texture):
    vertices, triangles, uv = face
    files = write_textured_obj(tmp_path / "my face.obj", vertices, triangles, uv, texture)
    assert files == MeshFiles(
        tmp_path / "my face.obj", tmp_path / "my_face.mtl", tmp_path / "my_face_albedo.png"
    )
    assert "mtllib my_face.mtl" in files.obj.read_text().splitlines()
    assert "map_Kd my_face_albedo.png" in files.mtl.read_text().splitlines()
    mesh = trimesh.load(files.obj, process=False, force="mesh")
    assert mesh.visual.material.image.size == (256, 256)


def test_obj_folder_can_be_moved(tmp_path: Path, face, texture):
    vertices, triangles, uv = face
    write_textured_obj(tmp_path / "a" / "face.obj", vertices, triangles, uv, texture)
    (tmp_path / "a").rename(tmp_path / "b")
    mesh = trimesh.load(tmp_path / "b" / "face.obj", process=False, force="mesh")
    assert mesh.visual.material.image.size == (256, 256)


def test_obj_failure_in_the_middle_leaves_no_new_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, face, texture
):
    vertices, triangles, uv = face
    real_write = atomic.write_bytes_atomically
    calls: list[Path] = []

    def fail_on_second(path: Path, data: bytes, mode: int = 0o644) -> None:
        calls.append(Path(path))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data, mode)

    monkeypatch.setattr(atomic, "write_bytes_atomically", fail_on_second)
    with pytest.raises(ExportError, match=r"face\.mtl: cannot write the file \(the disk is full\)"):
        write_textured_obj(tmp_path / "face.obj", vertices, triangles, uv, texture)
    assert len(calls) == 2
    assert _files(tmp_path) == []


def test_obj_failure_while_renaming_removes_the_files_already_renamed(tmp_path: Path, face, texture):
    vertices, triangles, uv = face
    (tmp_path / "face_albedo.png").mkdir()  # the last rename cannot replace a folder
    with pytest.raises(ExportError, match=r"face_albedo\.png: cannot write the file"):
        write_textured_obj(tmp_path / "face.obj", vertices, triangles, uv, texture)
    assert _files(tmp_path) == ["face_albedo.png"]
    assert (tmp_path / "face_albedo.png").is_dir()


def test_obj_in_a_folder_that_is_a_file(tmp_path: Path, face, texture):
    vertices, triangles, uv = face
    (tmp_path / "blocker").write_text("not a folder")
    with pytest.raises(ExportError, match=r"face\.obj: cannot write the file \(.*blocker is not a folder"):
        write_textured_obj(tmp_path / "blocker" / "face.obj", vertices, triangles, uv, texture)
    assert _files(tmp_path) == ["blocker"]


def test_obj_replaces_an_earlier_export(tmp_path: Path, face, texture):
    vertices, triangles, uv = face
    write_textured_obj(tmp_path / "face.obj", vertices, triangles, uv, texture)
    write_textured_obj(tmp_path / "face.obj", vertices * 2.0, triangles, uv, texture[::-1])
    mesh = trimesh.load(tmp_path / "face.obj", process=False, force="mesh")
    assert np.allclose(mesh.vertices, vertices * 2.0, atol=1e-6)
    assert np.array_equal(load_image(tmp_path / "face_albedo.png").original, texture[::-1])
    assert _files(tmp_path) == ["face.mtl", "face.obj", "face_albedo.png"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"obj_path": "face.ply"}, r"must be saved as an \.obj file"),
        ({"vertices": np.zeros((3, 2))}, r"vertices must be \(N, 3\)"),
        ({"vertices": np.full((3, 3), np.nan)}, "NaN"),
        ({"triangles": np.array([[0, 1, 3]])}, "do not exist"),
        ({"triangles": np.array([[0.0, 1.0, 2.0]])}, "integer"),
        ({"triangles": np.zeros((0, 3), int)}, "no triangles"),
        ({"uv": np.zeros((2, 2))}, r"uv must be \(3, 2\)"),
        ({"texture": np.zeros((8, 8, 3), np.float32)}, "texture must be"),
        ({"texture": np.zeros((8, 8), np.uint8)}, "texture must be"),
        ({"normals": np.zeros((3, 2))}, r"normals must be \(3, 3\)"),
    ],
)
def test_obj_bad_input(tmp_path: Path, change: dict, message: str):
    arguments = {
        "obj_path": "face.obj",
        "vertices": np.eye(3),
        "triangles": np.array([[0, 1, 2]]),
        "uv": np.zeros((3, 2)),
        "texture": np.zeros((8, 8, 3), np.uint8),
    } | change
    arguments["obj_path"] = tmp_path / arguments["obj_path"]
    with pytest.raises(ExportError, match=message):
        write_textured_obj(**arguments)
    assert _files(tmp_path) == []


# ---------------------------------------------------------------- PLY


def test_ply_with_colours_reads_back_with_trimesh(tmp_path: Path, face):
    vertices, triangles, _ = face
    colours = np.random.default_rng(4).integers(0, 256, (len(vertices), 3), dtype=np.uint8)
    write_ply(tmp_path / "face.ply", vertices, triangles, colours)
    assert (tmp_path / "face.ply").read_bytes().startswith(b"ply\nformat binary_little_endian 1.0\n")
    mesh = trimesh.load(tmp_path / "face.ply", process=False)
    assert np.array_equal(mesh.vertices, vertices.astype(np.float32))
    assert np.array_equal(mesh.faces, triangles)
    assert np.array_equal(mesh.visual.vertex_colors[:, :3], colours)
    assert _files(tmp_path) == ["face.ply"]


def test_ply_without_colours(tmp_path: Path, face):
    vertices, triangles, _ = face
    write_ply(tmp_path / "face.ply", vertices, triangles)
    data = (tmp_path / "face.ply").read_bytes()
    header = data[: data.index(b"end_header\n")].decode("ascii")
    assert "red" not in header and "property list uchar int vertex_indices" in header
    expected_size = len(header) + len("end_header\n") + 12 * len(vertices) + 13 * len(triangles)
    assert len(data) == expected_size
    mesh = trimesh.load(tmp_path / "face.ply", process=False)
    assert np.array_equal(mesh.faces, triangles)


def test_ply_bad_input(tmp_path: Path, face):
    vertices, triangles, _ = face
    with pytest.raises(ExportError, match=r"must be saved as a \.ply file"):
        write_ply(tmp_path / "face.obj", vertices, triangles)
    with pytest.raises(ExportError, match=r"colours must be"):
        write_ply(tmp_path / "face.ply", vertices, triangles, np.zeros((len(vertices), 3), np.float32))
    (tmp_path / "blocker").write_text("not a folder")
    with pytest.raises(ExportError, match=r"face\.ply: cannot write"):
        write_ply(tmp_path / "blocker" / "face.ply", vertices, triangles)
    assert _files(tmp_path) == ["blocker"]


# ---------------------------------------------------------------- normals and winding


def test_template_triangles_already_point_out(template: FaceTemplate):
    vertices = template.mean_vertices()
    assert outward_winding(vertices, template.triangles) is template.triangles


def test_mean_face_normals_point_towards_the_viewer(face):
    vertices, triangles, _ = face
    a, b, c = (vertices[triangles[:, k]].astype(np.float64) for k in range(3))
    face_normals = np.cross(b - a, c - a)  # length = twice the area
    area = np.linalg.norm(face_normals, axis=1)
    assert area[face_normals[:, 2] > 0].sum() > 0.9 * area.sum()

    normals = mesh_normals(vertices, triangles)
    assert normals.shape == vertices.shape
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0)
    assert (normals[:, 2] > 0).mean() > 0.9
    assert normals.mean(axis=0)[2] > 0.5


def test_outward_winding_undoes_a_flip(face):
    vertices, triangles, _ = face
    flipped = triangles[:, [0, 2, 1]]
    assert np.array_equal(outward_winding(vertices, flipped), triangles)


def test_mesh_normals_are_area_weighted():
    # Vertex 0 is shared by a large triangle facing +z and a small one facing +x.
    vertices = np.array(
        [[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [9.0, 9.0, 9.0]]
    )
    triangles = np.array([[0, 1, 2], [0, 3, 4]])
    normals = mesh_normals(vertices, triangles)
    expected = np.array([1.0, 0.0, 16.0]) / np.hypot(1.0, 16.0)
    assert np.allclose(normals[0], expected)
    assert np.allclose(normals[1], [0.0, 0.0, 1.0]) and np.allclose(normals[3], [1.0, 0.0, 0.0])
    assert np.array_equal(normals[5], [0.0, 0.0, 0.0])  # in no triangle
