"""Reading photos: every common format, EXIF orientation applied, bad files refused clearly.

:func:`load_image` is the one way the engine reads a user's photo. It keeps the
decoded pixels at their original size and bit depth (for export) and gives an
8-bit RGB copy for processing. Floating-point TIFFs (16, 32 or 64-bit samples,
as raw developers and scientific tools export them) are kept as 16-bit: the rest
of FaceCraft works on uint8/uint16 pixels. Every failure raises
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
from facecraft.core.io.pixels import float_to_uint16, swap_red_blue, to_rgb8, uint16_to_uint8

SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP"})
"""Pillow format names :func:`load_image` accepts (MPO is a multi-picture JPEG)."""

DEFAULT_MAX_PIXELS = 120_000_000
"""Largest image accepted by default: room for 100-megapixel cameras, not for decompression bombs."""

MAX_FILE_BYTES = 512 * 1024 * 1024
"""Files larger than this are refused before they are read."""

_EXIF_ORIENTATION_TAG = 0x0112
_TIFF_MAGIC = frozenset({b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"})  # classic and BigTIFF
_TIFF_GREY, _TIFF_RGB = 1, 2  # PhotometricInterpretation: BlackIsZero, RGB


@dataclass(frozen=True)
class LoadedImage:
    """A decoded photo.

    Attributes:
        path: the file it came from.
        format: Pillow's name of the file format (``"JPEG"``, ``"PNG"``, ...).
        original: ``(H, W, C)`` array with ``C`` in {1, 2, 3, 4} (grey, grey+alpha,
            RGB, RGBA), dtype uint8 or uint16 as stored in the file (floating-point
            TIFF samples mapped to uint16, see :func:`_float_tiff_pixels`), EXIF
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

    Accepts JPEG, PNG (8/16-bit, grey, alpha, palette), WebP, TIFF (8/16-bit
    integer, 16/32/64-bit floating point) and BMP.

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
    if data[:4] in _TIFF_MAGIC:
        floating = _float_tiff_pixels(data, path, max_pixels)
        if floating is not None:
            return _loaded(path, "TIFF", *floating)
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
        _check_size(path, width, height, max_pixels)
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
    return _loaded(path, fmt, pixels, orientation)


def _loaded(path: Path, fmt: str, pixels: np.ndarray, orientation: int) -> LoadedImage:
    """The :class:`LoadedImage` of decoded ``(H, W, C)`` uint8/uint16 ``pixels`` as stored."""
    original = apply_exif_orientation(pixels, orientation)
    alpha = original[..., -1] if original.shape[2] in (2, 4) else None
    return LoadedImage(
        path=path,
        format=fmt,
        original=original,
        rgb=to_rgb8(original),
        alpha=None if alpha is None else uint16_to_uint8(alpha),
        exif_orientation=orientation,
    )


def _check_size(path: Path, width: int, height: int, max_pixels: int) -> None:
    """Refuse an image with no pixels or more than ``max_pixels``, before decoding it."""
    if width <= 0 or height <= 0:
        raise ImageLoadError(f"{path}: the image is empty ({width}x{height})")
    if width * height > max_pixels:
        raise ImageLoadError(
            f"{path}: the image is too large ({width}x{height} = "
            f"{width * height / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:.0f})"
        )


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
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageLoadError(f"unsupported sample type {pixels.dtype}")
    return swap_red_blue(pixels)


def _float_tiff_pixels(data: bytes, path: Path, max_pixels: int) -> tuple[np.ndarray, int] | None:
    """The uint16 ``(H, W, C)`` pixels and EXIF orientation of a floating-point TIFF.

    Returns None for a TIFF of integer samples, or one tifffile cannot parse (Pillow
    reads and reports those). Pillow cannot open colour float TIFFs and OpenCV cannot
    decode 16-bit float ones, so they are read with tifffile; OpenCV (libtiff) decodes
    32/64-bit samples that tifffile cannot without the optional imagecodecs package
    (LZW, the floating-point predictor).

    Samples are taken as display values in ``[0, 1]`` (0 = black, 1 = white, as raw
    developers export them): values outside are clipped, NaN reads as 0, and the
    result is mapped to the full uint16 range, which keeps more precision than a
    half float has. Brighter-than-white highlights are clipped rather than the image
    divided by its maximum, so one specular highlight cannot darken the whole photo.

    Raises:
        ImageLoadError: an unsupported layout or colour model, too many pixels, or
            sample data that cannot be decoded; the message names ``path`` and why.
    """
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            page = tiff.pages[0]
            if page.dtype is None or page.dtype.kind != "f":
                return None
            _check_size(path, int(page.imagewidth), int(page.imagelength), max_pixels)
            if page.photometric not in (_TIFF_GREY, _TIFF_RGB) or page.axes not in ("YX", "YXS", "SYX"):
                model = getattr(page.photometric, "name", page.photometric)
                raise ImageLoadError(
                    f"{path}: unsupported floating-point TIFF (colour model {model}, "
                    f"layout {page.axes}); save it as grey or RGB"
                )
            orientation_tag = page.tags.get(274)  # TIFF Orientation: the same values as EXIF's
            value = orientation_tag.value if orientation_tag is not None else 1
            orientation = value if isinstance(value, int) and 1 <= value <= 8 else 1
            axes, bits = page.axes, int(page.bitspersample)
            try:
                samples, failure = page.asarray(), None
            except Exception as exc:  # a missing codec or damaged strips: OpenCV may still decode it
                samples, failure = None, exc
    except ImageLoadError:
        raise
    except Exception:  # not parseable by tifffile: leave the file to Pillow and its message
        return None
    if samples is None:
        samples = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if bits > 16 else None
        if samples is None or samples.dtype.kind != "f":
            raise ImageLoadError(f"{path}: the floating-point TIFF cannot be decoded ({_reason(failure)})")
        samples = swap_red_blue(samples)
    elif axes == "SYX":
        samples = np.moveaxis(samples, 0, -1)
    if samples.ndim == 2:
        samples = samples[..., None]
    if not 1 <= samples.shape[2] <= 4:
        raise ImageLoadError(
            f"{path}: unsupported floating-point TIFF ({samples.shape[2]} samples per pixel)"
        )
    return float_to_uint16(samples), orientation
