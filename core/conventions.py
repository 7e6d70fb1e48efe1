"""Coordinate conventions, defined once and referenced everywhere else.

Image pixels
    Arrays are ``(H, W, C)`` row-major. A point ``(x, y)`` is in pixels with the
    origin at the *centre* of the top-left pixel: pixel ``[r, c]`` covers
    ``x in [c - 0.5, c + 0.5]``, ``y in [r - 0.5, r + 0.5]``. ``x`` grows to the
    right, ``y`` grows down. (The 300-W ``.pts`` files are 1-based; subtract 1.)

UV texels
    UV maps are ``(UV_HEIGHT, UV_WIDTH, C)`` = ``(192, 224, C)`` arrays (paper:
    U=192, V=224). Texel ``[row, col]`` has its centre at
    ``u = (col + 0.5) / UV_WIDTH``, ``v = (row + 0.5) / UV_HEIGHT``, both in
    ``[0, 1]``. Columns follow the azimuth around the head's vertical axis and
    rows follow height, forehead at row 0. The layout is mirror-symmetric:
    flipping a UV map left-right (``col -> UV_WIDTH - 1 - col``) gives the map of
    the face mirrored in the canonical frame's ``x = 0`` plane.

Canonical model frame
    Right-handed, the face looking down ``+z``: ``+x`` is the subject's left
    (the viewer's right in a frontal photo), ``+y`` is up, ``+z`` points out of
    the face towards the camera. The origin is on the symmetry plane at the
    centroid of the mean face; one unit is the distance between the outer eye
    corners of the mean face. "Left" and "right" parts are the *subject's*.

Camera frame and projection
    :mod:`facecraft.core.camera` defines the weak-perspective camera: a rotation
    takes the canonical frame to the camera frame (``+x`` to the image's right,
    ``+y`` up, ``+z`` towards the viewer), then a scale and a 2D translation give
    image pixels (``y`` flipped to grow down) and a depth in the same pixel unit,
    larger = nearer. It also converts to and from the paper's 2x4 matrix.

Crop
    The encoder sees a square crop of the photo. A
    :class:`facecraft.core.camera.CropTransform` maps photo pixels to crop pixels
    by a uniform scale and an offset (both in the pixel-centre convention above),
    and turns a camera fitted in the crop into one for the full-resolution photo.

Rendering
    Renders are images in the pixel convention above: a pixel is covered when its
    *centre* is inside a triangle. Front faces are counter-clockwise as the viewer
    sees them. SH lighting is expressed in the camera frame
    (:mod:`facecraft.core.render.shading`).

MediaPipe landmarks
    Face Mesh gives ``(x, y, z)`` normalised by the image width and height with
    the origin at the image's top-left *corner*; :mod:`facecraft.core.face.detection`
    converts them to image pixels (centre convention above) and scales ``z`` by
    the image width, so the three axes share one pixel unit (``z`` grows away
    from the camera).
"""

from __future__ import annotations

import numpy as np

UV_HEIGHT = 192
"""Rows of every UV map (the paper's U)."""
UV_WIDTH = 224
"""Columns of every UV map (the paper's V)."""


def texel_centres_uv(height: int = UV_HEIGHT, width: int = UV_WIDTH) -> np.ndarray:
    """UV coordinates of every texel centre.

    Returns:
        ``(height, width, 2)`` float64 array of ``(u, v)`` in ``[0, 1]``.
    """
    u = (np.arange(width) + 0.5) / width
    v = (np.arange(height) + 0.5) / height
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu, vv], axis=-1)


def uv_to_texel(uv: np.ndarray, height: int = UV_HEIGHT, width: int = UV_WIDTH) -> np.ndarray:
    """Continuous texel coordinates ``(col, row)`` of UV points.

    Args:
        uv: ``(..., 2)`` array of ``(u, v)``.

    Returns:
        ``(..., 2)`` array of ``(col, row)``; integer values are texel centres.
    """
    uv = np.asarray(uv, dtype=np.float64)
    return np.stack([uv[..., 0] * width - 0.5, uv[..., 1] * height - 0.5], axis=-1)


def texel_to_uv(texel: np.ndarray, height: int = UV_HEIGHT, width: int = UV_WIDTH) -> np.ndarray:
    """Inverse of :func:`uv_to_texel`: ``(..., 2)`` ``(col, row)`` to ``(u, v)``."""
    texel = np.asarray(texel, dtype=np.float64)
    return np.stack([(texel[..., 0] + 0.5) / width, (texel[..., 1] + 0.5) / height], axis=-1)
