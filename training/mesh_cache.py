"""MediaPipe Face Mesh run once over the annotated training photos, cached outside git.

Used by the 68-point map fit and the template build. For each annotated photo the
cache holds the Face Mesh vertices of the face that the annotation belongs to
(the detected face nearest the annotated points), or NaN where none was found.

    python -m facecraft.training.mesh_cache   # (re)build the cache
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facecraft.core.face.detection import MeshDetector
from facecraft.core.face.landmark_indices import IBUG_COUNT, MEDIAPIPE_COUNT
from facecraft.core.io.image_read import load_image
from facecraft.training.faces_data import (
    DEFAULT_CACHE_DIR,
    DEFAULT_DATA_DIR,
    landmarked_photos,
    read_pts,
)

CACHE_NAME = "landmarked_meshes.npz"


@dataclass(frozen=True)
class MeshCache:
    """Face Mesh vertices and annotations of the annotated photos.

    Attributes:
        relpaths: ``(N,)`` photo paths relative to the data folder.
        splits: ``(N,)`` ``"train"`` or ``"val"``.
        sizes: ``(N, 2)`` image ``(width, height)``.
        meshes: ``(N, 478, 3)`` vertices in image pixels; NaN where detection failed.
        annotations: ``(N, 68, 2)`` annotated iBUG points in 0-based image pixels.
        seconds: ``(N,)`` detection wall time per photo.
    """

    relpaths: np.ndarray
    splits: np.ndarray
    sizes: np.ndarray
    meshes: np.ndarray
    annotations: np.ndarray
    seconds: np.ndarray

    @property
    def detected(self) -> np.ndarray:
        """``(N,)`` bool: a face was found."""
        return np.isfinite(self.meshes).all(axis=(1, 2))

    def select(self, split: str) -> MeshCache:
        """Only the photos of ``split`` whose face was detected."""
        keep = (self.splits == split) & self.detected
        return MeshCache(*(getattr(self, f)[keep] for f in
                           ("relpaths", "splits", "sizes", "meshes", "annotations", "seconds")))


def build_cache(data_dir: Path = DEFAULT_DATA_DIR, limit: int | None = None) -> MeshCache:
    """Detect Face Mesh vertices on every annotated photo (with a progress bar)."""
    records = landmarked_photos(data_dir=data_dir)[:limit]
    meshes = np.full((len(records), MEDIAPIPE_COUNT, 3), np.nan)
    annotations = np.zeros((len(records), IBUG_COUNT, 2))
    seconds = np.zeros(len(records))
    with MeshDetector(max_faces=4) as detector:
        for i, record in enumerate(tqdm(records, desc="Face Mesh on annotated photos", unit="photo")):
            annotations[i] = read_pts(record.path.with_suffix(".pts"))
            rgb = load_image(record.path).rgb
            start = time.perf_counter()
            faces = detector.detect(rgb)
            seconds[i] = time.perf_counter() - start
            if faces:
                centre = annotations[i].mean(axis=0)
                meshes[i] = min(faces, key=lambda f: np.linalg.norm(f[:, :2].mean(0) - centre))
    return MeshCache(
        relpaths=np.array([r.relpath for r in records]),
        splits=np.array([r.split for r in records]),
        sizes=np.array([(r.width, r.height) for r in records]),
        meshes=meshes,
        annotations=annotations,
        seconds=seconds,
    )


def save_cache(cache: MeshCache, path: Path) -> None:
    """Write the cache atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **{f: getattr(cache, f) for f in cache.__dataclass_fields__})
    tmp.replace(path)


def load_cache(path: Path) -> MeshCache:
    """Read a cache written by :func:`save_cache`."""
    with np.load(path, allow_pickle=False) as data:
        return MeshCache(**{f: data[f] for f in MeshCache.__dataclass_fields__})


def load_or_build(cache_dir: Path = DEFAULT_CACHE_DIR, data_dir: Path = DEFAULT_DATA_DIR) -> MeshCache:
    """The cached detections, building them first when the cache is missing."""
    path = cache_dir / CACHE_NAME
    if path.is_file():
        return load_cache(path)
    cache = build_cache(data_dir)
    save_cache(cache, path)
    return cache


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="training data folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE_DIR, help="cache folder")
    args = parser.parse_args(argv)
    cache = build_cache(args.data)
    save_cache(cache, args.cache / CACHE_NAME)
    missed = cache.relpaths[~cache.detected]
    report = {
        "photos": len(cache.relpaths),
        "detected": int(cache.detected.sum()),
        "missed": missed.tolist(),
        "median_detection_ms": float(np.median(cache.seconds) * 1000),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
