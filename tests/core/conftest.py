"""A second photo to borrow from: the astronaut mirrored, with its colours turned."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecraft.core.decompose import Decomposer
from facecraft.core.decomposition import Decomposition

HUE_TURN = 150
"""OpenCV hue units (0-179) the reference's colours are turned by: skin goes pink, lips violet."""


@pytest.fixture(scope="session")
def reference_rgb(astronaut_rgb: np.ndarray) -> np.ndarray:
    """``(512, 512, 3)`` uint8: the astronaut mirrored left-right and hue-turned by :data:`HUE_TURN`."""
    hsv = cv2.cvtColor(np.ascontiguousarray(astronaut_rgb[:, ::-1]), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + HUE_TURN) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


@pytest.fixture(scope="session")
def reference_decomposition(decomposer: Decomposer, reference_rgb: np.ndarray) -> Decomposition:
    """The reference decomposed at the same fidelity as ``astronaut_decomposition``."""
    return decomposer.decompose(reference_rgb, fidelity=0.25)
