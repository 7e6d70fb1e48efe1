"""Face detection on real photos, the 68-point map, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from facecraft.core.errors import NoFaceFound
from facecraft.core.face.detection import FaceDetector, MeshDetector
from facecraft.core.face.landmark_indices import IBUG_LEFT_EYE, IBUG_RIGHT_EYE, MEDIAPIPE_COUNT

# Read by eye off a zoomed, gridded view of the astronaut photo (pixel centres, 0-based).
HAND_PLACED = {
    "right_eye_centre": (203.0, 101.0),
    "left_eye_centre": (245.0, 103.0),
    "nose_tip": (223.0, 126.0),
    "mouth_right_corner": (201.0, 140.0),
    "mouth_left_corner": (245.0, 140.0),
}
TOLERANCE_PX = 4.0


def _predicted_points(landmarks68: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "right_eye_centre": landmarks68[list(IBUG_RIGHT_EYE)].mean(axis=0),
        "left_eye_centre": landmarks68[list(IBUG_LEFT_EYE)].mean(axis=0),
        "nose_tip": landmarks68[30],
        "mouth_right_corner": landmarks68[48],
        "mouth_left_corner": landmarks68[54],
    }


def test_astronaut_has_one_face_with_landmarks_where_a_person_puts_them(detector, astronaut_rgb):
    faces = detector.detect(astronaut_rgb)
    assert len(faces) == 1
    face = faces[0]
    assert face.landmarks478.shape == (MEDIAPIPE_COUNT, 3)
    assert face.landmarks68.shape == (68, 2)
    x0, y0, x1, y1 = face.box
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200
    predicted = _predicted_points(face.landmarks68)
    for name, expected in HAND_PLACED.items():
        error = np.linalg.norm(predicted[name] - np.array(expected))
        assert error < TOLERANCE_PX, f"{name}: {predicted[name]} is {error:.1f} px from {expected}"


def test_landmarks_follow_the_image_when_it_is_flipped(detector, astronaut_rgb):
    face = detector.detect_one(astronaut_rgb)
    flipped = detector.detect_one(np.ascontiguousarray(astronaut_rgb[:, ::-1]))
    width = astronaut_rgb.shape[1]
    # Mirroring the photo swaps the subject's sides: point 36 (right eye outer) lands on 45's spot.
    mirrored_left_outer = np.array([width - 1 - flipped.landmarks68[36, 0], flipped.landmarks68[36, 1]])
    assert np.linalg.norm(mirrored_left_outer - face.landmarks68[45]) < 4.0


def test_large_image_is_detected_at_reduced_size_with_full_size_coordinates(detector, astronaut_rgb):
    import cv2

    big = cv2.resize(astronaut_rgb, (2560, 2560), interpolation=cv2.INTER_CUBIC)
    small_face = detector.detect_one(astronaut_rgb)
    big_face = detector.detect_one(big)
    # Pixel centres scale as (x + 0.5) * 5 - 0.5.
    expected = (small_face.landmarks68 + 0.5) * 5.0 - 0.5
    assert np.median(np.linalg.norm(big_face.landmarks68 - expected, axis=1)) < 8.0


def test_several_faces_in_a_wide_photo_come_largest_first(detector, astronaut_rgb):
    import cv2

    canvas = np.full((520, 1100, 3), 200, np.uint8)
    canvas[4:516, 10:522] = astronaut_rgb
    canvas[40:480, 640:1080] = cv2.resize(astronaut_rgb, (440, 440), interpolation=cv2.INTER_AREA)
    faces = detector.detect(canvas)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].box[2] < 522 and faces[1].box[0] > 640
    assert detector.detect_one(canvas, index=1).box[0] > 640
    with pytest.raises(NoFaceFound, match="only 2 found"):
        detector.detect_one(canvas, index=2)


def test_small_face_is_found_by_the_closer_look(detector, astronaut_rgb):
    import cv2

    canvas = np.full((600, 600, 3), 200, np.uint8)
    canvas[140:460, 200:520] = cv2.resize(astronaut_rgb, (320, 320), interpolation=cv2.INTER_AREA)
    face = detector.detect_one(canvas)
    nose = face.landmarks68[30]
    expected = (np.array(HAND_PLACED["nose_tip"]) + 0.5) * 320 / 512 - 0.5 + np.array([200, 140])
    assert np.linalg.norm(nose - expected) < 4.0


def test_search_windows_cover_the_image():
    from facecraft.core.face.detection import fine_search_windows, search_windows

    assert search_windows(500, 520) == [(0, 0, 520, 500)]
    wide = search_windows(400, 1000)
    assert wide[0] == (0, 0, 1000, 400)
    assert all(y1 - y0 == 400 and x1 - x0 == 400 for x0, y0, x1, y1 in wide[1:])
    assert wide[-1][2] == 1000
    fine = fine_search_windows(600, 900)
    covered = np.zeros((600, 900), bool)
    for x0, y0, x1, y1 in fine:
        covered[y0:y1, x0:x1] = True
    assert covered.all()


def test_photo_without_a_face_raises_no_face_found(detector):
    coffee = skimage.data.coffee()
    assert detector.detect(coffee) == []
    with pytest.raises(NoFaceFound, match="no face was found"):
        detector.detect_one(coffee)


@pytest.mark.parametrize("image", [
    np.zeros((1, 1, 3), np.uint8),
    np.full((5, 400, 3), 255, np.uint8),
])
def test_degenerate_images_have_no_faces(detector, image):
    assert detector.detect(image) == []


@pytest.mark.parametrize(("image", "message"), [
    (np.zeros((10, 10), np.uint8), r"\(H, W, 3\)"),
    (np.zeros((10, 10, 4), np.uint8), r"\(H, W, 3\)"),
    (np.zeros((10, 10, 3), np.float32), "uint8"),
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    ([[1, 2, 3]], r"\(H, W, 3\)"),
])
def test_bad_arrays_are_refused(detector, image, message):
    with pytest.raises(ValueError, match=message):
        detector.detect(image)


def test_detector_arguments_are_checked():
    with pytest.raises(ValueError, match="max_faces"):
        MeshDetector(max_faces=0)
    with pytest.raises(ValueError, match="min_confidence"):
        MeshDetector(min_confidence=1.5)


def test_detector_uses_the_given_landmark_map(astronaut_rgb):
    from facecraft.core.face.landmark_map import Landmark68Map

    nose_only = np.zeros((68, MEDIAPIPE_COUNT))
    nose_only[:, 1] = 1.0  # every iBUG point at Face Mesh vertex 1, the nose tip
    with FaceDetector(landmark_map=Landmark68Map(nose_only)) as custom:
        face = custom.detect_one(astronaut_rgb)
    assert np.allclose(face.landmarks68, face.landmarks478[1, :2])
