"""Rendering: pure-PyTorch differentiable primitives and the face renderer.

The ModernGL renderer for display and full-resolution output is
:mod:`facecraft.core.render.gl`.
"""

from facecraft.core.render.rasterize import Fragments, barycentric_coordinates, rasterize
from facecraft.core.render.renderer import Renderer, RenderResult, texel_visibility
from facecraft.core.render.shading import (
    SH_BASIS_NAMES,
    ambient_light,
    directional_light,
    sh_basis,
    sh_shading,
    uv_normals,
)
from facecraft.core.render.texture import interpolate, sample_texture

__all__ = [
    "SH_BASIS_NAMES",
    "Fragments",
    "RenderResult",
    "Renderer",
    "ambient_light",
    "barycentric_coordinates",
    "directional_light",
    "interpolate",
    "rasterize",
    "sample_texture",
    "sh_basis",
    "sh_shading",
    "texel_visibility",
    "uv_normals",
]
