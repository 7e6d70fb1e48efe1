"""Benchmark: face detection time per photo (not a test; run it by hand).

    python tests/benchmarks/bench_detection.py [--photos N]

Reports, on this machine: the first call (MediaPipe graph warm-up), the median and
90th percentile over the annotated val photos (384x384), the sample photo
(512x512), and a 24-megapixel upscale of it (detection runs on a reduced copy),
each with image decoding timed separately.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from facecraft.core.face.detection import FaceDetector
from facecraft.core.io.image_read import load_image
from facecraft.core.resources import resource_path
from facecraft.training.faces_data import DEFAULT_DATA_DIR, landmarked_photos


def timed(function, repeats: int = 1) -> tuple[float, object]:
    """Median wall time in ms of ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--photos", type=int, default=52, help="val photos to time")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args()

    report: dict[str, object] = {"machine": f"{platform.processor() or platform.machine()}, "
                                            f"{__import__('os').cpu_count()} cores"}
    sample = resource_path("samples/astronaut.jpg")
    with FaceDetector() as detector:
        rgb = load_image(sample).rgb
        report["first_call_ms"] = timed(lambda: detector.detect(rgb))[0]
        report["sample_512_decode_ms"] = timed(lambda: load_image(sample), 10)[0]
        report["sample_512_detect_ms"] = timed(lambda: detector.detect(rgb), 20)[0]

        per_photo = []
        for record in landmarked_photos("val", args.data)[: args.photos]:
            image = load_image(record.path).rgb
            per_photo.append(timed(lambda image=image: detector.detect(image))[0])
        report["val_photos"] = len(per_photo)
        report["val_384_detect_ms_median"] = float(np.median(per_photo))
        report["val_384_detect_ms_p90"] = float(np.percentile(per_photo, 90))

        big = cv2.resize(rgb, (6000, 4000), interpolation=cv2.INTER_CUBIC)
        _, encoded = cv2.imencode(".jpg", big[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        path = Path(tempfile.gettempdir()) / "facecraft_bench_24mp.jpg"
        path.write_bytes(encoded.tobytes())
        report["photo_24mp_decode_ms"] = timed(lambda: load_image(path), 3)[0]
        report["photo_24mp_detect_ms"] = timed(lambda: detector.detect(big), 5)[0]
        path.unlink()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
