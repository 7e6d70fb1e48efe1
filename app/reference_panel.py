"""The Reference panel: borrow makeup, texture or light from another photo.

Open (or drop) a reference photo; it is decomposed in the background at the
Fidelity slider's setting (:class:`~facecraft.app.reference_loader.ReferenceLoader`) and shown with its
faces outlined (click another face to use it) and its albedo in UV, dimmed
where its camera saw neither the texel nor its mirror (never copied). Choose
regions (or paint a mask on that UV view), colour or texture, and a strength;
"Copy to new layer" adds one undoable layer. The lighting of the reference is
offered to the Lighting panel through :attr:`ReferencePanel.reference_changed`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from facecraft.app.image_view import CompareView, ImageView
from facecraft.app.reference_loader import ReferenceLoader, ReferenceRequest
from facecraft.app.state import EditorState
from facecraft.app.widgets import SliderSpin
from facecraft.core.editing.albedo import canvas_size
from facecraft.core.editing.layers import TransferSpec
from facecraft.core.editing.reference import SEEN, Reference
from facecraft.core.editing.transfer import PAINTED
from facecraft.core.errors import FaceCraftError
from facecraft.core.io.pixels import unit_to_uint8

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.tif *.tiff *.bmp);;All files (*)"
REGIONS = (
    ("lips", "Lips"),
    ("eyelids", "Eyelids / eyeshadow"),
    ("cheeks", "Cheeks / blush"),
    ("brows", "Brows"),
    ("face", "Whole face"),
    (PAINTED, "Painted mask"),
)
"""The region check boxes: name and label."""
MODES = (("colour", "Colour (makeup)"), ("texture", "Texture (detail)"))
PREVIEW_SHRINK = 2
"""The UV preview (and the painted mask) is the canvas at this fraction."""
MASK_BRUSH = 0.025
"""Radius of the mask brush, as a fraction of the preview's width."""
UNSEEN_SHADE = 0.25
"""Unseen texels are shown this bright."""


class ReferencePanel(QWidget):
    """Open a reference photo, choose what to copy, copy it into a new layer.

    Signals:
        reference_changed(object): the :class:`Reference` now open (None when none).

    Args:
        state: the editor state (``add_transfer``).
        loader: decomposes references; a new one with its own engine when None.
    """

    reference_changed = Signal(object)

    def __init__(
        self, state: EditorState, loader: ReferenceLoader | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.loader = loader or ReferenceLoader(parent=self)
        self.reference: Reference | None = None
        self.path: Path | None = None
        self.last_folder = ""
        self._request = 0
        self._mask: np.ndarray | None = None
        self._build()
        self.setAcceptDrops(True)
        self.loader.started.connect(self._on_started)
        self.loader.progress.connect(self._on_progress)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.cancelled.connect(self._on_cancelled)
        state.decomposition_changed.connect(self._update_enabled)
        self._update_enabled()

    def _build(self) -> None:
        self.open_button = QPushButton("Open Reference…")
        self.open_button.setToolTip("A second photo to copy makeup, texture or light from (or drop one here)")
        self.open_button.clicked.connect(self.choose)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.loader.cancel)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.status = QLabel("No reference photo")
        self.status.setWordWrap(True)
        self.photo_view = CompareView()
        self.photo_view.placeholder = "Drop a reference photo here"
        self.photo_view.setMinimumHeight(110)
        self.photo_view.clicked.connect(self._photo_clicked)
        self.uv_view = ImageView()
        self.uv_view.placeholder = "Its albedo in UV"
        self.uv_view.setMinimumHeight(110)
        self.uv_view.setToolTip(
            "The reference's albedo; dark where its camera saw it nowhere (never copied). "
            "With Painted mask on, drag to paint what to copy"
        )
        self.uv_view.stroke_started.connect(self._paint_mask)
        self.uv_view.stroke_moved.connect(self._paint_mask)
        for view in (self.photo_view, self.uv_view):
            view.setAcceptDrops(False)
            view.viewport().setAcceptDrops(False)
        self.region_boxes: dict[str, QCheckBox] = {}
        regions = QGridLayout()
        for index, (name, label) in enumerate(REGIONS):
            box = QCheckBox(label)
            box.setChecked(name == "lips")
            box.toggled.connect(self._update_enabled)
            self.region_boxes[name] = box
            regions.addWidget(box, index // 2, index % 2)
        self.region_boxes[PAINTED].toggled.connect(self.uv_view.set_painting)
        self.clear_mask_button = QPushButton("Clear mask")
        self.clear_mask_button.clicked.connect(self.clear_mask)
        self.mode = QComboBox()
        for name, label in MODES:
            self.mode.addItem(label, name)
        self.mode.setToolTip(
            "Colour: the reference's colour relative to its skin, over your own skin detail "
            "(makeup). Texture: the reference's detailed albedo itself (a tattoo, a beard)"
        )
        self.strength = SliderSpin(0, 100, " %")
        self.strength.set_value(100)
        self.copy_button = QPushButton("Copy to new layer")
        self.copy_button.clicked.connect(self.copy)

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.progress, 1)
        top.addWidget(self.cancel_button)
        form = QFormLayout()
        form.addRow("Copy", self.mode)
        form.addRow("Strength", self.strength)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.photo_view, 1)
        layout.addWidget(self.uv_view, 1)
        layout.addLayout(regions)
        layout.addWidget(self.clear_mask_button)
        layout.addLayout(form)
        layout.addWidget(self.copy_button)
        self._set_busy(False)

    # -- opening ----------------------------------------------------------------------------------

    def choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open Reference Photo", self.last_folder, IMAGE_FILTER)
        if path:
            self.open(Path(path))

    def open(self, path: Path, face: int = 0) -> int:
        """Start decomposing a reference photo (face 0 = the largest); returns the request id."""
        editor = self.state.editor
        size = editor.canvas_size if editor is not None else canvas_size()
        self.path = Path(path)
        self.last_folder = str(self.path.parent)
        request = ReferenceRequest(self.path, size, face, self.state.fidelity)  # as the photo is fitted
        self._request = self.loader.submit(request)
        return self._request

    def shutdown(self) -> None:
        """Cancel a running decomposition and free the engine (the window is closing)."""
        self.loader.shutdown()

    def _on_started(self, request: int, name: str) -> None:
        if request == self._request:
            self.status.setText(f"Decomposing {name}…")
            self.progress.setRange(0, 0)
            self._set_busy(True)

    def _on_progress(self, request: int, done: int, total: int) -> None:
        if request == self._request and total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _on_loaded(self, request: int, reference: Reference) -> None:
        if request != self._request:
            return
        self._set_busy(False)
        self.reference = reference
        count = len(reference.face_boxes)
        faces = f"; face {reference.face_index + 1} of {count} (click another to use it)" if count > 1 else ""
        self.status.setText(f"Reference: {reference.name}{faces}")
        self.photo_view.set_image(reference.rgb, fit=True)
        self.photo_view.set_boxes(list(reference.face_boxes), reference.face_index)
        height, width = reference.canvas_size
        self._mask = np.zeros((height // PREVIEW_SHRINK, width // PREVIEW_SHRINK), np.float32)
        self._show_uv(fit=True)
        self._update_enabled()
        self.reference_changed.emit(reference)

    def _on_failed(self, request: int, message: str) -> None:
        if request != self._request:
            return
        self._set_busy(False)
        self.status.setText("The reference could not be used; the previous one (if any) is kept")
        self._error(
            "Cannot use the reference photo",
            message,
            "Choose a photo with a clearly visible, roughly frontal face.",
        )

    def _on_cancelled(self, request: int) -> None:
        if request == self._request:
            self._set_busy(False)
            self.status.setText(
                "Cancelled" if self.reference is None else f"Reference: {self.reference.name}"
            )

    def _photo_clicked(self, x: float, y: float) -> None:
        reference = self.reference
        if reference is None or self.path is None:
            return
        for index, (x0, y0, x1, y1) in enumerate(reference.face_boxes):
            if x0 <= x <= x1 and y0 <= y <= y1 and index != reference.face_index:
                self.open(self.path, index)
                return

    # -- copying ----------------------------------------------------------------------------------

    def regions(self) -> tuple[str, ...]:
        """The regions checked."""
        return tuple(name for name, box in self.region_boxes.items() if box.isChecked())

    def spec(self) -> TransferSpec:
        """What "Copy" would copy."""
        name = self.reference.name if self.reference is not None else ""
        return TransferSpec(name, self.regions(), str(self.mode.currentData()), self.strength.value() / 100.0)

    def copy(self) -> bool:
        """Copy into a new layer; False (and a message, nothing changed) when it cannot be done."""
        if self.reference is None or self.state.editor is None or not self.regions():
            return False
        painted = self._mask if PAINTED in self.regions() else None
        try:
            self.state.add_transfer(self.reference, self.spec(), painted)
        except (FaceCraftError, ValueError) as exc:
            self._error("Cannot copy from the reference", str(exc), "Nothing was changed.")
            return False
        self.status.setText(f"Copied {' + '.join(self.regions())} from {self.reference.name}")
        return True

    def clear_mask(self) -> None:
        if self._mask is not None:
            self._mask[:] = 0.0
            self._show_uv()

    def _paint_mask(self, x: float, y: float) -> None:
        if self._mask is None:
            return
        radius = max(1, round(MASK_BRUSH * self._mask.shape[1]))
        cv2.circle(self._mask, (round(x), round(y)), radius, 1.0, thickness=-1, lineType=cv2.LINE_AA)
        self._show_uv()

    def _show_uv(self, fit: bool = False) -> None:
        reference = self.reference
        if reference is None or self._mask is None:
            return
        step = PREVIEW_SHRINK
        albedo = reference.albedo[::step, ::step]
        seen = (reference.weight[::step, ::step] >= SEEN)[..., None]
        picture = np.where(seen, albedo, albedo * UNSEEN_SHADE)
        mask = self._mask[..., None]
        picture = picture * (1.0 - 0.5 * mask) + np.array([1.0, 0.15, 0.1], np.float32) * 0.5 * mask
        self.uv_view.set_image(unit_to_uint8(picture), fit=fit)

    # -- state ------------------------------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def _update_enabled(self) -> None:
        ready = self.reference is not None and self.state.editor is not None and bool(self.regions())
        self.copy_button.setEnabled(ready)
        self.clear_mask_button.setEnabled(self.region_boxes[PAINTED].isChecked())

    def _error(self, title: str, message: str, advice: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setInformativeText(advice)
        box.exec()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        urls = [url for url in event.mimeData().urls() if url.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open(Path(urls[0].toLocalFile()))
