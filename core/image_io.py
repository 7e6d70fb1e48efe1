"""Reading photos: every common format, EXIF orientation applied, bad files refused clearly.

:func:`load_image` is the one way the engine reads a user's photo. It keeps the
decoded pixels at their original size and bit depth (for export) and gives an
8-bit RGB copy for processing. Every failure raises
:class:`~facecraft.core.errors.ImageLoadError` with a message naming the file
and the reason; nothing is unpickled and nothing is written.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from facecraft.core.errors import ImageLoadError

SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP"})
"""Pillow format names :func:`load_image` accepts (MPO is a multi-picture JPEG)."""

DEFAULT_MAX_PIXELS = 120_000_000
"""Largest image accepted by default: room for 100-megapixel cameras, not for decompression bombs."""

MAX_FILE_BYTES = 512 * 1024 * 1024
"""Files larger than this are refused before they are read."""

_EXIF_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class LoadedImage:
    """A decoded photo.

    Attributes:
        path: the file it came from.
        format: Pillow's name of the file format (``"JPEG"``, ``"PNG"``, ...).
        original: ``(H, W, C)`` array with ``C`` in {1, 2, 3, 4} (grey, grey+alpha,
            RGB, RGBA), dtype uint8 or uint16 as stored in the file, EXIF
            orientation applied. Kept unchanged for export.
        rgb: ``(H, W, 3)`` uint8 RGB copy for processing (16-bit scaled down, grey
            replicated, alpha dropped).
        alpha: ``(H, W)`` uint8 alpha channel, or None when the file has none.
        exif_orientation: the EXIF orientation tag that was applied (1 = none).
    """

    path: Path
    format: str
    original: np.ndarray
    rgb: np.ndarray
    alpha: np.ndarray | None
    exif_orientation: int

    @property
    def width(self) -> int:
        """Width in pixels, after orientation."""
        return int(self.original.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels, after orientation."""
        return int(self.original.shape[0])

    @property
    def bit_depth(self) -> int:
        """Bits per channel of :attr:`original` (8 or 16)."""
        return 16 if self.original.dtype == np.uint16 else 8


def apply_exif_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip decoded pixels so that they display upright.

    Args:
        pixels: ``(H, W, ...)`` array as stored in the file.
        orientation: EXIF tag 0x0112, 1..8 (other values are treated as 1).

    Returns:
        A C-contiguous ``(H', W', ...)`` array, transposed for orientations 5..8.
    """
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: a.swapaxes(0, 1)[:, ::-1],
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: a.swapaxes(0, 1)[::-1, :],
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(pixels if op is None else op(pixels))


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read a photo from disk.

    Accepts JPEG, PNG (8/16-bit, grey, alpha, palette), WebP, TIFF and BMP.

    Args:
        path: the file to read.
        max_pixels: refuse images with more pixels than this (decompression bombs).

    Raises:
        ImageLoadError: the file is missing, unreadable, not an image, of an
            unsupported format, truncated or corrupt, or larger than ``max_pixels``.
    """
    path = Path(path)
    return decode_image(_read_bytes(path), path, max_pixels)


def decode_image(data: bytes, path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """:func:`load_image` for bytes already read (e.g. from a session file); ``path`` names them.

    Raises:
        ImageLoadError: as :func:`load_image`.
    """
    path = Path(path)
    if not data:
        raise ImageLoadError(f"{path}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
            raise ImageLoadError(f"{path}: the image is too large to open safely ({exc})") from exc
        reason = "unknown or damaged file format" if isinstance(exc, UnidentifiedImageError) else _reason(exc)
        raise ImageLoadError(f"{path}: not an image FaceCraft can read ({reason})") from exc

    with image:
        if image.format not in SUPPORTED_FORMATS:
            raise ImageLoadError(
                f"{path}: unsupported image format {image.format!r}; "
                f"use one of {', '.join(sorted(SUPPORTED_FORMATS - {'MPO'}))}"
            )
        width, height = image.size
        if width <= 0 or height <= 0:
            raise ImageLoadError(f"{path}: the image is empty ({width}x{height})")
        if width * height > max_pixels:
            raise ImageLoadError(
                f"{path}: the image is too large ({width}x{height} = "
                f"{width * height / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:.0f})"
            )
        orientation = _exif_orientation(image)
        try:
            if _is_high_bit_depth(image, data):
                pixels = _decode_with_opencv(data)
            else:
                pixels = _decode_with_pillow(image)
        except ImageLoadError as exc:
            raise ImageLoadError(f"{path}: {exc}") from exc
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageLoadError(f"{path}: the file is truncated or corrupt ({_reason(exc)})") from exc
        fmt = image.format

    original = apply_exif_orientation(pixels, orientation)
    alpha = original[..., -1] if original.shape[2] in (2, 4) else None
    return LoadedImage(
        path=path,
        format=fmt,
        original=original,
        rgb=to_rgb8(original),
        alpha=None if alpha is None else _to_uint8(alpha),
        exif_orientation=orientation,
    )


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB copy of ``(H, W, C)`` grey/grey+alpha/RGB/RGBA pixels."""
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected (H, W, C) pixels with C in 1..4, got shape {pixels.shape}")
    colour = pixels[..., :1] if pixels.shape[2] <= 2 else pixels[..., :3]
    colour = _to_uint8(colour)
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    return np.ascontiguousarray(colour)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ImageLoadError(f"{path}: no such file")
    if path.is_dir():
        raise ImageLoadError(f"{path}: is a folder, not an image file")
    try:
        size = path.stat().st_size
        if size == 0:
            raise ImageLoadError(f"{path}: the file is empty")
        if size > MAX_FILE_BYTES:
            raise ImageLoadError(
                f"{path}: the file is too large ({size / 2**20:.0f} MiB; "
                f"the limit is {MAX_FILE_BYTES / 2**20:.0f} MiB)"
            )
        return path.read_bytes()
    except PermissionError as exc:
        raise ImageLoadError(f"{path}: permission denied") from exc
    except OSError as exc:
        raise ImageLoadError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else type(exc).__name__


def _exif_orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not make the photo unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _is_high_bit_depth(image: Image.Image, data: bytes) -> bool:
    """True for 16-bit PNG/TIFF, which Pillow would truncate to 8 bits."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return True
    if image.format == "PNG" and len(data) > 24:
        return data[24] == 16  # IHDR bit depth
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, (8,))  # BitsPerSample
        bits = bits if isinstance(bits, tuple) else (bits,)
        return max(bits) == 16
    return False


def _decode_with_pillow(image: Image.Image) -> np.ndarray:
    image.load()  # raises OSError on truncated data
    mode_map = {
        "L": "L",
        "LA": "LA",
        "RGB": "RGB",
        "RGBA": "RGBA",
        "1": "L",
        "P": None,
        "CMYK": "RGB",
        "YCbCr": "RGB",
        "I;16": "L",
        "F": "L",
        "PA": "RGBA",
    }
    target = mode_map.get(image.mode, "RGB")
    if target is None:  # palette: keep transparency if the palette has any
        target = "RGBA" if "transparency" in image.info else "RGB"
    converted = image if image.mode == target else image.convert(target)
    pixels = np.asarray(converted)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return pixels


def _decode_with_opencv(data: bytes) -> np.ndarray:
    buffer = np.frombuffer(data, dtype=np.uint8)
    pixels = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageLoadError("the file is truncated or corrupt (16-bit decoder failed)")
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] == 3:
        pixels = pixels[..., ::-1]
    elif pixels.shape[2] == 4:
        pixels = pixels[..., [2, 1, 0, 3]]
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageLoadError(f"unsupported sample type {pixels.dtype}")
    return np.ascontiguousarray(pixels)


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.uint16:
        return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
