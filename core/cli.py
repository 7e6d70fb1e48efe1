"""The headless ``facecraft`` subcommands (no Qt).

``facecraft detect PHOTO...`` finds faces and prints (or writes) their boxes and
68 landmarks as JSON. Each photo is processed on its own: a bad one is reported
and skipped, and the exit code is 1 when any failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from facecraft import __version__
from facecraft.core.errors import FaceCraftError
from facecraft.core.resources import resource_path

SAMPLE_PHOTO = "samples/astronaut.jpg"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``facecraft`` command."""
    parser = argparse.ArgumentParser(
        prog="facecraft",
        description="Turn a face photo into an editable 3D decomposition. "
        "With no arguments, opens the desktop application.",
    )
    parser.add_argument("--version", action="version", version=f"facecraft {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    detect = commands.add_parser(
        "detect",
        help="find faces and their 68 landmarks",
        description="Find every face in each photo; print its box and 68 iBUG landmarks "
        "(image pixels, origin at the centre of the top-left pixel) as JSON.",
    )
    detect.add_argument("photos", nargs="*", type=Path, metavar="PHOTO",
                        help="photos to read (default: the bundled sample photo)")
    detect.add_argument("--out", type=Path, metavar="DIR",
                        help="write <stem>.faces.json per photo here instead of printing")
    detect.set_defaults(handler=run_detect)
    return parser


def main(argv: Sequence[str]) -> int:
    """Run the subcommand named in ``argv``; returns the exit code."""
    args = build_parser().parse_args(list(argv))
    if args.command is None:
        build_parser().print_help()
        return 0
    return int(args.handler(args))


def run_detect(args: argparse.Namespace) -> int:
    """``facecraft detect``: JSON per photo; bad photos reported on stderr and skipped."""
    from facecraft.core.detection import FaceDetector
    from facecraft.core.image_io import load_image

    photos = args.photos or [resource_path(SAMPLE_PHOTO)]
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    try:
        detector = FaceDetector()
    except FaceCraftError as exc:
        print(f"facecraft: {exc}", file=sys.stderr)
        return 1
    with detector:
        for photo in photos:
            try:
                image = load_image(photo)
                start = time.perf_counter()
                faces = detector.detect(image.rgb)
                elapsed_ms = (time.perf_counter() - start) * 1000
                if not faces:
                    raise FaceCraftError(f"{photo}: no face found")
            except FaceCraftError as exc:
                failures += 1
                print(f"facecraft: {exc}", file=sys.stderr)
                continue
            record = {
                "photo": str(photo),
                "width": image.width,
                "height": image.height,
                "detection_ms": round(elapsed_ms, 1),
                "faces": [
                    {
                        "box": [round(float(v), 2) for v in face.box],
                        "landmarks68": [[round(float(x), 2), round(float(y), 2)]
                                        for x, y in face.landmarks68],
                    }
                    for face in faces
                ],
            }
            text = json.dumps(record, indent=1)
            if args.out is None:
                print(text)
            else:
                _write_atomically(args.out / f"{Path(photo).stem}.faces.json", text + "\n")
    return 1 if failures else 0


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
