"""The weak-perspective camera: canonical model frame -> image pixels.

Frames are those of :mod:`facecraft.core.conventions`. A :class:`Camera` maps a
canonical point ``P`` (``(x, y, z)``, ``+y`` up, ``+z`` towards the camera) to

* the camera frame ``C = R @ P``: ``+x`` to the image's right, ``+y`` up, ``+z``
  towards the viewer (right-handed; ``R`` = identity is a frontal face), and then
* image pixels ``x = s * C.x + tx``, ``y = -s * C.y + ty`` (image ``y`` grows down,
  pixel-centre origin), with depth ``d = s * C.z`` in the same pixel unit. Larger
  depth is *nearer* the camera; the z-buffer keeps the largest.

``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``, each a right-handed rotation about the
camera's axis: positive yaw turns the face towards the image's right (the
subject's left), positive pitch turns the face down (the forehead comes
towards the camera), positive roll turns the face counter-clockwise as seen in the image.

The paper writes the same camera as a 2x4 matrix ``M`` acting on homogeneous
points, ``(x, y) = M @ (X, Y, Z, 1)``; :func:`camera_to_matrix` and
:func:`camera_from_matrix` convert between the two forms.

A :class:`Camera` holds tensors with a batch dimension ``B``; the flat layout
used by networks and optimisers is :data:`CAMERA_PARAMS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

CAMERA_PARAMS = ("scale", "pitch", "yaw", "roll", "tx", "ty")
"""Order of the 6 numbers in :meth:`Camera.to_vector` (angles in radians, scale and
translation in pixels)."""


@dataclass(frozen=True)
class Camera:
    """A batch of weak-perspective cameras.

    Attributes:
        scale: ``(B,)`` pixels per canonical unit (> 0).
        angles: ``(B, 3)`` ``(pitch, yaw, roll)`` in radians.
        translation: ``(B, 2)`` image position ``(tx, ty)`` of the canonical origin, pixels.
    """

    scale: Tensor
    angles: Tensor
    translation: Tensor

    def __post_init__(self) -> None:
        batch = self.scale.shape[0] if self.scale.dim() == 1 else -1
        if self.scale.shape != (batch,) or self.angles.shape != (batch, 3) \
                or self.translation.shape != (batch, 2):
            raise ValueError(
                "Camera expects scale (B,), angles (B, 3), translation (B, 2); got "
                f"{tuple(self.scale.shape)}, {tuple(self.angles.shape)}, {tuple(self.translation.shape)}"
            )

    @property
    def batch_size(self) -> int:
        """``B``."""
        return int(self.scale.shape[0])

    @classmethod
    def from_vector(cls, vector: Tensor) -> Camera:
        """Build from ``(B, 6)`` numbers in the :data:`CAMERA_PARAMS` order."""
        if vector.dim() != 2 or vector.shape[1] != len(CAMERA_PARAMS):
            raise ValueError(f"camera vector must be (B, 6), got {tuple(vector.shape)}")
        return cls(vector[:, 0], vector[:, 1:4], vector[:, 4:6])

    def to_vector(self) -> Tensor:
        """``(B, 6)`` numbers in the :data:`CAMERA_PARAMS` order."""
        return torch.cat([self.scale[:, None], self.angles, self.translation], dim=1)

    def detach(self) -> Camera:
        """The same cameras, cut from the autograd graph (copies, so later in-place steps do not leak)."""
        return Camera(*(value.detach().clone() for value in (self.scale, self.angles, self.translation)))

    def rotation(self) -> Tensor:
        """``(B, 3, 3)`` rotation from the canonical frame to the camera frame."""
        return euler_to_rotation(self.angles)

    def check_finite(self) -> None:
        """Raise ``ValueError`` when any parameter is NaN or infinite."""
        if not bool(torch.isfinite(self.to_vector()).all()):
            raise ValueError("camera parameters contain NaN or infinity")


def euler_to_rotation(angles: Tensor) -> Tensor:
    """``(B, 3)`` ``(pitch, yaw, roll)`` radians to ``(B, 3, 3)`` ``Rz(roll) @ Ry(yaw) @ Rx(pitch)``."""
    pitch, yaw, roll = angles.unbind(-1)
    cp, sp = torch.cos(pitch), torch.sin(pitch)
    cy, sy = torch.cos(yaw), torch.sin(yaw)
    cr, sr = torch.cos(roll), torch.sin(roll)
    rows = [
        [cr * cy, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp],
        [sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp],
        [-sy, cy * sp, cy * cp],
    ]
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def rotation_to_euler(rotation: Tensor) -> Tensor:
    """Inverse of :func:`euler_to_rotation` for ``|yaw| < pi/2``: ``(B, 3, 3)`` to ``(B, 3)``."""
    yaw = torch.asin((-rotation[:, 2, 0]).clamp(-1.0, 1.0))
    pitch = torch.atan2(rotation[:, 2, 1], rotation[:, 2, 2])
    roll = torch.atan2(rotation[:, 1, 0], rotation[:, 0, 0])
    return torch.stack([pitch, yaw, roll], dim=-1)


def project(points: Tensor, camera: Camera) -> Tensor:
    """Project canonical points to image pixels with depth.

    Args:
        points: ``(B, N, 3)`` canonical-frame points.
        camera: a batch of ``B`` cameras.

    Returns:
        ``(B, N, 3)``: ``(x, y)`` in image pixels (centre convention) and the depth
        ``s * C.z`` in pixels, larger = nearer.
    """
    if points.dim() != 3 or points.shape[-1] != 3 or points.shape[0] != camera.batch_size:
        raise ValueError(
            f"points must be (B={camera.batch_size}, N, 3), got {tuple(points.shape)}"
        )
    rotated = points @ camera.rotation().transpose(1, 2)
    scale = camera.scale[:, None]
    x = scale * rotated[..., 0] + camera.translation[:, None, 0]
    y = -scale * rotated[..., 1] + camera.translation[:, None, 1]
    return torch.stack([x, y, scale * rotated[..., 2]], dim=-1)


def camera_to_matrix(camera: Camera) -> Tensor:
    """The paper's ``(B, 2, 4)`` projection matrix: ``(x, y) = M @ (X, Y, Z, 1)``."""
    rotation = camera.rotation()
    scale = camera.scale[:, None]
    top = torch.cat([scale * rotation[:, 0], camera.translation[:, :1]], dim=1)
    bottom = torch.cat([-scale * rotation[:, 1], camera.translation[:, 1:]], dim=1)
    return torch.stack([top, bottom], dim=1)


def camera_from_matrix(matrix: Tensor) -> Camera:
    """The nearest :class:`Camera` to a ``(B, 2, 4)`` matrix.

    The two rotation rows are the nearest orthonormal pair (polar decomposition),
    the scale is the mean of the two row norms. Exact for matrices made by
    :func:`camera_to_matrix`.
    """
    if matrix.dim() != 3 or matrix.shape[1:] != (2, 4):
        raise ValueError(f"projection matrix must be (B, 2, 4), got {tuple(matrix.shape)}")
    rows = torch.stack([matrix[:, 0, :3], -matrix[:, 1, :3]], dim=1)
    scale = rows.norm(dim=-1).mean(dim=-1)
    u, _, vh = torch.linalg.svd(rows, full_matrices=False)
    orthonormal = u @ vh
    third = torch.linalg.cross(orthonormal[:, 0], orthonormal[:, 1], dim=-1)
    rotation = torch.cat([orthonormal, third[:, None]], dim=1)
    return Camera(scale, rotation_to_euler(rotation), matrix[:, :, 3].clone())


@dataclass(frozen=True)
class CropTransform:
    """An axis-aligned, uniformly scaled crop of a photo.

    A photo pixel ``p`` lands at ``scale * p + offset`` in the crop (both in the
    pixel-centre convention), so a camera for the crop becomes one for the photo
    with :meth:`camera_to_photo`.

    Attributes:
        scale: crop pixels per photo pixel.
        offset: ``(ox, oy)`` in crop pixels.
        size: ``(height, width)`` of the crop.
    """

    scale: float
    offset: tuple[float, float]
    size: tuple[int, int]

    def photo_to_crop(self, points: Tensor) -> Tensor:
        """``(..., 2)`` photo pixels to crop pixels."""
        return points * self.scale + points.new_tensor(self.offset)

    def crop_to_photo(self, points: Tensor) -> Tensor:
        """``(..., 2)`` crop pixels to photo pixels."""
        return (points - points.new_tensor(self.offset)) / self.scale

    def camera_to_crop(self, camera: Camera) -> Camera:
        """The camera that projects into the crop what ``camera`` projects into the photo."""
        offset = camera.translation.new_tensor(self.offset)
        return Camera(camera.scale * self.scale, camera.angles, camera.translation * self.scale + offset)

    def camera_to_photo(self, camera: Camera) -> Camera:
        """The camera that projects into the photo what ``camera`` projects into the crop."""
        offset = camera.translation.new_tensor(self.offset)
        return Camera(camera.scale / self.scale, camera.angles,
                      (camera.translation - offset) / self.scale)
