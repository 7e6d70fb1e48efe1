"""Editing sessions: one zip file holding the photo, its decomposition and the edit layers.

Layout of a ``.facecraft`` file (a plain zip, nothing pickled)::

    session.json         format tag and version, scalars, layer list, relighting
    photo.<ext>          the photo's original bytes
    decomposition.npz    the decomposition's arrays (loaded with allow_pickle=False)
    layers/<i>.png       each layer's RGBA pixels
    layers/<i>_sticker.png  the source image of sticker and tattoo layers

Loading checks everything before building anything: the format tag, the
version, member sizes (no zip bombs), every array's shape and dtype, every
PNG's size. A corrupt or foreign file raises :class:`SessionError` with a
message saying what is wrong; saving is atomic, so a failed save leaves the
previous file intact.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from facecraft import __version__
from facecraft.core.camera import CropTransform
from facecraft.core.decomposition import ARRAYS, Decomposition
from facecraft.core.editing.layers import Layer, LayerKind, MakeupSpec, StickerPlacement, TransferSpec
from facecraft.core.editing.sticker import MAX_STICKER_SIDE
from facecraft.core.errors import FaceCraftError, ImageLoadError
from facecraft.core.io.atomic import write_bytes_atomically
from facecraft.core.io.image_read import LoadedImage, decode_image

FORMAT = "facecraft-session"
VERSION = 1
SUFFIX = ".facecraft"
MAX_MEMBER_BYTES = 1 << 30
"""Largest uncompressed member accepted."""


class SessionError(FaceCraftError):
    """A session file cannot be written, or is not a readable FaceCraft session."""


@dataclass(frozen=True)
class LoadedSession:
    """What a session file holds.

    Attributes:
        photo: the photo, decoded.
        photo_bytes: its original file bytes (kept to save the session again unchanged).
        decomposition: the face's decomposition.
        canvas_size: ``(H, W)`` of the layers.
        layers: the edit layers, bottom first.
        lighting: ``(3, 9)`` relighting in effect, or None.
    """

    photo: LoadedImage
    photo_bytes: bytes
    decomposition: Decomposition
    canvas_size: tuple[int, int]
    layers: list[Layer]
    lighting: np.ndarray | None


def save_session(
    path: str | Path,
    photo_bytes: bytes,
    photo_name: str,
    decomposition: Decomposition,
    layers: list[Layer],
    canvas_size: tuple[int, int],
    lighting: np.ndarray | None = None,
) -> None:
    """Write a session file atomically.

    Args:
        path: the ``.facecraft`` file.
        photo_bytes: the photo file's bytes.
        photo_name: its file name (the extension is kept).
        decomposition: the face's decomposition.
        layers: bottom first.
        canvas_size: ``(H, W)`` of the layers.
        lighting: relighting in effect, or None.

    Raises:
        SessionError: the file cannot be written.
    """
    suffix = Path(photo_name).suffix.lower() or ".img"
    photo_member = f"photo{suffix}"
    records = []
    members: dict[str, bytes] = {photo_member: photo_bytes, "decomposition.npz": _arrays_bytes(decomposition)}
    for i, layer in enumerate(layers):
        record: dict[str, Any] = {
            "name": layer.name,
            "kind": layer.kind.value,
            "opacity": float(layer.opacity),
            "visible": bool(layer.visible),
            "pixels": f"layers/{i}.png",
        }
        members[record["pixels"]] = _png_bytes(layer.pixels)
        if layer.sticker is not None:
            record["sticker"] = f"layers/{i}_sticker.png"
            members[record["sticker"]] = _png_bytes(layer.sticker)
        specs = {"placement": layer.placement, "makeup": layer.makeup, "transfer": layer.transfer}
        for name, spec in specs.items():
            if spec is not None:
                record[name] = _spec_record(spec)
        records.append(record)
    crop = decomposition.crop
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "written_by": f"facecraft {__version__}",
        "photo": {"member": photo_member, "name": Path(photo_name).name},
        "decomposition": {
            "photo_size": list(decomposition.photo_size),
            "face_index": decomposition.face_index,
            "face_count": decomposition.face_count,
            "crop": {"scale": crop.scale, "offset": list(crop.offset), "size": list(crop.size)},
            "fidelity": decomposition.fidelity,
            "error": decomposition.error,
            "encoder_error": decomposition.encoder_error,
            "timings_ms": decomposition.timings_ms,
        },
        "canvas_size": list(canvas_size),
        "layers": records,
        "lighting": None if lighting is None else np.asarray(lighting, dtype=float).tolist(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("session.json", json.dumps(manifest, indent=1))
        for name, data in members.items():
            compress = (
                zipfile.ZIP_STORED if name.endswith((".png", ".jpg", ".jpeg")) else zipfile.ZIP_DEFLATED
            )
            archive.writestr(name, data, compress_type=compress)
    try:
        write_bytes_atomically(path, buffer.getvalue())
    except OSError as exc:
        raise SessionError(f"{path}: the session could not be saved ({exc.strerror or exc})") from exc


def load_session(path: str | Path) -> LoadedSession:
    """Read a session file.

    Raises:
        SessionError: the file is missing, not a zip, not a FaceCraft session, of a newer
            version, or damaged (with what is wrong).
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise SessionError(f"{path}: no such file") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise SessionError(f"{path}: not a FaceCraft session (not a zip archive)") from exc
    with archive:
        reader = _Reader(path, archive)
        manifest = reader.manifest()
        try:
            return _build(reader, manifest)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise SessionError(f"{path}: the session is damaged ({exc})") from exc


class _Reader:
    def __init__(self, path: Path, archive: zipfile.ZipFile) -> None:
        self.path = path
        self.archive = archive

    def read(self, name: str) -> bytes:
        try:
            info = self.archive.getinfo(name)
        except KeyError as exc:
            raise SessionError(f"{self.path}: the session is damaged ({name} is missing)") from exc
        if info.file_size > MAX_MEMBER_BYTES:
            raise SessionError(f"{self.path}: the session is damaged ({name} is implausibly large)")
        try:
            return self.archive.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise SessionError(f"{self.path}: the session is damaged ({name}: {exc})") from exc

    def manifest(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self.read("session.json"))
        except SessionError as exc:
            if "is missing" in str(exc):
                raise SessionError(f"{self.path}: not a FaceCraft session (no session.json)") from exc
            raise
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SessionError(f"{self.path}: the session is damaged (session.json: {exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SessionError(f"{self.path}: not a FaceCraft session")
        version = manifest.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise SessionError(
                f"{self.path}: session version {version} is newer than this FaceCraft reads ({VERSION}); "
                "update FaceCraft"
            )
        return manifest

    def png(self, name: str, size: tuple[int, int] | None = None) -> np.ndarray:
        data = self.read(name)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format != "PNG":
                    raise ValueError("not a PNG")
                if size is None and max(image.size) > MAX_STICKER_SIDE:
                    raise ValueError(f"{image.size} is too large")
                pixels = np.asarray(image.convert("RGBA"))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise SessionError(f"{self.path}: the session is damaged ({name}: {exc})") from exc
        if size is not None and pixels.shape[:2] != size:
            raise SessionError(
                f"{self.path}: the session is damaged ({name} is {pixels.shape[:2]}, not {size})"
            )
        return np.ascontiguousarray(pixels)

    def arrays(self) -> dict[str, np.ndarray]:
        data = self.read("decomposition.npz")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise SessionError(f"{self.path}: the session is damaged (decomposition.npz: {exc})") from exc
        for name, (shape, dtype) in ARRAYS.items():
            kind = np.dtype(dtype).kind
            value = arrays.get(name)
            if value is None:
                raise SessionError(f"{self.path}: the session is damaged (decomposition.npz lacks {name})")
            fits = len(value.shape) == len(shape) and all(
                s is None or s == v for s, v in zip(shape, value.shape, strict=False)
            )
            if not fits or value.dtype.kind != kind or (kind == "f" and not np.isfinite(value).all()):
                raise SessionError(
                    f"{self.path}: the session is damaged ({name} is {value.dtype} {value.shape})"
                )
        return arrays


def _build(reader: _Reader, manifest: dict[str, Any]) -> LoadedSession:
    photo_info = manifest["photo"]
    photo_bytes = reader.read(str(photo_info["member"]))
    try:
        photo = decode_image(photo_bytes, Path(str(photo_info.get("name", "photo"))))
    except ImageLoadError as exc:
        raise SessionError(f"{reader.path}: the session's photo is damaged ({exc})") from exc
    info = manifest["decomposition"]
    arrays = reader.arrays()
    photo_size = (int(info["photo_size"][0]), int(info["photo_size"][1]))
    if photo_size != (photo.height, photo.width):
        raise ValueError(
            f"the decomposition is for a {photo_size} photo, the photo is {photo.height, photo.width}"
        )
    crop = info["crop"]
    decomposition = Decomposition.from_arrays(
        arrays,
        photo_size=photo_size,
        face_index=int(info["face_index"]),
        face_count=int(info["face_count"]),
        crop=CropTransform(
            float(crop["scale"]),
            (float(crop["offset"][0]), float(crop["offset"][1])),
            (int(crop["size"][0]), int(crop["size"][1])),
        ),
        fidelity=float(info["fidelity"]),
        error=float(info["error"]),
        encoder_error=float(info["encoder_error"]),
        timings_ms={str(k): float(v) for k, v in dict(info.get("timings_ms", {})).items()},
    )
    canvas_size = (int(manifest["canvas_size"][0]), int(manifest["canvas_size"][1]))
    if not (0 < canvas_size[0] <= 8192 and 0 < canvas_size[1] <= 8192):
        raise ValueError(f"canvas size {canvas_size} is out of range")
    layers = [_layer(reader, record, canvas_size) for record in manifest["layers"]]
    lighting = manifest.get("lighting")
    if lighting is not None:
        lighting = np.asarray(lighting, dtype=np.float32)
        if lighting.shape != (3, 9) or not np.isfinite(lighting).all():
            raise ValueError("the relighting is not 3x9 numbers")
    return LoadedSession(photo, photo_bytes, decomposition, canvas_size, layers, lighting)


def _layer(reader: _Reader, record: dict[str, Any], canvas_size: tuple[int, int]) -> Layer:
    kind = LayerKind(record["kind"])
    opacity = float(record["opacity"])
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"layer opacity {opacity} is outside [0, 1]")
    sticker = reader.png(str(record["sticker"])) if record.get("sticker") else None
    placement = None
    if record.get("placement") is not None:
        values = record["placement"]
        placement = StickerPlacement(
            (float(values["centre"][0]), float(values["centre"][1])),
            float(values["width"]),
            float(values["rotation"]),
        )
    makeup = None
    if record.get("makeup") is not None:
        values = record["makeup"]
        makeup = MakeupSpec(
            str(values["region"]), tuple(float(c) for c in values["colour"]), float(values["strength"])
        )
    transfer = None
    if record.get("transfer") is not None:
        values = record["transfer"]
        transfer = TransferSpec(
            str(values["reference"]),
            tuple(str(region) for region in values["regions"]),
            str(values["mode"]),
            float(values["strength"]),
        )
    return Layer(
        name=str(record["name"]),
        kind=kind,
        pixels=reader.png(str(record["pixels"]), canvas_size),
        opacity=opacity,
        visible=bool(record["visible"]),
        sticker=sticker,
        placement=placement,
        makeup=makeup,
        transfer=transfer,
    )


def _spec_record(spec: StickerPlacement | MakeupSpec | TransferSpec) -> dict[str, Any]:
    """A layer's frozen spec as a JSON object: its fields by name, tuples as lists."""
    values = ((field.name, getattr(spec, field.name)) for field in fields(spec))
    return {name: list(value) if isinstance(value, tuple) else value for name, value in values}


def _arrays_bytes(decomposition: Decomposition) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **decomposition.to_arrays())
    return buffer.getvalue()


def _png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
