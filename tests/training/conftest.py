"""Fixtures of the training tests: the prepared tiny split."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_runs import tiny_split

from facecraft.training.prepare_data import save_split


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, astronaut_rgb, detector, template) -> Path:
    """A folder with ``train.npz``: six crops of the sample photo with its pseudo ground truth."""
    folder = tmp_path_factory.mktemp("prepared")
    save_split(tiny_split(astronaut_rgb, detector, template), folder / "train.npz")
    return folder
