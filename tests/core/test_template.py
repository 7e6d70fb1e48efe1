"""Invariants of the shipped face template, and its loader's handling of bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.errors import ResourceError
from facecraft.core.landmark_indices import (
    IBUG_LEFT_EYE,
    IBUG_MIRROR,
    IBUG_MOUTH,
    IBUG_NOSE,
    IBUG_RIGHT_EYE,
    MP_LEFT_EYE_OUTER,
    MP_RIGHT_EYE_OUTER,
)
from facecraft.core.template import (
    PART_NAMES,
    PART_SIZE_MULTIPLE,
    FaceTemplate,
    load_template,
    save_template,
)

MIRROR = np.array([-1.0, 1.0, 1.0])


def test_shapes(template: FaceTemplate):
    assert template.mean_shape_uv.shape == (UV_HEIGHT, UV_WIDTH, 3)
    assert template.mask.shape == (UV_HEIGHT, UV_WIDTH)
    assert template.vertex_count > 1000 and template.triangle_count > 1000
    assert template.vertex_uv.shape == (template.vertex_count, 2)


def test_mask_is_mirror_symmetric_and_one_piece(template):
    from scipy import ndimage

    assert np.array_equal(template.mask, template.mask[:, ::-1])
    assert ndimage.label(template.mask)[1] == 1
    assert not ndimage.binary_fill_holes(template.mask)[~template.mask].any()
    assert 0.4 < template.mask.mean() < 0.9


def test_mean_shape_is_mirror_symmetric(template):
    mirrored = template.mean_shape_uv[:, ::-1] * MIRROR
    assert np.allclose(template.mean_shape_uv, mirrored, atol=1e-6)


def test_canonical_frame(template):
    shape = template.mean_shape_uv
    mask = template.mask
    # Outer eye corners one unit apart, on the x axis.
    corners = template.mesh_vertices[[MP_RIGHT_EYE_OUTER, MP_LEFT_EYE_OUTER]]
    assert np.isclose(np.linalg.norm(corners[1] - corners[0]), 1.0, atol=1e-5)
    assert corners[1, 0] > 0 > corners[0, 0]
    # u grows with +x (subject's left); v grows with -y (forehead at row 0); the nose points at +z.
    rows, cols = np.nonzero(mask)
    assert np.corrcoef(cols, shape[rows, cols, 0])[0, 1] > 0.9
    assert np.corrcoef(rows, shape[rows, cols, 1])[0, 1] < -0.9
    nose_tip = template.landmark_points[30]
    assert nose_tip[2] > np.percentile(shape[mask][:, 2], 99)


def test_mesh_mirror_pairing(template):
    mirror = template.mesh_mirror
    assert np.array_equal(mirror[mirror], np.arange(len(mirror)))
    assert np.allclose(template.mesh_vertices[mirror] * MIRROR, template.mesh_vertices, atol=1e-5)


def test_render_mesh_is_inside_the_mask(template):
    rows, cols = template.vertex_texels[:, 0], template.vertex_texels[:, 1]
    assert template.mask[rows, cols].all()
    expected_uv = np.stack([(cols + 0.5) / UV_WIDTH, (rows + 0.5) / UV_HEIGHT], axis=-1)
    assert np.allclose(template.vertex_uv, expected_uv)
    # Every triangle's centroid and edge midpoints fall on face texels.
    corners = template.vertex_texels[template.triangles].astype(float)
    midpoints = [(corners[:, i] + corners[:, j]) / 2 for i, j in ((0, 1), (1, 2), (2, 0))]
    for point in [corners.mean(axis=1), *midpoints]:
        r, c = np.round(point).astype(int).T
        assert template.mask[r, c].all()


def test_render_mesh_triangles_are_consistently_oriented(template):
    vertices = template.mean_vertices()
    a, b, c = (vertices[template.triangles[:, i]] for i in range(3))
    normals = np.cross(b - a, c - a)
    # Outward: away from the cylinder axis the UV layout wraps around.
    centroids = (a + b + c) / 3
    outward = centroids - np.stack([np.zeros(len(a)), centroids[:, 1],
                                    np.full(len(a), template.cylinder.axis_z)], axis=-1)
    assert ((normals * outward).sum(axis=1) > 0).mean() > 0.99
    # Consistent winding in UV: all triangles have the same signed area sign.
    uv = template.vertex_uv[template.triangles]
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    signed = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    assert (signed > 0).all() or (signed < 0).all()
    # Each interior edge is shared by exactly two triangles, with opposite directions.
    edges = np.concatenate([template.triangles[:, [0, 1]], template.triangles[:, [1, 2]],
                            template.triangles[:, [2, 0]]])
    directed = {tuple(e) for e in edges}
    assert len(directed) == len(edges)  # no directed edge twice: orientation is consistent


def test_landmarks_are_inside_the_mask_and_in_their_parts(template):
    texels = template.landmark_texels()
    rows = np.round(texels[:, 1]).astype(int)
    cols = np.round(texels[:, 0]).astype(int)
    assert template.mask[rows, cols].all()
    parts = {"right_eye": IBUG_RIGHT_EYE, "left_eye": IBUG_LEFT_EYE, "nose": IBUG_NOSE, "mouth": IBUG_MOUTH}
    for part, indices in parts.items():
        box = template.part_boxes[part]
        for i in indices:
            assert box.contains(*texels[i]), f"landmark {i} is outside the {part} box {box}"
    # Subject's right eye on the low-u side; landmarks mirror into their partners.
    assert texels[list(IBUG_RIGHT_EYE), 0].mean() < UV_WIDTH / 2 < texels[list(IBUG_LEFT_EYE), 0].mean()
    mirrored = np.stack([UV_WIDTH - 1 - texels[:, 0], texels[:, 1]], axis=-1)[list(IBUG_MIRROR)]
    assert np.abs(mirrored - texels).max() < 1.0


def test_part_boxes_fit_three_upsampling_stages(template):
    assert tuple(template.part_boxes) == PART_NAMES
    for box in template.part_boxes.values():
        assert box.height % PART_SIZE_MULTIPLE == 0 and box.width % PART_SIZE_MULTIPLE == 0
        assert box.height >= 16 and box.width >= 16
        assert box.top >= 0 and box.top + box.height <= UV_HEIGHT
        assert box.left >= 0 and box.left + box.width <= UV_WIDTH
        assert template.mask[box.slices].mean() > 0.8
    assert template.part_boxes["right_eye"] == template.part_boxes["left_eye"].mirrored()
    for centred in ("nose", "mouth"):
        assert template.part_boxes[centred] == template.part_boxes[centred].mirrored()


def test_cylinder_maps_the_mean_face_onto_its_uv_positions(template):
    uv = template.cylinder.to_uv(template.mean_vertices())
    assert np.abs(uv - template.vertex_uv).max() < 0.5 / UV_HEIGHT + 0.01


def test_save_load_round_trip(tmp_path: Path, template):
    save_template(template, tmp_path / "t.npz")
    again = load_template(tmp_path / "t.npz")
    assert again.part_boxes == template.part_boxes and again.cylinder == template.cylinder
    assert np.array_equal(again.triangles, template.triangles)
    assert np.array_equal(again.mean_shape_uv, template.mean_shape_uv)


def test_missing_template(tmp_path: Path):
    with pytest.raises(ResourceError, match="missing"):
        load_template(tmp_path / "nothing.npz")


def test_corrupt_template(tmp_path: Path):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ResourceError, match="unreadable"):
        load_template(tmp_path / "bad.npz")


def _tampered(tmp_path: Path, **changes: np.ndarray) -> Path:
    with np.load(load_template.__globals__["resource_path"]("template.npz")) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    path = tmp_path / "tampered.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"mask": np.zeros((10, 10), bool)}, "mask has shape"),
    ({"mean_shape_uv": np.full((UV_HEIGHT, UV_WIDTH, 3), np.nan, np.float32)}, "NaN"),
    ({"triangles": np.array([[0, 1, 10**7]], np.int32)}, "do not exist"),
    ({"version": np.int32(99)}, "version 99"),
    ({"part_names": np.array(["a", "b", "c", "d"])}, "part names"),
    ({"landmark_uv": np.zeros((68, 2), np.int64)}, "dtype"),
])
def test_foreign_or_damaged_template_is_refused(tmp_path: Path, change, message):
    with pytest.raises(ResourceError, match=message):
        load_template(_tampered(tmp_path, **change))
