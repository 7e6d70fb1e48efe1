"""Benchmark: the engine on real photos (not a test; run it by hand).

    python tests/benchmarks/bench_engine.py [--repeats N] [--photo PATH] [--threads T]
        [--parts decompose,fidelity0,render,stroke] [--val-photos N]

Issue 6's targets on the 2-core CPU:

* decomposition per photo, detection included: fidelity 0 <= 0.3 s, the default
  fidelity <= 5 s, fidelity 1 <= 20 s;
* a brush stroke's re-render and composite into a 12-megapixel photo <= 50 ms.

Issue 13's (item 4):

* fidelity 0 (encoder only), detection included: median <= 80 ms per photo over
  ``--val-photos`` validation photos of at most 1 MP (``fidelity0``; stage medians
  from ``Decomposition.timings_ms``; skipped without the training data);
* ``<stem>_render.png`` / ``_mask.png`` of a 12-megapixel photo <= 100 ms (``render``):
  the old path (the editor's surface map, then ``FaceEditor.reconstruction``) beside
  the new one (:class:`~facecraft.core.editing.reconstruction.ReconstructionRenderer`: GL over
  the face's region): cold (the process's first OpenGL use: driver loaded, context and
  shaders made on the spot), warm (context kept, as for the next photos of a batch), and
  the first photo of a renderer started during a decomposition, as the CLI starts it
  (measured after the cold one, so with the driver already loaded; the CLI's own
  ``render_full_resolution`` timing in ``<stem>.json`` is the fresh-process figure);
  and how closely the two agree.

The 12-megapixel photo is the sample photo scaled up to 4000 x 3000 (its face
then spans ~800 px, about what a portrait at that resolution has). A stroke
segment is what one mouse move adds: a few dabs along 20 canvas texels; its time
covers painting the layer, flattening the stack there and re-compositing the
photo pixels it reaches. Medians (and fastest) of ``--repeats`` runs; setting up
the editor (rasterizing the face at full resolution) and re-compositing the
whole face (what moving a sticker or relighting costs) are reported apart.
Brush radii are canvas texels (the canvas is 1152 x 1344). ``--threads`` sets
PyTorch's threads (default: its own choice); on a shared machine say so with the figures.
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
from facecraft.core.decomposition import Decomposition
from facecraft.core.editing.document import BrushSettings
from facecraft.core.editing.editor import FaceEditor
from facecraft.core.editing.reconstruction import ReconstructionRenderer
from facecraft.core.errors import FaceCraftError
from facecraft.core.fitting import DEFAULT_FIDELITY
from facecraft.core.io.image_read import load_image
from facecraft.core.resources import resource_path

PARTS = ("decompose", "fidelity0", "render", "stroke")
MAX_PIXELS = 1_000_000


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


def fidelity0_benchmark(decomposer: Decomposer, count: int) -> dict:
    """Fidelity 0 per photo (detection included) over ``count`` val photos of at most 1 MP."""
    from facecraft.training.faces_data import read_manifest

    try:
        records = [r for r in read_manifest() if r.split == "val" and r.width * r.height <= MAX_PIXELS]
    except FileNotFoundError as exc:
        return {"skipped": str(exc)}
    chosen = records[:: max(1, len(records) // count)][:count]
    photos = [load_image(record.path).rgb for record in chosen]
    decomposer.decompose(photos[0], 0.0)  # warm-up
    times, stages, failed = [], [], 0
    for rgb in photos:
        start = time.perf_counter()
        try:
            decomposition = decomposer.decompose(rgb, 0.0)
        except FaceCraftError:
            failed += 1
            continue
        times.append((time.perf_counter() - start) * 1000)
        stages.append(decomposition.timings_ms)
    names = dict.fromkeys(name for stage in stages for name in stage)
    return {
        "photos": len(times),
        "failed": failed,
        "sizes": sorted({f"{r.width}x{r.height}" for r in chosen}),
        "median_ms": round(float(np.median(times)), 1),
        "p90_ms": round(float(np.percentile(times, 90)), 1),
        "min_ms": round(float(np.min(times)), 1),
        "stage_medians_ms": {n: round(float(np.median([s.get(n, 0.0) for s in stages])), 1) for n in names},
    }


def render_benchmark(
    decomposer: Decomposer, big: np.ndarray, decomposition: Decomposition, repeats: int
) -> dict:
    """``<stem>_render.png``'s picture at 12 MP: the editor's surface map vs GL over the face's region."""
    template = decomposer.template

    def old() -> tuple[np.ndarray, np.ndarray]:
        return FaceEditor(big, decomposition, template).reconstruction()

    report: dict[str, object] = {"old_surface_map": wall_ms(old, repeats, warmup=1)}
    start = time.perf_counter()
    with ReconstructionRenderer(template) as renderer:  # the process's first OpenGL use
        renderer.render(big, decomposition)
        report["new_first_photo_cold_ms"] = round((time.perf_counter() - start) * 1000, 1)
        report["new_warm"] = wall_ms(lambda: renderer.render(big, decomposition), repeats)
    with ReconstructionRenderer(template) as renderer:  # as the CLI: started before the model is needed
        renderer.start()
        decomposer.decompose(big, 0.0)
        start = time.perf_counter()
        renderer.render(big, decomposition)
        report["new_first_photo_started_early_ms"] = round((time.perf_counter() - start) * 1000, 1)
        report["new_backend"] = renderer.backend
        if renderer.fallback_reason:
            report["new_fallback_reason"] = renderer.fallback_reason
        if renderer.gl_device is not None:
            report["gl_device"] = renderer.gl_device
        render, mask = renderer.render(big, decomposition)
    expected, expected_mask = old()
    face, expected_face = mask > 0, expected_mask > 0
    both = face & expected_face
    error = np.abs(render.astype(np.int16) - expected.astype(np.int16))[both]
    report["agreement"] = {
        "face_pixels": int(expected_face.sum()),
        "mask_iou": round(float(both.sum() / (face | expected_face).sum()), 6),
        "mean_abs_grey_levels": round(float(error.mean()), 4),
        "max_abs_grey_levels": int(error.max()),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="decompositions per fidelity")
    parser.add_argument("--stroke-repeats", type=int, default=60)
    parser.add_argument("--photo", default=str(resource_path("samples/astronaut.jpg")))
    parser.add_argument("--threads", type=int, default=None, help="PyTorch threads")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--val-photos", type=int, default=30, help="photos for the fidelity-0 median")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= set(PARTS):
        parser.error(f"--parts: unknown {sorted(parts - set(PARTS))}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    photo = load_image(args.photo)
    report: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "photo": f"{args.photo} ({photo.width}x{photo.height})",
    }
    with Decomposer.load() as decomposer:
        decomposer.decompose(photo.rgb, 0.05)  # warm-up: detector, autograd
        if "decompose" in parts:
            for fidelity in (0.0, DEFAULT_FIDELITY, 1.0):
                repeats = args.repeats if fidelity < 1.0 else max(1, args.repeats // 2)
                report[f"decompose_fidelity_{fidelity}"] = decomposition_times(
                    decomposer, photo.rgb, fidelity, repeats
                )
        if "fidelity0" in parts:
            report["fidelity_0_val_photos"] = fidelity0_benchmark(decomposer, args.val_photos)

        big = twelve_megapixels(photo.rgb)
        if "decompose" in parts:
            report["decompose_fidelity_0.0_12MP"] = decomposition_times(decomposer, big, 0.0, args.repeats)
        if parts & {"render", "stroke"}:
            decomposition = decomposer.decompose(big, 0.0)
        if "render" in parts:
            report["render_full_resolution_12MP"] = render_benchmark(
                decomposer, big, decomposition, args.repeats
            )
        if "stroke" in parts:
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
