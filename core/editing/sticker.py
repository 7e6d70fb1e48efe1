"""Stickers and tattoos: reading an RGBA image, and placing it on the UV canvas.

:func:`load_sticker` reads one from a file; :func:`rasterize_sticker` places it on a
transparent canvas (scaled, rotated, optionally mirrored) and reports the
:class:`~facecraft.core.editing.rect.Rect` it covers.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facecraft.core.editing.rect import Rect, check_canvas
from facecraft.core.errors import ImageLoadError

MAX_STICKER_SIDE = 4096
"""Sticker files (and sticker images in a session) wider or taller than this are refused."""


def rasterize_sticker(
    sticker: np.ndarray,
    canvas_size: tuple[int, int],
    centre: tuple[float, float],
    width: float,
    rotation_deg: float = 0.0,
    flip: bool = False,
) -> tuple[np.ndarray, Rect]:
    """Place an RGBA image on a transparent canvas: scaled, rotated, optionally mirrored.

    The warp is bilinear on premultiplied colour (then un-premultiplied), so
    semi-transparent edges keep the sticker's colour instead of darkening.
    Shrunk stickers are first box-filtered down to their size on the canvas,
    so they do not alias.

    Args:
        sticker: ``(h, w, 4)`` uint8 RGBA, straight alpha.
        canvas_size: ``(H, W)`` of the canvas.
        centre: canvas ``(col, row)`` where the sticker's centre lands.
        width: the sticker's width on the canvas, in texels (> 0); the aspect ratio is kept.
        rotation_deg: counter-clockwise as seen on the canvas (rows grow down).
        flip: mirror the sticker left-right (before rotating).

    Returns:
        ``(H, W, 4)`` uint8 RGBA canvas, transparent where the sticker is not, and
        the bounding rect of its non-zero alpha (empty when it lands off the canvas).

    Raises:
        ValueError: the sticker is not ``(h, w, 4)`` uint8, or ``width``,
            ``centre`` or ``rotation_deg`` is not a finite positive/finite number.
    """
    check_canvas(sticker, "sticker")
    height, canvas_width = int(canvas_size[0]), int(canvas_size[1])
    if height <= 0 or canvas_width <= 0:
        raise ValueError(f"canvas size must be positive, got {canvas_size}")
    if not (math.isfinite(width) and width > 0.0):
        raise ValueError(f"sticker width must be a positive number of texels, got {width}")
    if not (np.isfinite(centre).all() and math.isfinite(rotation_deg)):
        raise ValueError(f"sticker centre and rotation must be finite, got {centre}, {rotation_deg}")
    canvas = np.zeros((height, canvas_width, 4), np.uint8)
    source, scale_x, scale_y = _scaled_premultiplied(sticker, float(width))
    matrix = _sticker_matrix(source.shape[:2], centre, scale_x, scale_y, rotation_deg, flip)
    corners = np.array(
        [
            [-0.5, -0.5],
            [source.shape[1] - 0.5, -0.5],
            [-0.5, source.shape[0] - 0.5],
            [source.shape[1] - 0.5, source.shape[0] - 0.5],
        ]
    )
    box = Rect.from_points(corners @ matrix[:, :2].T + matrix[:, 2], pad=1.0).clip(height, canvas_width)
    if box.empty:
        return canvas, box
    local = matrix.copy()
    local[:, 2] -= (box.left, box.top)
    warped = cv2.warpAffine(
        source,
        local,
        (box.width, box.height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0.0, 0.0, 0.0, 0.0),
    )
    rows, cols = box.slices()
    canvas[rows, cols] = _unpremultiply(warped)
    return canvas, _alpha_bounds(canvas[rows, cols, 3], box)


def _scaled_premultiplied(sticker: np.ndarray, width: float) -> tuple[np.ndarray, float, float]:
    """Premultiply (every channel times alpha, in ``[0, 255²]``) and box-filter down when shrinking.

    Returns:
        ``(h', w', 4)`` float32 premultiplied image, no larger than the sticker's
        footprint on the canvas, and the x and y scales that remain from its
        pixels to canvas texels.
    """
    h, w = sticker.shape[:2]
    planes = [plane.astype(np.uint16) for plane in cv2.split(sticker)]  # planar: fast arithmetic
    alpha = planes[3]
    premultiplied = cv2.merge([*(plane * alpha for plane in planes[:3]), alpha * np.uint16(255)])
    scale = width / w
    if scale >= 1.0:
        return premultiplied.astype(np.float32), scale, scale
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    premultiplied = cv2.resize(premultiplied, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return premultiplied.astype(np.float32), width / new_w, width * h / w / new_h


def _sticker_matrix(
    shape: tuple[int, int],
    centre: tuple[float, float],
    scale_x: float,
    scale_y: float,
    rotation_deg: float,
    flip: bool,
) -> np.ndarray:
    """The ``(2, 3)`` affine map from sticker pixel ``(x, y)`` to canvas ``(col, row)``."""
    h, w = shape
    angle = math.radians(rotation_deg)
    c, s = math.cos(angle), math.sin(angle)
    rotation = np.array([[c, s], [-s, c]])  # counter-clockwise on screen, with rows growing down
    linear = rotation @ np.diag([-scale_x if flip else scale_x, scale_y])
    offset = np.asarray(centre, dtype=np.float64) - linear @ np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    return np.concatenate([linear, offset[:, None]], axis=1)


def _unpremultiply(premultiplied: np.ndarray) -> np.ndarray:
    """``(h, w, 4)`` float32 premultiplied (see :func:`_scaled_premultiplied`) to uint8 straight RGBA."""
    weight = cv2.extractChannel(premultiplied, 3)
    alpha = cv2.convertScaleAbs(weight, alpha=1.0 / 255.0)  # rounds and saturates to uint8
    factor = np.where(alpha > 0, np.float32(255.0) / np.maximum(weight, np.float32(1.0)), np.float32(0.0))
    straight = cv2.multiply(premultiplied, cv2.merge([factor, factor, factor, factor]))
    result = cv2.convertScaleAbs(straight)
    cv2.insertChannel(alpha, result, 3)
    return result


def _alpha_bounds(alpha: np.ndarray, box: Rect) -> Rect:
    """The rect of the non-zero texels of ``alpha`` (the part of the canvas inside ``box``)."""
    rows = np.flatnonzero(alpha.any(axis=1))
    cols = np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return Rect.empty_rect()
    return Rect(box.top + rows[0], box.left + cols[0], box.top + rows[-1] + 1, box.left + cols[-1] + 1)


def load_sticker(path: str | Path) -> np.ndarray:
    """Read a sticker image (PNG in any mode, or any format Pillow reads) as RGBA.

    EXIF orientation is applied; 16-bit images are scaled to 8 bits; images
    without alpha become opaque.

    Returns:
        ``(h, w, 4)`` uint8 RGBA, straight alpha.

    Raises:
        ImageLoadError: the file is missing, not an image, damaged, or larger
            than :data:`MAX_STICKER_SIDE` on a side.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_sticker_size(path, image.size)
                image.load()
                return _to_rgba(ImageOps.exif_transpose(image))
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{path}: no such sticker file") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path}: not an image file (unknown or damaged format)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{path}: the sticker image is too large to open safely") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{path}: the sticker image could not be read ({exc})") from exc


def _check_sticker_size(path: Path, size: tuple[int, int]) -> None:
    if max(size) > MAX_STICKER_SIDE:
        raise ImageLoadError(
            f"{path}: the sticker is {size[0]}x{size[1]} pixels; the largest accepted "
            f"is {MAX_STICKER_SIDE}x{MAX_STICKER_SIDE}"
        )


def _to_rgba(image: Image.Image) -> np.ndarray:
    """Any Pillow image to ``(h, w, 4)`` uint8 RGBA (16-bit and float grey scaled to 8 bits)."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64)
        grey = values if image.mode == "F" else values / 257.0
        image = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8))
    return np.array(image.convert("RGBA"), dtype=np.uint8)
