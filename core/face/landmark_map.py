"""The fixed linear map from MediaPipe Face Mesh vertices to the 68 iBUG landmarks.

Each iBUG point is a weighted sum of the 478 Face Mesh vertices, with weights
that sum to one (so the map commutes with any affine change of image
coordinates: shift, scale, rotation). The weights are fitted by least squares on
the annotated training photos by :mod:`facecraft.training.fit_landmark_map` and
shipped in ``resources/landmark68_map.npz``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecraft.core.errors import ResourceError
from facecraft.core.face.landmark_indices import IBUG_COUNT, MEDIAPIPE_COUNT
from facecraft.core.resources import resource_path

LANDMARK_MAP_FILE = "landmark68_map.npz"


@dataclass(frozen=True)
class Landmark68Map:
    """Weights of the MediaPipe → iBUG-68 map.

    Attributes:
        weights: ``(68, 478)`` float64; each row sums to 1.
    """

    weights: np.ndarray

    def __post_init__(self) -> None:
        if self.weights.shape != (IBUG_COUNT, MEDIAPIPE_COUNT):
            raise ValueError(
                f"landmark map weights must be (68, 478), got {self.weights.shape}"
            )
        if not np.isfinite(self.weights).all():
            raise ValueError("landmark map weights contain NaN or infinity")
        if not np.allclose(self.weights.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError("each row of the landmark map weights must sum to 1")

    def apply(self, landmarks478: np.ndarray) -> np.ndarray:
        """Map Face Mesh vertices to iBUG points.

        Args:
            landmarks478: ``(..., 478, D)`` vertices in any coordinate frame
                (typically image pixels, ``D`` = 2 or 3).

        Returns:
            ``(..., 68, D)`` points in the same frame.
        """
        landmarks478 = np.asarray(landmarks478, dtype=np.float64)
        if landmarks478.shape[-2] != MEDIAPIPE_COUNT:
            raise ValueError(f"expected (..., 478, D) vertices, got {landmarks478.shape}")
        return np.einsum("kn,...nd->...kd", self.weights, landmarks478)

    def save(self, path: str | Path, metrics: dict[str, float] | None = None) -> None:
        """Write the weights (and optional fit metrics) to an ``.npz`` file."""
        extra = {f"metric_{k}": np.float64(v) for k, v in (metrics or {}).items()}
        np.savez_compressed(Path(path), weights=self.weights.astype(np.float64), **extra)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Landmark68Map:
        """Read the map from ``path`` (default: the shipped resource).

        Raises:
            ResourceError: the file is missing, corrupt or of the wrong shape.
        """
        path = resource_path(LANDMARK_MAP_FILE) if path is None else Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                weights = np.array(data["weights"], dtype=np.float64)
            return cls(weights=weights)
        except FileNotFoundError as exc:
            raise ResourceError(
                f"{path}: the 68-point landmark map is missing; rebuild it with "
                "`python -m facecraft.training.fit_landmark_map`"
            ) from exc
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ResourceError(f"{path}: the 68-point landmark map is unreadable ({exc})") from exc
