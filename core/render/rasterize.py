"""Z-buffer rasterization of triangle meshes in image space (not differentiable).

Screen-space vertices are ``(x, y, depth)``: pixels in the image convention of
:mod:`facecraft.core.conventions` (origin at the centre of the top-left pixel,
``y`` down) and depth from :func:`facecraft.core.camera.project` (larger =
nearer). A pixel is covered by a triangle when its centre lies inside it (or on
its edge); the nearest covering triangle wins, and an exact depth tie goes to the
triangle with the larger index.

The work is vectorised over (triangle, pixel) pairs: every triangle enumerates
the pixel centres of its bounding box, an inside test keeps the covered ones,
and one ``scatter_reduce(amax)`` over a packed ``(quantised depth, triangle id)``
key resolves the z-buffer. Memory grows with the total bounding-box area, so
pairs are processed in chunks of at most ``max_pairs``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

_DEPTH_LEVELS = 2**30  # packed above the face id; keeps the key positive in int64
_FACE_BITS = 32
_EDGE_EPS = 1e-7


@dataclass(frozen=True)
class Fragments:
    """Which triangle each pixel sees.

    Attributes:
        pix_to_face: ``(B, H, W)`` int64 triangle index, ``-1`` where no triangle
            covers the pixel centre.
        depth: ``(B, H, W)`` depth of the visible surface at the pixel centre
            (same unit as the input depth, larger = nearer), ``-inf`` where empty.
    """

    pix_to_face: Tensor
    depth: Tensor

    @property
    def mask(self) -> Tensor:
        """``(B, H, W)`` bool, pixels covered by the mesh."""
        return self.pix_to_face >= 0

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return int(self.pix_to_face.shape[1]), int(self.pix_to_face.shape[2])


def check_mesh(screen_vertices: Tensor, triangles: Tensor) -> None:
    """Raise ``ValueError`` unless the inputs are a well-formed batch of meshes.

    Args:
        screen_vertices: ``(B, V, 3)`` float ``(x, y, depth)``.
        triangles: ``(T, 3)`` integer vertex indices.
    """
    if screen_vertices.dim() != 3 or screen_vertices.shape[-1] != 3:
        raise ValueError(f"screen vertices must be (B, V, 3), got {tuple(screen_vertices.shape)}")
    if not screen_vertices.is_floating_point():
        raise ValueError(f"screen vertices must be floating point, got {screen_vertices.dtype}")
    if triangles.dim() != 2 or triangles.shape[-1] != 3 or triangles.is_floating_point():
        raise ValueError(f"triangles must be (T, 3) integers, got {tuple(triangles.shape)} {triangles.dtype}")
    vertex_count = screen_vertices.shape[1]
    if triangles.numel() and (int(triangles.min()) < 0 or int(triangles.max()) >= vertex_count):
        raise ValueError(f"triangles index vertices outside 0..{vertex_count - 1}")
    if not bool(torch.isfinite(screen_vertices).all()):
        raise ValueError("screen vertices contain NaN or infinity")


def rasterize(
    screen_vertices: Tensor,
    triangles: Tensor,
    image_size: tuple[int, int],
    *,
    cull_backfaces: bool = True,
    max_pairs: int = 4_000_000,
) -> Fragments:
    """Find the nearest triangle at every pixel centre.

    Args:
        screen_vertices: ``(B, V, 3)`` float ``(x, y, depth)`` per vertex; gradients are ignored.
        triangles: ``(T, 3)`` int vertex indices shared by the batch. Front faces are
            counter-clockwise as the viewer sees them, i.e. have a negative signed
            area in image-pixel coordinates (whose ``y`` axis points down).
        image_size: ``(H, W)`` of the output.
        cull_backfaces: drop triangles that face away from the camera.
        max_pairs: most (triangle, pixel) candidates held in memory at once.

    Returns:
        :class:`Fragments` for the batch.
    """
    check_mesh(screen_vertices, triangles)
    height, width = (int(v) for v in image_size)
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {image_size}")
    screen = screen_vertices.detach()
    batch, device = screen.shape[0], screen.device
    tri = triangles.to(device=device, dtype=torch.long)
    keys = torch.full((batch * height * width,), -1, dtype=torch.long, device=device)
    z_lo = screen[..., 2].amin(dim=1) if screen.shape[1] else screen.new_zeros(batch)
    z_range = (screen[..., 2].amax(dim=1) - z_lo).clamp(min=1e-12) if screen.shape[1] \
        else screen.new_ones(batch)
    if tri.shape[0] and screen.shape[1]:
        _scatter_nearest(screen, tri, height, width, cull_backfaces, max_pairs, z_lo, z_range, keys)
    covered = keys >= 0
    face = torch.where(covered, keys & ((1 << _FACE_BITS) - 1), torch.full_like(keys, -1))
    # The winning key also holds the depth, quantised to 1/2^30 of the batch item's depth range.
    level = (keys >> _FACE_BITS).to(screen.dtype).view(batch, -1)
    depth = z_lo[:, None] + level / _DEPTH_LEVELS * z_range[:, None]
    depth = torch.where(covered.view(batch, -1), depth, torch.full_like(depth, -torch.inf))
    return Fragments(face.view(batch, height, width), depth.view(batch, height, width))


_TRIANGLE_COLUMNS = 13  # x0 x1 x2 y0 y1 y2 z0 z1 z2 area x_lo y_lo span_x


def _scatter_nearest(
    screen: Tensor, tri: Tensor, height: int, width: int, cull_backfaces: bool, max_pairs: int,
    z_lo: Tensor, z_range: Tensor, keys: Tensor,
) -> None:
    """Fill ``keys`` (``B*H*W`` int64) with the packed (depth, face) of the nearest cover."""
    triangle_count = tri.shape[0]
    corners = screen[:, tri].permute(0, 1, 3, 2)  # (B, T, coord, corner)
    x, y = corners[..., 0, :], corners[..., 1, :]
    area = _signed_area(x, y)
    usable = area < 0 if cull_backfaces else area != 0
    x_lo = _min3(x).ceil().clamp(0, width - 1)
    x_hi = _max3(x).floor().clamp(-1, width - 1)
    y_lo = _min3(y).ceil().clamp(0, height - 1)
    y_hi = _max3(y).floor().clamp(-1, height - 1)
    span_x = (x_hi - x_lo + 1).clamp(min=0)
    span_y = (y_hi - y_lo + 1).clamp(min=0)
    counts = torch.where(usable, span_x * span_y, torch.zeros_like(span_x)).flatten().long()
    owners = counts.nonzero().squeeze(1)  # flat (b * T + t) of triangles with candidates
    if owners.numel() == 0:
        return
    table = torch.cat([corners.flatten(-2), area[..., None], x_lo[..., None], y_lo[..., None],
                       span_x[..., None]], dim=-1).flatten(0, 1).index_select(0, owners)
    owner_counts = counts.index_select(0, owners)
    ends = owner_counts.cumsum(0)
    chunk_start = 0
    while chunk_start < owners.numel():
        # The owners whose pairs fit within max_pairs from this chunk's first pair (at least one).
        first_pair = int(ends[chunk_start] - owner_counts[chunk_start])
        chunk_end = max(int(torch.searchsorted(ends, first_pair + max_pairs, right=True)), chunk_start + 1)
        chunk_counts = owner_counts[chunk_start:chunk_end]
        local_owner = torch.repeat_interleave(
            torch.arange(chunk_end - chunk_start, device=screen.device), chunk_counts)
        starts = ends[chunk_start:chunk_end] - chunk_counts - first_pair
        pair = torch.arange(local_owner.numel(), device=screen.device)
        offset = (pair - starts[local_owner]).to(table.dtype)
        rows = table[chunk_start:chunk_end].index_select(0, local_owner)  # (N, 13)
        span = rows[:, 12]
        row_in_box = torch.div(offset, span, rounding_mode="floor")
        px = rows[:, 10] + (offset - row_in_box * span)
        py = rows[:, 11] + row_in_box
        weights = _edge_weights(rows[:, 0:3], rows[:, 3:6], px, py, rows[:, 9])
        inside = (weights >= -_EDGE_EPS).all(-1)
        flat = owners[chunk_start:chunk_end].index_select(0, local_owner)
        b = torch.div(flat, triangle_count, rounding_mode="floor")
        depth = (weights * rows[:, 6:9]).sum(-1)
        level = ((depth - z_lo[b]) / z_range[b] * _DEPTH_LEVELS).long().clamp(0, _DEPTH_LEVELS)
        key = (level << _FACE_BITS) | (flat - b * triangle_count)
        pixel = (b * height + py.long()) * width + px.long()
        keys.scatter_reduce_(0, pixel[inside], key[inside], reduce="amax")
        chunk_start = chunk_end


def _signed_area(x: Tensor, y: Tensor) -> Tensor:
    """Twice the signed area of triangles with corners ``x, y`` (``(..., 3)``); < 0 faces the viewer."""
    x01, x02 = x[..., 1] - x[..., 0], x[..., 2] - x[..., 0]
    y01, y02 = y[..., 1] - y[..., 0], y[..., 2] - y[..., 0]
    return x01 * y02 - x02 * y01


def _min3(values: Tensor) -> Tensor:
    return torch.minimum(torch.minimum(values[..., 0], values[..., 1]), values[..., 2])


def _max3(values: Tensor) -> Tensor:
    return torch.maximum(torch.maximum(values[..., 0], values[..., 1]), values[..., 2])


def _edge_weights(x: Tensor, y: Tensor, px: Tensor, py: Tensor, area: Tensor) -> Tensor:
    """Barycentric weights of points ``(px, py)`` in triangles with corners ``x, y`` (``(..., 3)``)."""
    w0 = (x[..., 1] - px) * (y[..., 2] - py) - (x[..., 2] - px) * (y[..., 1] - py)
    w1 = (x[..., 2] - px) * (y[..., 0] - py) - (x[..., 0] - px) * (y[..., 2] - py)
    w2 = (x[..., 0] - px) * (y[..., 1] - py) - (x[..., 1] - px) * (y[..., 0] - py)
    return torch.stack([w0, w1, w2], dim=-1) / area[..., None]


def barycentric_coordinates(screen_vertices: Tensor, triangles: Tensor, fragments: Fragments) -> Tensor:
    """Barycentric coordinates of each pixel centre in its triangle (differentiable).

    Args:
        screen_vertices: ``(B, V, 3)`` ``(x, y, depth)``; gradients flow to ``x, y``.
        triangles: ``(T, 3)`` int vertex indices.
        fragments: from :func:`rasterize` with the same vertices.

    Returns:
        ``(B, H, W, 3)`` weights of the triangle's three corners, summing to 1;
        zero on empty pixels.
    """
    tri = triangles.to(device=screen_vertices.device, dtype=torch.long)
    return _barycentric(screen_vertices, tri, fragments.pix_to_face)


def _barycentric(screen_vertices: Tensor, tri: Tensor, pix_to_face: Tensor) -> Tensor:
    batch, height, width = pix_to_face.shape
    covered = (pix_to_face >= 0).flatten().nonzero().squeeze(1)
    b = covered // (height * width)
    rest = covered % (height * width)
    py = (rest // width).to(screen_vertices.dtype)
    px = (rest % width).to(screen_vertices.dtype)
    vertex_count = screen_vertices.shape[1]
    corner_index = (b[:, None] * vertex_count + tri[pix_to_face.flatten()[covered]]).flatten()
    # index_select rather than advanced indexing: its backward is a fast index_add.
    corners = screen_vertices.reshape(-1, 3).index_select(0, corner_index).view(-1, 3, 3)  # (N, 3, 3)
    x, y = corners[..., 0], corners[..., 1]
    area = _signed_area(x, y)
    weights = _edge_weights(x, y, px, py, area)
    out = screen_vertices.new_zeros(batch * height * width, 3)
    out = out.index_copy(0, covered, weights)
    return out.view(batch, height, width, 3)
