"""The training photos in ``../shared/data/faces``: manifest, splits and 300-W ``.pts`` files.

Photos are read by path and never copied into the repository.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecraft.core.face.landmark_indices import IBUG_COUNT

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "faces"
"""``../shared/data/faces`` beside the repository checkout."""

DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[1] / "cache"
"""Preprocessed caches (git-ignored)."""


@dataclass(frozen=True)
class PhotoRecord:
    """One row of ``manifest.csv``."""

    path: Path
    relpath: str
    source: str
    width: int
    height: int
    has_landmarks: bool
    split: str


def read_manifest(data_dir: Path = DEFAULT_DATA_DIR) -> list[PhotoRecord]:
    """Every photo listed in ``data_dir/manifest.csv``, in file order."""
    manifest = data_dir / "manifest.csv"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: the training data manifest is missing")
    with manifest.open(newline="") as handle:
        return [
            PhotoRecord(
                path=data_dir / row["relpath"],
                relpath=row["relpath"],
                source=row["source"],
                width=int(row["width"]),
                height=int(row["height"]),
                has_landmarks=row["has_landmarks"] == "1",
                split=row["split"],
            )
            for row in csv.DictReader(handle)
        ]


def landmarked_photos(split: str | None = None, data_dir: Path = DEFAULT_DATA_DIR) -> list[PhotoRecord]:
    """Photos with 68-point annotations, optionally of one split (``"train"`` or ``"val"``)."""
    return [r for r in read_manifest(data_dir) if r.has_landmarks and split in (None, r.split)]


def read_pts(path: Path) -> np.ndarray:
    """Read a 300-W ``.pts`` file.

    Returns:
        ``(68, 2)`` float64 points in 0-based image pixels (the file's 1-based
        coordinates minus one; see :mod:`facecraft.core.conventions`).
    """
    lines = path.read_text().split("{", 1)[-1].split("}", 1)[0].split()
    points = np.array(lines, dtype=np.float64).reshape(-1, 2)
    if points.shape != (IBUG_COUNT, 2):
        raise ValueError(f"{path}: expected 68 points, got {points.shape[0]}")
    return points - 1.0
