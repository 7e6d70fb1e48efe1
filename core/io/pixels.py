"""Pixel conversions, each written once: bit depth, value range and channel order.

Images in FaceCraft are ``(H, W, C)`` arrays, C-contiguous, in RGB(A) order, upright;
8-bit ones are uint8, deep ones uint16. Model outputs and UV maps are float32 in
``[0, 1]``; canvas arithmetic runs in float32 on the ``[0, 255]`` scale. Every
conversion between these rounds to nearest and clips.

* :func:`unit_to_uint8` — floats in ``[0, 1]`` to uint8 (UV maps, renders);
* :func:`round_to_uint8` — floats in ``[0, 255]`` to uint8 (canvas blending);
* :func:`uint16_to_uint8` — 16-bit pixels to 8-bit (uint8 passes through);
* :func:`float_to_uint16` — floating-point samples in ``[0, 1]`` to 16-bit;
* :func:`to_rgb8` — any grey/grey+alpha/RGB/RGBA pixels to 8-bit RGB;
* :func:`swap_red_blue` — RGB(A) ↔ OpenCV's BGR(A).
"""

from __future__ import annotations

import numpy as np


def unit_to_uint8(values: np.ndarray) -> np.ndarray:
    """Floats in ``[0, 1]`` (any shape) to uint8: ``v * 255`` rounded half up, clipped to 0..255."""
    return np.clip(np.asarray(values, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def round_to_uint8(values: np.ndarray) -> np.ndarray:
    """Floats in ``[0, 255]`` (any shape, clipped) rounded to nearest (ties to even) as uint8."""
    return np.rint(np.clip(values, 0.0, 255.0)).astype(np.uint8)


def uint16_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """uint16 pixels scaled to 0..255 (rounded to nearest); uint8 pixels returned unchanged.

    Raises:
        ValueError: the pixels are neither uint8 nor uint16.
    """
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.uint16:
        return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")


def float_to_uint16(samples: np.ndarray) -> np.ndarray:
    """Float samples clipped to ``[0, 1]`` (NaN as 0) and scaled to 0..65535, rounded to nearest."""
    values = samples.astype(np.float32)  # a copy: the scaling below works in place
    np.nan_to_num(values, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(values, 0.0, 1.0, out=values)
    values *= 65535.0
    values += 0.5
    return np.ascontiguousarray(values.astype(np.uint16))


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB copy of ``(H, W, C)`` grey/grey+alpha/RGB/RGBA pixels."""
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected (H, W, C) pixels with C in 1..4, got shape {pixels.shape}")
    colour = pixels[..., :1] if pixels.shape[2] <= 2 else pixels[..., :3]
    colour = uint16_to_uint8(colour)
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    return np.ascontiguousarray(colour)


def swap_red_blue(pixels: np.ndarray) -> np.ndarray:
    """RGB ↔ BGR and RGBA ↔ BGRA (OpenCV's order); grey unchanged. ``(H, W)`` becomes ``(H, W, 1)``.

    Returns:
        A C-contiguous ``(H, W, C)`` array.
    """
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] == 3:
        pixels = pixels[..., ::-1]
    elif pixels.shape[2] == 4:
        pixels = pixels[..., [2, 1, 0, 3]]
    return np.ascontiguousarray(pixels)
