"""Sessions: save → load gives the same edited photo; damaged or foreign files are refused cleanly."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from facecraft.core.editing.document import BrushSettings, EditDocument
from facecraft.core.editing.editor import FaceEditor
from facecraft.core.editing.layers import LayerKind, MakeupSpec, StickerPlacement, TransferSpec
from facecraft.core.editing.reference import build_reference
from facecraft.core.editing.transfer import add_transfer
from facecraft.core.io.image_read import load_image
from facecraft.core.io.session import SessionError, load_session, save_session
from facecraft.core.resources import resource_path

PHOTO = resource_path("samples/astronaut.jpg")


@pytest.fixture
def edited(astronaut_decomposition, template):
    editor = FaceEditor(load_image(PHOTO).original, astronaut_decomposition, template)
    document = editor.document
    sticker = np.zeros((40, 60, 4), np.uint8)
    sticker[5:35, 5:55] = (250, 200, 20, 200)
    document.add_sticker(sticker, StickerPlacement((0.4, 0.4), 0.1, 30.0), tattoo=True)
    document.add_makeup(MakeupSpec("cheeks", (0.9, 0.4, 0.5), 0.5))
    layer = document.add_paint_layer()
    stroke = document.begin_stroke(layer, BrushSettings((0.1, 0.2, 0.9), 14.0, 0.5, 0.8))
    stroke.add_points(np.array([[500.0, 600.0], [700.0, 640.0]]))
    document.end_stroke(stroke)
    document.set_layer(layer, opacity=0.7)
    editor.refresh(None)
    return editor


def save(editor, path):
    save_session(
        path, PHOTO.read_bytes(), PHOTO.name, editor.decomposition, editor.document.layers, editor.canvas_size
    )


def test_save_then_load_renders_the_same_photo(edited, tmp_path, template):
    path = tmp_path / "face.facecraft"
    save(edited, path)
    loaded = load_session(path)
    assert loaded.photo_bytes == PHOTO.read_bytes()
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in edited.document.layers]
    assert loaded.layers[0].placement == edited.document.layers[0].placement
    assert loaded.layers[1].makeup == edited.document.layers[1].makeup
    for name in ("shape", "albedo", "lighting", "camera", "landmarks68", "visibility"):
        assert np.array_equal(getattr(loaded.decomposition, name), getattr(edited.decomposition, name)), name
    document = EditDocument(loaded.canvas_size, template, loaded.layers)
    again = FaceEditor(loaded.photo.original, loaded.decomposition, template, document=document)
    assert np.array_equal(again.edited_photo, edited.edited_photo)
    # the sticker layer can still be moved after loading
    again.document.place_sticker(again.document.layers[0], StickerPlacement((0.5, 0.4), 0.1, 0.0))


def damaged_copies(path):
    data = path.read_bytes()
    yield "truncated", data[: len(data) // 2]
    yield "random bytes", bytes(range(256)) * 40
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    yield "a foreign zip", buffer.getvalue()
    for member, change in (
        ("session.json", lambda m: {**m, "format": "something-else"}),
        ("session.json", lambda m: {**m, "version": 99}),
        ("session.json", lambda m: {**m, "layers": [{"kind": "paint"}]}),
        ("session.json", lambda m: {**m, "canvas_size": [10, 10]}),
        ("decomposition.npz", None),
    ):
        with zipfile.ZipFile(path) as source:
            members = {info.filename: source.read(info) for info in source.infolist()}
        if change is None:
            arrays = dict(np.load(io.BytesIO(members[member])))
            arrays["shape"] = arrays["shape"][:10]
            out = io.BytesIO()
            np.savez(out, **arrays)
            members[member] = out.getvalue()
        else:
            members[member] = json.dumps(change(json.loads(members[member]))).encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, content in members.items():
                archive.writestr(name, content)
        yield f"edited {member}", buffer.getvalue()


def test_damaged_and_foreign_files_are_refused_with_a_message(edited, tmp_path):
    good = tmp_path / "good.facecraft"
    save(edited, good)
    for label, data in damaged_copies(good):
        bad = tmp_path / "bad.facecraft"
        bad.write_bytes(data)
        with pytest.raises(SessionError) as caught:
            load_session(bad)
        message = str(caught.value)
        assert str(bad) in message, label
        assert any(word in message for word in ("not a FaceCraft session", "damaged", "newer")), (
            label,
            message,
        )
    with pytest.raises(SessionError, match="no such file"):
        load_session(tmp_path / "missing.facecraft")


def test_a_session_never_unpickles(edited, tmp_path):
    path = tmp_path / "pickle.facecraft"
    save(edited, path)
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    arrays = dict(np.load(io.BytesIO(members["decomposition.npz"])))
    arrays["shape"] = np.array([{"evil": 1}], dtype=object)
    out = io.BytesIO()
    np.savez(out, **arrays)
    members["decomposition.npz"] = out.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(SessionError, match="damaged"):
        load_session(path)


def test_an_unwritable_path_fails_cleanly_and_keeps_the_old_file(edited, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SessionError, match="could not be saved"):
        save(edited, blocker / "face.facecraft")
    path = tmp_path / "face.facecraft"
    save(edited, path)
    before = path.read_bytes()
    def disk_full(descriptor):
        # the real atomic writer has written the whole temporary; flushing it to disk fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("facecraft.core.io.atomic.os.fsync", disk_full)
    with pytest.raises(SessionError, match="No space left"):
        save(edited, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.facecraft", "file"]


def test_a_session_file_starts_as_its_mime_type_says(edited, tmp_path):
    # packaging/facecraft-session.xml recognises a session by a zip whose first member is session.json
    path = tmp_path / "face.facecraft"
    save(edited, path)
    head = path.read_bytes()[:42]
    assert head[:4] == b"PK\x03\x04" and head[30:42] == b"session.json"


def test_a_transfer_layer_reloads_with_its_spec_and_renders_the_same(
    astronaut_decomposition, reference_rgb, reference_decomposition, template, tmp_path
):
    editor = FaceEditor(load_image(PHOTO).original, astronaut_decomposition, template)
    reference = build_reference(
        reference_rgb, reference_decomposition, template, editor.canvas_size, "reference.png"
    )
    spec = TransferSpec("reference.png", ("lips", "cheeks"), "colour", 0.5)
    layer, _ = add_transfer(editor.document, editor.base_albedo(), reference, spec)
    editor.document.set_layer(layer, opacity=0.8)
    editor.refresh(None)
    path = tmp_path / "transfer.facecraft"
    save(editor, path)
    loaded = load_session(path)
    (again,) = loaded.layers
    assert again.transfer == spec and again.kind is LayerKind.COLOUR_COPY and again.opacity == 0.8
    assert np.array_equal(again.pixels, layer.pixels)
    document = EditDocument(loaded.canvas_size, template, loaded.layers)
    reloaded = FaceEditor(loaded.photo.original, loaded.decomposition, template, document=document)
    assert np.array_equal(reloaded.edited_photo, editor.edited_photo)
