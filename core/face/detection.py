"""Face detection: MediaPipe Face Mesh, offline. The only module that imports MediaPipe.

:class:`MeshDetector` finds every face and its 478 Face Mesh vertices in image
pixels; :class:`FaceDetector` adds the 68 iBUG landmarks through the shipped
:class:`~facecraft.core.face.landmark_map.Landmark68Map` and orders faces largest
first. Coordinates follow :mod:`facecraft.core.conventions`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import cv2
import numpy as np

from facecraft.core.errors import NoFaceFound
from facecraft.core.face.landmark_indices import MEDIAPIPE_COUNT
from facecraft.core.face.landmark_map import Landmark68Map

DEFAULT_MAX_SIDE = 1920
"""Images are downscaled so that their longer side is at most this before detection."""


@dataclass(frozen=True)
class DetectedFace:
    """One face found in an image.

    Attributes:
        box: ``(4,)`` float64 ``(x0, y0, x1, y1)`` in image pixels: the bounds of
            the Face Mesh vertices.
        landmarks478: ``(478, 3)`` float64 Face Mesh vertices; ``x, y`` in image
            pixels, ``z`` relative depth in the same pixel unit (grows away from
            the camera).
        landmarks68: ``(68, 2)`` float64 iBUG points in image pixels.
    """

    box: np.ndarray
    landmarks478: np.ndarray
    landmarks68: np.ndarray

    @property
    def area(self) -> float:
        """Area of :attr:`box` in square pixels."""
        x0, y0, x1, y1 = self.box
        return float(max(x1 - x0, 0.0) * max(y1 - y0, 0.0))


class _ClosedOnExit:
    """Context-manager support for classes that free resources in ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class MeshDetector(_ClosedOnExit):
    """MediaPipe Face Mesh on still images: every face's 478 vertices in image pixels.

    Not thread-safe: use one instance per thread. Close it (or use it as a context
    manager) to free MediaPipe's graph.
    """

    def __init__(
        self,
        max_faces: int = 8,
        min_confidence: float = 0.5,
        max_side: int = DEFAULT_MAX_SIDE,
    ) -> None:
        """
        Args:
            max_faces: the most faces reported per image.
            min_confidence: MediaPipe's face detection confidence threshold, in (0, 1).
            max_side: longer side, in pixels, that large images are reduced to
                before detection (coordinates are mapped back).
        """
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        if not 0.0 < min_confidence < 1.0:
            raise ValueError(f"min_confidence must be in (0, 1), got {min_confidence}")
        from mediapipe.python.solutions import face_mesh  # heavy; only when a detector is made

        self._max_side = max_side
        self._max_faces = max_faces
        self._mesh: Any = face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_confidence,
        )

    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Find faces.

        MediaPipe's detector sees a letterboxed square, so faces in wide or tall
        images are easily missed; the image is therefore also searched in
        overlapping square windows along its long side, and faces found more than
        once are merged (the copy farthest from its window's edges wins).

        Args:
            rgb: ``(H, W, 3)`` uint8 RGB image.

        Returns:
            One ``(478, 3)`` float64 array per face (see :class:`DetectedFace`),
            at most ``max_faces``, in no particular order; empty when there is no face.
        """
        rgb = _check_rgb(rgb)
        height, width = rgb.shape[:2]
        scale = min(1.0, self._max_side / max(height, width))
        small = rgb
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        candidates = self._search(small, search_windows(*small.shape[:2]))
        if not candidates:  # small faces: look again, closer
            candidates = self._search(small, fine_search_windows(*small.shape[:2]))
        kept: list[np.ndarray] = []
        for _, vertices in sorted(candidates, key=lambda c: c[0], reverse=True):
            if all(_box_iou(_bounds(vertices), _bounds(other)) < 0.4 for other in kept):
                kept.append(vertices)
        faces = kept[: self._max_faces]
        if small is not rgb:  # pixel centres of the reduced copy back to the original's
            factors = np.array([width / small.shape[1], height / small.shape[0]])
            for vertices in faces:
                vertices[:, :2] = (vertices[:, :2] + 0.5) * factors - 0.5
                vertices[:, 2] *= factors[0]
        return faces

    def _search(
        self, rgb: np.ndarray, windows: list[tuple[int, int, int, int]]
    ) -> list[tuple[float, np.ndarray]]:
        """Faces found in each window, in image pixels, with their edge clearance."""
        candidates = []
        for x0, y0, x1, y1 in windows:
            for vertices in self._detect_window(rgb[y0:y1, x0:x1]):
                vertices[:, 0] += x0
                vertices[:, 1] += y0
                candidates.append((_edge_clearance(vertices, (x0, y0, x1, y1)), vertices))
        return candidates

    def _detect_window(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Face Mesh on one window: vertices in the window's pixels (z scaled by its width)."""
        height, width = rgb.shape[:2]
        with warnings.catch_warnings():  # protobuf deprecation noise on every call
            warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
            result = self._mesh.process(np.ascontiguousarray(rgb))
        faces = []
        for face in result.multi_face_landmarks or []:
            norm = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
            if norm.shape != (MEDIAPIPE_COUNT, 3):
                continue
            # Normalised [0, 1] with the origin at the top-left corner -> pixel centres.
            pixels = np.empty_like(norm)
            pixels[:, 0] = norm[:, 0] * width - 0.5
            pixels[:, 1] = norm[:, 1] * height - 0.5
            pixels[:, 2] = norm[:, 2] * width
            faces.append(pixels)
        return faces

    def close(self) -> None:
        """Free MediaPipe's resources; the detector cannot be used afterwards."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None


class FaceDetector(_ClosedOnExit):
    """Faces with boxes, 478 Face Mesh vertices and 68 iBUG landmarks, largest first."""

    def __init__(
        self,
        landmark_map: Landmark68Map | None = None,
        max_faces: int = 8,
        min_confidence: float = 0.5,
        max_side: int = DEFAULT_MAX_SIDE,
    ) -> None:
        """
        Args:
            landmark_map: the MediaPipe → iBUG map; default: the shipped one.
            max_faces, min_confidence, max_side: see :class:`MeshDetector`.
        """
        self._map = Landmark68Map.load() if landmark_map is None else landmark_map
        self._meshes = MeshDetector(max_faces, min_confidence, max_side)

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Every face in ``rgb`` (``(H, W, 3)`` uint8), largest box first; empty if none."""
        faces = []
        for vertices in self._meshes.detect(rgb):
            lo = vertices[:, :2].min(axis=0)
            hi = vertices[:, :2].max(axis=0)
            faces.append(DetectedFace(
                box=np.concatenate([lo, hi]),
                landmarks478=vertices,
                landmarks68=self._map.apply(vertices[:, :2]),
            ))
        return sorted(faces, key=lambda face: face.area, reverse=True)

    def detect_one(self, rgb: np.ndarray, index: int = 0) -> DetectedFace:
        """The ``index``-th largest face.

        Raises:
            NoFaceFound: there is no face, or fewer than ``index + 1``.
        """
        faces = self.detect(rgb)
        if not faces:
            raise NoFaceFound(
                "no face was found in the image; use a photo where one face is clearly "
                "visible, roughly frontal and not too small"
            )
        if not 0 <= index < len(faces):
            raise NoFaceFound(f"face {index} was asked for, but only {len(faces)} found")
        return faces[index]

    def close(self) -> None:
        """Free MediaPipe's resources."""
        self._meshes.close()


def search_windows(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """Windows ``(x0, y0, x1, y1)`` searched for faces: the whole image, then, when it is
    not roughly square, squares of its short side at half-side steps along the long side."""
    windows = [(0, 0, width, height)]
    side = min(height, width)
    long_side = max(height, width)
    if long_side <= 1.25 * side:
        return windows
    starts = [*range(0, long_side - side, max(side // 2, 1)), long_side - side]
    for start in sorted(set(starts)):
        if width >= height:
            windows.append((start, 0, start + side, height))
        else:
            windows.append((0, start, width, start + side))
    return windows


def fine_search_windows(height: int, width: int, min_side: int = 192) -> list[tuple[int, int, int, int]]:
    """Squares of half the short side (at least ``min_side``) at half-side steps over the image."""
    side = max(min(height, width) // 2, min(min_side, height, width))

    def starts(length: int) -> list[int]:
        return sorted(set([*range(0, max(length - side, 0), max(side // 2, 1)), max(length - side, 0)]))

    return [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]


def _bounds(vertices: np.ndarray) -> np.ndarray:
    return np.concatenate([vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0)])


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    overlap = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    union = (a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - overlap
    return float(overlap / union) if union > 0 else 0.0


def _edge_clearance(vertices: np.ndarray, window: tuple[int, int, int, int]) -> float:
    """Distance from the face's box to the nearest window edge, in face sizes (negative: cut off)."""
    x0, y0, x1, y1 = _bounds(vertices)
    size = max(x1 - x0, y1 - y0, 1e-6)
    wx0, wy0, wx1, wy1 = window
    return float(min(x0 - wx0, y0 - wy0, wx1 - 1 - x1, wy1 - 1 - y1) / size)


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {rgb.dtype}")
    if min(rgb.shape[:2]) < 1:
        raise ValueError(f"the image is empty: {rgb.shape}")
    return rgb
