"""Re-rendering UV edits into the photo at its original resolution.

The fitted face is rasterized once, at the photo's own resolution, into a
:class:`SurfaceMap`: for every photo pixel the face covers (nearest surface
only, so parts that turn away are occluded), where it lands on the UV canvas and
the SH shading there. An edit stack flattens (see
:func:`facecraft.core.editing.layers.flatten`) to a per-texel multiplier ``M`` and
addend ``K`` on the albedo, ``A' = A·M + K``; since the photo is ``P ≈ A·s``,
the edited pixel is rendered as

    ``P' = P·M + K·s``

which keeps the photo's own detail under translucent edits and lights opaque
ones with the fitted lighting ``s``. Pixels where no edit reaches (``M = 1``,
``K = 0``) come back bit-identical (the float round trip is exact for 8- and 16-bit
values). Relighting replaces ``s`` by ``s'`` and scales the photo by the ratio:
``P' = P·(s'/s)·M + K·s'``, faded in from the face's outline (:func:`outline_fade`) so
that no seam shows where the face meets the photo.

:class:`PhotoCompositor` keeps the edited photo and updates only the pixels
under a changed canvas rectangle, found through per-tile canvas bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from facecraft.core.camera import project
from facecraft.core.decomposition import Decomposition
from facecraft.core.editing.rect import Rect
from facecraft.core.face.template import FaceTemplate
from facecraft.core.render.rasterize import barycentric_coordinates, rasterize
from facecraft.core.render.shading import sh_shading
from facecraft.core.render.texture import interpolate

TILE = 64
"""Side of the photo tiles whose canvas bounds decide what a canvas change touches."""
SHADING_FLOOR = 0.05
"""Shading below this is treated as this when dividing by it (relighting ratio)."""
RELIGHT_MAX_RATIO = 4.0
"""The relit/original shading ratio is clipped to this."""
RELIGHT_FEATHER = 0.05
"""Relighting fades in over this fraction of the face's size from its outline (no seam with the photo)."""


@dataclass(frozen=True)
class SurfaceMap:
    """Where the fitted face lands in the photo, pixel by pixel, inside :attr:`region`.

    Attributes:
        region: the photo rectangle that holds every covered pixel.
        covered: ``(h, w)`` bool, pixels whose centre the face covers (nearest surface).
        canvas_x: ``(h, w)`` float32 canvas column of each pixel (``-1`` where not covered).
        canvas_y: ``(h, w)`` float32 canvas row.
        uv: ``(h, w, 2)`` float32 ``(u, v)`` of each pixel.
        normals: ``(h, w, 3)`` float32 camera-frame unit normals (for relighting).
        shading: ``(h, w, 3)`` float32 SH shading under the fitted lighting.
        tile_bounds: ``(ty, tx, 4)`` float32 canvas ``(col0, row0, col1, row1)`` of
            each tile's covered pixels (inverted bounds for empty tiles).
        canvas_size: ``(H, W)`` of the canvas the coordinates refer to.
    """

    region: Rect
    covered: np.ndarray
    canvas_x: np.ndarray
    canvas_y: np.ndarray
    uv: np.ndarray
    normals: np.ndarray
    shading: np.ndarray
    tile_bounds: np.ndarray
    canvas_size: tuple[int, int]

    def canvas_point(self, x: float, y: float) -> tuple[float, float] | None:
        """The canvas ``(col, row)`` under photo pixel ``(x, y)``, or None off the face."""
        col, row = round(x) - self.region.left, round(y) - self.region.top
        if not (0 <= row < self.covered.shape[0] and 0 <= col < self.covered.shape[1]):
            return None
        if not self.covered[row, col]:
            return None
        return float(self.canvas_x[row, col]), float(self.canvas_y[row, col])

    def canvas_texels_per_pixel(self) -> float:
        """Median canvas texels per photo pixel on the face (turns photo brush sizes into canvas ones)."""
        both = self.covered[:, 1:] & self.covered[:, :-1]
        if not both.any():
            return 1.0
        dx = self.canvas_x[:, 1:] - self.canvas_x[:, :-1]
        dy = self.canvas_y[:, 1:] - self.canvas_y[:, :-1]
        return float(np.median(np.hypot(dx, dy)[both]))


def build_surface_map(
    decomposition: Decomposition, template: FaceTemplate, canvas_size: tuple[int, int]
) -> SurfaceMap:
    """Rasterize the fitted face at the photo's resolution.

    Args:
        decomposition: the fitted face.
        template: the template it was decomposed with (render mesh).
        canvas_size: ``(H, W)`` of the UV canvas edits are painted on.
    """
    height, width = decomposition.photo_size
    camera = decomposition.photo_camera()
    vertices = torch.from_numpy(template.sample_vertices(decomposition.shape))[None]  # (1, V, 3)
    screen = project(vertices, camera)  # (1, V, 3) photo pixels
    triangles = torch.as_tensor(template.triangles, dtype=torch.long)
    region = _face_region(screen[0, :, :2].numpy(), height, width)
    if region.empty:
        return _empty_map(canvas_size)
    offset = screen.new_tensor([region.left, region.top, 0.0])
    local = screen - offset
    size = (region.bottom - region.top, region.right - region.left)
    fragments = rasterize(local, triangles, size)
    bary = barycentric_coordinates(local, triangles, fragments)
    vertex_uv = torch.as_tensor(template.vertex_uv, dtype=torch.float32)
    uv = interpolate(vertex_uv, triangles, fragments, bary)[0].numpy()  # (h, w, 2)
    covered = fragments.mask[0].numpy()
    canvas_h, canvas_w = canvas_size
    canvas_x = np.where(covered, uv[..., 0] * canvas_w - 0.5, -1.0).astype(np.float32)
    canvas_y = np.where(covered, uv[..., 1] * canvas_h - 0.5, -1.0).astype(np.float32)
    normals = sample_uv_map(decomposition.normals, uv, covered)
    norm = np.linalg.norm(normals, axis=-1, keepdims=True)
    normals = np.where(norm > 1e-6, normals / np.maximum(norm, 1e-6), 0.0).astype(np.float32)
    shading = sample_uv_map(decomposition.shading, uv, covered)
    return SurfaceMap(
        region=region,
        covered=covered,
        canvas_x=canvas_x,
        canvas_y=canvas_y,
        uv=uv.astype(np.float32),
        normals=normals,
        shading=shading,
        tile_bounds=_tile_bounds(canvas_x, canvas_y, covered),
        canvas_size=canvas_size,
    )


def shading_under(lighting: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """``(h, w, 3)`` SH shading of ``(h, w, 3)`` camera-frame normals under ``(3, 9)`` lighting."""
    normal_map = torch.from_numpy(np.ascontiguousarray(normals)).permute(2, 0, 1)[None]
    light = torch.as_tensor(lighting, dtype=torch.float32)[None]
    return sh_shading(normal_map, light)[0].permute(1, 2, 0).numpy().astype(np.float32)


class PhotoCompositor:
    """The edited photo, kept up to date with the edits' flattened multiplier and addend.

    Args:
        photo: ``(H, W, C)`` the original pixels (C in 1..4, uint8 or uint16); never modified.
            A grey photo is composited as RGB (edits are in colour), alpha is kept.
        surface: the face's :class:`SurfaceMap` for this photo.
    """

    def __init__(self, photo: np.ndarray, surface: SurfaceMap) -> None:
        self.original = as_colour(photo)
        self.surface = surface
        self.maximum = float(np.iinfo(self.original.dtype).max)
        self.result = self.original.copy()
        self._shading = surface.shading
        self._relight_ratio: np.ndarray | None = None
        self._fade: np.ndarray | None = None

    @property
    def relit(self) -> bool:
        """Whether a lighting other than the fitted one is applied."""
        return self._relight_ratio is not None

    def set_lighting(self, lighting: np.ndarray | None, fitted: np.ndarray) -> None:
        """Relight the face (``(3, 9)``), or go back to the photo's lighting with None.

        Call :meth:`update` with ``rect=None`` afterwards to recomposite the whole face.
        """
        surface = self.surface
        if lighting is None or np.array_equal(lighting, fitted):
            self._shading, self._relight_ratio = surface.shading, None
            return
        if self._fade is None:
            self._fade = outline_fade(surface.covered)
        fade = self._fade
        new = shading_under(lighting, surface.normals)
        # the photo's shading computed the same way (per pixel from the normals), so that the ratio
        # is exactly 1 wherever the new lighting equals the fitted one
        old = np.maximum(shading_under(fitted, surface.normals), SHADING_FLOOR)
        ratio = np.clip(new / old, 0.0, RELIGHT_MAX_RATIO)
        self._shading = (surface.shading + fade * (new - surface.shading)).astype(np.float32)
        self._relight_ratio = (1.0 + fade * (ratio - 1.0)).astype(np.float32)

    def update(self, multiplier: np.ndarray, addend: np.ndarray, rect: Rect | None = None) -> Rect:
        """Recomposite the pixels whose canvas position falls in ``rect`` (all of the face when None).

        Args:
            multiplier: ``(H, W, 3)`` float32 canvas ``M``.
            addend: ``(H, W, 3)`` float32 canvas ``K``.
            rect: the canvas rectangle that changed.

        Returns:
            The photo rectangle that was recomputed (empty when none).
        """
        surface = self.surface
        local = self._affected(rect)
        if local.empty:
            return local
        rows, cols = local.slices()
        covered = surface.covered[rows, cols]
        map_x, map_y = surface.canvas_x[rows, cols], surface.canvas_y[rows, cols]
        m = cv2.remap(multiplier, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        k = cv2.remap(addend, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        region = surface.region
        photo_rect = Rect(
            local.top + region.top,
            local.left + region.left,
            local.bottom + region.top,
            local.right + region.left,
        )
        prows, pcols = photo_rect.slices()
        original = self.original[prows, pcols]
        target = self.result[prows, pcols]
        colour = original[..., :3].astype(np.float32)
        colour /= np.float32(self.maximum)
        if self._relight_ratio is not None:
            colour *= self._relight_ratio[rows, cols]
        colour *= m  # P·M (in place: fewer passes over a 12-megapixel face)
        k *= self._shading[rows, cols]
        colour += k  # + K·s
        colour *= np.float32(self.maximum)
        colour += np.float32(0.5)
        np.clip(colour, 0.0, self.maximum, out=colour)
        # Every covered pixel is re-rendered: where no edit reaches (M = 1, K = 0, no relighting) that
        # gives back the original value exactly, for every 8- and 16-bit value (tested), so no
        # per-pixel "was it edited" test is needed.
        np.copyto(target[..., :3], colour.astype(self.original.dtype), where=covered[..., None])
        return photo_rect

    def _affected(self, rect: Rect | None) -> Rect:
        """The rectangle (in :attr:`SurfaceMap.region` coordinates) of tiles ``rect`` reaches."""
        surface = self.surface
        h, w = surface.covered.shape
        if rect is None:
            return Rect(0, 0, h, w)
        if rect.empty:
            return Rect(0, 0, 0, 0)
        bounds = surface.tile_bounds
        hit = (
            (bounds[..., 0] <= rect.right + 1)
            & (bounds[..., 2] >= rect.left - 1)
            & (bounds[..., 1] <= rect.bottom + 1)
            & (bounds[..., 3] >= rect.top - 1)
        )
        if not hit.any():
            return Rect(0, 0, 0, 0)
        ty, tx = np.nonzero(hit)
        return Rect(
            int(ty.min()) * TILE,
            int(tx.min()) * TILE,
            min(int(ty.max() + 1) * TILE, h),
            min(int(tx.max() + 1) * TILE, w),
        )


def outline_fade(covered: np.ndarray) -> np.ndarray:
    """``(h, w, 1)`` float32 weight of a relighting: 0 at the face's outline, rising smoothly to 1
    at :data:`RELIGHT_FEATHER` of the face's size inside it (0 off the face)."""
    if not covered.any():
        return np.zeros((*covered.shape, 1), np.float32)
    inside = np.pad(covered.astype(np.uint8), 1)  # the region's border counts as outline too
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 5)[1:-1, 1:-1]
    rows, cols = np.nonzero(covered)
    size = max(float(np.ptp(rows)), float(np.ptp(cols)), 1.0)
    t = np.clip(distance / (RELIGHT_FEATHER * size), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t))[..., None].astype(np.float32)


def as_colour(photo: np.ndarray) -> np.ndarray:
    """``(H, W, 3 or 4)`` pixels of a grey, grey+alpha, RGB or RGBA photo (same dtype; alpha kept)."""
    if photo.ndim == 2:
        photo = photo[..., None]
    if photo.ndim != 3 or photo.dtype not in (np.uint8, np.uint16) or photo.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"photo must be (H, W, 1..4) uint8/uint16, got {photo.shape} {photo.dtype}")
    if photo.shape[2] >= 3:
        return photo
    grey = np.repeat(photo[..., :1], 3, axis=2)
    return np.concatenate([grey, photo[..., 1:]], axis=2) if photo.shape[2] == 2 else grey


def _face_region(points: np.ndarray, height: int, width: int) -> Rect:
    finite = points[np.isfinite(points).all(1)]
    if finite.size == 0:
        return Rect(0, 0, 0, 0)
    x0, y0 = np.floor(finite.min(0)).astype(int) - 1
    x1, y1 = np.ceil(finite.max(0)).astype(int) + 2
    return Rect(max(int(y0), 0), max(int(x0), 0), min(int(y1), height), min(int(x1), width))


def _empty_map(canvas_size: tuple[int, int]) -> SurfaceMap:
    empty = np.zeros((0, 0), np.float32)
    return SurfaceMap(
        Rect(0, 0, 0, 0),
        np.zeros((0, 0), bool),
        empty,
        empty,
        np.zeros((0, 0, 2), np.float32),
        np.zeros((0, 0, 3), np.float32),
        np.zeros((0, 0, 3), np.float32),
        np.zeros((0, 0, 4), np.float32),
        canvas_size,
    )


def sample_uv_map(uv_map: np.ndarray, uv: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Bilinear samples of a ``(192, 224, C)`` map at ``(h, w, 2)`` UV points (0 off the face)."""
    rows, cols = uv_map.shape[:2]
    map_x = (uv[..., 0] * cols - 0.5).astype(np.float32)
    map_y = (uv[..., 1] * rows - 0.5).astype(np.float32)
    sampled = cv2.remap(
        np.ascontiguousarray(uv_map, dtype=np.float32),
        map_x,
        map_y,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.where(covered[..., None], sampled, 0.0).astype(np.float32)


def _tile_bounds(canvas_x: np.ndarray, canvas_y: np.ndarray, covered: np.ndarray) -> np.ndarray:
    h, w = covered.shape
    ty, tx = -(-h // TILE), -(-w // TILE)
    pad = ((0, ty * TILE - h), (0, tx * TILE - w))
    inside = np.pad(covered, pad)
    big = np.float32(1e9)

    def tiles(values: np.ndarray, fill: np.float32) -> np.ndarray:
        padded = np.where(inside, np.pad(values, pad), fill)
        return padded.reshape(ty, TILE, tx, TILE).transpose(0, 2, 1, 3).reshape(ty, tx, -1)

    return np.stack(
        [
            tiles(canvas_x, big).min(-1),
            tiles(canvas_y, big).min(-1),
            tiles(canvas_x, -big).max(-1),
            tiles(canvas_y, -big).max(-1),
        ],
        axis=-1,
    ).astype(np.float32)
