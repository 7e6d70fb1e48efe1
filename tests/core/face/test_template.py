"""Invariants of the shipped face template, and its loader's handling of bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH, uv_to_texel
from facecraft.core.errors import ResourceError
from facecraft.core.face.landmark_indices import (
    IBUG_LEFT_EYE,
    IBUG_MIRROR,
    IBUG_MOUTH,
    IBUG_NOSE,
    IBUG_RIGHT_EYE,
    MP_LEFT_EYE_OUTER,
    MP_RIGHT_EYE_OUTER,
)
from facecraft.core.face.template import (
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


def outline_loop(template) -> np.ndarray:
    """The outline vertices in order around the face (edges used by one triangle only)."""
    triangles = template.triangles
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    undirected = {tuple(sorted(e)) for e in edges}
    counts = {}
    for e in edges:
        counts[tuple(sorted(e))] = counts.get(tuple(sorted(e)), 0) + 1
    following = {int(a): int(b) for a, b in edges if counts[tuple(sorted((a, b)))] == 1}
    assert len(following) == sum(1 for e in undirected if counts[e] == 1)  # one simple loop
    start = next(iter(following))
    loop = [start]
    while following[loop[-1]] != start:
        loop.append(following[loop[-1]])
    assert len(loop) == len(following), "the outline is not one loop"
    return np.array(loop)


def test_render_mesh_is_inside_the_mask(template):
    rows, cols = template.vertex_texels[:, 0], template.vertex_texels[:, 1]
    assert template.mask[rows, cols].all()
    outline = np.zeros(template.vertex_count, bool)
    outline[outline_loop(template)] = True
    # Inside vertices sit on their texel's centre; outline vertices near it, between face texels.
    expected_uv = np.stack([(cols + 0.5) / UV_WIDTH, (rows + 0.5) / UV_HEIGHT], axis=-1)
    assert np.allclose(template.vertex_uv[~outline], expected_uv[~outline])
    moved = np.abs(template.vertex_uv - expected_uv) * (UV_WIDTH, UV_HEIGHT)
    assert moved.max() <= template.mesh_stride * np.sqrt(2) + 1e-3
    sampling = template.vertex_sampling
    assert np.allclose(sampling.weights.sum(axis=1), 1.0)
    assert template.mask.ravel()[sampling.texels[sampling.weights > 0]].all()  # only face texels are read
    # and the whole bilinear footprint of each vertex is on the face (texture fetches there too)
    from facecraft.training.template_mesh import footprint_on_face

    assert footprint_on_face(uv_to_texel(template.vertex_uv.astype(np.float64))[:, ::-1], template.mask).all()
    # Every triangle's centroid falls on a face texel.
    centroids = uv_to_texel(template.vertex_uv[template.triangles].astype(np.float64).mean(axis=1))
    c, r = np.round(centroids).astype(int).T
    assert template.mask[r, c].all()


def test_render_mesh_outline_is_smooth(template):
    # The grid's staircase (a 90-degree turn every few vertices) is gone: the outline turns gently.
    points = uv_to_texel(template.vertex_uv[outline_loop(template)].astype(np.float64))
    ahead = np.roll(points, -1, axis=0) - points
    behind = points - np.roll(points, 1, axis=0)
    cosine = (ahead * behind).sum(axis=1) / np.linalg.norm(ahead, axis=1) / np.linalg.norm(behind, axis=1)
    turn = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    assert np.percentile(turn, 95) < 30.0 and turn.max() < 60.0, (np.percentile(turn, 95), turn.max())
    # and it runs along the mask's edge: every outline vertex within 3 texels of the edge
    from scipy import ndimage

    inside = ndimage.distance_transform_edt(template.mask)
    c, r = np.round(points).astype(int).T
    assert (inside[np.clip(r, 0, UV_HEIGHT - 1), np.clip(c, 0, UV_WIDTH - 1)] <= 3.0).all()


def test_sample_vertices_reads_texels_and_blends_on_the_outline(template):
    rows, cols = np.mgrid[0:UV_HEIGHT, 0:UV_WIDTH].astype(np.float64)
    linear = np.stack([rows, cols, 3 * rows - 2 * cols], axis=-1)  # a bilinear blend reproduces it
    sampled = template.sample_vertices(linear)
    position = uv_to_texel(template.vertex_uv.astype(np.float64))
    full = template.vertex_sampling.weights.min(axis=1) > 0  # all four footprint texels on the face
    assert full.any()
    expected = np.stack([position[:, 1], position[:, 0], 3 * position[:, 1] - 2 * position[:, 0]], axis=-1)
    assert np.allclose(sampled[full], expected[full], atol=1e-4)
    r, c = template.vertex_texels.T
    on_centre = np.abs(position - np.stack([c, r], axis=-1)).max(axis=1) < 1e-4  # inside vertices
    assert np.array_equal(template.sample_vertices(template.mean_shape_uv)[on_centre],
                          template.mean_shape_uv[r, c][on_centre])


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
