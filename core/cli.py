"""The headless ``facecraft`` subcommands (no Qt).

* ``facecraft detect PHOTO...`` finds faces and prints (or writes) their boxes and
  68 landmarks as JSON.
* ``facecraft decompose PHOTO... --out DIR`` writes, per photo, ``<stem>.json``
  (landmarks, box, camera, lighting, timings), the UV maps as PNG, the
  reconstruction rendered over the photo at full resolution with its face mask,
  and the textured OBJ.
* ``facecraft edit PHOTO --recipe R.json --out EDITED.png`` applies the stickers,
  makeup, strokes and reference-photo transfers of a recipe and writes the edited
  photo (optionally the session, the edited mesh and a turntable video).

Each photo is processed on its own: a bad one is reported and skipped, and the
exit code is 1 when any failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from facecraft import __version__
from facecraft.core.errors import FaceCraftError, NoFaceFound, naming_file
from facecraft.core.fitting import DEFAULT_FIDELITY
from facecraft.core.resources import resource_path

if TYPE_CHECKING:
    from facecraft.core.decompose import Decomposer
    from facecraft.core.editing.reconstruction import ReconstructionRenderer
    from facecraft.core.editing.reference import Reference

SAMPLE_PHOTO = "samples/astronaut.jpg"
SUBCOMMANDS = ("detect", "decompose", "edit")
"""The headless subcommands; any other first argument is a file for the desktop application."""


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
    detect.add_argument(
        "photos",
        nargs="*",
        type=Path,
        metavar="PHOTO",
        help="photos to read (default: the bundled sample photo)",
    )
    detect.add_argument(
        "--out", type=Path, metavar="DIR", help="write <stem>.faces.json per photo here instead of printing"
    )
    detect.set_defaults(handler=run_detect)

    decompose = commands.add_parser(
        "decompose",
        help="decompose photos into shape, albedo, lighting and pose",
        description="Decompose the largest face of each photo (or every face) and write "
        "<stem>.json, the UV maps (<stem>_uv_*.png), <stem>_render.png, <stem>_mask.png "
        "the shape as <stem>.ply and the textured mesh <stem>.obj (+ .mtl, _albedo.png) into DIR.",
    )
    decompose.add_argument(
        "photos",
        nargs="*",
        type=Path,
        metavar="PHOTO",
        help="photos to read (default: the bundled sample photo)",
    )
    decompose.add_argument("--out", type=Path, metavar="DIR", required=True, help="folder to write into")
    decompose.add_argument(
        "--fidelity",
        type=_fidelity,
        default=None,
        metavar="F",
        help=f"fitting effort in [0, 1]: 0 = encoder only (default {DEFAULT_FIDELITY})",
    )
    decompose.add_argument(
        "--all-faces", action="store_true", help='decompose every face; the JSON gets a "faces" list'
    )
    decompose.add_argument("--weights", type=Path, default=None, help=argparse.SUPPRESS)
    decompose.set_defaults(handler=run_decompose)

    edit = commands.add_parser(
        "edit",
        help="apply a JSON recipe of stickers, makeup and strokes to a photo",
        description="Decompose the photo, apply the recipe's edits (see facecraft.core.editing.recipe) and "
        "write the edited photo at its original resolution.",
    )
    edit.add_argument("photo", type=Path, metavar="PHOTO")
    edit.add_argument("--recipe", type=Path, required=True, metavar="JSON")
    edit.add_argument("--out", type=Path, required=True, metavar="IMAGE", help="edited photo (.png, .jpg)")
    edit.add_argument(
        "--fidelity", type=_fidelity, default=None, metavar="F", help="overrides the recipe's fidelity"
    )
    edit.add_argument(
        "--session",
        type=Path,
        default=None,
        metavar="FILE",
        help="also save the editing session (.facecraft)",
    )
    edit.add_argument(
        "--mesh", type=Path, default=None, metavar="OBJ", help="also export the edited textured mesh"
    )
    edit.add_argument(
        "--turntable",
        type=_turntable_path,
        default=None,
        metavar="VIDEO",
        help="also render the edited face turning left and right (.mp4 or .gif)",
    )
    edit.add_argument(
        "--turntable-seconds", type=float, default=4.0, metavar="S", help="turntable length (default 4)"
    )
    edit.add_argument(
        "--turntable-size", type=int, default=512, metavar="PX", help="turntable frame side (default 512)"
    )
    edit.add_argument("--weights", type=Path, default=None, help=argparse.SUPPRESS)
    edit.set_defaults(handler=run_edit)
    return parser


def _fidelity(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def _turntable_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise argparse.ArgumentTypeError(f"{text}: a turntable is written as .mp4 or .gif")
    return path


def main(argv: Sequence[str]) -> int:
    """Run the subcommand named in ``argv``; returns the exit code."""
    args = build_parser().parse_args(list(argv))
    if args.command is None:
        build_parser().print_help()
        return 0
    return int(args.handler(args))


def run_detect(args: argparse.Namespace) -> int:
    """``facecraft detect``: JSON per photo; bad photos reported on stderr and skipped."""
    from facecraft.core.face.detection import FaceDetector
    from facecraft.core.io.image_read import load_image

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
                        "landmarks68": [
                            [round(float(x), 2), round(float(y), 2)] for x, y in face.landmarks68
                        ],
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
    from facecraft.core.io.atomic import write_bytes_atomically

    write_bytes_atomically(path, text.encode())


def run_decompose(args: argparse.Namespace) -> int:
    """``facecraft decompose``: the outputs of every photo; bad photos reported and skipped."""
    from tqdm import tqdm

    from facecraft.core.decompose import Decomposer
    from facecraft.core.editing.reconstruction import ReconstructionRenderer
    from facecraft.core.face.template import load_template

    photos = args.photos or [resource_path(SAMPLE_PHOTO)]
    fidelity = DEFAULT_FIDELITY if args.fidelity is None else args.fidelity
    failures = 0
    with ExitStack() as stack:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            template = load_template()
            renderer = stack.enter_context(ReconstructionRenderer(template))
            renderer.start()  # the GL context is made while the model loads
            decomposer = stack.enter_context(Decomposer.load(args.weights, template))
        except FaceCraftError as exc:
            print(f"facecraft: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(
                f"facecraft: {args.out}: cannot create the output folder ({exc.strerror or exc})",
                file=sys.stderr,
            )
            return 1
        _clean_stale_stages(args.out)
        bar = stack.enter_context(
            tqdm(photos, desc="decompose", unit="photo", disable=len(photos) < 2, file=sys.stderr)
        )
        for photo in bar:
            try:
                _decompose_one(decomposer, renderer, Path(photo), args.out, fidelity, args.all_faces)
            except FaceCraftError as exc:  # named: in a batch the user must know which photo failed
                failures += 1
                tqdm.write(f"facecraft: {naming_file(photo, str(exc))}", file=sys.stderr)
    if renderer.fallback_reason is not None:
        print(f"facecraft: note: drew the renders on the CPU: {renderer.fallback_reason}", file=sys.stderr)
    return 1 if failures else 0


def _clean_stale_stages(out: Path) -> None:
    """Finish or remove what an interrupted ``decompose`` into ``out`` left, and say so."""
    from facecraft.core.io.output_set import StaleStageAction, clean_stale_stages

    try:
        cleaned = clean_stale_stages(out)
    except OSError as exc:
        print(f"facecraft: note: {out}: could not clean up after an interrupted run ({exc})", file=sys.stderr)
        return
    for stage in cleaned:
        if stage.action is StaleStageAction.COMPLETED:
            done = f"completed the outputs of {out / (stage.completion or '')}"
        else:
            done = "removed the unfinished outputs"
        print(f"facecraft: note: {stage.path}: an interrupted run's stage; {done}", file=sys.stderr)


def _decompose_one(
    decomposer: Decomposer,
    renderer: ReconstructionRenderer,
    photo: Path,
    out: Path,
    fidelity: float,
    all_faces: bool,
) -> None:
    from facecraft.core.editing.albedo import canvas_size, detailed_albedo
    from facecraft.core.io.image_read import load_image
    from facecraft.core.io.image_write import write_image
    from facecraft.core.io.output_set import OutputStage
    from facecraft.core.io.pixels import unit_to_uint8
    from facecraft.core.io.records import export_mesh, export_ply, face_record, uv_map_images

    image = load_image(photo)
    start = time.perf_counter()
    faces = decomposer.detect(image.rgb)
    detection_ms = (time.perf_counter() - start) * 1000
    chosen = range(len(faces)) if all_faces else range(1)
    decompositions = [decomposer.decompose(image.rgb, fidelity, face=i, faces=faces) for i in chosen]
    main = decompositions[0]
    start = time.perf_counter()
    render, mask = renderer.render(image.rgb, main)
    render_ms = (time.perf_counter() - start) * 1000
    timings = {**main.timings_ms, "detection": detection_ms, "render_full_resolution": render_ms}
    main_record = {**face_record(main), "timings_ms": {name: round(ms, 1) for name, ms in timings.items()}}
    record = {
        "photo": str(photo),
        "width": image.width,
        "height": image.height,
        "face_count": len(faces),
        **main_record,
    }
    if all_faces:
        record["faces"] = [main_record] + [face_record(d) for d in decompositions[1:]]
    # All of a photo's outputs or none, even across a hard kill: written into a hidden stage, then
    # moved into place with the JSON last (core/io/output_set.py).
    name = photo.stem
    with OutputStage(out, f"{name}.json") as stage:
        for map_name, picture in uv_map_images(main, decomposer.template).items():
            write_image(stage.file(f"{name}_uv_{map_name}.png"), picture)
        write_image(stage.file(f"{name}_render.png"), render)
        write_image(stage.file(f"{name}_mask.png"), mask)
        export_ply(stage.file(f"{name}.ply"), main.shape, main.albedo, decomposer.template)
        albedo = detailed_albedo(image.rgb, main, decomposer.template, canvas_size())
        export_mesh(stage.file(f"{name}.obj"), main.shape, unit_to_uint8(albedo), decomposer.template)
        _write_atomically(stage.file(f"{name}.json"), json.dumps(record, indent=1) + "\n")
        stage.commit()


def run_edit(args: argparse.Namespace) -> int:
    """``facecraft edit``: decompose, apply the recipe, write the edited photo (and the extras asked for)."""
    from facecraft.core.decompose import Decomposer
    from facecraft.core.editing.editor import FaceEditor
    from facecraft.core.editing.recipe import apply_recipe, load_recipe
    from facecraft.core.io.image_read import load_image
    from facecraft.core.io.image_write import write_image
    from facecraft.core.io.pixels import unit_to_uint8
    from facecraft.core.io.records import export_mesh
    from facecraft.core.io.session import save_session
    from facecraft.core.render.turntable import TurntableScene, TurntableSettings, write_turntable

    try:
        settings = TurntableSettings(args.turntable_seconds, size=args.turntable_size)
    except ValueError as exc:
        print(f"facecraft: --turntable: {exc}", file=sys.stderr)
        return 2
    try:
        recipe = load_recipe(args.recipe)
        image = load_image(args.photo)
        fidelity = args.fidelity if args.fidelity is not None else recipe.fidelity
        fidelity = DEFAULT_FIDELITY if fidelity is None else fidelity
        with Decomposer.load(args.weights) as decomposer:
            try:
                decomposition = decomposer.decompose(image.rgb, fidelity, face=recipe.face)
            except NoFaceFound as exc:  # the engine saw only pixels: name the photo
                raise NoFaceFound(naming_file(args.photo, str(exc))) from exc
            editor = FaceEditor(image.original, decomposition, decomposer.template)
            apply_recipe(editor, recipe, _reference_source(decomposer, editor.canvas_size, fidelity))
        write_image(args.out, editor.edited_photo)
        albedo = None
        if args.mesh is not None or args.turntable is not None:
            albedo = unit_to_uint8(editor.edited_albedo())
        if args.mesh is not None:
            export_mesh(args.mesh, decomposition.shape, albedo, decomposer.template)
        if args.session is not None:
            save_session(
                args.session,
                args.photo.read_bytes(),
                args.photo.name,
                decomposition,
                editor.document.layers,
                editor.canvas_size,
                editor.lighting if editor.compositor.relit else None,
            )
        if args.turntable is not None:
            scene = TurntableScene(decomposition.shape, albedo, editor.lighting)
            write_turntable(args.turntable, scene, decomposer.template, settings)
    except FaceCraftError as exc:
        print(f"facecraft: {exc}", file=sys.stderr)
        return 1
    return 0


def _reference_source(
    decomposer: Decomposer, canvas_size: tuple[int, int], fidelity: float
) -> Callable[[Path, int], Reference]:
    """Decomposes each reference photo of a recipe once (same engine and fidelity as the photo)."""
    from facecraft.core.editing.reference import load_reference

    cache: dict[tuple[Path, int], Reference] = {}

    def source(path: Path, face: int) -> Reference:
        key = (Path(path), face)
        if key not in cache:
            cache[key] = load_reference(path, decomposer, canvas_size, fidelity, face=face)
        return cache[key]

    return source
