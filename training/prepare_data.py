"""Data preparation: face crops, landmarks and pseudo ground truth for every training photo.

    python -m facecraft.training.prepare_data [--limit-unlabelled N] [--out cache/prepared]

For each photo of ``../shared/data/faces`` (annotated and unlabelled):

* MediaPipe Face Mesh (478 points) and the 68-point map; on annotated photos the
  face nearest the annotation, elsewhere the largest;
* the 68 landmarks: the annotated ones where the photo has them, else the mapped ones;
* the 224x224 face crop around those landmarks;
* pseudo ground truth for pre-training: the camera (in crop pixels) and the
  per-vertex shape offsets of :func:`facecraft.core.mesh_fit.fit_face_mesh`. The
  UV shape map is rebuilt from the offsets at training time
  (:class:`facecraft.core.mesh_fit.MeshToUV`), and the UV texture is unwrapped
  from the crop through it, with its visibility, by the renderer.

Writes ``train.npz`` and ``val.npz`` (uncompressed, fast to load) and
``report.json`` listing the photos where no face was found. Nothing under the
data folder is copied into the repository: the cache folder is git-ignored.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from facecraft.core.camera import Camera
from facecraft.core.errors import FaceCraftError
from facecraft.core.face.crop import CROP_SIZE, crop_image, face_crop
from facecraft.core.face.detection import FaceDetector
from facecraft.core.face.template import FaceTemplate, load_template
from facecraft.core.io.image_read import load_image
from facecraft.core.mesh_fit import fit_face_mesh
from facecraft.training.faces_data import (
    DEFAULT_CACHE_DIR,
    DEFAULT_DATA_DIR,
    PhotoRecord,
    read_manifest,
    read_pts,
)

PREPARED_DIR = DEFAULT_CACHE_DIR / "prepared"
PREPARED_VERSION = 1


@dataclass(frozen=True)
class PreparedSplit:
    """The prepared photos of one split (``N`` of them).

    Attributes:
        crops: ``(N, 224, 224, 3)`` uint8 face crops.
        landmarks: ``(N, 68, 2)`` float32 landmarks in crop pixels.
        annotated: ``(N,)`` bool, landmarks come from a human annotation (else the 68-point map).
        cameras: ``(N, 6)`` float32 pseudo ground-truth camera into the crop.
        offsets: ``(N, 468, 3)`` float32 pseudo ground-truth shape offsets (canonical frame).
        fit_residual: ``(N,)`` float32 RMS pixels of the similarity fit (in the photo).
        relpaths: ``(N,)`` photo paths relative to the data folder.
        sources: ``(N,)`` data source of each photo.
    """

    crops: np.ndarray
    landmarks: np.ndarray
    annotated: np.ndarray
    cameras: np.ndarray
    offsets: np.ndarray
    fit_residual: np.ndarray
    relpaths: np.ndarray
    sources: np.ndarray

    def __len__(self) -> int:
        return int(self.crops.shape[0])


def prepare_photo(
    record: PhotoRecord, detector: FaceDetector, template: FaceTemplate, size: int = CROP_SIZE
) -> dict[str, np.ndarray] | None:
    """Crop, landmarks and pseudo ground truth of one photo; ``None`` when no face is found."""
    rgb = load_image(record.path).rgb
    faces = detector.detect(rgb)
    if not faces:
        return None
    annotation = read_pts(record.path.with_suffix(".pts")) if record.has_landmarks else None
    if annotation is None:
        face = faces[0]
    else:
        centre = annotation.mean(axis=0)
        face = min(faces, key=lambda f: float(np.linalg.norm(f.landmarks68.mean(0) - centre)))
    landmarks = annotation if annotation is not None else face.landmarks68
    crop = face_crop(landmarks, size=size)
    fit = fit_face_mesh(face.landmarks478, template)
    crop_camera = crop.camera_to_crop(Camera.from_vector(torch.as_tensor(fit.camera[None])))
    return {
        "crops": crop_image(rgb, crop),
        "landmarks": crop.photo_to_crop(torch.as_tensor(landmarks)).numpy().astype(np.float32),
        "annotated": np.bool_(annotation is not None),
        "cameras": crop_camera.to_vector()[0].numpy().astype(np.float32),
        "offsets": fit.offsets.astype(np.float32),
        "fit_residual": np.float32(fit.residual_px),
    }


def prepare(records: list[PhotoRecord], template: FaceTemplate) -> tuple[PreparedSplit, list[str]]:
    """Prepare ``records`` (with a progress bar); returns the data and the photos that failed."""
    rows: list[dict[str, np.ndarray]] = []
    kept: list[PhotoRecord] = []
    failed: list[str] = []
    with FaceDetector(max_faces=4) as detector:
        for record in tqdm(records, desc="preparing photos", unit="photo"):
            try:
                row = prepare_photo(record, detector, template)
            except (FaceCraftError, ValueError, OSError) as exc:
                failed.append(f"{record.relpath}: {exc}")
                continue
            if row is None:
                failed.append(f"{record.relpath}: no face found")
                continue
            rows.append(row)
            kept.append(record)
    names = ("crops", "landmarks", "annotated", "cameras", "offsets", "fit_residual")
    if rows:
        arrays = {name: np.stack([row[name] for row in rows]) for name in names}
    else:
        arrays = {name: np.zeros((0,)) for name in names}
    split = PreparedSplit(
        **arrays, relpaths=np.array([r.relpath for r in kept]), sources=np.array([r.source for r in kept])
    )
    return split, failed


def save_split(split: PreparedSplit, path: Path) -> None:
    """Write atomically (uncompressed ``.npz``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(
        tmp, version=np.int32(PREPARED_VERSION), **{f.name: getattr(split, f.name) for f in fields(split)}
    )
    tmp.replace(path)


def load_split(path: Path) -> PreparedSplit:
    """Read a split written by :func:`save_split`.

    Raises:
        FileNotFoundError: not prepared yet (the message says how to prepare it).
        ValueError: written by another version of this script.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no prepared data; run `python -m facecraft.training.prepare_data`")
    with np.load(path, allow_pickle=False) as data:
        if int(data["version"]) != PREPARED_VERSION:
            raise ValueError(f"{path}: prepared by another version; run prepare_data again")
        return PreparedSplit(**{f.name: data[f.name] for f in fields(PreparedSplit)})


def select_records(
    data_dir: Path, limit_unlabelled: int | None, limit: int | None = None
) -> list[PhotoRecord]:
    """All annotated photos and the first ``limit_unlabelled`` unlabelled ones (all when ``None``)."""
    records = read_manifest(data_dir)
    annotated = [r for r in records if r.has_landmarks]
    unlabelled = [r for r in records if not r.has_landmarks][:limit_unlabelled]
    return (annotated + unlabelled)[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="training data folder")
    parser.add_argument("--out", type=Path, default=PREPARED_DIR, help="output folder (git-ignored)")
    parser.add_argument(
        "--limit-unlabelled",
        type=int,
        default=None,
        help="use only the first N photos without landmarks (default: all)",
    )
    parser.add_argument("--limit", type=int, default=None, help="stop after N photos in all (for trials)")
    args = parser.parse_args(argv)
    template = load_template()
    records = select_records(args.data, args.limit_unlabelled, args.limit)
    start = time.perf_counter()
    report: dict[str, object] = {"data": str(args.data), "photos": len(records)}
    for split_name in ("train", "val"):
        split, failed = prepare([r for r in records if r.split == split_name], template)
        save_split(split, args.out / f"{split_name}.npz")
        report[split_name] = {
            "prepared": len(split),
            "annotated": int(split.annotated.sum()) if len(split) else 0,
            "failed": failed,
            "median_fit_residual_px": float(np.median(split.fit_residual)) if len(split) else None,
        }
    report["seconds"] = round(time.perf_counter() - start, 1)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: (v if not isinstance(v, dict) else {**v, "failed": len(v["failed"])})
                for k, v in report.items()
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
