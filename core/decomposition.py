"""The :class:`Decomposition`: one face of one photo, decomposed — a frozen record of arrays.

:class:`~facecraft.core.decompose.Decomposer` makes it; the editor, the exporters, the
session files and the GUI read it. This module holds only the type (no model, no
renderer), so that readers of a decomposition do not import the engine.

:data:`ARRAYS` names its array fields with their shapes and dtypes, once: sessions store
exactly these (:meth:`Decomposition.to_arrays`) and read them back
(:meth:`Decomposition.from_arrays`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from facecraft.core.camera import Camera, CropTransform
from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH

_UV3 = (UV_HEIGHT, UV_WIDTH, 3)

ARRAYS: dict[str, tuple[tuple[int | None, ...], type[np.generic]]] = {
    "face_box": ((4,), np.float64),
    "detected_landmarks68": ((68, 2), np.float64),
    "landmarks68": ((68, 2), np.float64),
    "camera": ((6,), np.float64),
    "lighting": ((3, 9), np.float32),
    "shape": (_UV3, np.float32),
    "shape_proxy": (_UV3, np.float32),
    "albedo": (_UV3, np.float32),
    "albedo_proxy": (_UV3, np.float32),
    "shading": (_UV3, np.float32),
    "normals": (_UV3, np.float32),
    "visibility": ((UV_HEIGHT, UV_WIDTH), np.bool_),
    "texture": (_UV3, np.float32),
    "shape_code": ((None,), np.float32),
    "albedo_code": ((None,), np.float32),
}
"""The array fields of :class:`Decomposition`: name → (shape, ``None`` for any length; dtype it is
held in)."""


@dataclass(frozen=True)
class Decomposition:
    """One face of one photo, decomposed. UV maps are ``(192, 224, C)`` float32.

    Attributes:
        photo_size: ``(height, width)`` of the photo, EXIF orientation applied.
        face_index: which detected face (0 = largest).
        face_count: how many faces the detector found.
        face_box: ``(4,)`` ``(x0, y0, x1, y1)`` of the detected face, photo pixels.
        detected_landmarks68: ``(68, 2)`` the detector's iBUG points, photo pixels.
        landmarks68: ``(68, 2)`` the model's iBUG points projected by :attr:`camera`, photo pixels.
        crop: the photo → encoder crop transform.
        camera: ``(6,)`` weak-perspective camera into the photo, in ``CAMERA_PARAMS`` order.
        lighting: ``(3, 9)`` SH lighting in the camera frame.
        shape: ``S``, canonical-frame position map (``(..., 3)``).
        shape_proxy: ``S̃``.
        albedo: ``A`` in ``[0, 1]``.
        albedo_proxy: ``Ã``.
        shading: ``(..., 3)`` SH shading of ``S`` under :attr:`lighting`.
        normals: ``(..., 3)`` unit normals of ``S`` in the camera frame.
        visibility: ``(192, 224)`` bool, texels of the face the camera sees.
        texture: ``(..., 3)`` the photo unwrapped into UV through ``S`` (anti-aliased).
        shape_code: ``(Ns,)`` the fitted shape code.
        albedo_code: ``(Na,)`` the fitted albedo code.
        fidelity: the fidelity it was fitted at.
        error: l2,1 photometric error of ``I(S, A)`` on the encoder's crop.
        encoder_error: the same before fitting.
        timings_ms: wall time of each stage (``fit_<stage>`` per fitting stage, ``fit_other`` for
            the rest of the fit: rendering the encoder's estimate to measure its error, decoding
            the best state); their sum is the whole decomposition's.
    """

    photo_size: tuple[int, int]
    face_index: int
    face_count: int
    face_box: np.ndarray
    detected_landmarks68: np.ndarray
    landmarks68: np.ndarray
    crop: CropTransform
    camera: np.ndarray
    lighting: np.ndarray
    shape: np.ndarray
    shape_proxy: np.ndarray
    albedo: np.ndarray
    albedo_proxy: np.ndarray
    shading: np.ndarray
    normals: np.ndarray
    visibility: np.ndarray
    texture: np.ndarray
    shape_code: np.ndarray
    albedo_code: np.ndarray
    fidelity: float
    error: float
    encoder_error: float
    timings_ms: dict[str, float] = field(default_factory=dict)

    def photo_camera(self) -> Camera:
        """:attr:`camera` as a batch-of-one :class:`~facecraft.core.camera.Camera`."""
        return Camera.from_vector(torch.as_tensor(self.camera, dtype=torch.float32)[None])

    def landmark_error(self) -> float:
        """Mean distance, photo pixels, between the model's and the detector's 68 points."""
        return float(np.linalg.norm(self.landmarks68 - self.detected_landmarks68, axis=1).mean())

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The :data:`ARRAYS` fields by name (what a session file stores)."""
        return {name: np.asarray(getattr(self, name)) for name in ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], **scalars: Any) -> Decomposition:
        """A decomposition from its :data:`ARRAYS` fields (cast to their dtypes) and the other fields.

        Args:
            arrays: every name of :data:`ARRAYS`; shapes are the caller's to check.
            scalars: the remaining fields (``photo_size``, ``face_index``, ``face_count``, ``crop``,
                ``fidelity``, ``error``, ``encoder_error``, optionally ``timings_ms``).
        """
        return cls(**{name: arrays[name].astype(dtype) for name, (_, dtype) in ARRAYS.items()}, **scalars)
