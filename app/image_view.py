"""A zoomable, pannable image view that reports pointer strokes in image pixels.

:class:`ImageView` shows one numpy image (any size: a 12-megapixel photo or the
UV canvas). Parts of the image can be replaced in place (:meth:`ImageView.update_region`),
so a brush stroke repaints a few thousand pixels, not the whole photo. Mouse
drags with the left button are reported as strokes in image pixel coordinates
when :attr:`ImageView.painting` is on; otherwise they pan. The wheel zooms about
the cursor; double-click fits the image to the view.

:class:`CompareView` adds a draggable before/after split: the original photo on
the left of the divider, the edited one on the right.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from facecraft.core.editing.rect import Rect

ZOOM_STEP = 1.2
ZOOM_LIMITS = (0.02, 40.0)


def to_qimage(pixels: np.ndarray) -> QImage:
    """A QImage copy of ``(H, W)`` or ``(H, W, C)`` uint8/uint16 pixels (C in 1..4) or floats in [0, 1]."""
    array = np.asarray(pixels)
    if array.dtype.kind == "f":
        array = np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    channels = array.shape[2]
    if channels == 1:
        array = np.repeat(array, 3, axis=2)
    elif channels == 2:
        array = np.concatenate([np.repeat(array[..., :1], 3, axis=2), array[..., 1:]], axis=2)
    array = np.ascontiguousarray(array)
    height, width, channels = array.shape
    fmt = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
    return QImage(array.data, width, height, channels * width, fmt).copy()


class ImageItem(QGraphicsItem):
    """Draws a QImage it owns; parts are replaced in place and only the exposed area is drawn.

    (A ``QGraphicsPixmapItem`` would copy a whole 12-megapixel pixmap for every brush dab.)
    """

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.image = QImage()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def set_image(self, image: QImage) -> None:
        """Show ``image`` through the item's own copy-on-write handle: patches never reach other views."""
        self.prepareGeometryChange()
        self.image = QImage(image)
        self.update()

    def replace(self, left: int, top: int, patch: QImage) -> None:
        """Paint ``patch`` over the image at ``(left, top)`` and schedule a repaint of just that area."""
        if self.image.isNull():
            return
        painter = QPainter(self.image)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(left, top, patch)
        painter.end()
        self.update(QRectF(left, top, patch.width(), patch.height()))

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(0, 0, self.image.width(), self.image.height())

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self.image.isNull():
            return
        exposed = option.exposedRect.toAlignedRect().intersected(self.image.rect())  # type: ignore[attr-defined]
        if exposed.isEmpty():
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(exposed, self.image, exposed)


class ImageView(QGraphicsView):
    """Shows an image; zoom, pan, and strokes in image pixels.

    Signals:
        stroke_started(float, float): left button pressed at image ``(x, y)`` while painting.
        stroke_moved(float, float): dragged to ``(x, y)``.
        stroke_finished(): button released.
        clicked(float, float): a left click (press and release without a drag) at ``(x, y)``.
    """

    stroke_started = Signal(float, float)
    stroke_moved = Signal(float, float)
    stroke_finished = Signal()
    clicked = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setBackgroundBrush(QColor(45, 45, 48))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._item = ImageItem()
        self.scene().addItem(self._item)
        self._painting = False
        self._stroking = False
        self._press: QPointF | None = None
        self._fit_pending = True
        self.placeholder = ""

    # -- content ----------------------------------------------------------------------------------

    @property
    def image_size(self) -> tuple[int, int]:
        """``(height, width)`` of the shown image (0, 0 when empty)."""
        image = self._item.image
        return (image.height(), image.width()) if not image.isNull() else (0, 0)

    def set_image(self, pixels: np.ndarray | QImage | None, fit: bool = False) -> None:
        """Show ``pixels`` (see :func:`to_qimage`; a QImage is shared, not copied); None clears.

        ``fit`` re-fits the view.
        """
        if pixels is None:
            self._item.set_image(QImage())
            self.viewport().update()
            return
        image = pixels if isinstance(pixels, QImage) else to_qimage(pixels)
        size_changed = self.image_size != (image.height(), image.width())
        self._item.set_image(image)
        self.scene().setSceneRect(QRectF(0, 0, image.width(), image.height()))
        if fit or size_changed:
            self.fit()

    def update_region(self, pixels: np.ndarray, rect: Rect) -> None:
        """Replace the part of the shown image inside ``rect`` with the same part of ``pixels``."""
        height, width = self.image_size
        rect = rect.clip(height, width)
        if rect.empty or pixels.shape[:2] != (height, width):
            return
        rows, cols = rect.slices()
        self._item.replace(rect.left, rect.top, to_qimage(pixels[rows, cols]))

    def fit(self) -> None:
        """Fit the whole image in the view."""
        if self.image_size == (0, 0):
            return
        if not self.isVisible() or self.viewport().width() < 10:
            self._fit_pending = True
            return
        self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
        self._fit_pending = False

    @property
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return float(self.transform().m11())

    # -- painting ---------------------------------------------------------------------------------

    @property
    def painting(self) -> bool:
        """Whether left drags paint (True) or pan (False)."""
        return self._painting

    def set_painting(self, painting: bool) -> None:
        self._painting = bool(painting)
        self.setDragMode(QGraphicsView.DragMode.NoDrag if painting else QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if painting else Qt.CursorShape.OpenHandCursor)

    def image_point(self, position: QPointF) -> QPointF:
        """Image pixel coordinates (pixel centres at integers) of a viewport position."""
        scene = self.mapToScene(position.toPoint())
        return QPointF(scene.x() - 0.5, scene.y() - 0.5)

    # -- Qt events --------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()
            if self._painting and self.image_size != (0, 0):
                point = self.image_point(event.position())
                self._stroking = True
                self.stroke_started.emit(point.x(), point.y())
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._stroking:
            point = self.image_point(event.position())
            self.stroke_moved.emit(point.x(), point.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            press, self._press = self._press, None
            if self._stroking:
                self._stroking = False
                self.stroke_finished.emit()
            if press is not None and (event.position() - press).manhattanLength() < 4:
                point = self.image_point(event.position())
                self.clicked.emit(point.x(), point.y())
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if not self._painting:
            self.fit()
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        notches = event.angleDelta().y() / 120.0
        if notches == 0:
            return
        factor = ZOOM_STEP**notches
        zoom = self.zoom * factor
        if ZOOM_LIMITS[0] <= zoom <= ZOOM_LIMITS[1]:
            self.scale(factor, factor)
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._fit_pending:
            self.fit()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt override
        if self.image_size == (0, 0) and self.placeholder:
            painter.save()
            painter.resetTransform()
            painter.setPen(QColor(190, 190, 190))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            painter.restore()


class CompareView(ImageView):
    """The edited photo with the original shown left of a draggable divider (before | after)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._clip = QGraphicsRectItem()
        self._clip.setPen(QPen(Qt.PenStyle.NoPen))
        self._clip.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, True)
        self._before = ImageItem(self._clip)
        self._divider = QGraphicsLineItem()
        pen = QPen(QColor(255, 255, 255, 220))
        pen.setCosmetic(True)
        pen.setWidth(2)
        self._divider.setPen(pen)
        self.scene().addItem(self._clip)
        self.scene().addItem(self._divider)
        self._split = 0.0
        self._boxes: list[QGraphicsRectItem] = []

    def set_boxes(self, boxes: list, chosen: int) -> None:
        """Outline faces ``(x0, y0, x1, y1)`` (image pixels); the ``chosen`` one solid, the others dashed."""
        for item in self._boxes:
            self.scene().removeItem(item)
        self._boxes = []
        for index, (x0, y0, x1, y1) in enumerate(boxes):
            pen = QPen(QColor(80, 200, 255) if index == chosen else QColor(255, 255, 255))
            pen.setCosmetic(True)
            pen.setWidth(2)
            if index != chosen:
                pen.setStyle(Qt.PenStyle.DashLine)
            item = QGraphicsRectItem(QRectF(x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0))
            item.setPen(pen)
            item.setZValue(5)
            item.setToolTip("The face being edited" if index == chosen else "Click to edit this face")
            self.scene().addItem(item)
            self._boxes.append(item)

    @property
    def split(self) -> float:
        """Fraction of the width showing the original (0 = all edited)."""
        return self._split

    def set_before(self, pixels: np.ndarray | QImage | None) -> None:
        """The original photo (same size as the edited one; a QImage is shared, not copied)."""
        if pixels is None:
            pixels = QImage()
        self._before.set_image(pixels if isinstance(pixels, QImage) else to_qimage(pixels))
        self.set_split(self._split)

    def set_split(self, fraction: float) -> None:
        self._split = float(np.clip(fraction, 0.0, 1.0))
        height, width = self.image_size
        x = self._split * width
        self._clip.setRect(QRectF(0, 0, x, height))
        self._divider.setLine(x, 0, x, height)
        self._divider.setVisible(0.0 < self._split < 1.0)
