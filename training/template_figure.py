"""A picture of the face template for a person to check: UV layout and a 3D view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facecraft.core.face.template import FaceTemplate
from facecraft.core.render.shading import uv_normals

LIGHT = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])


def uv_normals_np(shape_uv: np.ndarray) -> np.ndarray:
    """Unit normals of a ``(H, W, 3)`` position map: :func:`facecraft.core.render.uv_normals` on numpy."""
    shape = torch.from_numpy(np.ascontiguousarray(shape_uv, dtype=np.float64)).permute(2, 0, 1)[None]
    return uv_normals(shape)[0].permute(1, 2, 0).numpy()


def save_template_figure(template: FaceTemplate, path: Path, yaw_degrees: float = 30.0) -> None:
    """Write a PNG: shaded mean shape in UV with landmarks and part boxes, and a 3D view."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Rectangle

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 5.6))
    shade = np.clip(uv_normals_np(template.mean_shape_uv) @ LIGHT, 0, 1)
    shade = np.where(template.mask, 0.15 + 0.85 * shade, 0.0)
    left.imshow(shade, cmap="gray", vmin=0, vmax=1)
    texels = template.landmark_texels()
    left.scatter(texels[:, 0], texels[:, 1], s=9, c="#ff3b30")
    for name, box in template.part_boxes.items():
        left.add_patch(Rectangle((box.left - 0.5, box.top - 0.5), box.width, box.height,
                                 fill=False, lw=1.2, ec="#30b0ff"))
        left.text(box.left, box.top - 2, name, color="#30b0ff", fontsize=8)
    left.set_title(f"Mean shape in UV ({shade.shape[0]}x{shade.shape[1]}), 68 landmarks, parts")

    yaw = np.radians(yaw_degrees)
    rotation = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    vertices = template.mean_vertices() @ rotation.T
    corners = vertices[template.triangles]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    facing = normals[:, 2] > 0
    order = np.argsort(corners[:, :, 2].mean(axis=1))
    order = order[facing[order]]
    grey = np.clip(normals[order] @ LIGHT, 0, 1) * 0.85 + 0.1
    colours = np.repeat(grey[:, None], 3, 1)
    right.add_collection(PolyCollection(corners[order][:, :, :2], facecolors=colours,
                                        edgecolors=colours, linewidths=0.4))
    right.set_xlim(vertices[:, 0].min() - 0.1, vertices[:, 0].max() + 0.1)
    right.set_ylim(vertices[:, 1].min() - 0.1, vertices[:, 1].max() + 0.1)
    right.set_aspect("equal")
    right.set_facecolor("black")
    right.set_title(f"Render mesh, {template.vertex_count} vertices, {template.triangle_count} "
                    f"triangles, yaw {yaw_degrees:.0f}°")
    for axis in (left, right):
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
