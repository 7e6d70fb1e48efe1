"""The edit document: every operation undoes and redoes, the flattened maps follow, history is bounded."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft.core.editing import document as document_module
from facecraft.core.editing.document import BrushSettings, EditDocument
from facecraft.core.editing.layers import LayerKind, MakeupSpec, StickerPlacement, flatten

SIZE = (192, 224)


@pytest.fixture
def doc(template):
    return EditDocument(SIZE, template)


def square_sticker():
    sticker = np.zeros((20, 20, 4), np.uint8)
    sticker[2:18, 2:18] = (200, 30, 30, 255)
    return sticker


def reference(doc):
    multiplier, addend = np.ones((*SIZE, 3), np.float32), np.zeros((*SIZE, 3), np.float32)
    flatten(doc.layers, multiplier, addend)
    return multiplier, addend


def test_every_operation_undoes_and_redoes(doc):
    states = [reference(doc)]
    layer = doc.add_paint_layer()
    states.append(reference(doc))
    stroke = doc.begin_stroke(layer, BrushSettings((0.1, 0.9, 0.1), 6.0, 0.8, 1.0))
    stroke.add_points([[50.0, 60.0], [120.0, 70.0]])
    doc.end_stroke(stroke)
    states.append(reference(doc))
    sticker = doc.add_sticker(square_sticker(), StickerPlacement((0.5, 0.5), 0.2, 10.0), tattoo=True)
    states.append(reference(doc))
    doc.place_sticker(sticker, StickerPlacement((0.3, 0.4), 0.3, 0.0))
    states.append(reference(doc))
    makeup = doc.add_makeup(MakeupSpec("lips", (0.8, 0.2, 0.3), 0.6))
    states.append(reference(doc))
    doc.set_makeup(makeup, MakeupSpec("cheeks", (0.9, 0.5, 0.5), 0.4))
    states.append(reference(doc))
    doc.set_layer(sticker, opacity=0.5, visible=True)
    states.append(reference(doc))
    doc.move_layer(makeup, 0)
    states.append(reference(doc))
    doc.remove_layer(layer)
    states.append(reference(doc))
    for expected in reversed(states[:-1]):
        doc.undo()
        assert np.allclose(doc.multiplier, expected[0]) and np.allclose(doc.addend, expected[1])
    assert not doc.can_undo and doc.layers == []
    for expected in states[1:]:
        doc.redo()
        assert np.allclose(doc.multiplier, expected[0]) and np.allclose(doc.addend, expected[1])
    assert [layer.kind for layer in doc.layers] == [LayerKind.MAKEUP, LayerKind.TATTOO]


def test_dragging_an_opacity_slider_is_one_undo_step(doc):
    layer = doc.add_paint_layer()
    for value in np.linspace(1.0, 0.2, 9):
        doc.set_layer(layer, opacity=float(value))
    doc.undo()
    assert layer.opacity == 1.0
    doc.undo()
    assert doc.layers == []


def test_brush_and_eraser_only_on_paint_layers(doc):
    sticker = doc.add_sticker(square_sticker(), StickerPlacement())
    with pytest.raises(ValueError, match="paint layer"):
        doc.begin_stroke(sticker, BrushSettings())
    with pytest.raises(ValueError, match="unknown layer properties"):
        doc.set_layer(sticker, colour="red")


def test_history_memory_is_bounded(doc, monkeypatch):
    monkeypatch.setattr(document_module, "HISTORY_BYTES", 3 * SIZE[0] * SIZE[1] * 4 * 2)
    sticker = doc.add_sticker(square_sticker(), StickerPlacement())
    for step in range(6):
        doc.place_sticker(sticker, StickerPlacement((0.2 + 0.1 * step, 0.5), 0.2, 0.0))
    undone = 0
    while doc.can_undo:
        doc.undo()
        undone += 1
    assert undone == 3  # only the newest moves fit in the budget
    assert sticker.placement.centre[0] == pytest.approx(0.2 + 0.1 * 2)
