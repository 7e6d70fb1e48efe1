"""The pseudo ground truth's shape as a UV position map (what pre-training and evaluation compare with).

The offsets come from :func:`facecraft.core.mesh_fit.fit_face_mesh` (stored by
:mod:`facecraft.training.prepare_data`); :class:`~facecraft.core.mesh_fit.MeshToUV` spreads them
over the UV layout.
"""

from __future__ import annotations

from torch import Tensor

from facecraft.core.mesh_fit import MeshToUV


def pseudo_shape(offsets: Tensor, template_shape: Tensor, mesh_to_uv: MeshToUV) -> Tensor:
    """Mean shape plus interpolated offsets: ``(B, 468, 3)`` -> ``(B, 3, 192, 224)`` position maps.

    Args:
        offsets: per-vertex canonical offsets from :func:`~facecraft.core.mesh_fit.fit_face_mesh`.
        template_shape: ``(1, 3, 192, 224)`` the template's mean shape.
        mesh_to_uv: the interpolation operator.
    """
    return template_shape + mesh_to_uv(offsets)
