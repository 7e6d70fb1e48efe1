"""On-canvas handles to move, scale and rotate the active sticker on the UV canvas.

The handles show the active sticker or tattoo layer's outline on the UV view.
Dragging inside moves it, dragging the corner square scales it (aspect kept),
dragging the round knob above rotates it. While dragging only the outline moves;
on release the new placement goes to the model as one undoable step.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from facecraft.app.image_view import ImageView
from facecraft.app.state import EditorState
from facecraft.core.editing.layers import Layer, StickerPlacement

HANDLE = 14.0
"""Handle size in screen pixels."""
KNOB_OFFSET = 40.0
"""How far above the sticker the rotation knob sits, screen pixels."""
MIN_WIDTH = 0.01
"""Smallest sticker width, as a fraction of the canvas width."""


class StickerHandles(QGraphicsObject):
    """The handles item; lives in an :class:`ImageView`'s scene showing the UV canvas.

    Args:
        view: the UV view (scene coordinates = canvas pixels, pixel ``[r, c]`` at ``(c + 0.5, r + 0.5)``).
    """

    def __init__(self, view: ImageView) -> None:
        super().__init__()
        self._view = view
        self._state: EditorState | None = None
        self._placement: StickerPlacement | None = None
        self._drag: str | None = None
        self._press = QPointF()
        self._start: StickerPlacement | None = None
        self._enabled = False
        self.setZValue(10)
        self.setVisible(False)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresParentOpacity, True)
        view.scene().addItem(self)

    def bind(self, state: EditorState) -> None:
        """Follow ``state``'s active layer (call again after a new decomposition: harmless)."""
        if self._state is not state:
            self._state = state
            state.active_layer_changed.connect(self._refresh)
            state.layers_changed.connect(self._refresh)
        self._refresh()

    def set_enabled(self, enabled: bool) -> None:
        """Show handles only while the sticker tool is on."""
        self._enabled = bool(enabled)
        self._refresh()

    # -- geometry ---------------------------------------------------------------------------------

    def _layer(self) -> Layer | None:
        state = self._state
        if state is None or state.document is None:
            return None
        layer = state.active_layer
        if (
            layer is None
            or layer.placement is None
            or layer.sticker is None
            or layer not in state.document.layers
        ):
            return None
        return layer

    def _refresh(self, *_: object) -> None:
        layer = self._layer()
        if not self._enabled or layer is None or self._drag is not None:
            self.setVisible(self._enabled and layer is not None and self._drag is not None)
            if self._drag is None:
                self._placement = None
            return
        self.prepareGeometryChange()
        self._placement = layer.placement
        self.setVisible(True)
        self.update()

    def _canvas(self) -> tuple[int, int]:
        state = self._state
        assert state is not None and state.document is not None
        return state.document.canvas_size

    def _box(self) -> tuple[QPointF, float, float, float]:
        """Centre (scene), width and height (scene units), rotation (degrees, counter-clockwise)."""
        placement, layer = self._placement, self._layer()
        assert placement is not None and layer is not None and layer.sticker is not None
        height, width = self._canvas()
        sticker_h, sticker_w = layer.sticker.shape[:2]
        box_w = placement.width * width
        return (
            QPointF(placement.centre[0] * width, placement.centre[1] * height),
            box_w,
            box_w * sticker_h / sticker_w,
            placement.rotation,
        )

    def _screen(self) -> float:
        """Scene units per screen pixel."""
        return 1.0 / max(self._view.zoom, 1e-6)

    def _corners(self) -> tuple[list[QPointF], QPointF]:
        centre, w, h, rotation = self._box()
        angle = math.radians(rotation)
        cos, sin = math.cos(angle), math.sin(angle)

        def at(dx: float, dy: float) -> QPointF:  # counter-clockwise on screen = y flipped
            return QPointF(centre.x() + dx * cos + dy * sin, centre.y() - dx * sin + dy * cos)

        corners = [at(-w / 2, -h / 2), at(w / 2, -h / 2), at(w / 2, h / 2), at(-w / 2, h / 2)]
        knob = at(0.0, -h / 2 - KNOB_OFFSET * self._screen())
        return corners, knob

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        if self._placement is None or self._layer() is None:
            return QRectF()
        corners, knob = self._corners()
        xs = [p.x() for p in [*corners, knob]]
        ys = [p.y() for p in [*corners, knob]]
        pad = HANDLE * self._screen()
        return QRectF(min(xs) - pad, min(ys) - pad, max(xs) - min(xs) + 2 * pad, max(ys) - min(ys) + 2 * pad)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.boundingRect())
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._placement is None or self._layer() is None:
            return
        corners, knob = self._corners()
        pen = QPen(QColor(255, 255, 255), 1.5)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPolygon(corners)
        top_mid = (corners[0] + corners[1]) / 2
        painter.drawLine(top_mid, knob)
        size = HANDLE * self._screen()
        painter.setBrush(QBrush(QColor(40, 140, 255)))
        painter.drawRect(QRectF(corners[2].x() - size / 2, corners[2].y() - size / 2, size, size))
        painter.drawEllipse(knob, size / 2, size / 2)

    # -- dragging ---------------------------------------------------------------------------------

    def _hit(self, point: QPointF) -> str | None:
        corners, knob = self._corners()
        size = HANDLE * self._screen()
        if (point - corners[2]).manhattanLength() <= size:
            return "scale"
        if (point - knob).manhattanLength() <= size:
            return "rotate"
        path = QPainterPath()
        path.addPolygon(corners)
        path.closeSubpath()
        return "move" if path.contains(point) else None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._placement is None:
            event.ignore()
            return
        self._drag = self._hit(event.scenePos())
        if self._drag is None:
            event.ignore()
            return
        self._press = event.scenePos()
        self._start = self._placement
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._drag is None or self._start is None:
            return
        self.prepareGeometryChange()
        self._placement = self.dragged(self._start, self._drag, self._press, event.scenePos())
        self.update()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 - Qt override
        drag, self._drag = self._drag, None
        layer, state = self._layer(), self._state
        if drag is None or layer is None or state is None or self._placement is None:
            return
        if self._placement != layer.placement:
            state.place_sticker(layer, self._placement)
        self._refresh()

    def dragged(self, start: StickerPlacement, drag: str, press: QPointF, now: QPointF) -> StickerPlacement:
        """The placement after dragging ``drag`` (move/scale/rotate) from ``press`` to ``now`` (scene)."""
        height, width = self._canvas()
        centre = QPointF(start.centre[0] * width, start.centre[1] * height)
        if drag == "move":
            delta = now - press
            return StickerPlacement(
                (start.centre[0] + delta.x() / width, start.centre[1] + delta.y() / height),
                start.width,
                start.rotation,
            )
        if drag == "scale":
            before = math.hypot(press.x() - centre.x(), press.y() - centre.y())
            after = math.hypot(now.x() - centre.x(), now.y() - centre.y())
            factor = after / max(before, 1e-6)
            return StickerPlacement(start.centre, max(MIN_WIDTH, start.width * factor), start.rotation)
        angle_before = math.degrees(math.atan2(-(press.y() - centre.y()), press.x() - centre.x()))
        angle_now = math.degrees(math.atan2(-(now.y() - centre.y()), now.x() - centre.x()))
        rotation = (start.rotation + angle_now - angle_before + 180.0) % 360.0 - 180.0
        return StickerPlacement(start.centre, start.width, rotation)
