"""Benchmark: how faithful the per-photo fit is, per fidelity, on the val split (not a test; run by hand).

    python tests/benchmarks/bench_fitting_quality.py [--weights PATH] [--photos 100]
        [--fidelities 0 0.15 0.3 0.5 0.8 1] [--threads N] [--json OUT.json] [--figure OUT.png]

For the first ``--photos`` val photos of ``../shared/data/faces`` (manifest order; the first
100 hold all 52 annotated val photos), each decomposed as a user would (detection included,
the face nearest the annotation when there is one, else the largest):

* NME — the model's 68 landmarks against the human annotation, normalised by the outer
  eye-corner distance, on the annotated photos; beside it the detector's own 68 points;
* l2,1 — the photometric error of ``I(S, A)`` on the encoder's crop (eq. 4), every photo;
* time — wall time per photo, detection to finished decomposition, median.

``--figure`` draws a sheet like the paper's Fig. 5 for 6 annotated photos: input,
reconstruction at fidelity 0, 0.5 and 1 (over the crop), the fitted albedo and the
shape shaded in grey. Time figures are only meaningful with nothing else running.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from facecraft.core.decompose import Decomposer
from facecraft.core.decomposition import Decomposition
from facecraft.core.face.landmark_indices import nme
from facecraft.core.io.image_read import load_image
from facecraft.training.faces_data import DEFAULT_DATA_DIR, PhotoRecord, read_manifest, read_pts

FIGURE_FIDELITIES = (0.0, 0.5, 1.0)


def val_photos(count: int, data_dir: Path) -> list[PhotoRecord]:
    return [r for r in read_manifest(data_dir) if r.split == "val"][:count]


def decompose_photo(
    decomposer: Decomposer, record: PhotoRecord, fidelity: float
) -> tuple[Decomposition, np.ndarray | None, float, np.ndarray]:
    """``(decomposition, annotation or None, seconds, rgb)`` of one photo at ``fidelity``."""
    rgb = load_image(record.path).rgb
    truth = read_pts(record.path.with_suffix(".pts")) if record.has_landmarks else None
    started = time.perf_counter()
    faces = decomposer.detect(rgb)
    index = 0
    if truth is not None:
        index = int(np.argmin([np.linalg.norm(f.landmarks68.mean(0) - truth.mean(0)) for f in faces]))
    decomposition = decomposer.decompose(rgb, fidelity, face=index, faces=faces)
    return decomposition, truth, time.perf_counter() - started, rgb


def measure(decomposer: Decomposer, photos: list[PhotoRecord], fidelity: float) -> dict[str, float]:
    model_nme, detector_nme, errors, seconds, failed = [], [], [], [], 0
    for record in photos:
        try:
            decomposition, truth, elapsed, _ = decompose_photo(decomposer, record, fidelity)
        except Exception as exc:  # a photo the detector misses counts as failed, not fatal
            print(f"  {record.relpath}: {exc}", file=sys.stderr)
            failed += 1
            continue
        errors.append(decomposition.error)
        seconds.append(elapsed)
        if truth is not None:
            model_nme.append(float(nme(decomposition.landmarks68, truth)))
            detector_nme.append(float(nme(decomposition.detected_landmarks68, truth)))
    return {
        "fidelity": fidelity,
        "nme_mean": float(np.mean(model_nme)),
        "nme_median": float(np.median(model_nme)),
        "detector_nme_mean": float(np.mean(detector_nme)),
        "annotated_photos": len(model_nme),
        "l21_mean": float(np.mean(errors)),
        "l21_photos": len(errors),
        "seconds_median": float(np.median(seconds)),
        "seconds_mean": float(np.mean(seconds)),
        "failed": failed,
    }


def figure(decomposer: Decomposer, photos: list[PhotoRecord], out: Path) -> None:
    """The Fig. 5-style sheet (6 annotated photos): input, I(S,A) at 0, 0.5, 1, albedo, shape."""
    import io

    from PIL import Image, ImageDraw

    from facecraft.core.face.crop import crop_image
    from facecraft.core.io.atomic import write_bytes_atomically
    from facecraft.core.render.shading import directional_light

    annotated = [p for p in photos if p.has_landmarks]
    chosen = [annotated[i] for i in np.linspace(0, len(annotated) - 1, 6).round().astype(int)]
    size = decomposer.model.config.image_size
    titles = ["input", *(f"I(S,A) f={f:g}" for f in FIGURE_FIDELITIES), "albedo A (f=1)", "shape S (f=1)"]
    rows = []
    for record in chosen:
        tiles = []
        for fidelity in FIGURE_FIDELITIES:
            decomposition, _, _, rgb = decompose_photo(decomposer, record, fidelity)
            crop_rgb = crop_image(rgb, decomposition.crop)
            if not tiles:
                tiles.append(crop_rgb)
            tiles.append(render_over(decomposer, decomposition, crop_rgb, None))
        albedo = (np.clip(decomposition.albedo, 0, 1) * 255).astype(np.uint8)
        tiles.append(np.asarray(Image.fromarray(albedo).resize((size, size), Image.BILINEAR)))
        grey = directional_light(torch.tensor([[0.3, 0.4, 1.0]]), torch.tensor([[0.8, 0.8, 0.8]]))
        grey[:, :, 0] += 0.3
        tiles.append(render_over(decomposer, decomposition, np.zeros_like(crop_rgb), grey))
        rows.append(np.concatenate(tiles, axis=1))
    sheet = Image.fromarray(np.concatenate(rows, axis=0))
    band = Image.new("RGB", (sheet.width, 20), "white")
    draw = ImageDraw.Draw(band)
    for column, title in enumerate(titles):
        draw.text((column * size + 4, 4), title, fill="black")
    page = Image.new("RGB", (sheet.width, sheet.height + 20), "white")
    page.paste(band, (0, 0))
    page.paste(sheet, (0, 20))
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    write_bytes_atomically(out, buffer.getvalue())


def render_over(
    decomposer: Decomposer,
    decomposition: Decomposition,
    background: np.ndarray,
    lighting: torch.Tensor | None,
) -> np.ndarray:
    """``I(S, A)`` (or the grey shape under ``lighting``) of a decomposition over a crop-sized background."""
    crop_camera = decomposition.crop.camera_to_crop(decomposition.photo_camera())
    shape = torch.as_tensor(decomposition.shape).permute(2, 0, 1)[None]
    albedo = torch.as_tensor(decomposition.albedo).permute(2, 0, 1)[None]
    if lighting is not None:
        albedo = torch.full_like(albedo, 0.7)
    light = torch.as_tensor(decomposition.lighting)[None] if lighting is None else lighting
    image = torch.as_tensor(background).permute(2, 0, 1)[None].float() / 255.0
    size = image.shape[2:]
    with torch.no_grad():
        result = decomposer.renderer(shape, albedo, crop_camera, light, (int(size[0]), int(size[1])),
                                     background=image)
    return (result.image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--weights", type=Path, help="model file (default: the shipped one)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--fidelities", type=float, nargs="+", default=[0.0, 0.15, 0.3, 0.5, 0.8, 1.0])
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--figure", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    decomposer = Decomposer.load(args.weights)
    photos = val_photos(args.photos, args.data)
    report: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "weights": str(args.weights or "shipped"),
        "photos": len(photos),
        "rows": [],
    }
    decompose_photo(decomposer, photos[0], 0.5)  # warm-up: model, detector and allocator
    for fidelity in args.fidelities:
        row = measure(decomposer, photos, fidelity)
        report["rows"].append(row)  # type: ignore[union-attr]
        print(
            f"fidelity {fidelity:4.2f}: NME {row['nme_mean'] * 100:5.2f} % (detector "
            f"{row['detector_nme_mean'] * 100:.2f} %, {row['annotated_photos']} photos)  l2,1 "
            f"{row['l21_mean']:.4f} ({row['l21_photos']} photos)  time median {row['seconds_median']:.2f} s",
            file=sys.stderr,
            flush=True,
        )
        if args.json:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.figure:
        figure(decomposer, photos, args.figure)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
