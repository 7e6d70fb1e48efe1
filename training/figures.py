"""The paper's Fig. 5 for a trained model: per photo the input, the four renders of proxy and true
shape and albedo, and the true shape shaded in grey (``python -m facecraft.training.evaluate``
draws it beside the numbers)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from facecraft.core.face.template import FaceTemplate
from facecraft.core.io.atomic import write_bytes_atomically
from facecraft.core.model.model import FaceModel
from facecraft.core.render.renderer import Renderer
from facecraft.core.render.shading import ambient_light, directional_light
from facecraft.training.eval_support import check_split, crops_to_images, frozen, model_device
from facecraft.training.prepare_data import PreparedSplit

FIGURE_TITLES = ("input", "I(S~, A~)", "I(S, A~)", "I(S~, A)", "I(S, A)", "shape S")
"""Column titles of the figure; ``~`` marks a proxy."""
FIGURE_TITLE_HEIGHT = 20
"""Pixels of the title band above the first row."""
FIGURE_TITLE_FONT_SIZE = 14
"""Pixels of the title font (PIL's default font)."""
SHAPE_ALBEDO = 0.7
"""Grey albedo of the shape column."""
SHAPE_AMBIENT = 0.3
"""Ambient level of the shape column's lighting."""
SHAPE_LIGHT_DIRECTION = (0.3, 0.4, 1.0)
"""Towards the shape column's directional light, camera frame (right, up, towards the viewer)."""
SHAPE_LIGHT_LEVEL = 0.8
"""Radiance of that light (grey)."""


def shape_lighting(batch: int, device: torch.device | str = "cpu") -> Tensor:
    """``(B, 3, 9)`` the fixed grey light of the figure's shape column: ambient + one directional light."""
    direction = torch.tensor([SHAPE_LIGHT_DIRECTION], device=device).expand(batch, 3)
    colour = torch.full((batch, 3), SHAPE_LIGHT_LEVEL, device=device)
    return ambient_light(batch, SHAPE_AMBIENT, device=device) + directional_light(direction, colour)


def figure_columns(model: FaceModel, renderer: Renderer, images: Tensor) -> list[Tensor]:
    """The figure's columns for a batch, each ``(B, 3, S, S)`` in ``[0, 1]``, in :data:`FIGURE_TITLES` order.

    The four renders use the encoder's camera and lighting over the input; the shape
    column is ``S`` in grey albedo under :func:`shape_lighting` over black.
    """
    with torch.no_grad():
        output = model(images)
        face = output.face
        size = (images.shape[2], images.shape[3])
        columns = [images]
        for shape, albedo in (
            (face.shape_proxy, face.albedo_proxy),
            (face.shape, face.albedo_proxy),
            (face.shape_proxy, face.albedo),
            (face.shape, face.albedo),
        ):
            columns.append(
                renderer(shape, albedo, output.camera, output.lighting, size, background=images).image
            )
        grey = torch.full_like(face.albedo, SHAPE_ALBEDO)
        lighting = shape_lighting(images.shape[0], images.device)
        columns.append(renderer(face.shape, grey, output.camera, lighting, size).image)
    return [column.clamp(0.0, 1.0) for column in columns]


def save_figure(
    model: FaceModel, split: PreparedSplit, template: FaceTemplate, indices: Sequence[int], path: str | Path
) -> None:
    """Write a PNG like the paper's Fig. 5, one row per photo of ``indices``, written atomically.

    Columns (:data:`FIGURE_TITLES`): the input crop, ``I(S~, A~)``, ``I(S, A~)``,
    ``I(S~, A)``, ``I(S, A)`` and the true shape shaded. The image is
    ``6 * S`` wide and ``FIGURE_TITLE_HEIGHT + len(indices) * S`` high (``S`` = crop side).
    The model runs where its weights are, in eval mode (its mode is restored after).

    Raises:
        ValueError: no indices, or an index outside the split.
    """
    indices = [int(i) for i in indices]
    if not indices:
        raise ValueError("the figure needs at least one photo")
    if min(indices) < 0 or max(indices) >= len(split):
        raise ValueError(f"photo indices must be in [0, {len(split)}), got {indices}")
    check_split(model, split)
    device = model_device(model)
    renderer = Renderer(template).to(device)
    with frozen(model):
        images = crops_to_images(split.crops[indices], device)
        columns = figure_columns(model, renderer, images)
    size = images.shape[2]
    tiles = torch.cat(columns, dim=3)  # (B, 3, S, 6 S)
    rows = tiles.permute(0, 2, 3, 1).mul(255.0).round().to(torch.uint8).cpu().numpy()
    grid = np.concatenate(list(rows), axis=0)  # (B S, 6 S, 3)
    canvas = Image.new("RGB", (grid.shape[1], FIGURE_TITLE_HEIGHT + grid.shape[0]), (255, 255, 255))
    canvas.paste(Image.fromarray(grid), (0, FIGURE_TITLE_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=FIGURE_TITLE_FONT_SIZE)
    for column, title in enumerate(FIGURE_TITLES):
        left, top, right, bottom = draw.textbbox((0, 0), title, font=font)
        x = column * size + (size - (right - left)) / 2 - left
        y = (FIGURE_TITLE_HEIGHT - (bottom - top)) / 2 - top
        draw.text((x, y), title, fill=(0, 0, 0), font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    write_bytes_atomically(Path(path), buffer.getvalue())


def figure_indices(count: int, photos: int) -> list[int]:
    """Up to ``photos`` indices spread evenly over ``range(count)``."""
    if count < 1 or photos < 1:
        return []
    return sorted({round(float(i)) for i in np.linspace(0, count - 1, min(photos, count))})
