"""The reconstruction ``I(S, A)`` drawn over the photo at its full resolution, with the face mask.

What ``facecraft decompose`` writes as ``<stem>_render.png`` and ``<stem>_mask.png``.
:class:`ReconstructionRenderer` draws it with the ModernGL renderer
(:mod:`facecraft.core.render.gl`, headless EGL: the GPU, or Mesa's llvmpipe without
one) over the face's bounding region of the photo only, and pastes that into a copy
of the photo. The texture it draws is the decomposition's albedo times its shading
(both ``(192, 224)`` UV maps), unlit: the same colour the CPU path paints (which
samples the two maps and multiplies), to within a grey level, and the same coverage
(pixel centres, nearest surface, back faces culled). The GL work runs on a thread of
its own, which can create the context while the caller is still busy (the CLI starts
it before loading the model) and draws the face while the caller copies the photo.

Where no OpenGL context can be had, it falls back to the CPU path: rasterizing the
face at full resolution into a :class:`~facecraft.core.editing.composite.SurfaceMap`
(:func:`paint_reconstruction`, also what :meth:`FaceEditor.reconstruction
<facecraft.core.editing.editor.FaceEditor.reconstruction>` uses) — the same picture, several
times slower on a large photo.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor

import moderngl
import numpy as np
import torch

from facecraft.core.camera import project
from facecraft.core.decomposition import Decomposition
from facecraft.core.editing.albedo import canvas_size
from facecraft.core.editing.composite import SurfaceMap, build_surface_map, sample_uv_map
from facecraft.core.editing.rect import Rect
from facecraft.core.face.template import FaceTemplate
from facecraft.core.io.pixels import unit_to_uint8
from facecraft.core.render.gl import DisplayMode, GLCamera, GLError, GLFaceRenderer, create_headless_context

_UNLIT = np.zeros((3, 9))
"""Lighting handed to the GL renderer in :attr:`DisplayMode.ALBEDO`, which ignores it."""


class ReconstructionRenderer:
    """Renders decompositions over their photos at full resolution; GL when it can, else the CPU.

    Every OpenGL call runs on one worker thread (``facecraft-gl``) that owns the context:
    :meth:`start` has it create the context and compile the shaders in the background
    (what the first photo would otherwise wait ~0.1-0.3 s for), and while it draws a
    photo's face the calling thread copies the photo. Call :meth:`close` (or use
    ``with``) to free the context and stop the thread. Call from one thread at a time.

    Args:
        template: the template the photos were decomposed with.
        use_gl: False to always take the CPU path.
    """

    def __init__(self, template: FaceTemplate, use_gl: bool = True) -> None:
        self.template = template
        self.fallback_reason: str | None = None if use_gl else "OpenGL was not asked for"
        self.gl_device: str | None = None
        """The OpenGL renderer's name (e.g. ``llvmpipe (LLVM 15.0.6, 256 bits)``) once a context exists."""
        self._worker: ThreadPoolExecutor | None = None
        self._ready: Future[None] | None = None
        self._ctx: moderngl.Context | None = None  # these two are touched on the worker only
        self._gl: GLFaceRenderer | None = None

    @property
    def backend(self) -> str:
        """``"gl"`` while OpenGL is (or may still be) used, ``"cpu"`` once it has been given up."""
        return "cpu" if self.fallback_reason is not None else "gl"

    def start(self) -> None:
        """Begin creating the GL context and shaders in the background (returns at once)."""
        if self.fallback_reason is None and self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="facecraft-gl")
            self._ready = self._worker.submit(self._create)

    def render(self, rgb: np.ndarray, decomposition: Decomposition) -> tuple[np.ndarray, np.ndarray]:
        """``I(S, A)`` over the photo, and the face mask.

        Args:
            rgb: ``(H, W, 3)`` uint8 the photo the decomposition was made from.
            decomposition: one face of it.

        Returns:
            ``(H, W, 3)`` uint8 RGB (the photo wherever the face is not) and ``(H, W)``
            uint8 mask, 255 on the pixels whose centre the face covers.

        Raises:
            ValueError: the photo is not ``(H, W, 3)`` uint8 of the decomposition's size.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 photo, got {rgb.shape} {rgb.dtype}")
        if rgb.shape[:2] != decomposition.photo_size:
            raise ValueError(
                f"the photo is {rgb.shape[1]}x{rgb.shape[0]} but the decomposition was made "
                f"for {decomposition.photo_size[1]}x{decomposition.photo_size[0]}"
            )
        self.start()
        if self._worker is not None and self._ready is not None:
            try:
                self._ready.result()
                return self._render_gl(self._worker, rgb, decomposition)
            except (GLError, moderngl.Error) as exc:  # no driver, or one failing mid-way: give GL up
                self._give_up(str(exc) if isinstance(exc, GLError) else f"OpenGL failed ({exc})")
        surface = build_surface_map(decomposition, self.template, canvas_size())
        return paint_reconstruction(rgb, decomposition.albedo, surface)

    def close(self) -> None:
        """Free the GL renderer and context and stop the thread (a later render starts them again)."""
        worker, self._worker, self._ready = self._worker, None, None
        if worker is not None:
            worker.submit(self._release)
            worker.shutdown(wait=True)

    def __enter__(self) -> ReconstructionRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _give_up(self, reason: str) -> None:
        self.close()
        self.fallback_reason = reason

    # -- on the GL thread ---------------------------------------------------------------------

    def _create(self) -> None:
        self._ctx = create_headless_context()
        self._gl = GLFaceRenderer(self._ctx, self.template)
        self.gl_device = str(self._ctx.info["GL_RENDERER"])
        # The first draw has the driver compile its code for this state (llvmpipe: tens of ms).
        self._gl.render(GLCamera(1.0, (0.0, 0.0, 0.0), (0.0, 0.0)), _UNLIT, (8, 8), DisplayMode.ALBEDO)

    def _release(self) -> None:
        if self._gl is not None:
            self._gl.release()
        if self._ctx is not None:
            self._ctx.release()
        self._gl = self._ctx = None

    def _draw(self, decomposition: Decomposition, region: Rect) -> np.ndarray:
        """``(h, w, 4)`` uint8 RGBA of the face inside ``region``; alpha is the coverage."""
        gl = self._gl
        if gl is None:
            raise GLError("the GL renderer has been released")
        gl.set_shape(decomposition.shape)
        gl.set_albedo(decomposition.albedo * decomposition.shading)  # float texture: not clipped to 1
        camera = GLCamera.from_camera(decomposition.photo_camera())
        tx, ty = camera.translation
        local = GLCamera(camera.scale, camera.angles, (tx - region.left, ty - region.top))
        size = (region.bottom - region.top, region.right - region.left)
        return gl.render(local, _UNLIT, size, DisplayMode.ALBEDO)

    # -- on the calling thread ----------------------------------------------------------------

    def _render_gl(
        self, worker: ThreadPoolExecutor, rgb: np.ndarray, decomposition: Decomposition
    ) -> tuple[np.ndarray, np.ndarray]:
        region = face_region(decomposition, self.template)
        drawing = None if region.empty else worker.submit(self._draw, decomposition, region)
        out = rgb.copy()  # while the face is drawn
        mask = np.zeros(rgb.shape[:2], np.uint8)
        if drawing is None:
            return out, mask
        frame = drawing.result()
        covered = frame[..., 3] > 0
        rows, cols = region.slices()
        np.copyto(out[rows, cols], frame[..., :3], where=covered[..., None])
        np.multiply(covered, np.uint8(255), out=mask[rows, cols])
        return out, mask


def face_region(decomposition: Decomposition, template: FaceTemplate) -> Rect:
    """The photo rectangle holding every projected render-mesh vertex (plus a pixel), clipped to the photo.

    The same rectangle as the CPU surface map's (:func:`facecraft.core.editing.composite.build_surface_map`).
    """
    height, width = decomposition.photo_size
    vertices = torch.from_numpy(np.ascontiguousarray(template.sample_vertices(decomposition.shape)))[None]
    points = project(vertices, decomposition.photo_camera())[0, :, :2].numpy()
    xs, ys = points[:, 0], points[:, 1]
    finite = np.isfinite(xs) & np.isfinite(ys)
    if not finite.any():
        return Rect(0, 0, 0, 0)
    xs, ys = xs[finite], ys[finite]
    return Rect(
        max(math.floor(ys.min()) - 1, 0),
        max(math.floor(xs.min()) - 1, 0),
        min(math.ceil(ys.max()) + 2, height),
        min(math.ceil(xs.max()) + 2, width),
    )


def paint_reconstruction(
    rgb: np.ndarray, albedo: np.ndarray, surface: SurfaceMap
) -> tuple[np.ndarray, np.ndarray]:
    """The CPU path: paint ``albedo x shading`` on the pixels a surface map covers.

    Args:
        rgb: ``(H, W, 3)`` uint8 photo (not modified).
        albedo: ``(192, 224, 3)`` the decomposition's albedo ``A``.
        surface: the face rasterized at the photo's resolution (carries the shading).

    Returns:
        ``(H, W, 3)`` uint8 RGB and ``(H, W)`` uint8 mask (255 on the face).
    """
    out = rgb.copy()
    mask = np.zeros(rgb.shape[:2], np.uint8)
    if surface.region.empty:
        return out, mask
    rows, cols = surface.region.slices()
    covered = surface.covered
    colour = sample_uv_map(albedo, surface.uv, covered)
    render = unit_to_uint8(colour * surface.shading)
    out[rows, cols] = np.where(covered[..., None], render, out[rows, cols])
    mask[rows, cols] = covered.astype(np.uint8) * 255
    return out, mask
