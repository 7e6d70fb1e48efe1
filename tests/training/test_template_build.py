"""The template build's steps, and the training data readers."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft.core.face.template import PART_SIZE_MULTIPLE
from facecraft.core.mesh_fit import similarity
from facecraft.training.template_landmarks import mirror_consistent, part_box
from facecraft.training.template_mean import mirror_pairing, symmetrise
from facecraft.training.template_mesh import grid_mesh


def _rotation(angle: float, axis: int) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [k for k in range(3) if k != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    source = rng.normal(size=(50, 3))
    rotation = _rotation(0.3, 0) @ _rotation(-0.7, 1)
    target = 2.5 * source @ rotation.T + np.array([1.0, -2.0, 0.5])
    scale, fitted, shift = similarity(source, target)
    assert np.isclose(scale, 2.5) and np.allclose(fitted, rotation) and np.allclose(shift, [1.0, -2.0, 0.5])


def test_mirror_pairing_and_symmetrise_on_a_symmetric_cloud():
    rng = np.random.default_rng(1)
    half = rng.normal(size=(20, 3)) + np.array([2.0, 0.0, 0.0])
    midline = rng.normal(size=(4, 3)) * np.array([0.0, 1.0, 1.0])
    points = np.concatenate([half, half * np.array([-1.0, 1.0, 1.0]), midline])
    pairing = mirror_pairing(points)
    assert np.array_equal(pairing[:20], np.arange(20, 40)) and np.array_equal(pairing[40:], np.arange(40, 44))
    noisy = points + rng.normal(scale=0.01, size=points.shape)
    symmetric = symmetrise(noisy, pairing)
    assert np.allclose(symmetric[pairing] * np.array([-1.0, 1.0, 1.0]), symmetric)


def test_grid_mesh_on_a_rectangle():
    mask = np.zeros((192, 224), bool)
    mask[10:21, 30:51] = True  # 11 x 21 texels
    texels, triangles = grid_mesh(mask, stride=2)
    # Grid rows 10..20 step 2 -> 6, cols 30..50 step 2 -> 11 vertices a row; 5 x 10 cells.
    assert len(texels) == 66 and len(triangles) == 100
    assert mask[texels[:, 0], texels[:, 1]].all()
    # Counter-clockwise seen from outside: with u ~ +x and v ~ -y, the UV winding is clockwise.
    uv = texels[:, ::-1].astype(float)[triangles]
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    assert (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] < 0).all()


def test_part_box_rounds_up_and_contains_its_points():
    points = np.array([[40.2, 30.0], [61.7, 36.5], [50.0, 44.9]])
    box = part_box(points, centred=False)
    assert box.width % PART_SIZE_MULTIPLE == 0 and box.height % PART_SIZE_MULTIPLE == 0
    assert all(box.contains(*p) for p in points)
    centred = part_box(points + np.array([60.0, 0.0]), centred=True)
    assert centred == centred.mirrored()


def test_mirror_consistent_landmarks():
    texels = np.random.default_rng(2).uniform(20, 150, size=(68, 2))
    fixed = mirror_consistent(texels)
    assert np.allclose(fixed[36], texels[36]) and np.allclose(fixed[45], [223 - texels[36, 0], texels[36, 1]])
    assert np.isclose(fixed[30, 0], 111.5)


@pytest.mark.data
def test_pts_files_and_manifest(data_dir):
    from facecraft.training.faces_data import landmarked_photos, read_manifest, read_pts

    records = read_manifest(data_dir)
    assert len(records) == 10_987
    annotated = landmarked_photos("val", data_dir)
    assert len(annotated) == 52 and all(r.split == "val" for r in annotated)
    points = read_pts(annotated[0].path.with_suffix(".pts"))
    assert points.shape == (68, 2)
    assert (points > -1).all() and (points < 384).all()


@pytest.mark.data
def test_mesh_cache_on_a_few_photos(data_dir, tmp_path):
    from facecraft.core.face.landmark_indices import nme
    from facecraft.core.face.landmark_map import Landmark68Map
    from facecraft.training.mesh_cache import build_cache, load_cache, save_cache

    cache = build_cache(data_dir, limit=4)
    save_cache(cache, tmp_path / "c.npz")
    again = load_cache(tmp_path / "c.npz")
    assert again.detected.all() and np.array_equal(again.meshes, cache.meshes)
    errors = nme(Landmark68Map.load().apply(again.meshes[..., :2]), again.annotations)
    assert (errors < 0.1).all()
