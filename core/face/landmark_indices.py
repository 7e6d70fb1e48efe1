"""Named index sets: the iBUG 68-point scheme and the MediaPipe Face Mesh vertices we rely on.

Every slice of a landmark array in the project comes from here; nothing
re-derives a layout from an array's length. Indices are 0-based. "Left" and
"right" are the *subject's* (see :mod:`facecraft.core.conventions`): the
subject's right eye is on the image's left in a frontal photo.
"""

from __future__ import annotations

import numpy as np

IBUG_COUNT = 68
"""Points in the iBUG 300-W scheme."""

MEDIAPIPE_COUNT = 478
"""Vertices Face Mesh returns with iris refinement (468 mesh + 10 iris)."""

MEDIAPIPE_MESH_COUNT = 468
"""Vertices of the Face Mesh surface (the iris points excluded)."""

IBUG_JAW = tuple(range(0, 17))
IBUG_RIGHT_BROW = tuple(range(17, 22))
IBUG_LEFT_BROW = tuple(range(22, 27))
IBUG_NOSE_BRIDGE = tuple(range(27, 31))
IBUG_NOSTRILS = tuple(range(31, 36))
IBUG_NOSE = IBUG_NOSE_BRIDGE + IBUG_NOSTRILS
IBUG_RIGHT_EYE = tuple(range(36, 42))
IBUG_LEFT_EYE = tuple(range(42, 48))
IBUG_OUTER_LIPS = tuple(range(48, 60))
IBUG_INNER_LIPS = tuple(range(60, 68))
IBUG_MOUTH = IBUG_OUTER_LIPS + IBUG_INNER_LIPS

IBUG_RIGHT_EYE_OUTER = 36
"""Outer corner of the subject's right eye."""
IBUG_LEFT_EYE_OUTER = 45
"""Outer corner of the subject's left eye."""
IBUG_NOSE_TIP = 30

IBUG_GROUPS: dict[str, tuple[int, ...]] = {
    "jaw": IBUG_JAW,
    "right_brow": IBUG_RIGHT_BROW,
    "left_brow": IBUG_LEFT_BROW,
    "nose": IBUG_NOSE,
    "right_eye": IBUG_RIGHT_EYE,
    "left_eye": IBUG_LEFT_EYE,
    "mouth": IBUG_MOUTH,
}
"""The iBUG point groups by name; together they cover all 68 points once."""


def _ibug_mirror() -> tuple[int, ...]:
    pairs = [(0, 16), (1, 15), (2, 14), (3, 13), (4, 12), (5, 11), (6, 10), (7, 9),
             (17, 26), (18, 25), (19, 24), (20, 23), (21, 22),
             (31, 35), (32, 34),
             (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
             (48, 54), (49, 53), (50, 52), (55, 59), (56, 58),
             (60, 64), (61, 63), (65, 67)]
    mirror = list(range(IBUG_COUNT))
    for a, b in pairs:
        mirror[a], mirror[b] = b, a
    return tuple(mirror)


IBUG_MIRROR = _ibug_mirror()
"""``IBUG_MIRROR[i]`` is the point that ``i`` becomes when the face is mirrored left-right."""

MP_RIGHT_EYE_OUTER = 33
"""Face Mesh vertex at the outer corner of the subject's right eye."""
MP_LEFT_EYE_OUTER = 263
"""Face Mesh vertex at the outer corner of the subject's left eye."""
MP_FOREHEAD_TOP = 10
"""Face Mesh vertex at the top of the forehead, on the midline."""
MP_CHIN = 152
"""Face Mesh vertex at the bottom of the chin, on the midline."""
MP_NOSE_TIP = 1
"""Face Mesh vertex at the tip of the nose."""


def outer_eye_distance(landmarks68: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners, the NME normaliser used throughout.

    Args:
        landmarks68: ``(..., 68, 2)`` points.

    Returns:
        ``(...)`` distances.
    """
    landmarks68 = np.asarray(landmarks68)
    diff = landmarks68[..., IBUG_RIGHT_EYE_OUTER, :] - landmarks68[..., IBUG_LEFT_EYE_OUTER, :]
    return np.linalg.norm(diff, axis=-1)


def nme(predicted68: np.ndarray, truth68: np.ndarray) -> np.ndarray:
    """Normalised mean error per face: mean point distance / outer-eye-corner distance.

    Args:
        predicted68, truth68: ``(..., 68, 2)`` points in the same pixel frame.

    Returns:
        ``(...)`` NME per face (a fraction, not a percentage).
    """
    predicted68 = np.asarray(predicted68, dtype=np.float64)
    truth68 = np.asarray(truth68, dtype=np.float64)
    if predicted68.shape != truth68.shape or predicted68.shape[-2:] != (IBUG_COUNT, 2):
        raise ValueError(
            f"expected two (..., 68, 2) arrays of one shape, got {predicted68.shape} and {truth68.shape}"
        )
    error = np.linalg.norm(predicted68 - truth68, axis=-1).mean(axis=-1)
    return error / outer_eye_distance(truth68)
