"""Shared fixtures: the astronaut photo, a face detector, the shipped template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facecraft.core.decompose import Decomposer
from facecraft.core.decomposition import Decomposition
from facecraft.core.face.detection import FaceDetector
from facecraft.core.face.template import FaceTemplate, load_template
from facecraft.core.io.image_read import load_image
from facecraft.core.resources import resource_path
from facecraft.training.faces_data import DEFAULT_DATA_DIR

ASTRONAUT = resource_path("samples/astronaut.jpg")


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    """``(512, 512, 3)`` uint8: NASA's public-domain portrait of Eileen Collins."""
    return load_image(ASTRONAUT).rgb


@pytest.fixture(scope="session")
def detector() -> Iterator[FaceDetector]:
    with FaceDetector() as face_detector:
        yield face_detector


@pytest.fixture(scope="session")
def template() -> FaceTemplate:
    return load_template()


@pytest.fixture(scope="session")
def decomposer(detector: FaceDetector, template: FaceTemplate) -> Decomposer:
    """The shipped model with the shared detector."""
    loaded = Decomposer.load(template=template)
    return Decomposer(loaded.model, template, detector)


@pytest.fixture(scope="session")
def astronaut_decomposition(decomposer: Decomposer, astronaut_rgb: np.ndarray) -> Decomposition:
    """The astronaut decomposed at a low fidelity (alignment and some photometric fitting)."""
    return decomposer.decompose(astronaut_rgb, fidelity=0.25)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DEFAULT_DATA_DIR / "manifest.csv").is_file():
        pytest.skip(f"training data not found at {DEFAULT_DATA_DIR}")
    return DEFAULT_DATA_DIR


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--save-golden",
        action="store_true",
        help="overwrite the golden images in tests/golden with this run's renders",
    )


@pytest.fixture(scope="session")
def save_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--save-golden"))
