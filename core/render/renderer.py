"""The differentiable face renderer: UV shape and albedo, camera and lighting -> image.

Composes the primitives of :mod:`facecraft.core.render` on the template's render
mesh::

    normals  = uv_normals(shape)                  # UV, canonical frame
    shading  = sh_shading(R @ normals, lighting)  # UV, lit in the camera frame
    screen   = project(shape at mesh vertices, camera)
    frags    = rasterize(screen, triangles)       # not differentiable
    bary     = barycentric_coordinates(screen, triangles, frags)
    uv       = interpolate(vertex_uv, triangles, frags, bary)
    image    = sample_texture(albedo * shading, uv), composited over the background

Gradients reach shape (through the projected vertices and the normals), albedo,
camera and lighting; coverage and visibility are piecewise constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from facecraft.core.camera import Camera, project
from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.face.template import FaceTemplate
from facecraft.core.render.rasterize import Fragments, barycentric_coordinates, rasterize
from facecraft.core.render.shading import SH_COEFFICIENTS, sh_shading, uv_normals
from facecraft.core.render.texture import interpolate, sample_texture

VISIBILITY_DEPTH_TOLERANCE = 2.0
"""Pixels of depth by which a texel may lie behind the z-buffer and still count as visible."""


@dataclass(frozen=True)
class RenderResult:
    """What one call of :class:`Renderer` produces.

    Attributes:
        image: ``(B, 3, H, W)`` rendered face composited over the background (zero
            background when none was given).
        mask: ``(B, 1, H, W)`` float, 1 on pixels the face covers.
        visibility: ``(B, 1, 192, 224)`` float, 1 on template texels that face the
            camera, are not hidden by another part of the face and land inside the image.
        shading_uv: ``(B, 3, 192, 224)`` SH shading of each texel.
        normals_uv: ``(B, 3, 192, 224)`` unit normals in the camera frame.
        screen_vertices: ``(B, V, 3)`` projected render-mesh vertices ``(x, y, depth)``.
        fragments: the rasterizer's output.
    """

    image: Tensor
    mask: Tensor
    visibility: Tensor
    shading_uv: Tensor
    normals_uv: Tensor
    screen_vertices: Tensor
    fragments: Fragments


class Renderer(nn.Module):
    """Renders the template's UV maps; holds the render mesh as buffers.

    Args:
        template: the face template whose render mesh and mask are used.
    """

    def __init__(self, template: FaceTemplate) -> None:
        super().__init__()
        sampling = template.vertex_sampling  # each vertex: up to four face texels, blended
        self.register_buffer("vertex_index", torch.as_tensor(sampling.texels, dtype=torch.long),
                             persistent=False)
        self.register_buffer("vertex_weight", torch.as_tensor(sampling.weights, dtype=torch.float32),
                             persistent=False)
        self.register_buffer("vertex_uv", torch.as_tensor(template.vertex_uv, dtype=torch.float32),
                             persistent=False)
        self.register_buffer("triangles", torch.as_tensor(template.triangles, dtype=torch.long),
                             persistent=False)
        self.register_buffer("uv_mask", torch.as_tensor(template.mask), persistent=False)

    def mesh_vertices(self, shape_uv: Tensor) -> Tensor:
        """``(B, 3, 192, 224)`` position map to ``(B, V, 3)`` render-mesh vertices."""
        index = self.vertex_index
        footprint = shape_uv.flatten(2).index_select(2, index.flatten()).unflatten(2, index.shape)  # B,3,V,4
        return (footprint * self.vertex_weight.to(shape_uv.dtype)).sum(dim=3).transpose(1, 2)

    def forward(
        self,
        shape_uv: Tensor,
        albedo_uv: Tensor,
        camera: Camera,
        lighting: Tensor,
        image_size: tuple[int, int],
        background: Tensor | None = None,
    ) -> RenderResult:
        """Render a batch of faces.

        Args:
            shape_uv: ``(B, 3, 192, 224)`` position map, canonical frame.
            albedo_uv: ``(B, 3, 192, 224)`` RGB albedo in ``[0, 1]``.
            camera: ``B`` weak-perspective cameras into the output image.
            lighting: ``(B, 3, 9)`` SH lighting, camera frame.
            image_size: ``(H, W)`` of the output.
            background: optional ``(B, 3, H, W)`` image behind the face.

        Raises:
            ValueError: on a wrong shape or NaN/infinite input.
        """
        return self.render_albedos(shape_uv, (albedo_uv,), camera, lighting, image_size, background)[0]

    def render_albedos(
        self,
        shape_uv: Tensor,
        albedos_uv: tuple[Tensor, ...],
        camera: Camera,
        lighting: Tensor,
        image_size: tuple[int, int],
        background: Tensor | None = None,
    ) -> tuple[RenderResult, ...]:
        """Render one geometry with several albedos: the geometry pass (normals, shading,
        rasterisation, barycentrics, UV, visibility) runs once and the albedos are sampled
        together; each result equals a :meth:`forward` of that albedo, gradients included.

        The fine-tune's paired renders ``I(S~, A~)`` and ``I(S~, A)`` share their shape and camera.

        Args:
            albedos_uv: one or more ``(B, 3, 192, 224)`` albedos; the other arguments as in
                :meth:`forward`.

        Raises:
            ValueError: on a wrong shape or NaN/infinite input, or no albedo.
        """
        batch = camera.batch_size
        if not albedos_uv:
            raise ValueError("render_albedos needs at least one albedo")
        _check_uv_map("shape_uv", shape_uv, batch)
        for albedo_uv in albedos_uv:
            _check_uv_map("albedo_uv", albedo_uv, batch)
        if lighting.shape != (batch, 3, SH_COEFFICIENTS):
            raise ValueError(f"lighting must be (B={batch}, 3, 9), got {tuple(lighting.shape)}")
        height, width = image_size
        if background is not None and background.shape != (batch, 3, height, width):
            raise ValueError(
                f"background must be (B={batch}, 3, {height}, {width}), got {tuple(background.shape)}"
            )
        camera.check_finite()
        checked = (("shape_uv", shape_uv), *(("albedo_uv", a) for a in albedos_uv), ("lighting", lighting))
        for name, value in checked:
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{name} contains NaN or infinity")

        rotation = camera.rotation()
        normals = torch.bmm(rotation, uv_normals(shape_uv).flatten(2)).view_as(shape_uv)
        shading = sh_shading(normals, lighting)
        screen = project(self.mesh_vertices(shape_uv), camera)
        fragments = rasterize(screen, self.triangles, (height, width))
        bary = barycentric_coordinates(screen, self.triangles, fragments)
        uv = interpolate(self.vertex_uv.to(screen.dtype), self.triangles, fragments, bary)
        mask = fragments.mask
        textures = torch.cat([albedo_uv * shading for albedo_uv in albedos_uv], dim=1)
        faces = sample_texture(textures, uv, mask).split(3, dim=1)
        mask_f = mask.unsqueeze(1).to(shading.dtype)
        visibility = (texel_visibility(shape_uv, normals, camera, fragments) & self.uv_mask).unsqueeze(1)
        return tuple(
            RenderResult(
                image=face if background is None else face + (1.0 - mask_f) * background,
                mask=mask_f, visibility=visibility.to(face.dtype), shading_uv=shading,
                normals_uv=normals, screen_vertices=screen, fragments=fragments,
            )
            for face in faces
        )


def texel_visibility(shape_uv: Tensor, normals: Tensor, camera: Camera, fragments: Fragments,
                     tolerance: float = VISIBILITY_DEPTH_TOLERANCE) -> Tensor:
    """Which UV texels the camera sees.

    A texel is visible when its normal faces the camera, its projection lands on a
    covered pixel, and it is no more than ``tolerance`` pixels of depth behind the
    z-buffer there (the paper's ``T`` of eq. 16, with occlusion added to its
    normal test).

    Args:
        shape_uv: ``(B, 3, Hu, Wu)`` position map, canonical frame.
        normals: ``(B, 3, Hu, Wu)`` unit normals, camera frame.
        camera: the cameras the fragments were rendered with.
        fragments: z-buffer of the render.

    Returns:
        ``(B, Hu, Wu)`` bool.
    """
    with torch.no_grad():
        batch, _, uv_height, uv_width = shape_uv.shape
        points = project(shape_uv.flatten(2).transpose(1, 2), camera)  # (B, Hu*Wu, 3)
        height, width = fragments.image_size
        col = points[..., 0].round().long()
        row = points[..., 1].round().long()
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        pixel = row.clamp(0, height - 1) * width + col.clamp(0, width - 1)
        surface = fragments.depth.flatten(1).gather(1, pixel)
        unoccluded = points[..., 2] >= surface - tolerance
        facing = normals[:, 2].flatten(1) > 0
        visible = inside & unoccluded & facing & torch.isfinite(surface)
        return visible.view(batch, uv_height, uv_width)


def _check_uv_map(name: str, value: Tensor, batch: int) -> None:
    expected = (batch, 3, UV_HEIGHT, UV_WIDTH)
    if tuple(value.shape) != expected:
        raise ValueError(f"{name} must be {expected}, got {tuple(value.shape)}")
