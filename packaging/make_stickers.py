"""Draw the sample stickers shipped in ``resources/stickers`` (numpy and Pillow only, deterministic).

Each sticker is drawn at 4x its size as straight-alpha RGBA, from signed distance
fields and disc-stamped strokes, then downsampled with Lanczos (Pillow resizes
RGBA with premultiplied alpha, so the edges stay clean)::

    python packaging/make_stickers.py            # writes resources/stickers/*.png
    python packaging/make_stickers.py --out DIR
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 256
"""Side of a shipped sticker, pixels."""
SCALE = 4
"""Drawn at this multiple of :data:`SIZE`, then downsampled."""
N = SIZE * SCALE
AA = 1.5 / N
"""Half-width of the edge ramp of a filled shape, in the drawing's ``[-1, 1]`` units (1.5 drawing px)."""

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "resources" / "stickers"

_coords = (np.arange(N, dtype=np.float64) + 0.5) / N * 2.0 - 1.0
X, Y = np.meshgrid(_coords, _coords)
"""Drawing coordinates in ``[-1, 1]``, x to the right, y downwards."""

Colour = tuple[float, float, float]


# -- canvas -------------------------------------------------------------------------------------------


class Canvas:
    """A straight-alpha float RGBA drawing, composed with source-over."""

    def __init__(self) -> None:
        self.rgb = np.zeros((N, N, 3))
        self.alpha = np.zeros((N, N))

    def paint(self, coverage: np.ndarray, colour: np.ndarray | Colour) -> None:
        """Put ``colour`` (a constant or an ``(N, N, 3)`` field) over the drawing where ``coverage`` > 0."""
        a = np.clip(coverage, 0.0, 1.0)
        colour = np.broadcast_to(np.asarray(colour, dtype=np.float64), (N, N, 3))
        out_alpha = a + self.alpha * (1.0 - a)
        premultiplied = colour * a[..., None] + self.rgb * (self.alpha * (1.0 - a))[..., None]
        self.rgb = np.where(
            out_alpha[..., None] > 0, premultiplied / np.maximum(out_alpha, 1e-9)[..., None], 0
        )
        self.alpha = out_alpha

    def image(self) -> Image.Image:
        """The drawing downsampled to :data:`SIZE` with Lanczos."""
        rgba = np.dstack([self.rgb, self.alpha])
        big = Image.fromarray(np.rint(np.clip(rgba, 0, 1) * 255).astype(np.uint8), "RGBA")
        small = big.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
        array = np.asarray(small).copy()
        array[array[..., 3] == 0, :3] = 0
        return Image.fromarray(array, "RGBA")


# -- shapes (signed distances, negative inside) -------------------------------------------------------


def fill(sdf: np.ndarray) -> np.ndarray:
    """Coverage of a shape from its signed distance, with a thin anti-aliasing ramp."""
    return np.clip(0.5 - sdf / (2 * AA), 0.0, 1.0)


def band(sdf: np.ndarray, inner: float, outer: float = 0.0) -> np.ndarray:
    """Coverage of the ring ``inner <= sdf <= outer`` (an outline inside the edge when ``inner`` < 0)."""
    return np.minimum(fill(sdf - outer), fill(inner - sdf))


def circle(cx: float, cy: float, r: float) -> np.ndarray:
    return np.hypot(X - cx, Y - cy) - r


def ellipse(cx: float, cy: float, rx: float, ry: float, angle_deg: float = 0.0) -> np.ndarray:
    """An approximate signed distance to a rotated ellipse (exact on its axes)."""
    t = math.radians(angle_deg)
    u = (X - cx) * math.cos(t) + (Y - cy) * math.sin(t)
    v = -(X - cx) * math.sin(t) + (Y - cy) * math.cos(t)
    k = np.hypot(u / rx, v / ry)
    gradient = np.hypot(u / rx**2, v / ry**2) / np.maximum(k, 1e-9)
    return (k - 1.0) / np.maximum(gradient, 1e-9)


def polygon(points: np.ndarray) -> np.ndarray:
    """Exact signed distance to a closed polygon given as ``(n, 2)`` points."""
    points = np.asarray(points, dtype=np.float64)
    distance = np.full((N, N), np.inf)
    inside = np.zeros((N, N), dtype=bool)
    for a, b in zip(points, np.roll(points, -1, axis=0), strict=True):
        edge = b - a
        px, py = X - a[0], Y - a[1]
        t = np.clip((px * edge[0] + py * edge[1]) / (edge @ edge), 0.0, 1.0)
        distance = np.minimum(distance, np.hypot(px - t * edge[0], py - t * edge[1]))
        crosses = (a[1] > Y) != (b[1] > Y)
        x_cross = a[0] + (Y - a[1]) * edge[0] / np.where(edge[1] == 0, 1e-12, edge[1])
        inside ^= crosses & (x_cross > X)
    return np.where(inside, -distance, distance)


def mirrored(make: Callable[[], np.ndarray]) -> np.ndarray:
    """The shape ``make`` draws on the right half, and its mirror image on the left."""
    right = make()
    return np.minimum(right, right[:, ::-1])


# -- strokes (tapered lines, stamped as discs at 4x) ---------------------------------------------------


def stroke_mask(curves: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Coverage of tapered strokes: each curve is ``(points (n, 2) in [-1, 1], radii (n,))``."""
    mask = Image.new("L", (N, N), 0)
    draw = ImageDraw.Draw(mask)
    for points, radii in curves:
        pixels = (np.asarray(points) + 1.0) * 0.5 * N
        widths = np.asarray(radii) * 0.5 * N
        steps = np.hypot(*np.diff(pixels, axis=0).T)
        for (x0, y0), (x1, y1), r0, r1, step in zip(
            pixels[:-1], pixels[1:], widths[:-1], widths[1:], steps, strict=True
        ):
            for s in np.linspace(0.0, 1.0, max(2, int(step * 2) + 1)):
                x, y, r = x0 + (x1 - x0) * s, y0 + (y1 - y0) * s, r0 + (r1 - r0) * s
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(mask, dtype=np.float64) / 255.0


def taper(n: int, thick: float, start: float = 0.15, end: float = 0.0) -> np.ndarray:
    """Stroke radii along ``n`` points: from ``start`` x thick, swelling to ``thick``, down to ``end`` x."""
    s = np.linspace(0.0, 1.0, n)
    swell = np.sin(np.pi * np.clip(s, 0, 1)) ** 0.6
    head = start + (1 - start) * np.clip(s / 0.35, 0, 1)
    return thick * np.maximum(np.minimum(head, swell + end), 0.004)


def spiral(cx: float, cy: float, r0: float, r1: float, a0: float, turns: float, n: int = 240) -> np.ndarray:
    """Points of an Archimedean spiral from radius ``r0`` at angle ``a0`` (degrees) to ``r1``."""
    t = np.linspace(0.0, 1.0, n)
    angle = math.radians(a0) + t * turns * 2 * math.pi
    radius = r0 + (r1 - r0) * t
    return np.stack([cx + radius * np.cos(angle), cy + radius * np.sin(angle)], axis=1)


def bezier(*control: tuple[float, float], n: int = 160) -> np.ndarray:
    """Points along a Bézier curve of any degree."""
    t = np.linspace(0.0, 1.0, n)[:, None, None]
    pts = np.broadcast_to(np.asarray(control, dtype=np.float64), (n, len(control), 2))
    while pts.shape[1] > 1:
        pts = (1 - t) * pts[:, :-1] + t * pts[:, 1:]
    return pts[:, 0]


# -- colour helpers -----------------------------------------------------------------------------------


def hex_colour(code: str) -> np.ndarray:
    return np.array([int(code[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64) / 255.0


def mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-pixel blend of two colours (``t`` = 0 gives ``a``)."""
    t = np.clip(t, 0.0, 1.0)[..., None]
    return a * (1 - t) + b * t


# -- the stickers -------------------------------------------------------------------------------------


def star() -> Canvas:
    """A gold, bevelled five-pointed star with a dark gold rim and a sparkle."""
    outer, inner, cy = 0.92, 0.40, 0.06
    angles = np.radians(-90 + 36 * np.arange(10))
    radii = np.where(np.arange(10) % 2 == 0, outer, inner)
    points = np.stack([radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    shape = polygon(points) - 0.03
    canvas = Canvas()
    # bevel: each arm is split along its centre line into two facets, lit from the top left
    theta = np.degrees(np.arctan2(Y - cy, X))
    arm = np.round((theta + 90.0) / 72.0) * 72.0 - 90.0
    side = np.where(((theta - arm + 180.0) % 360.0 - 180.0) < 0, -1.0, 1.0)
    normal = np.radians(arm + side * 60.0)
    light = math.radians(-125.0)
    brightness = 0.5 + 0.5 * np.cos(normal - light)
    radial = np.hypot(X, Y - cy) / outer
    bright, dark = hex_colour("#ffe45c"), hex_colour("#b86a00")
    facet = mix(dark, bright, brightness * (1.0 - 0.35 * radial) + 0.1)
    canvas.paint(fill(shape), facet)
    canvas.paint(band(shape, -0.045), hex_colour("#8a5200"))
    # a four-pointed sparkle on the upper left arm
    sparkle_angles = np.radians(-90 + 45 * np.arange(8))
    sparkle_radii = np.where(np.arange(8) % 2 == 0, 0.12, 0.042)
    sparkle = polygon(
        np.stack(
            [-0.22 + sparkle_radii * np.cos(sparkle_angles), -0.12 + sparkle_radii * np.sin(sparkle_angles)],
            1,
        )
    )
    canvas.paint(fill(sparkle) * 0.9, (1.0, 1.0, 0.96))
    return canvas


def heart() -> Canvas:
    """A glossy red heart with a dark red rim and a white highlight."""
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    hx = 16 * np.sin(t) ** 3
    hy = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    points = np.stack([hx, hy - 2.5], axis=1) / 17.5
    shape = polygon(points)
    canvas = Canvas()
    shade = np.hypot(X + 0.35, Y + 0.45)
    canvas.paint(fill(shape), mix(hex_colour("#ff4d5e"), hex_colour("#a3001b"), shade / 1.5))
    canvas.paint(band(shape, -0.05), hex_colour("#6e0012"))
    gloss = ellipse(-0.48, -0.45, 0.2, 0.1, -40)
    canvas.paint(fill(gloss) * 0.8, (1.0, 1.0, 1.0))
    canvas.paint(fill(circle(-0.24, -0.56, 0.04)) * 0.8, (1.0, 1.0, 1.0))
    return canvas


def flower() -> Canvas:
    """Six pink petals around a golden centre."""
    canvas = Canvas()
    petals = 6
    rim = hex_colour("#a3245e")
    for k in range(petals):
        angle = -90 + 360 * k / petals
        a = math.radians(angle)
        petal = ellipse(0.5 * math.cos(a), 0.5 * math.sin(a), 0.44, 0.27, angle)
        along = (X * math.cos(a) + Y * math.sin(a)) / 0.94
        canvas.paint(fill(petal), mix(hex_colour("#d94c8c"), hex_colour("#ffc2df"), along))
        canvas.paint(band(petal, -0.035), rim)
        vein = np.abs(-X * math.sin(a) + Y * math.cos(a))
        canvas.paint(fill(vein - 0.008) * fill(petal + 0.2) * (along > 0.25) * 0.55, rim)
    centre = circle(0.0, 0.0, 0.27)
    canvas.paint(
        fill(centre), mix(hex_colour("#ffe14d"), hex_colour("#e08a00"), np.hypot(X + 0.1, Y + 0.1) / 0.4)
    )
    canvas.paint(band(centre, -0.035), hex_colour("#8a4b00"))
    for k in range(7):
        a = math.radians(30 + 360 * k / 7)
        canvas.paint(fill(circle(0.14 * math.cos(a), 0.14 * math.sin(a), 0.028)), hex_colour("#9c5a00"))
    canvas.paint(fill(circle(0.0, 0.0, 0.03)), hex_colour("#9c5a00"))
    return canvas


def butterfly() -> Canvas:
    """A blue butterfly: two pairs of wings with dark borders and white spots, a body and antennae."""
    canvas = Canvas()
    upper = mirrored(lambda: ellipse(0.44, -0.28, 0.46, 0.34, -28))
    lower = mirrored(lambda: ellipse(0.34, 0.34, 0.3, 0.36, 30))
    wings = np.minimum(upper, lower)
    shade = np.hypot(np.abs(X) - 0.05, Y + 0.05)
    blue = mix(hex_colour("#8fd8ff"), hex_colour("#1053c7"), shade / 0.95)
    canvas.paint(fill(lower), mix(hex_colour("#7ac4ff"), hex_colour("#0b3e9e"), shade / 0.8))
    canvas.paint(band(lower, -0.09), hex_colour("#0a1633"))
    canvas.paint(fill(upper), blue)
    canvas.paint(band(upper, -0.1), hex_colour("#0a1633"))
    # veins from the body
    for angle in (-60, -35, -10, 25, 55):
        a = math.radians(angle)
        vein = np.abs(-(np.abs(X) - 0.04) * math.sin(a) + (Y + 0.02) * math.cos(a))
        ahead = (np.abs(X) - 0.04) * math.cos(a) + (Y + 0.02) * math.sin(a)
        canvas.paint(fill(vein - 0.009) * (ahead > 0) * fill(wings + 0.08), hex_colour("#0a1633"))
    spots = [(0.72, -0.5, 0.04), (0.82, -0.34, 0.033), (0.6, -0.6, 0.03), (0.52, 0.55, 0.035)]
    for sx, sy, r in spots:
        canvas.paint(fill(mirrored(lambda sx=sx, sy=sy, r=r: circle(sx, sy, r))), (1.0, 1.0, 1.0))
    body = ellipse(0.0, 0.05, 0.065, 0.5)
    canvas.paint(fill(body), mix(hex_colour("#3b3f4a"), hex_colour("#0d0f14"), np.abs(X) / 0.065))
    canvas.paint(fill(circle(0.0, -0.5, 0.09)), hex_colour("#15171d"))
    antenna = bezier((0.02, -0.55), (0.08, -0.78), (0.25, -0.88), n=60)
    for side in (1.0, -1.0):
        curve = antenna * [side, 1.0]
        canvas.paint(stroke_mask([(curve, np.full(len(curve), 0.014))]), hex_colour("#15171d"))
        canvas.paint(fill(circle(side * 0.25, -0.88, 0.04)), hex_colour("#15171d"))
    return canvas


def tattoo_swirl() -> Canvas:
    """Black tribal line art: mirrored tapered scrolls around a central flame (for multiply)."""
    curves: list[tuple[np.ndarray, np.ndarray]] = []
    for side in (1.0, -1.0):
        # a big scroll rising from the bottom centre and curling in towards the top
        sweep = bezier((0.0, 0.9), (0.55, 0.75), (0.9, 0.2), (0.7, -0.35), n=200)
        curl = spiral(0.42, -0.36, 0.28, 0.05, 0.0, -0.95, n=200)
        path = np.concatenate([sweep, curl[1:]])
        curves.append((path * [side, 1.0], taper(len(path), 0.085, start=0.1, end=0.0)))
        # an inner flick echoing the scroll
        flick = bezier((0.08, 0.6), (0.45, 0.48), (0.56, 0.05), (0.3, -0.06), n=140)
        curves.append((flick * [side, 1.0], taper(len(flick), 0.045, start=0.1)))
        # two thorns on the scroll's outer side, pointing up and out
        for base, tip, bend in (
            ((0.66, 0.5), (0.93, 0.3), (0.84, 0.52)),
            ((0.8, 0.0), (0.94, -0.3), (0.93, -0.02)),
        ):
            thorn = bezier(base, bend, tip, n=80)
            curves.append((thorn * [side, 1.0], 0.04 * np.linspace(1.0, 0.05, 80) ** 0.8))
    flame = bezier((0.0, 0.42), (0.2, 0.1), (-0.16, -0.32), (0.0, -0.92), n=200)
    curves.append((flame, 0.075 * np.linspace(1.0, 0.04, 200) ** 0.7))
    canvas = Canvas()
    canvas.paint(stroke_mask(curves), (0.0, 0.0, 0.0))
    drop = polygon(np.array([[0.0, 0.58], [0.07, 0.7], [0.0, 0.8], [-0.07, 0.7]])) - 0.01
    canvas.paint(fill(drop), (0.0, 0.0, 0.0))
    return canvas


STICKERS: dict[str, Callable[[], Canvas]] = {
    "star": star,
    "heart": heart,
    "flower": flower,
    "butterfly": butterfly,
    "tattoo_swirl": tattoo_swirl,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write the PNGs to")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, draw in STICKERS.items():
        path = args.out / f"{name}.png"
        draw().image().save(path, optimize=True)
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
