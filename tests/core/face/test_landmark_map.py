"""The shipped MediaPipe -> iBUG-68 map: validity, equivariance, accuracy, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecraft.core.errors import ResourceError
from facecraft.core.face.landmark_indices import IBUG_MIRROR, MEDIAPIPE_COUNT, nme, outer_eye_distance
from facecraft.core.face.landmark_map import Landmark68Map


@pytest.fixture(scope="module")
def landmark_map() -> Landmark68Map:
    return Landmark68Map.load()


def test_rows_sum_to_one(landmark_map):
    assert landmark_map.weights.shape == (68, MEDIAPIPE_COUNT)
    assert np.allclose(landmark_map.weights.sum(axis=1), 1.0)


def test_map_commutes_with_similarity_transforms(landmark_map):
    rng = np.random.default_rng(3)
    vertices = rng.normal(size=(MEDIAPIPE_COUNT, 2)) * 50 + 200
    angle = 0.4
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * 1.7
    shift = np.array([31.0, -12.0])
    direct = landmark_map.apply(vertices) @ rotation.T + shift
    transformed = landmark_map.apply(vertices @ rotation.T + shift)
    assert np.allclose(direct, transformed)


def test_batched_apply_matches_single(landmark_map):
    batch = np.random.default_rng(4).normal(size=(3, MEDIAPIPE_COUNT, 2))
    assert np.allclose(landmark_map.apply(batch)[1], landmark_map.apply(batch[1]))


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match=r"\(68, 478\)"):
        Landmark68Map(np.zeros((68, 468)))
    weights = np.full((68, MEDIAPIPE_COUNT), 1.0 / MEDIAPIPE_COUNT)
    weights[0, 0] += 0.5
    with pytest.raises(ValueError, match="sum to 1"):
        Landmark68Map(weights)
    weights = np.full((68, MEDIAPIPE_COUNT), 1.0 / MEDIAPIPE_COUNT)
    weights[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Landmark68Map(weights)


def test_apply_refuses_wrong_vertex_count(landmark_map):
    with pytest.raises(ValueError, match="478"):
        landmark_map.apply(np.zeros((468, 2)))


def test_save_load_round_trip(tmp_path: Path, landmark_map):
    landmark_map.save(tmp_path / "m.npz", metrics={"val_nme_mean": 0.03})
    assert np.array_equal(Landmark68Map.load(tmp_path / "m.npz").weights, landmark_map.weights)


@pytest.mark.parametrize(("content", "message"), [
    (None, "missing"),
    (b"PK\x03\x04 not really a zip", "unreadable"),
    (b"", "unreadable"),
])
def test_missing_or_corrupt_file(tmp_path: Path, content: bytes | None, message: str):
    path = tmp_path / "map.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ResourceError, match=message):
        Landmark68Map.load(path)


def test_wrong_shape_file(tmp_path: Path):
    np.savez(tmp_path / "map.npz", weights=np.zeros((10, 10)))
    with pytest.raises(ResourceError, match=r"\(68, 478\)"):
        Landmark68Map.load(tmp_path / "map.npz")


def test_nme_and_mirror_table():
    truth = np.random.default_rng(5).normal(size=(68, 2)) * 30
    assert nme(truth, truth) == 0.0
    shifted = truth + np.array([3.0, 4.0])
    assert np.isclose(nme(shifted, truth), 5.0 / outer_eye_distance(truth))
    assert sorted(IBUG_MIRROR) == list(range(68))
    assert all(IBUG_MIRROR[IBUG_MIRROR[i]] == i for i in range(68))
    with pytest.raises(ValueError, match="68, 2"):
        nme(truth[:10], truth[:10])


@pytest.mark.data
def test_map_accuracy_on_val_photos(data_dir, landmark_map):
    """A handful of val photos detected afresh: the shipped map stays near the annotations."""
    from facecraft.core.face.detection import MeshDetector
    from facecraft.core.io.image_read import load_image
    from facecraft.training.faces_data import landmarked_photos, read_pts

    records = landmarked_photos("val", data_dir)[:12]
    errors = []
    with MeshDetector() as detector:
        for record in records:
            truth = read_pts(record.path.with_suffix(".pts"))
            faces = detector.detect(load_image(record.path).rgb)
            mesh = min(faces, key=lambda f: np.linalg.norm(f[:, :2].mean(0) - truth.mean(0)))
            errors.append(nme(landmark_map.apply(mesh[:, :2]), truth))
    assert np.mean(errors) < 0.06
