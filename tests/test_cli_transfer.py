"""``facecraft edit`` with reference-photo edits and ``--turntable``, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import imageio
import numpy as np
import pytest

from facecraft.core.editing.layers import LayerKind
from facecraft.core.io.image_read import load_image
from facecraft.core.io.image_write import write_image
from facecraft.core.io.session import load_session
from facecraft.core.resources import resource_path
from facecraft.launcher import main

ASTRONAUT = resource_path("samples/astronaut.jpg")


def test_edit_copies_from_a_reference_relights_and_writes_a_turntable(tmp_path: Path, astronaut_rgb):
    write_image(tmp_path / "b.png", np.ascontiguousarray(astronaut_rgb[:, ::-1, [2, 0, 1]]))
    recipe = {
        "fidelity": 0.0,
        "edits": [
            {"type": "transfer", "reference": "b.png", "regions": ["lips", "eyelids"], "strength": 0.8},
            {"type": "light", "reference": "b.png", "mix": 1.0},
        ],
    }
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    out, session, video = tmp_path / "edited.png", tmp_path / "edited.facecraft", tmp_path / "turn.gif"
    arguments = ["edit", str(ASTRONAUT), "--recipe", str(tmp_path / "recipe.json"), "--out", str(out)]
    extras = ["--session", str(session), "--turntable", str(video), "--turntable-seconds", "0.5"]
    assert main([*arguments, *extras, "--turntable-size", "128"]) == 0
    edited, photo = load_image(out).original, load_image(ASTRONAUT).original
    assert (edited != photo).any(-1).sum() > 1000
    loaded = load_session(session)
    (layer,) = loaded.layers
    assert layer.kind is LayerKind.COLOUR_COPY and layer.transfer.regions == ("lips", "eyelids")
    assert loaded.lighting is not None
    frames = list(imageio.get_reader(video))
    assert len(frames) == 15 and frames[0].shape[:2] == (128, 128)


def test_a_reference_without_a_face_is_reported_and_nothing_is_written(tmp_path: Path, capsys):
    write_image(tmp_path / "wall.png", np.full((100, 100, 3), 80, np.uint8))
    recipe = {"fidelity": 0.0, "edits": [{"type": "light", "reference": "wall.png"}]}
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    out = tmp_path / "edited.png"
    code = main(["edit", str(ASTRONAUT), "--recipe", str(tmp_path / "recipe.json"), "--out", str(out)])
    assert code == 1
    assert "wall.png: cannot be used as a reference" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--turntable", "turn.avi"], "a turntable is written as .mp4 or .gif"),
        (["--turntable", "turn.gif", "--turntable-size", "7"], "frame size must be an even number"),
    ],
)
def test_bad_turntable_options_are_refused_up_front(tmp_path: Path, capsys, extra, message):
    (tmp_path / "recipe.json").write_text('{"edits": []}')
    out = tmp_path / "edited.png"
    arguments = ["edit", str(ASTRONAUT), "--recipe", str(tmp_path / "recipe.json"), "--out", str(out)]
    if extra[1].endswith(".avi"):  # refused by the argument parser
        with pytest.raises(SystemExit):
            main([*arguments, *extra])
    else:
        assert main([*arguments, *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
