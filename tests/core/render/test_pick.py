"""Picking the surface under a screen point agrees with the rasterizer."""

from __future__ import annotations

import numpy as np
import torch

from facecraft.core.camera import Camera, project
from facecraft.core.render.pick import pick_uv
from facecraft.core.render.rasterize import barycentric_coordinates, rasterize
from facecraft.core.render.texture import interpolate


def test_pick_matches_the_rasterizer_on_the_mean_face(template):
    vertices = torch.as_tensor(template.mean_vertices(), dtype=torch.float32)[None]
    camera = Camera(torch.tensor([60.0]), torch.tensor([[0.2, 0.5, 0.1]]), torch.tensor([[100.0, 110.0]]))
    screen = project(vertices, camera)
    triangles = torch.as_tensor(template.triangles, dtype=torch.long)
    fragments = rasterize(screen, triangles, (220, 200))
    bary = barycentric_coordinates(screen, triangles, fragments)
    uv_map = interpolate(torch.as_tensor(template.vertex_uv), triangles, fragments, bary)[0].numpy()
    covered = fragments.mask[0].numpy()
    rng = np.random.default_rng(0)
    rows, cols = np.nonzero(covered)
    for index in rng.choice(len(rows), 40, replace=False):
        r, c = rows[index], cols[index]
        picked = pick_uv(screen[0].numpy(), template.triangles, template.vertex_uv, (float(c), float(r)))
        assert picked is not None
        assert np.allclose(picked, uv_map[r, c], atol=1e-3)
    assert pick_uv(screen[0].numpy(), template.triangles, template.vertex_uv, (5.0, 5.0)) is None
