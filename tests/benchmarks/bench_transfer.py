"""Benchmark: borrowing from another photo, and the turntable (not a test; run it by hand).

    python tests/benchmarks/bench_transfer.py [--repeats N] [--threads T] [--parts PART,...]

Parts: reference, transfer, turntable (default: all).

Issue 15's targets on the 2-core CPU:

* decomposing the reference photo (in the background): reported, no target; at the
  default fidelity and at fidelity 0 (encoder only), detection and the seen albedo at
  canvas resolution included (:func:`~facecraft.core.editing.reference.load_reference`);
* applying a transfer to a 12-megapixel photo, to the re-composited photo ("to screen"):
  <= 150 ms. Timed: making the layer's pixels, adding it (flattening the stack) and
  re-compositing the photo pixels it reaches (what ``EditorState.add_transfer`` does before
  the view copies the changed rectangle). Two 12 MP photos: the sample scaled into 4000 x 3000
  (the face ~800 px tall, 3 % of the frame) and a close-up (the face ~1,900 px tall);
* exporting a 4 s 512 x 512 turntable at 30 fps (120 frames): <= 10 s, MP4 and GIF.

The reference is the sample photo mirrored with its colours turned. Medians (and fastest)
of ``--repeats`` runs; each transfer is undone between runs (not timed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from bench_engine import twelve_megapixels

from facecraft.core.decompose import Decomposer
from facecraft.core.editing.albedo import canvas_size
from facecraft.core.editing.editor import FaceEditor
from facecraft.core.editing.layers import TransferSpec
from facecraft.core.editing.reference import build_reference, load_reference
from facecraft.core.editing.transfer import add_transfer
from facecraft.core.fitting import DEFAULT_FIDELITY
from facecraft.core.io.image_read import load_image
from facecraft.core.io.image_write import write_image
from facecraft.core.io.pixels import unit_to_uint8
from facecraft.core.render.turntable import TurntableScene, TurntableSettings, write_turntable
from facecraft.core.resources import resource_path

PARTS = ("reference", "transfer", "turntable")
CASES = (
    ("lips, colour", ("lips",), "colour"),
    ("lips, texture", ("lips",), "texture"),
    ("lips + eyelids + brows, colour", ("lips", "eyelids", "brows"), "colour"),
    ("whole face, texture", ("face",), "texture"),
)


def reference_photo(rgb: np.ndarray, folder: Path) -> Path:
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb[:, ::-1]), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + 150) % 180).astype(np.uint8)
    path = folder / "reference.png"
    write_image(path, cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
    return path


def close_up(rgb: np.ndarray) -> np.ndarray:
    """The sample's face and shoulders scaled to 4000 x 3000."""
    return cv2.resize(rgb[10:310, 50:450], (4000, 3000), interpolation=cv2.INTER_CUBIC)


def time_reference(decomposer: Decomposer, path: Path, repeats: int) -> dict:
    results = {}
    for fidelity in (0.0, DEFAULT_FIDELITY):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            load_reference(path, decomposer, canvas_size(), fidelity)
            times.append((time.perf_counter() - start) * 1000)
        results[f"fidelity {fidelity}"] = {
            "median_ms": round(float(np.median(times)), 1),
            "min_ms": round(float(np.min(times)), 1),
        }
    return results


def time_transfers(decomposer: Decomposer, photo: np.ndarray, reference, repeats: int) -> dict:
    decomposition = decomposer.decompose(photo, DEFAULT_FIDELITY)
    editor = FaceEditor(photo, decomposition, decomposer.template)
    base = editor.base_albedo()
    results = {"face_pixels": int(editor.surface.covered.sum())}
    for name, regions, mode in CASES:
        spec = TransferSpec(reference.name, regions, mode, 0.8)
        times = []
        for _ in range(repeats + 1):  # the first is a warm-up
            start = time.perf_counter()
            _, rect = add_transfer(editor.document, base, reference, spec)
            editor.refresh(rect)
            times.append((time.perf_counter() - start) * 1000)
            editor.document.undo()
            editor.refresh(None)
        results[name] = {
            "median_ms": round(float(np.median(times[1:])), 1),
            "min_ms": round(float(np.min(times[1:])), 1),
        }
    return results


def time_turntable(decomposer: Decomposer, photo: np.ndarray, repeats: int) -> dict:
    decomposition = decomposer.decompose(photo, DEFAULT_FIDELITY)
    editor = FaceEditor(photo, decomposition, decomposer.template)
    scene = TurntableScene(decomposition.shape, unit_to_uint8(editor.edited_albedo()), decomposition.lighting)
    settings = TurntableSettings(seconds=4.0, fps=30, size=512)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for suffix in (".mp4", ".gif"):
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                write_turntable(Path(folder) / f"turn{suffix}", scene, decomposer.template, settings)
                times.append(time.perf_counter() - start)
            size = (Path(folder) / f"turn{suffix}").stat().st_size
            results[suffix[1:]] = {
                "median_s": round(float(np.median(times)), 2),
                "min_s": round(float(np.min(times)), 2),
                "bytes": size,
            }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--parts", default=",".join(PARTS))
    args = parser.parse_args()
    parts = args.parts.split(",")
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rgb = load_image(resource_path("samples/astronaut.jpg")).rgb
    report: dict = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    with Decomposer.load() as decomposer, tempfile.TemporaryDirectory() as folder:
        path = reference_photo(rgb, Path(folder))
        if "reference" in parts:
            report["reference_decomposition"] = time_reference(decomposer, path, args.repeats)
        if "transfer" in parts:
            reference_rgb = load_image(path).rgb
            decomposition = decomposer.decompose(reference_rgb, DEFAULT_FIDELITY)
            reference = build_reference(
                reference_rgb, decomposition, decomposer.template, canvas_size(), path.name
            )
            report["transfer_12mp_padded"] = time_transfers(
                decomposer, twelve_megapixels(rgb), reference, args.repeats
            )
            report["transfer_12mp_close_up"] = time_transfers(
                decomposer, close_up(rgb), reference, args.repeats
            )
        if "turntable" in parts:
            report["turntable_4s_512_30fps"] = time_turntable(decomposer, rgb, max(1, args.repeats // 2))
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
