"""The ``facecraft`` command: version, help, detect, and bad photos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from facecraft import __version__
from facecraft.core.resources import resource_path
from facecraft.launcher import main

ASTRONAUT = resource_path("samples/astronaut.jpg")


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"facecraft {__version__}"


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "detect" in capsys.readouterr().out


def test_detect_writes_json_per_photo(tmp_path: Path):
    assert main(["detect", str(ASTRONAUT), "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "astronaut.faces.json").read_text())
    assert (record["width"], record["height"]) == (512, 512)
    assert len(record["faces"]) == 1
    landmarks = record["faces"][0]["landmarks68"]
    assert len(landmarks) == 68 and all(len(p) == 2 for p in landmarks)
    assert [p.name for p in tmp_path.iterdir()] == ["astronaut.faces.json"]  # no temp files left


def test_bad_photos_are_reported_and_skipped(tmp_path: Path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_text("not a photo")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), (120, 120, 120)).save(blank)
    code = main(["detect", str(broken), str(blank), str(ASTRONAUT), "--out", str(tmp_path / "out")])
    assert code == 1
    err = capsys.readouterr().err
    assert "broken.jpg: not an image" in err and "blank.png: no face found" in err
    assert "Traceback" not in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["astronaut.faces.json"]


def test_messages_name_the_file_once():
    from facecraft.core.errors import naming_file

    assert naming_file(Path("shots/a.jpg"), "no face was found") == "shots/a.jpg: no face was found"
    assert naming_file("shots/a.jpg", "shots/a.jpg: the file is empty") == "shots/a.jpg: the file is empty"


def test_console_script_runs_detect_on_the_sample_photo():
    result = subprocess.run([sys.executable, "-m", "facecraft", "detect"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["faces"][0]["box"]
