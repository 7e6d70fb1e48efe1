"""Turntable videos: the edited face turning left and right, drawn by the GL renderer.

The face turns about its own centre (the middle of its bounding box) with yaw
``sweep · sin(2π i / N)`` at frame ``i`` of ``N`` (see :meth:`TurntableSettings.yaws`):
it starts facing the camera,
turns to one side, back through the front to the other side and home again,
so the video loops without a jump. The light stays with the camera (the fitted
SH lighting is in the camera frame), so shading moves over the turning face as
it would under the photo's light.

:func:`write_turntable` writes an MP4 (H.264 through ``imageio-ffmpeg``, which
ships its own ffmpeg) or a GIF (Pillow) with ``imageio``, atomically: frames go
to a temporary file beside the destination, renamed over it only when complete.
A cancelled or failed export leaves no file.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imageio
import imageio.v3 as iio
import numpy as np
from PIL import Image

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.errors import ExportError, FaceCraftError, naming_file
from facecraft.core.face.template import FaceTemplate
from facecraft.core.render.gl import (
    DisplayMode,
    GLCamera,
    GLError,
    GLFaceRenderer,
    create_headless_context,
)

FORMATS = {".mp4": "FFMPEG", ".gif": "GIF"}
"""Supported file suffixes and the imageio format writing each."""
FILL = 0.8
"""The face's height fills this fraction of the frame."""
BACKGROUND = (38, 40, 44)
"""RGB behind the face (the 3D view's background)."""

MAX_GIF_BYTES = 1 << 30
"""A GIF's frames are held in memory until its palette is chosen: at most this many bytes of them."""
GIF_PALETTE_SAMPLES = 8
"""Frames (evenly spaced) the GIF's one palette is chosen from."""

ProgressCallback = Callable[[int, int], None]
"""Called with ``(frames done, frames in all)`` after each frame."""


class ExportCancelled(FaceCraftError):
    """The user cancelled an export; nothing was written."""


@dataclass(frozen=True)
class TurntableSettings:
    """What the video looks like.

    Attributes:
        seconds: length of one full sweep, ``(0, 60]``.
        fps: frames per second, 1 to 60.
        size: the square frame's side in pixels, even, 16 to 2048.
        sweep_degrees: the largest yaw either way, ``[0, 90]``.
    """

    seconds: float = 4.0
    fps: int = 30
    size: int = 512
    sweep_degrees: float = 60.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and 0.0 < self.seconds <= 60.0):
            raise ValueError(f"a turntable lasts more than 0 and at most 60 seconds, got {self.seconds}")
        if not 1 <= int(self.fps) <= 60 or int(self.fps) != self.fps:
            raise ValueError(f"frames per second must be a whole number from 1 to 60, got {self.fps}")
        if not 16 <= int(self.size) <= 2048 or int(self.size) % 2 or int(self.size) != self.size:
            raise ValueError(
                f"the frame size must be an even number of pixels from 16 to 2048, got {self.size}"
            )
        if not (math.isfinite(self.sweep_degrees) and 0.0 <= self.sweep_degrees <= 90.0):
            raise ValueError(f"the sweep must be 0 to 90 degrees, got {self.sweep_degrees}")

    @property
    def frame_count(self) -> int:
        """How many frames the video has."""
        return max(1, round(self.seconds * self.fps))

    def yaws(self) -> np.ndarray:
        """``(N,)`` float64 yaw of each frame, radians: ``sweep · sin(2π (i + o) / N)``.

        ``o`` is 0 (the first frame faces the camera) unless ``N`` is 2 more than a multiple
        of 4; then two neighbouring frames around each turning point would have the same yaw,
        GIF writers merge identical neighbours, and ``o = 1/2`` keeps every frame distinct.
        """
        count = self.frame_count
        offset = 0.5 if count % 4 == 2 else 0.0
        phase = 2.0 * np.pi * (np.arange(count) + offset) / count
        return math.radians(self.sweep_degrees) * np.sin(phase)


@dataclass(frozen=True)
class TurntableScene:
    """The face to turn.

    Attributes:
        shape: ``(192, 224, 3)`` float32 position map, canonical frame.
        albedo: ``(h, w, 3)`` uint8 or float32 albedo in UV (the edited one), any resolution.
        lighting: ``(3, 9)`` SH lighting, camera frame.
    """

    shape: np.ndarray
    albedo: np.ndarray
    lighting: np.ndarray

    def __post_init__(self) -> None:
        if self.shape.shape != (UV_HEIGHT, UV_WIDTH, 3) or not np.isfinite(self.shape).all():
            raise ValueError(
                f"the shape must be a finite ({UV_HEIGHT}, {UV_WIDTH}, 3) map, got {self.shape.shape}"
            )
        if np.asarray(self.lighting).shape != (3, 9):
            raise ValueError(f"the lighting must be (3, 9), got {np.asarray(self.lighting).shape}")


def turntable_camera(yaw: float, settings: TurntableSettings, face_height: float) -> GLCamera:
    """The camera of one frame, for a face ``face_height`` canonical units tall centred at the origin."""
    scale = FILL * settings.size / max(face_height, 1e-6)
    centre = (settings.size - 1) / 2.0
    return GLCamera(scale, (0.0, float(yaw), 0.0), (centre, centre))


def centred(shape: np.ndarray, template: FaceTemplate) -> tuple[np.ndarray, float]:
    """The shape moved so its render mesh's bounding box is centred at the origin, and its height.

    Returns:
        ``(192, 224, 3)`` float32 position map and the mesh's height (canonical units).
    """
    vertices = template.sample_vertices(shape)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    return (shape - (low + high) / 2.0).astype(np.float32), float(high[1] - low[1])


def render_turntable(
    renderer: GLFaceRenderer, scene: TurntableScene, settings: TurntableSettings, template: FaceTemplate
) -> Iterator[np.ndarray]:
    """Render the frames one by one.

    Yields:
        ``(size, size, 3)`` uint8 RGB frames over :data:`BACKGROUND`.
    """
    shape, height = centred(scene.shape, template)
    renderer.set_shape(shape)
    renderer.set_albedo(scene.albedo)
    size = (settings.size, settings.size)
    background = np.asarray(BACKGROUND, np.uint16)
    for yaw in settings.yaws():
        rgba = renderer.render(
            turntable_camera(yaw, settings, height), scene.lighting, size, DisplayMode.TEXTURED
        )
        alpha = rgba[..., 3:].astype(np.uint16)
        mixed = (rgba[..., :3].astype(np.uint16) * alpha + background * (255 - alpha) + 127) // 255
        yield mixed.astype(np.uint8)


def write_turntable(
    path: str | Path,
    scene: TurntableScene,
    template: FaceTemplate,
    settings: TurntableSettings = TurntableSettings(),
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Path:
    """Render the turntable with a headless GL context and write it atomically.

    Args:
        path: ``.mp4`` or ``.gif``.
        scene: the face.
        template: the render mesh.
        settings: length, frame rate, size, sweep.
        progress: called after each frame.
        cancelled: polled before each frame.

    Returns:
        The path written.

    Raises:
        ExportError: an unsupported suffix, no OpenGL, no MP4 encoder, or a write failure
            (the message names the file); nothing is left behind.
        ExportCancelled: ``cancelled`` returned True; nothing is left behind.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(f"{path}: a turntable is written as .mp4 or .gif, not {path.suffix or 'no suffix'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".partial{suffix}")
        os.close(handle)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write there ({exc.strerror or exc})") from exc
    temporary = Path(name)
    total = settings.frame_count
    try:
        ctx = create_headless_context()
        renderer = GLFaceRenderer(ctx, template)
        try:
            writer = _open_writer(temporary, suffix, settings, path)
            with writer:
                for done, frame in enumerate(render_turntable(renderer, scene, settings, template), 1):
                    if cancelled is not None and cancelled():
                        raise ExportCancelled(
                            f"{path}: the turntable export was cancelled; nothing was written"
                        )
                    writer.append_data(frame)
                    if progress is not None:
                        progress(done, total)
        finally:
            renderer.release()
            ctx.release()
        with temporary.open("rb+") as file:
            os.fsync(file.fileno())
        temporary.chmod(0o644)
        temporary.replace(path)
    except GLError as exc:
        temporary.unlink(missing_ok=True)
        raise ExportError(naming_file(path, f"the turntable needs OpenGL: {exc}")) from exc
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ExportError(f"{path}: the turntable could not be written ({exc.strerror or exc})") from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _open_writer(temporary: Path, suffix: str, settings: TurntableSettings, path: Path) -> Any:
    """An imageio writer for the temporary file (MP4: H.264, yuv420p; GIF: looping)."""
    if suffix == ".gif":
        if settings.frame_count * settings.size**2 * 3 > MAX_GIF_BYTES:
            raise ExportError(
                f"{path}: {settings.frame_count} frames of {settings.size}² are too many for a GIF; "
                "export an .mp4, or a shorter or smaller turntable"
            )
        return _GifWriter(temporary, settings.fps)
    try:
        import imageio_ffmpeg  # noqa: F401 - the MP4 encoder's binary ships in this wheel
    except ImportError as exc:
        raise ExportError(
            f"{path}: writing MP4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg); "
            "or export a .gif"
        ) from exc
    return imageio.get_writer(
        temporary,
        format="FFMPEG",
        mode="I",
        fps=settings.fps,
        codec="libx264",
        quality=8,
        pixelformat="yuv420p",
        macro_block_size=2,
        ffmpeg_log_level="error",
    )


class _GifWriter:
    """Collects frames, then writes them as a looping GIF with one palette for all of them.

    One shared palette (chosen from a few frames by Pillow's fast octree) keeps colours
    steady from frame to frame and is several times faster than a palette per frame.
    Nothing is written when the ``with`` block ends in an exception.
    """

    def __init__(self, path: Path, fps: int) -> None:
        self.path = path
        self.fps = fps
        self.frames: list[np.ndarray] = []

    def __enter__(self) -> _GifWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self._write()

    def append_data(self, frame: np.ndarray) -> None:
        self.frames.append(frame)

    def _write(self) -> None:
        step = max(1, len(self.frames) // GIF_PALETTE_SAMPLES)
        sample = np.concatenate([frame[::2, ::2] for frame in self.frames[::step]], axis=0)
        palette = Image.fromarray(sample).quantize(256, method=Image.Quantize.FASTOCTREE)
        indices = np.stack(
            [
                np.asarray(Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE))
                for frame in self.frames
            ]
        )
        colours = bytes(palette.getpalette()[: 3 * 256])
        with iio.imopen(self.path, "w", plugin="pillow", extension=".gif") as file:
            file.write(indices, mode="P", palette=colours, duration=1000.0 / self.fps, loop=0, is_batch=True)
