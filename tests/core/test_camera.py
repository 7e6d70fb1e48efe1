"""The weak-perspective camera: axes, matrix form, crop transform, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from facecraft.core.camera import (
    CAMERA_PARAMS,
    Camera,
    CropTransform,
    camera_from_matrix,
    camera_to_matrix,
    euler_to_rotation,
    project,
    rotation_to_euler,
)


def _camera(scale=50.0, angles=(0.0, 0.0, 0.0), translation=(100.0, 80.0), dtype=torch.float64) -> Camera:
    return Camera(torch.tensor([scale], dtype=dtype), torch.tensor([angles], dtype=dtype),
                  torch.tensor([translation], dtype=dtype))


def test_frontal_camera_maps_axes_to_image_directions():
    points = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]], dtype=torch.float64)
    projected = project(points, _camera())
    expected = torch.tensor([[100.0, 80, 0], [150, 80, 0], [100, 30, 0], [100, 80, 50]], dtype=torch.float64)
    torch.testing.assert_close(projected[0], expected)


@pytest.mark.parametrize(("axis", "image_motion"), [(1, (1, 0)), (0, (0, 1)), (2, None)])
def test_positive_angles_turn_the_face_as_documented(axis, image_motion):
    nose_tip = torch.tensor([[[0.0, 0.0, 1.0]]], dtype=torch.float64)
    forehead = torch.tensor([[[0.0, 1.0, 0.0]]], dtype=torch.float64)
    angles = [0.0, 0.0, 0.0]
    angles[axis] = 0.3
    camera = _camera(angles=tuple(angles))
    if image_motion is None:  # roll: counter-clockwise in the image, so the forehead moves left
        moved = project(forehead, camera)[0, 0, :2] - project(forehead, _camera())[0, 0, :2]
        assert moved[0] < 0
    else:  # yaw moves the nose tip right, pitch moves it down
        moved = project(nose_tip, camera)[0, 0, :2] - project(nose_tip, _camera())[0, 0, :2]
        assert moved[image_motion.index(1)] > 0
        assert abs(float(moved[image_motion.index(0)])) < 1e-9


def test_rotation_is_orthonormal_and_euler_round_trips():
    angles = torch.tensor([[0.3, -0.7, 1.2], [-1.0, 1.4, -2.5], [0.0, 0.0, 0.0]], dtype=torch.float64)
    rotation = euler_to_rotation(angles)
    identity = torch.eye(3, dtype=torch.float64).expand(3, 3, 3)
    torch.testing.assert_close(rotation @ rotation.transpose(1, 2), identity)
    torch.testing.assert_close(torch.linalg.det(rotation), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(rotation_to_euler(rotation), angles)


def test_matrix_form_projects_like_the_camera_and_round_trips():
    camera = _camera(scale=37.0, angles=(0.2, -0.5, 0.1), translation=(12.0, -4.0))
    points = torch.randn(1, 20, 3, dtype=torch.float64)
    matrix = camera_to_matrix(camera)
    homogeneous = torch.cat([points, torch.ones(1, 20, 1, dtype=torch.float64)], dim=-1)
    torch.testing.assert_close(homogeneous @ matrix.transpose(1, 2), project(points, camera)[..., :2])
    back = camera_from_matrix(matrix)
    torch.testing.assert_close(back.to_vector(), camera.to_vector())


def test_matrix_with_noise_gives_the_nearest_rotation():
    camera = _camera(scale=10.0, angles=(0.1, 0.2, 0.3))
    noisy = camera_to_matrix(camera) + 1e-3 * torch.randn(1, 2, 4, dtype=torch.float64)
    back = camera_from_matrix(noisy)
    rotation = back.rotation()
    torch.testing.assert_close(rotation @ rotation.transpose(1, 2), torch.eye(3, dtype=torch.float64)[None])
    assert torch.allclose(back.to_vector(), camera.to_vector(), atol=5e-3)


def test_vector_layout_matches_names():
    vector = torch.arange(12, dtype=torch.float64).view(2, 6) + 1
    camera = Camera.from_vector(vector)
    assert CAMERA_PARAMS == ("scale", "pitch", "yaw", "roll", "tx", "ty")
    assert camera.scale.tolist() == [1.0, 7.0]
    assert camera.translation[1].tolist() == [11.0, 12.0]
    torch.testing.assert_close(camera.to_vector(), vector)


def test_crop_camera_converts_to_the_photo():
    crop = CropTransform(scale=0.25, offset=(-30.0, -12.5), size=(224, 224))
    camera = _camera(scale=60.0, angles=(0.1, 0.4, -0.2), translation=(112.0, 100.0))
    points = torch.randn(1, 10, 3, dtype=torch.float64)
    in_crop = project(points, camera)[..., :2]
    in_photo = project(points, crop.camera_to_photo(camera))[..., :2]
    torch.testing.assert_close(crop.crop_to_photo(in_crop), in_photo)
    torch.testing.assert_close(crop.photo_to_crop(in_photo), in_crop)


def test_bad_shapes_and_values_are_refused():
    with pytest.raises(ValueError, match="scale"):
        Camera(torch.ones(2), torch.zeros(1, 3), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"\(B, 6\)"):
        Camera.from_vector(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="points"):
        project(torch.zeros(1, 4, 2), _camera())
    with pytest.raises(ValueError, match=r"\(B, 2, 4\)"):
        camera_from_matrix(torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="NaN"):
        _camera(scale=math.nan).check_finite()
