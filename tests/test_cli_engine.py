"""``facecraft decompose`` and ``facecraft edit`` end to end on the sample photo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facecraft.core.io.image_read import load_image
from facecraft.core.io.records import UV_MAPS
from facecraft.core.resources import resource_path
from facecraft.launcher import main

ASTRONAUT = resource_path("samples/astronaut.jpg")


def test_decompose_writes_every_output(tmp_path: Path):
    assert main(["decompose", str(ASTRONAUT), "--out", str(tmp_path), "--fidelity", "0"]) == 0
    record = json.loads((tmp_path / "astronaut.json").read_text())
    assert (record["width"], record["height"], record["face_count"]) == (512, 512, 1)
    landmarks = np.array(record["landmarks68"])
    assert landmarks.shape == (68, 2)
    detected = np.array(record["detected_landmarks68"])
    assert np.linalg.norm(landmarks - detected, axis=1).mean() < 8.0
    assert set(record["camera"]) == {"scale", "pitch", "yaw", "roll", "tx", "ty"}
    assert np.array(record["lighting"]).shape == (3, 9)
    assert {"detection", "encoder", "maps", "render_full_resolution"} <= set(record["timings_ms"])
    assert "faces" not in record
    for name in UV_MAPS:
        assert Image.open(tmp_path / f"astronaut_uv_{name}.png").size == (224, 192)
    render = load_image(tmp_path / "astronaut_render.png").original
    mask = load_image(tmp_path / "astronaut_mask.png").original[..., 0]
    photo = load_image(ASTRONAUT).original
    assert render.shape == photo.shape and mask.shape == photo.shape[:2]
    assert np.array_equal(render[mask == 0], photo[mask == 0])
    assert "map_Kd astronaut_albedo.png" in (tmp_path / "astronaut.mtl").read_text()
    import trimesh

    mesh = trimesh.load(tmp_path / "astronaut.obj", process=False, force="mesh")
    assert len(mesh.faces) > 10_000 and mesh.visual.uv.shape == (len(mesh.vertices), 2)
    assert mesh.visual.material.image.size == Image.open(tmp_path / "astronaut_albedo.png").size
    assert min(mesh.visual.material.image.size) >= 1024
    assert (mesh.face_normals[:, 2] > 0).mean() > 0.9  # faces point out, towards the viewer
    ply = trimesh.load(tmp_path / "astronaut.ply", process=False)
    assert len(ply.vertices) == len(mesh.vertices) and ply.visual.vertex_colors.shape[1] == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries


def test_a_failed_export_leaves_none_of_that_photos_files(tmp_path: Path, monkeypatch, capsys):
    from facecraft.core.errors import ExportError

    def fail(*args, **kwargs):
        raise ExportError("astronaut.obj: the disk is full")

    monkeypatch.setattr("facecraft.core.io.records.write_textured_obj", fail)
    assert main(["decompose", str(ASTRONAUT), "--out", str(tmp_path), "--fidelity", "0"]) == 1
    assert "the disk is full" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_edit_respects_exif_orientation(tmp_path: Path):
    photo = Image.open(ASTRONAUT)
    rotated = photo.rotate(90, expand=True)  # stored turned a quarter anticlockwise ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... with the tag "turn a quarter clockwise to display"
    sideways = tmp_path / "sideways.jpg"
    rotated.save(sideways, exif=exif, quality=98)
    (tmp_path / "recipe.json").write_text('{"fidelity": 0, "edits": []}')
    out = tmp_path / "edited.jpg"
    assert main(["edit", str(sideways), "--recipe", str(tmp_path / "recipe.json"), "--out", str(out)]) == 0
    edited = Image.open(out)
    assert edited.size == photo.size and edited.getexif().get(0x0112, 1) == 1
    difference = np.abs(np.asarray(edited, dtype=int) - np.asarray(photo, dtype=int)).mean()
    assert difference < 4  # upright, the same picture (two JPEG generations apart)


def test_decompose_all_faces_lists_each_one(tmp_path: Path, astronaut_rgb):
    import cv2

    canvas = np.full((520, 1100, 3), 200, np.uint8)
    canvas[4:516, 10:522] = astronaut_rgb
    canvas[40:480, 640:1080] = cv2.resize(astronaut_rgb, (440, 440), interpolation=cv2.INTER_AREA)
    photo = tmp_path / "two.png"
    Image.fromarray(canvas).save(photo)
    out = tmp_path / "out"
    assert main(["decompose", str(photo), "--out", str(out), "--fidelity", "0", "--all-faces"]) == 0
    record = json.loads((out / "two.json").read_text())
    assert record["face_count"] == 2 and len(record["faces"]) == 2
    assert record["faces"][0]["landmarks68"] == record["landmarks68"]
    assert np.array(record["faces"][1]["landmarks68"])[:, 0].min() > 640


def test_one_bad_photo_is_reported_and_the_rest_processed(tmp_path: Path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(blank)
    out = tmp_path / "out"
    code = main(["decompose", str(broken), str(blank), str(ASTRONAUT), "--out", str(out), "--fidelity", "0"])
    assert code == 1
    errors = capsys.readouterr().err
    assert f"{broken}: not an image" in errors and f"{blank}: no face was found" in errors
    assert errors.count(str(broken)) == 1 and errors.count(str(blank)) == 1  # named once, not twice
    assert str(ASTRONAUT) not in errors
    assert (out / "astronaut.json").is_file()
    assert not any(p.name.startswith(("broken", "blank")) for p in out.iterdir())


def test_an_unwritable_output_folder_is_a_message_not_a_traceback(tmp_path: Path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["decompose", str(ASTRONAUT), "--out", str(blocker / "out"), "--fidelity", "0"]) == 1
    assert "cannot create the output folder" in capsys.readouterr().err


def test_edit_of_a_photo_without_a_face_names_the_photo(tmp_path: Path, capsys):
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(blank)
    (tmp_path / "recipe.json").write_text('{"fidelity": 0, "edits": []}')
    out = tmp_path / "edited.png"
    assert main(["edit", str(blank), "--recipe", str(tmp_path / "recipe.json"), "--out", str(out)]) == 1
    errors = capsys.readouterr().err
    assert f"facecraft: {blank}: no face was found" in errors and errors.count(str(blank)) == 1
    assert not out.exists()


def make_sticker(path: Path) -> None:
    sticker = np.zeros((80, 80, 4), np.uint8)
    yy, xx = np.mgrid[:80, :80]
    sticker[(yy - 40) ** 2 + (xx - 40) ** 2 < 36**2] = (20, 60, 230, 255)
    Image.fromarray(sticker).save(path)


def test_edit_applies_a_recipe_and_writes_the_edited_photo(tmp_path: Path):
    make_sticker(tmp_path / "dot.png")
    recipe = {
        "fidelity": 0.0,
        "edits": [
            {"type": "sticker", "image": "dot.png", "centre": [0.62, 0.45], "width": 0.08},
            {"type": "makeup", "region": "lips", "colour": "#b3243c", "strength": 0.7},
            {"type": "brush", "points": [[205, 135], [240, 138]], "radius": 3, "colour": "#20c040"},
        ],
    }
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    out = tmp_path / "edited.png"
    session = tmp_path / "edited.facecraft"
    code = main(
        [
            "edit",
            str(ASTRONAUT),
            "--recipe",
            str(tmp_path / "recipe.json"),
            "--out",
            str(out),
            "--session",
            str(session),
            "--mesh",
            str(tmp_path / "mesh" / "edited.obj"),
        ]
    )
    assert code == 0
    edited = load_image(out).original
    photo = load_image(ASTRONAUT).original
    changed = (edited.astype(int) != photo.astype(int)).any(-1)
    assert 150 < changed.sum() < 0.05 * changed.size
    assert session.is_file() and (tmp_path / "mesh" / "edited_albedo.png").is_file()


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ("{not json", "not a readable JSON recipe"),
        ('{"edits": [{"type": "glitter"}]}', '"type" must be one of'),
        ('{"edits": [{"type": "makeup", "region": "nose"}]}', '"region" must be one of'),
        ('{"edits": [{"type": "sticker", "image": "missing.png"}]}', "missing.png"),
        ('{"fidelity": 3}', "fidelity must be in"),
    ],
)
def test_a_bad_recipe_is_a_clear_message(tmp_path: Path, capsys, recipe, message):
    (tmp_path / "recipe.json").write_text(recipe)
    out = tmp_path / "edited.png"
    code = main(["edit", str(ASTRONAUT), "--recipe", str(tmp_path / "recipe.json"), "--out", str(out)])
    assert code == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_decompose_without_opengl_draws_the_render_on_the_cpu(tmp_path: Path, monkeypatch, capsys):
    from facecraft.core.editing import reconstruction
    from facecraft.core.render.gl import GLError

    def no_driver():
        raise GLError("could not create a headless OpenGL context (no libEGL)")

    monkeypatch.setattr(reconstruction, "create_headless_context", no_driver)
    assert main(["decompose", str(ASTRONAUT), "--out", str(tmp_path), "--fidelity", "0"]) == 0
    assert (
        "drew the renders on the CPU: could not create a headless OpenGL context" in capsys.readouterr().err
    )
    render = load_image(tmp_path / "astronaut_render.png").original
    mask = load_image(tmp_path / "astronaut_mask.png").original[..., 0]
    photo = load_image(ASTRONAUT).original
    assert np.array_equal(render[mask == 0], photo[mask == 0]) and (mask == 255).sum() > 5000
