"""Picking: which point of the face's surface is under a screen position (numpy, no GL)."""

from __future__ import annotations

import numpy as np


def pick_uv(
    screen: np.ndarray, triangles: np.ndarray, vertex_uv: np.ndarray, point: tuple[float, float]
) -> tuple[float, float] | None:
    """The UV coordinates of the nearest front surface under a screen point.

    Args:
        screen: ``(V, 3)`` projected vertices: ``(x, y)`` pixels and depth, larger = nearer
            (as :func:`facecraft.core.camera.project` gives).
        triangles: ``(T, 3)`` vertex indices, counter-clockwise as the viewer sees front faces.
        vertex_uv: ``(V, 2)`` UV of each vertex.
        point: ``(x, y)`` pixels.

    Returns:
        ``(u, v)``, or None when no front-facing triangle covers the point.
    """
    x, y = point
    a, b, c = (screen[triangles[:, k]] for k in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    front = area < 0  # counter-clockwise on screen, whose y axis points down
    with np.errstate(divide="ignore", invalid="ignore"):
        w0 = ((b[:, 0] - x) * (c[:, 1] - y) - (b[:, 1] - y) * (c[:, 0] - x)) / area
        w1 = ((c[:, 0] - x) * (a[:, 1] - y) - (c[:, 1] - y) * (a[:, 0] - x)) / area
    w2 = 1.0 - w0 - w1
    inside = front & (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
    if not inside.any():
        return None
    hits = np.flatnonzero(inside)
    depth = w0[hits] * a[hits, 2] + w1[hits] * b[hits, 2] + w2[hits] * c[hits, 2]
    best = hits[int(np.argmax(depth))]
    weights = np.array([w0[best], w1[best], w2[best]])
    uv = weights @ vertex_uv[triangles[best]]
    return float(uv[0]), float(uv[1])
