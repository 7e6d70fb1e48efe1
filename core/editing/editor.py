"""One photo being edited: its decomposition, the layer document and the edited photo, kept in step.

:class:`FaceEditor` ties together what the GUI, the CLI and sessions share:

* the :class:`~facecraft.core.decomposition.Decomposition` of the face,
* the :class:`~facecraft.core.editing.document.EditDocument` (layers + undo),
* the :class:`~facecraft.core.editing.composite.PhotoCompositor` that re-renders the
  edits into the photo at its original resolution,
* the detailed albedo the edits are painted over (built on first use).

Every document operation returns a canvas rectangle; :meth:`FaceEditor.refresh`
pushes it to the edited photo and returns the photo rectangle that changed.
"""

from __future__ import annotations

import numpy as np

from facecraft.core.decomposition import Decomposition
from facecraft.core.editing.albedo import CANVAS_SCALE, canvas_size, detailed_albedo
from facecraft.core.editing.composite import PhotoCompositor, SurfaceMap, build_surface_map
from facecraft.core.editing.document import EditDocument
from facecraft.core.editing.layers import apply_to_albedo
from facecraft.core.editing.reconstruction import paint_reconstruction
from facecraft.core.editing.rect import Rect
from facecraft.core.face.template import FaceTemplate
from facecraft.core.io.pixels import to_rgb8, unit_to_uint8


class FaceEditor:
    """Edits of one face of one photo.

    Args:
        photo: ``(H, W, C)`` the photo's original pixels (uint8/uint16, 1-4 channels, upright).
        decomposition: the face's decomposition (of this photo).
        template: the template it was decomposed with.
        scale: canvas texels per model texel.
        document: an existing document (a loaded session); a new empty one when None.
    """

    def __init__(
        self,
        photo: np.ndarray,
        decomposition: Decomposition,
        template: FaceTemplate,
        scale: int = CANVAS_SCALE,
        document: EditDocument | None = None,
    ) -> None:
        if photo.shape[:2] != decomposition.photo_size:
            raise ValueError(
                f"the photo is {photo.shape[1]}x{photo.shape[0]} but the decomposition was made "
                f"for {decomposition.photo_size[1]}x{decomposition.photo_size[0]}"
            )
        self.photo = photo
        self.decomposition = decomposition
        self.template = template
        size = canvas_size(scale) if document is None else document.canvas_size
        self.document = document or EditDocument(size, template)
        self.surface: SurfaceMap = build_surface_map(decomposition, template, size)
        self.compositor = PhotoCompositor(photo, self.surface)
        self._lighting: np.ndarray | None = None
        self._albedo: np.ndarray | None = None
        self._albedo8: np.ndarray | None = None
        if self.document.layers:  # a fresh compositor already shows the photo as it is
            self.refresh(None)

    def adopt(self, document: EditDocument) -> Rect:
        """Carry an existing document (e.g. the edits made before a re-fit) over to this face.

        Edits live in UV, so they follow the new geometry. Returns the photo rect re-rendered.

        Raises:
            ValueError: the document's canvas has another size.
        """
        if document.canvas_size != self.document.canvas_size:
            raise ValueError(
                f"the document's canvas is {document.canvas_size}, not {self.document.canvas_size}"
            )
        had_edits = bool(self.document.layers)
        self.document = document
        if not (had_edits or document.layers or self.compositor.relit):
            return Rect(0, 0, 0, 0)  # nothing to draw: the photo is shown as it is
        return self.refresh(None)

    @property
    def canvas_size(self) -> tuple[int, int]:
        """``(H, W)`` of the UV canvas."""
        return self.document.canvas_size

    @property
    def edited_photo(self) -> np.ndarray:
        """``(H, W, C)`` the photo with every visible edit (and any relighting) rendered in."""
        return self.compositor.result

    def refresh(self, rect: Rect | None) -> Rect:
        """Re-render the edits inside canvas ``rect`` (everything when None) into the photo.

        Returns:
            The photo rectangle that was recomputed.
        """
        document = self.document
        if rect is None:
            document.full_rect()
        return self.compositor.update(document.multiplier, document.addend, rect)

    def relight(self, lighting: np.ndarray | None) -> Rect:
        """Render the face under ``(3, 9)`` SH lighting, or under the photo's own with None."""
        if lighting is not None:
            lighting = np.asarray(lighting, dtype=np.float32)
            if lighting.shape != (3, 9) or not np.isfinite(lighting).all():
                raise ValueError(f"lighting must be finite (3, 9), got {lighting.shape}")
        self._lighting = lighting
        self.compositor.set_lighting(lighting, self.decomposition.lighting)
        return self.refresh(None)

    @property
    def lighting(self) -> np.ndarray:
        """The lighting the face is rendered under (the fitted one unless relit)."""
        return self.decomposition.lighting if self._lighting is None else self._lighting

    def photo_rgb8(self) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB copy of the photo (grey replicated, 16 bit scaled, alpha dropped)."""
        return to_rgb8(self.photo if self.photo.ndim == 3 else self.photo[..., None])

    def base_albedo(self) -> np.ndarray:
        """``(H, W, 3)`` float32 detailed albedo at canvas resolution, before edits."""
        if self._albedo is None:
            self._albedo = detailed_albedo(
                self.photo_rgb8(), self.decomposition, self.template, self.canvas_size
            )
        return self._albedo

    def edited_albedo8(self) -> np.ndarray:
        """``(H, W, 3)`` uint8 edited albedo at canvas resolution (what the UV canvas shows).

        Without edits it is made once and remembered (read-only), so a worker thread can make it
        before the GUI shows the face; with edits it is made on each call.
        """
        if self.document.layers:
            return unit_to_uint8(self.edited_albedo())
        if self._albedo8 is None:
            pixels = unit_to_uint8(self.edited_albedo())
            pixels.flags.writeable = False
            self._albedo8 = pixels
        return self._albedo8

    def edited_albedo(self, rect: Rect | None = None) -> np.ndarray:
        """The detailed albedo with the edits, ``(H, W, 3)`` float32 (or the part inside ``rect``)."""
        document = self.document
        albedo = self.base_albedo()
        if rect is None:
            return apply_to_albedo(albedo, document.multiplier, document.addend)
        rows, cols = rect.clip(*self.canvas_size).slices()
        return apply_to_albedo(
            albedo[rows, cols], document.multiplier[rows, cols], document.addend[rows, cols]
        )

    def photo_to_canvas(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map photo pixels to canvas ``(col, row)`` through the fitted geometry.

        Args:
            points: ``(N, 2)`` ``(x, y)`` photo pixels.

        Returns:
            ``(N, 2)`` canvas points and ``(N,)`` bool, False where the point is off the face.
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        out = np.zeros_like(points)
        valid = np.zeros(len(points), bool)
        for i, (x, y) in enumerate(points):
            hit = self.surface.canvas_point(float(x), float(y))
            if hit is not None:
                out[i], valid[i] = hit, True
        return out, valid

    def canvas_radius(self, photo_radius: float) -> float:
        """A brush radius in photo pixels, in canvas texels (at the face's median scale)."""
        return max(0.5, float(photo_radius) * self.surface.canvas_texels_per_pixel())

    def reconstruction(self) -> tuple[np.ndarray, np.ndarray]:
        """The model's render ``I(S, A)`` over the photo at full resolution, and the face mask.

        Painted through the editor's surface map (already built, so cheap here); without an
        editor, :class:`~facecraft.core.editing.reconstruction.ReconstructionRenderer` draws the same
        picture faster.

        Returns:
            ``(H, W, 3)`` uint8 RGB and ``(H, W)`` uint8 mask (255 on the face).
        """
        return paint_reconstruction(self.photo_rgb8(), self.decomposition.albedo, self.surface)
