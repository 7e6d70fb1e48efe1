"""The ModernGL face renderer, for interactive views and full-resolution output.

It draws the same thing as :class:`facecraft.core.render.Renderer` (same camera,
same render mesh, same SH basis, back faces culled, pixel-centre sampling), but
on the GPU (or Mesa's software rasterizer) and at any resolution: frames larger
than one framebuffer are drawn in tiles. It works in any ModernGL context: a
headless one from :func:`create_headless_context` or the one Qt creates for a
``QOpenGLWidget`` (see ``facecraft.app``), drawing into whatever framebuffer is
bound.

The one difference from the PyTorch renderer: shading is evaluated per fragment
from bilinearly interpolated normals, where the PyTorch renderer shades each
texel and then interpolates; the two agree to a few grey levels (tested).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import moderngl
import numpy as np
import torch

from facecraft.core.camera import Camera, euler_to_rotation
from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.errors import FaceCraftError
from facecraft.core.face.template import FaceTemplate
from facecraft.core.render.shading import SH_COEFFICIENTS, sh_basis, uv_normals

DEFAULT_TILE = 4096
"""Largest framebuffer side used when rendering big frames."""

NEUTRAL_GREY = 0.72
"""Albedo of the neutral material of :attr:`DisplayMode.GEOMETRY`."""


class DisplayMode(enum.IntEnum):
    """What the fragment shader outputs."""

    TEXTURED = 0
    """Albedo x shading: the reconstructed face."""
    ALBEDO = 1
    """Albedo only (unlit)."""
    SHADING = 2
    """Shading only (white albedo)."""
    GEOMETRY = 3
    """The shape in a neutral grey material under the given lighting."""


class GLError(FaceCraftError):
    """OpenGL is unavailable or failed."""


@dataclass(frozen=True)
class GLCamera:
    """One weak-perspective camera as plain numbers (see :mod:`facecraft.core.camera`).

    Attributes:
        scale: pixels per canonical unit.
        angles: ``(pitch, yaw, roll)`` radians.
        translation: ``(tx, ty)`` pixels.
    """

    scale: float
    angles: tuple[float, float, float]
    translation: tuple[float, float]

    @classmethod
    def from_camera(cls, camera: Camera, index: int = 0) -> GLCamera:
        """Take item ``index`` of a batched :class:`Camera`."""
        angles = camera.angles[index].detach().double().cpu().tolist()
        translation = camera.translation[index].detach().double().cpu().tolist()
        return cls(float(camera.scale[index]), tuple(angles), tuple(translation))

    def rotation(self) -> np.ndarray:
        """``(3, 3)`` float64 rotation, canonical to camera frame."""
        return euler_to_rotation(torch.tensor([self.angles], dtype=torch.float64))[0].numpy()


_VERTEX_SHADER = """
#version 330
uniform mat3 rotation;
uniform float scale;
uniform vec2 translation;
uniform vec4 tile;         // first pixel column, first pixel row, width, height
uniform float depth_range; // |depth| bound, pixels
uniform float y_sign;      // 1: row 0 at the top of the framebuffer (screen); -1: at its bottom (read-back)
in vec3 in_position;
in vec2 in_uv;
out vec2 v_uv;
void main() {
    vec3 c = rotation * in_position;
    float x = scale * c.x + translation.x;
    float y = -scale * c.y + translation.y;
    float ndc_x = (x - (tile.x - 0.5)) / tile.z * 2.0 - 1.0;
    float ndc_y = y_sign * (1.0 - (y - (tile.y - 0.5)) / tile.w * 2.0);
    gl_Position = vec4(ndc_x, ndc_y, -scale * c.z / depth_range, 1.0);
    v_uv = in_uv;
}
"""

_FRAGMENT_SHADER = """
#version 330
uniform sampler2D albedo_map;
uniform sampler2D normal_map;
uniform mat3 rotation;
uniform vec3 lighting[9];  // per coefficient, RGB, already multiplied by the basis factors
uniform int mode;
uniform float neutral_grey;
in vec2 v_uv;
out vec4 colour;
void main() {
    vec3 n = normalize(rotation * texture(normal_map, v_uv).xyz);
    vec3 shade = lighting[0] + lighting[1] * n.y + lighting[2] * n.z + lighting[3] * n.x
        + lighting[4] * (n.x * n.y) + lighting[5] * (n.y * n.z) + lighting[6] * (3.0 * n.z * n.z - 1.0)
        + lighting[7] * (n.x * n.z) + lighting[8] * (n.x * n.x - n.y * n.y);
    vec3 albedo = texture(albedo_map, v_uv).rgb;
    vec3 rgb;
    if (mode == 0) rgb = albedo * shade;
    else if (mode == 1) rgb = albedo;
    else if (mode == 2) rgb = shade;
    else rgb = neutral_grey * shade;
    colour = vec4(rgb, 1.0);
}
"""


def create_headless_context() -> moderngl.Context:
    """A standalone OpenGL 3.3+ context through EGL (no display needed).

    Raises:
        GLError: no EGL/OpenGL driver could be opened.
    """
    try:
        return moderngl.create_standalone_context(backend="egl")
    except Exception as exc:  # moderngl raises plain Exception subclasses from glcontext
        raise GLError(f"could not create a headless OpenGL context ({exc}); is libEGL installed?") from exc


class GLFaceRenderer:
    """Draws a face (template mesh, UV shape, UV albedo) with ModernGL.

    Args:
        ctx: the ModernGL context to draw with; the caller owns it.
        template: supplies the render mesh and its UV coordinates.
    """

    def __init__(self, ctx: moderngl.Context, template: FaceTemplate) -> None:
        self.ctx = ctx
        self._template = template
        self._program = ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        vertex_count = template.vertex_count
        self._positions = ctx.buffer(reserve=vertex_count * 3 * 4, dynamic=True)
        self._uvs = ctx.buffer(np.ascontiguousarray(template.vertex_uv, dtype="f4").tobytes())
        self._indices = ctx.buffer(np.ascontiguousarray(template.triangles, dtype="i4").tobytes())
        self._vao = ctx.vertex_array(
            self._program,
            [(self._positions, "3f", "in_position"), (self._uvs, "2f", "in_uv")],
            index_buffer=self._indices, index_element_size=4,
        )
        self._albedo: moderngl.Texture | None = None
        self._normals = ctx.texture((UV_WIDTH, UV_HEIGHT), 3, dtype="f4")
        self._normals.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._normals.repeat_x = self._normals.repeat_y = False
        self._depth_bound = 1.0
        self._basis_factors = _basis_factors()
        self._program["neutral_grey"].value = NEUTRAL_GREY
        self._program["albedo_map"].value = 0
        self._program["normal_map"].value = 1
        self._framebuffers: dict[tuple[int, int], moderngl.Framebuffer] = {}
        self.set_shape(template.mean_shape_uv)
        self.set_albedo(np.full((UV_HEIGHT, UV_WIDTH, 3), NEUTRAL_GREY, dtype=np.float32))

    # -- inputs -----------------------------------------------------------------------------

    def set_shape(self, shape_uv: np.ndarray) -> None:
        """Use a new shape: ``(192, 224, 3)`` float position map, canonical frame."""
        shape_uv = np.asarray(shape_uv, dtype=np.float32)
        if shape_uv.shape != (UV_HEIGHT, UV_WIDTH, 3) or not np.isfinite(shape_uv).all():
            raise ValueError(f"shape must be a finite ({UV_HEIGHT}, {UV_WIDTH}, 3) map, got {shape_uv.shape}")
        vertices = np.ascontiguousarray(self._template.sample_vertices(shape_uv))
        self._positions.write(vertices.tobytes())
        self._depth_bound = float(np.linalg.norm(vertices, axis=1).max()) * 1.01 + 1e-3
        normals = uv_normals(torch.from_numpy(shape_uv).permute(2, 0, 1)[None])[0].permute(1, 2, 0)
        self._normals.write(np.ascontiguousarray(normals.numpy(), dtype="f4").tobytes())

    def set_albedo(self, albedo_uv: np.ndarray) -> None:
        """Use a new albedo: ``(h, w, 3 or 4)`` uint8 or float in ``[0, 1]``, any resolution.

        Row 0 is the top of the UV layout (``v`` near 0), as everywhere in FaceCraft.
        """
        albedo_uv = np.asarray(albedo_uv)
        if albedo_uv.ndim != 3 or albedo_uv.shape[2] not in (3, 4):
            raise ValueError(f"albedo must be (h, w, 3 or 4), got {albedo_uv.shape}")
        data = albedo_uv[..., :3]
        dtype = "f1" if data.dtype == np.uint8 else "f4"
        data = np.ascontiguousarray(data if dtype == "f1" else data.astype(np.float32))
        height, width = data.shape[:2]
        if self._albedo is None or self._albedo.size != (width, height) or self._albedo.dtype != dtype:
            if self._albedo is not None:
                self._albedo.release()
            self._albedo = self.ctx.texture((width, height), 3, dtype=dtype, alignment=1)
            self._albedo.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._albedo.repeat_x = self._albedo.repeat_y = False
        self._albedo.write(data.tobytes())

    # -- drawing ----------------------------------------------------------------------------

    def draw(
        self,
        camera: GLCamera,
        lighting: np.ndarray,
        image_size: tuple[int, int],
        mode: DisplayMode = DisplayMode.TEXTURED,
        tile: tuple[int, int, int, int] | None = None,
        cull_backfaces: bool = True,
        flip_rows: bool = False,
    ) -> None:
        """Draw into the bound framebuffer, whose viewport must be the tile.

        Args:
            camera: projects the canonical frame into the full image.
            lighting: ``(3, 9)`` SH lighting (RGB x coefficient), camera frame.
            image_size: ``(H, W)`` of the full image.
            mode: what to draw.
            tile: ``(col, row, width, height)`` of the part of the image the
                framebuffer holds; the whole image when omitted.
            cull_backfaces: skip triangles facing away (as the PyTorch renderer does).
            flip_rows: put image row 0 at the framebuffer's bottom row, so that a
                read-back (bottom row first) comes out top row first.
        """
        lighting = np.asarray(lighting, dtype=np.float64)
        if lighting.shape != (3, SH_COEFFICIENTS) or not np.isfinite(lighting).all():
            raise ValueError(f"lighting must be a finite (3, 9) array, got {lighting.shape}")
        values = (camera.scale, *camera.angles, *camera.translation)
        if not all(np.isfinite(values)):
            raise ValueError("camera parameters contain NaN or infinity")
        height, width = image_size
        tile = (0, 0, width, height) if tile is None else tile
        program = self._program
        program["rotation"].write(np.ascontiguousarray(camera.rotation().T, dtype="f4").tobytes())
        program["scale"].value = float(camera.scale)
        program["translation"].value = tuple(float(v) for v in camera.translation)
        program["tile"].value = tuple(float(v) for v in tile)
        program["depth_range"].value = self._depth_bound * abs(float(camera.scale)) + 1.0
        scaled = lighting * self._basis_factors[None, :]
        program["lighting"].write(np.ascontiguousarray(scaled.T, dtype="f4").tobytes())
        program["y_sign"].value = -1.0 if flip_rows else 1.0
        program["mode"].value = int(mode)
        if self._albedo is None:
            raise GLError("the renderer has been released")
        self._albedo.use(0)
        self._normals.use(1)
        self.ctx.enable(moderngl.DEPTH_TEST)
        if cull_backfaces:
            self.ctx.enable(moderngl.CULL_FACE)
        else:
            self.ctx.disable(moderngl.CULL_FACE)
        self.ctx.front_face = "cw" if flip_rows else "ccw"
        self._vao.render(moderngl.TRIANGLES)

    def render(
        self,
        camera: GLCamera,
        lighting: np.ndarray,
        image_size: tuple[int, int],
        mode: DisplayMode = DisplayMode.TEXTURED,
        *,
        max_tile: int = DEFAULT_TILE,
        dtype: str = "f1",
    ) -> np.ndarray:
        """Render offscreen and read the frame back.

        Args:
            camera, lighting, mode: as for :meth:`draw`.
            image_size: ``(H, W)``, any size; frames wider or taller than
                ``max_tile`` are drawn tile by tile.
            dtype: ``"f1"`` for uint8 or ``"f4"`` for float32 output.

        Returns:
            ``(H, W, 4)`` RGBA, row 0 at the top; alpha is the face mask.
        """
        height, width = (int(v) for v in image_size)
        if height <= 0 or width <= 0:
            raise ValueError(f"image size must be positive, got {image_size}")
        if dtype not in ("f1", "f4"):
            raise ValueError(f"dtype must be 'f1' or 'f4', got {dtype!r}")
        info = self.ctx.info
        limit = min(max_tile, *info["GL_MAX_VIEWPORT_DIMS"], info["GL_MAX_RENDERBUFFER_SIZE"])
        out = np.empty((height, width, 4), dtype=np.uint8 if dtype == "f1" else np.float32)
        tile_h, tile_w = min(height, limit), min(width, limit)
        previous = self.ctx.fbo
        if any(previous is ours for ours in self._framebuffers.values()):
            previous = None
        fbo = self._framebuffer(tile_w, tile_h, dtype)
        try:
            fbo.use()
            for row in range(0, height, tile_h):
                for col in range(0, width, tile_w):
                    h, w = min(tile_h, height - row), min(tile_w, width - col)
                    fbo.viewport = (0, 0, w, h)
                    fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0, viewport=(0, 0, w, h))
                    self.draw(camera, lighting, (height, width), mode, tile=(col, row, w, h),
                              flip_rows=True)
                    if w == width:  # whole rows: read straight into the output
                        fbo.read_into(out[row:row + h], viewport=(0, 0, w, h), components=4, dtype=dtype)
                    else:
                        data = fbo.read(viewport=(0, 0, w, h), components=4, dtype=dtype)
                        out[row:row + h, col:col + w] = np.frombuffer(data, dtype=out.dtype).reshape(h, w, 4)
        finally:
            if previous is not None:
                previous.use()
        return out

    def _framebuffer(self, width: int, height: int, dtype: str) -> moderngl.Framebuffer:
        key = (width, height, dtype == "f4")
        fbo = self._framebuffers.get(key)
        if fbo is None:
            for old in self._framebuffers.values():
                old.release()
            self._framebuffers.clear()
            colour = self.ctx.renderbuffer((width, height), 4, dtype=dtype)
            depth = self.ctx.depth_renderbuffer((width, height))
            fbo = self.ctx.framebuffer(color_attachments=[colour], depth_attachment=depth)
            self._framebuffers[key] = fbo
        return fbo

    def release(self) -> None:
        """Free the GL objects (the context stays the caller's)."""
        for fbo in self._framebuffers.values():
            fbo.release()
        self._framebuffers.clear()
        for obj in (self._vao, self._positions, self._uvs, self._indices, self._normals, self._albedo,
                    self._program):
            if obj is not None:
                obj.release()
        self._albedo = None


def _basis_factors() -> np.ndarray:
    """``(9,)`` constant factor of each basis function of :func:`sh_basis`.

    Read back from :func:`sh_basis` (on normals where each polynomial term is 1,
    or 2 for ``3z^2 - 1``) so that GLSL and PyTorch cannot drift apart.
    """
    probe = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    basis = sh_basis(probe)
    factors = basis[0].clone()
    factors[6] = basis[0, 6] / 2.0  # 3z^2 - 1 = 2 at z = 1
    factors[8] = basis[1, 8]  # x^2 - y^2 = 0 at (1, 1, 1); 1 at (1, 0, 0)
    return factors.numpy()
