"""Benchmark: the engine on real photos (not a test; run it by hand).

    python tests/benchmarks/bench_engine.py [--repeats N] [--photo PATH]

Issue 6's targets on the 2-core CPU:

* decomposition per photo, detection included: fidelity 0 <= 0.3 s, the default
  fidelity <= 5 s, fidelity 1 <= 20 s;
* a brush stroke's re-render and composite into a 12-megapixel photo <= 50 ms.

The 12-megapixel photo is the sample photo scaled up to 4000 x 3000 (its face
then spans ~800 px, about what a portrait at that resolution has). A stroke
segment is what one mouse move adds: a few dabs along 20 canvas texels; its time
covers painting the layer, flattening the stack there and re-compositing the
photo pixels it reaches. Medians (and fastest) of ``--repeats`` runs; setting up
the editor (rasterizing the face at full resolution) and re-compositing the
whole face (what moving a sticker or relighting costs) are reported apart.
Brush radii are canvas texels (the canvas is 1152 x 1344).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import cv2
import numpy as np
import torch
from timing import wall_ms

from facecraft.core.decompose import Decomposer
from facecraft.core.editing.document import BrushSettings
from facecraft.core.editor import FaceEditor
from facecraft.core.fitting import DEFAULT_FIDELITY
from facecraft.core.image_io import load_image
from facecraft.core.resources import resource_path


def twelve_megapixels(rgb: np.ndarray) -> np.ndarray:
    """The photo scaled (and padded) to 4000 x 3000."""
    height, width = rgb.shape[:2]
    scale = 3000 / height
    scaled = cv2.resize(rgb, (round(width * scale), 3000), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((3000, 4000, 3), 180, np.uint8)
    left = (4000 - scaled.shape[1]) // 2
    canvas[:, left : left + scaled.shape[1]] = scaled[:, : 4000 - left]
    return canvas


def decomposition_times(decomposer: Decomposer, rgb: np.ndarray, fidelity: float, repeats: int) -> dict:
    times, stages = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        decomposition = decomposer.decompose(rgb, fidelity)
        times.append((time.perf_counter() - start) * 1000)
        stages.append(decomposition.timings_ms)
    middle = stages[int(np.argsort(times)[len(times) // 2])]
    return {
        "median_ms": round(float(np.median(times)), 1),
        "min_ms": round(float(np.min(times)), 1),
        "stages_ms_of_median_run": {k: round(v, 1) for k, v in middle.items()},
        "photometric_error": round(decomposition.error, 4),
    }


def stroke_benchmark(editor: FaceEditor, repeats: int, radius: float) -> dict:
    document = editor.document
    layer = document.add_paint_layer()
    brush = BrushSettings((0.8, 0.1, 0.2), radius=radius, hardness=0.7, opacity=0.9)
    decomposition = editor.decomposition
    start = (decomposition.detected_landmarks68[2] + decomposition.detected_landmarks68[30]) / 2
    canvas, valid = editor.photo_to_canvas(start[None])
    if not valid.all():
        raise SystemExit("the stroke start is off the face")
    position = canvas[0].copy()
    stroke = document.begin_stroke(layer, brush)
    stroke.add_points(position[None])
    pixels = []

    def segment() -> None:
        position[0] += 20.0 if position[0] < canvas[0, 0] + 400 else -400.0
        rect = stroke.add_points(position[None])
        changed = editor.refresh(rect)
        pixels.append(changed.area)

    timing = wall_ms(segment, repeats)
    document.end_stroke(stroke)
    timing["photo_pixels_recomposited_median"] = int(np.median(pixels))
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="decompositions per fidelity")
    parser.add_argument("--stroke-repeats", type=int, default=60)
    parser.add_argument("--photo", default=str(resource_path("samples/astronaut.jpg")))
    args = parser.parse_args()
    photo = load_image(args.photo)
    report: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "photo": f"{args.photo} ({photo.width}x{photo.height})",
    }
    with Decomposer.load() as decomposer:
        decomposer.decompose(photo.rgb, 0.05)  # warm-up: detector, autograd
        for fidelity in (0.0, DEFAULT_FIDELITY, 1.0):
            repeats = args.repeats if fidelity < 1.0 else max(1, args.repeats // 2)
            report[f"decompose_fidelity_{fidelity}"] = decomposition_times(
                decomposer, photo.rgb, fidelity, repeats
            )

        big = twelve_megapixels(photo.rgb)
        report["decompose_fidelity_0.0_12MP"] = decomposition_times(decomposer, big, 0.0, args.repeats)
        decomposition = decomposer.decompose(big, 0.0)
        start = time.perf_counter()
        editor = FaceEditor(big, decomposition, decomposer.template)
        report["editor_setup_12MP_ms"] = round((time.perf_counter() - start) * 1000, 1)
        report["face_pixels_12MP"] = int(editor.surface.covered.sum())
        for radius in (12.0, 60.0):
            report[f"stroke_segment_12MP_radius_{radius:g}"] = stroke_benchmark(
                editor, args.stroke_repeats, radius
            )
        report["recomposite_whole_face_12MP"] = wall_ms(lambda: editor.refresh(None), 10)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
