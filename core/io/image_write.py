"""Writing images: PNG (exact, 8 or 16 bit, grey to RGBA) and JPEG, each written atomically.

Failures raise :class:`~facecraft.core.errors.ExportError` with a message naming the file and
the reason.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facecraft.core.errors import ExportError
from facecraft.core.io.atomic import write_files_together
from facecraft.core.io.pixels import swap_red_blue, uint16_to_uint8

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
"""File name endings :func:`write_image` accepts (case-insensitive)."""


def write_image(path: str | Path, pixels: np.ndarray, quality: int = 95) -> None:
    """Write an upright image as PNG or JPEG, chosen by the file name's ending.

    PNG keeps the pixels exactly: uint8 or uint16, grey, RGB or RGBA (grey+alpha
    is stored as RGBA with the grey replicated). JPEG is 8-bit: uint16 is scaled
    down, alpha is dropped, grey stays grey. No EXIF orientation is written, so
    viewers show the pixels as given.

    Args:
        path: the destination, ending in ``.png``, ``.jpg`` or ``.jpeg``; its
            folder is created when missing.
        pixels: ``(H, W, C)`` uint8 or uint16 with ``C`` in {1, 2, 3, 4} (grey,
            grey+alpha, RGB, RGBA), or ``(H, W)`` grey; already upright.
        quality: JPEG quality, 1..100 (ignored for PNG).

    Raises:
        ExportError: unsupported ending, bad pixel array or quality, or the file
            cannot be written.
    """
    path = Path(path)
    write_files_together({path: encode_image(path, pixels, quality)})


def encode_image(path: Path, pixels: np.ndarray, quality: int) -> bytes:
    """PNG or JPEG bytes of ``(H, W, C)`` pixels, by the ending of ``path``."""
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ExportError(
            f"{path}: unsupported image file type {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(IMAGE_SUFFIXES)}"
        )
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or pixels.size == 0:
        raise ExportError(f"{path}: expected (H, W, C) pixels with C in 1..4, got shape {pixels.shape}")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ExportError(f"{path}: expected uint8 or uint16 pixels, got {pixels.dtype}")
    if pixels.shape[2] == 2:  # grey + alpha: no such layout in OpenCV's encoders
        pixels = pixels[..., [0, 0, 0, 1]]

    if suffix == ".png":
        extension, params = ".png", [cv2.IMWRITE_PNG_COMPRESSION, 3]
    else:
        if not 1 <= quality <= 100:
            raise ExportError(f"{path}: JPEG quality must be 1..100, got {quality}")
        pixels = uint16_to_uint8(pixels if pixels.shape[2] in (1, 3) else pixels[..., :3])
        extension, params = ".jpg", [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    ok, encoded = cv2.imencode(extension, swap_red_blue(pixels), params)
    if not ok:
        raise ExportError(f"{path}: the image could not be encoded")
    return encoded.tobytes()
