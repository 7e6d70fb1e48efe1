"""Rasterizer and barycentrics (interpolation and texture sampling: test_texture.py)."""

from __future__ import annotations

import math

import pytest
import torch

from facecraft.core.render.rasterize import Fragments, barycentric_coordinates, rasterize
from facecraft.core.render.texture import interpolate


def reference_rasterize(screen: torch.Tensor, triangles: torch.Tensor, height: int, width: int,
                        cull_backfaces: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Obviously-correct loops: every pixel centre against every triangle, nearest wins."""
    batch = screen.shape[0]
    faces = torch.full((batch, height, width), -1, dtype=torch.long)
    depth = torch.full((batch, height, width), -math.inf, dtype=torch.float64)
    for b in range(batch):
        for t, (i, j, k) in enumerate(triangles.tolist()):
            (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = (screen[b, v].tolist() for v in (i, j, k))
            area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
            if area == 0 or (cull_backfaces and area > 0):
                continue
            for row in range(height):
                for col in range(width):
                    w0 = ((x1 - col) * (y2 - row) - (x2 - col) * (y1 - row)) / area
                    w1 = ((x2 - col) * (y0 - row) - (x0 - col) * (y2 - row)) / area
                    w2 = 1.0 - w0 - w1
                    if min(w0, w1, w2) < -1e-7:
                        continue
                    z = w0 * z0 + w1 * z1 + w2 * z2
                    if z > depth[b, row, col]:
                        depth[b, row, col] = z
                        faces[b, row, col] = t
    return faces, depth


def random_mesh(seed: int, batch: int = 2, vertices: int = 12, triangles: int = 10, size: int = 16):
    generator = torch.Generator().manual_seed(seed)
    screen = torch.rand(batch, vertices, 3, generator=generator, dtype=torch.float64)
    screen[..., :2] = screen[..., :2] * (size + 6) - 3  # some triangles poke out of the image
    screen[..., 2] = screen[..., 2] * 10
    faces, seen = [], set()
    while len(faces) < triangles:  # no two triangles on the same three vertices (an exact depth tie)
        corners = torch.randperm(vertices, generator=generator)[:3]
        if frozenset(corners.tolist()) not in seen:
            seen.add(frozenset(corners.tolist()))
            faces.append(corners)
    return screen, torch.stack(faces)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cull", [True, False])
def test_matches_the_reference_rasterizer(seed, cull):
    screen, faces = random_mesh(seed)
    fragments = rasterize(screen, faces, (16, 18), cull_backfaces=cull)
    expected_faces, expected_depth = reference_rasterize(screen, faces, 16, 18, cull)
    assert torch.equal(fragments.pix_to_face, expected_faces)
    covered = expected_faces >= 0
    assert covered.any()
    torch.testing.assert_close(fragments.depth[covered], expected_depth[covered], atol=1e-6, rtol=0)
    assert torch.isinf(fragments.depth[~covered]).all()


def test_chunking_does_not_change_the_result():
    screen, faces = random_mesh(3, triangles=30, size=40)
    whole = rasterize(screen, faces, (40, 40))
    chunked = rasterize(screen, faces, (40, 40), max_pairs=17)
    assert torch.equal(whole.pix_to_face, chunked.pix_to_face)
    assert torch.equal(whole.depth, chunked.depth)


def _square(depth: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    # Two triangles over pixel centres 2..7, counter-clockwise as the viewer sees them = front-facing.
    screen = torch.tensor([[[1.5, 1.5, depth], [7.5, 1.5, depth], [7.5, 7.5, depth], [1.5, 7.5, depth]]])
    return screen, torch.tensor([[0, 3, 2], [0, 2, 1]])


def test_square_covers_exactly_its_pixel_centres():
    screen, faces = _square()
    fragments = rasterize(screen, faces, (10, 10))
    expected = torch.zeros(10, 10, dtype=torch.bool)
    expected[2:8, 2:8] = True
    assert torch.equal(fragments.mask[0], expected)


def test_back_faces_are_culled_unless_asked():
    screen, faces = _square()
    flipped = faces.flip(1)
    assert not rasterize(screen, flipped, (10, 10)).mask.any()
    assert rasterize(screen, flipped, (10, 10), cull_backfaces=False).mask.sum() == 36


def test_nearer_surface_wins():
    near, faces = _square(depth=5.0)
    far, _ = _square(depth=-5.0)
    screen = torch.cat([far, near], dim=1)
    both = torch.cat([faces, faces + 4])
    fragments = rasterize(screen, both, (10, 10))
    assert set(fragments.pix_to_face[fragments.mask].tolist()) == {2, 3}
    assert torch.allclose(fragments.depth[fragments.mask], torch.tensor(5.0))


def test_mesh_outside_the_image_gives_empty_fragments():
    screen, faces = _square()
    fragments = rasterize(screen + torch.tensor([500.0, 0.0, 0.0]), faces, (10, 10))
    assert not fragments.mask.any()
    assert torch.isinf(fragments.depth).all()


@pytest.mark.parametrize(
    ("screen", "faces", "size", "message"),
    [
        (torch.zeros(4, 3), torch.zeros(1, 3, dtype=torch.long), (4, 4), r"\(B, V, 3\)"),
        (torch.zeros(1, 4, 3), torch.zeros(1, 3), (4, 4), "integers"),
        (torch.zeros(1, 4, 3), torch.tensor([[0, 1, 4]]), (4, 4), "outside"),
        (torch.full((1, 4, 3), math.nan), torch.tensor([[0, 1, 2]]), (4, 4), "NaN"),
        (torch.zeros(1, 4, 3), torch.tensor([[0, 1, 2]]), (0, 4), "positive"),
    ],
)
def test_bad_input_is_refused(screen, faces, size, message):
    with pytest.raises(ValueError, match=message):
        rasterize(screen, faces, size)


def test_barycentrics_reproduce_pixel_centres():
    screen, faces = random_mesh(1, triangles=20, size=24)
    fragments = rasterize(screen, faces, (24, 24))
    bary = barycentric_coordinates(screen, faces, fragments)
    mask = fragments.mask
    torch.testing.assert_close(bary.sum(-1)[mask], torch.ones(int(mask.sum()), dtype=torch.float64))
    assert (bary[mask] >= -1e-7).all()
    assert (bary[~mask] == 0).all()
    xy = interpolate(screen[..., :2], faces, fragments, bary)
    rows, cols = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    centres = torch.stack([cols, rows], dim=-1).expand(2, -1, -1, -1).to(torch.float64)
    torch.testing.assert_close(xy[mask], centres[mask])


def test_barycentric_gradients_pass_gradcheck():
    screen, faces = random_mesh(2, batch=1, vertices=6, triangles=4, size=8)
    fragments = rasterize(screen, faces, (8, 8))
    assert fragments.mask.sum() > 3
    screen = screen.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: barycentric_coordinates(s, faces, fragments), (screen,))


def test_fragments_report_their_size():
    screen, faces = _square()
    fragments = rasterize(screen, faces, (10, 12))
    assert isinstance(fragments, Fragments) and fragments.image_size == (10, 12)
