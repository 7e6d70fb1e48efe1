"""Fit the fixed linear map from MediaPipe Face Mesh vertices to the 68 iBUG landmarks.

Each iBUG point k is modelled as ``sum_j W[k, j] * v_j`` over the 478 Face Mesh
vertices ``v_j`` (image x, y), with ``sum_j W[k, j] = 1`` so that the map
commutes with translation, rotation and scale. W minimises the squared error
against the annotated points of the train split plus a ridge penalty; the ridge
weight is chosen on a held-out tenth of the train split, then W is refitted on
all of it. The val split is only used to report the NME.

    python -m facecraft.training.fit_landmark_map        # writes resources/landmark68_map.npz
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecraft.core.face.landmark_indices import (
    IBUG_COUNT,
    IBUG_GROUPS,
    MEDIAPIPE_COUNT,
    nme,
    outer_eye_distance,
)
from facecraft.core.face.landmark_map import LANDMARK_MAP_FILE, Landmark68Map
from facecraft.core.resources import resource_path
from facecraft.training.faces_data import DEFAULT_CACHE_DIR, DEFAULT_DATA_DIR
from facecraft.training.mesh_cache import MeshCache, load_or_build

RIDGE_GRID = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


@dataclass(frozen=True)
class MapFitReport:
    """What the fit measured (NMEs are fractions of the outer-eye-corner distance)."""

    ridge: float
    train_photos: int
    val_photos: int
    train_nme: float
    val_nme_mean: float
    val_nme_median: float
    val_nme_by_group: dict[str, float]


def normalise(meshes: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put each face in a frame centred on its vertices and scaled by its eye distance.

    Args:
        meshes: ``(N, 478, 2)`` vertices; targets: ``(N, 68, 2)`` annotated points.

    Returns:
        Both arrays in the per-face normalised frame (same shapes).
    """
    centre = meshes.mean(axis=1, keepdims=True)
    scale = outer_eye_distance(targets)[:, None, None]
    return (meshes - centre) / scale, (targets - centre) / scale


def fit_weights(meshes: np.ndarray, targets: np.ndarray, ridge: float) -> np.ndarray:
    """Least-squares weights with rows summing to one.

    Args:
        meshes: ``(N, 478, 2)`` normalised vertices.
        targets: ``(N, 68, 2)`` normalised annotated points.
        ridge: penalty on ``||W||^2`` (per photo, so it does not depend on N).

    Returns:
        ``(68, 478)`` weights.
    """
    n = meshes.shape[0]
    design = meshes.transpose(0, 2, 1).reshape(2 * n, MEDIAPIPE_COUNT)  # rows: (photo, axis)
    rhs = targets.transpose(0, 2, 1).reshape(2 * n, IBUG_COUNT)
    gram = design.T @ design / n + ridge * np.eye(MEDIAPIPE_COUNT)
    # KKT system of the equality-constrained least squares: [G 1; 1' 0] [w; mu] = [A'b; 1].
    kkt = np.zeros((MEDIAPIPE_COUNT + 1, MEDIAPIPE_COUNT + 1))
    kkt[:MEDIAPIPE_COUNT, :MEDIAPIPE_COUNT] = gram
    kkt[:MEDIAPIPE_COUNT, -1] = 1.0
    kkt[-1, :MEDIAPIPE_COUNT] = 1.0
    right = np.vstack([design.T @ rhs / n, np.ones((1, IBUG_COUNT))])
    solution = np.linalg.solve(kkt, right)
    return solution[:MEDIAPIPE_COUNT].T


def fit(cache: MeshCache, seed: int = 0) -> tuple[Landmark68Map, MapFitReport]:
    """Choose the ridge on held-out train photos, refit on all train photos, report val NME."""
    train, val = cache.select("train"), cache.select("val")
    x_train, y_train = normalise(train.meshes[..., :2], train.annotations)
    order = np.random.default_rng(seed).permutation(len(x_train))
    held, kept = order[: len(order) // 10], order[len(order) // 10:]

    def held_out_nme(ridge: float) -> float:
        weights = fit_weights(x_train[kept], y_train[kept], ridge)
        return float(nme(np.einsum("kn,inx->ikx", weights, x_train[held]), y_train[held]).mean())

    ridge = min(RIDGE_GRID, key=held_out_nme)
    landmark_map = Landmark68Map(fit_weights(x_train, y_train, ridge))
    train_errors = nme(landmark_map.apply(train.meshes[..., :2]), train.annotations)
    predicted = landmark_map.apply(val.meshes[..., :2])
    val_errors = nme(predicted, val.annotations)
    scale = outer_eye_distance(val.annotations)[:, None]
    point_errors = np.linalg.norm(predicted - val.annotations, axis=-1) / scale
    report = MapFitReport(
        ridge=ridge,
        train_photos=len(train.relpaths),
        val_photos=len(val.relpaths),
        train_nme=float(train_errors.mean()),
        val_nme_mean=float(val_errors.mean()),
        val_nme_median=float(np.median(val_errors)),
        val_nme_by_group={name: float(point_errors[:, list(idx)].mean())
                          for name, idx in IBUG_GROUPS.items()},
    )
    return landmark_map, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="training data folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE_DIR, help="cache folder")
    parser.add_argument("--out", type=Path, default=resource_path(LANDMARK_MAP_FILE),
                        help="where to write the map")
    args = parser.parse_args(argv)
    landmark_map, report = fit(load_or_build(args.cache, args.data))
    tmp = args.out.with_suffix(".tmp.npz")
    landmark_map.save(tmp, metrics={"val_nme_mean": report.val_nme_mean,
                                    "val_nme_median": report.val_nme_median,
                                    "ridge": report.ridge})
    tmp.replace(args.out)
    report_path = args.out.with_suffix(".json")
    report_path.write_text(json.dumps(report.__dict__, indent=2) + "\n")
    print(json.dumps(report.__dict__, indent=2))
    print(f"wrote {args.out} and {report_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
