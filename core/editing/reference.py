"""A reference photo to borrow from: its face decomposed, its albedo where the camera saw it.

Every face shares one UV layout, so a region of one face (its lips, its brows)
lands on the same region of any other face. :class:`Reference` holds what a
transfer (:mod:`facecraft.core.editing.transfer`) and a light match need of
another photo: its decomposition, its detailed albedo at canvas resolution
*only where it or its mirror texel was seen* (with how far it was), its skin
tone, and where its faces are (so a caller can pick another one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from facecraft.core.decompose import Decomposer
from facecraft.core.decomposition import Decomposition
from facecraft.core.editing.albedo import albedo_sources
from facecraft.core.editing.rect import Rect
from facecraft.core.editing.regions import makeup_mask
from facecraft.core.errors import FaceCraftError, NoFaceFound, naming_file
from facecraft.core.face.detection import DetectedFace
from facecraft.core.face.template import FaceTemplate
from facecraft.core.fitting import DEFAULT_FIDELITY, CancelCheck, ProgressCallback
from facecraft.core.io.image_read import load_image
from facecraft.core.io.pixels import round_to_uint8

SEEN = 0.5
"""A texel whose seen-weight reaches this counts as seen."""
SKIN_REGION = "cheeks"
"""Where the skin tone is measured (weighted by how far each texel was seen)."""


class ReferencePhotoError(FaceCraftError):
    """A reference photo cannot be used (unreadable, no face, face turned away from a region)."""


@dataclass(frozen=True)
class Reference:
    """Another photo's face, ready to copy from.

    Attributes:
        name: the photo's file name (shown and saved with the layers copied from it).
        decomposition: the chosen face's decomposition.
        albedo: ``(H, W, 3)`` float32 detailed albedo at canvas resolution where the face or
            its mirror texel was seen (the model's albedo elsewhere: never copied).
        weight: ``(H, W)`` float32 in ``[0, 1]``, how far each texel of :attr:`albedo` was seen.
        skin: ``(3,)`` float32 the face's skin tone (seen cheek albedo).
        face_boxes: ``(N, 4)`` float64 ``(x0, y0, x1, y1)`` of every face in the photo, largest first.
        rgb: ``(h, w, 3)`` uint8 the photo (for showing it).
        template: the template it was decomposed with (region masks).
    """

    name: str
    decomposition: Decomposition
    albedo: np.ndarray
    weight: np.ndarray
    skin: np.ndarray
    face_boxes: np.ndarray
    rgb: np.ndarray
    template: FaceTemplate = field(repr=False, compare=False, kw_only=True)
    _masks: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    def region_mask(self, region: str) -> np.ndarray:
        """``(H, W)`` float32 mask of a named region at this canvas size (made once, then kept)."""
        mask = self._masks.get(region)
        if mask is None:
            mask = self._masks[region] = makeup_mask(self.template, region, self.canvas_size)
        return mask

    @cached_property
    def albedo8(self) -> np.ndarray:
        """:attr:`albedo` as ``(H, W, 3)`` uint8 (what a texture copy's layer holds), made once."""
        return round_to_uint8(self.albedo * 255.0)

    @property
    def canvas_size(self) -> tuple[int, int]:
        """``(H, W)`` of the canvas the maps are at."""
        return self.albedo.shape[0], self.albedo.shape[1]

    @property
    def face_index(self) -> int:
        """Which face of the photo this is (0 = largest)."""
        return self.decomposition.face_index

    @property
    def lighting(self) -> np.ndarray:
        """``(3, 9)`` the reference photo's SH lighting (camera frame)."""
        return self.decomposition.lighting

    def seen_share(self, mask: np.ndarray) -> float:
        """The share of a ``(H, W)`` region mask's weight on texels that were seen (0 for an empty mask)."""
        box = mask_bounds(mask)
        if box.empty:
            return 0.0
        box = box.slices()  # only where the mask is
        part = mask[box]
        return float((part * (self.weight[box] >= SEEN)).sum()) / float(part.sum())


def mask_bounds(mask: np.ndarray, margin: int = 0) -> Rect:
    """The bounds of the non-zero texels of ``(H, W)`` ``mask``, grown by ``margin`` (empty: none)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return Rect(0, 0, 0, 0)
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    return Rect(
        max(int(rows[0]) - margin, 0),
        max(int(cols[0]) - margin, 0),
        min(int(rows[-1]) + 1 + margin, height),
        min(int(cols[-1]) + 1 + margin, width),
    )


def skin_tone(albedo: np.ndarray, weight: np.ndarray, template: FaceTemplate) -> np.ndarray:
    """``(3,)`` float32 mean albedo over the cheeks, weighted by ``(H, W)`` ``weight``.

    Falls back to the whole face when the cheeks were not seen at all.
    """
    size = (albedo.shape[0], albedo.shape[1])
    for region in (SKIN_REGION, "face"):
        mask = makeup_mask(template, region, size)
        box = mask_bounds(mask).slices()  # only where the mask is
        w = mask[box] * weight[box]
        total = float(w.sum())
        if total > 1e-3:
            return (np.tensordot(w, albedo[box], axes=([0, 1], [0, 1])) / total).astype(np.float32)
    return np.median(albedo.reshape(-1, 3), axis=0).astype(np.float32)


def build_reference(
    rgb: np.ndarray,
    decomposition: Decomposition,
    template: FaceTemplate,
    canvas_size: tuple[int, int],
    name: str,
    face_boxes: np.ndarray | None = None,
) -> Reference:
    """A :class:`Reference` from a photo and one of its faces' decomposition.

    Args:
        rgb: ``(h, w, 3)`` uint8 the reference photo.
        decomposition: the face to copy from.
        template: the template it was decomposed with.
        canvas_size: ``(H, W)`` of the canvas the copies go to.
        name: the photo's file name.
        face_boxes: ``(N, 4)`` every face's box; the decomposed face's alone when None.
    """
    albedo, weight = albedo_sources(rgb, decomposition, template, canvas_size).seen()
    boxes = decomposition.face_box[None] if face_boxes is None else np.asarray(face_boxes, np.float64)
    return Reference(
        name=name,
        decomposition=decomposition,
        albedo=albedo,
        weight=weight,
        skin=skin_tone(albedo, weight, template),
        face_boxes=boxes.reshape(-1, 4),
        rgb=rgb,
        template=template,
    )


def load_reference(
    path: str | Path,
    decomposer: Decomposer,
    canvas_size: tuple[int, int],
    fidelity: float = DEFAULT_FIDELITY,
    face: int = 0,
    faces: Sequence[DetectedFace] | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> Reference:
    """Read a reference photo and decompose one of its faces (the largest by default).

    Args:
        path: the photo.
        decomposer: the engine.
        canvas_size: ``(H, W)`` of the canvas the copies go to.
        fidelity: how far to fit the reference's face.
        face: which face (0 = largest).
        faces: the photo's detected faces when already known (picking another face).
        progress, cancelled: as for :meth:`Decomposer.decompose`.

    Raises:
        ImageLoadError: the file cannot be read (the message names it).
        ReferencePhotoError: no face, or no face of that number (the message names the file).
        FitCancelled: ``cancelled`` returned True.
    """
    path = Path(path)
    image = load_image(path)
    try:
        found = list(faces) if faces is not None else decomposer.detect(image.rgb)
        decomposition = decomposer.decompose(
            image.rgb, fidelity, face=face, faces=found, progress=progress, cancelled=cancelled
        )
    except NoFaceFound as exc:
        raise ReferencePhotoError(naming_file(path, f"cannot be used as a reference: {exc}")) from exc
    boxes = np.stack([detected.box for detected in found])
    return build_reference(image.rgb, decomposition, decomposer.template, canvas_size, path.name, boxes)
