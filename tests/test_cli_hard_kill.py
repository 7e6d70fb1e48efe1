"""``facecraft decompose`` killed with SIGKILL while it writes a photo's files (issue 16).

A real ``facecraft decompose`` process on a 4-megapixel photo is killed at instants spread over
its write phase (from the moment its hidden stage appears). After every kill the output folder
must hold either no JSON or the whole set of 14 readable files; each next run cleans what the
killed one left, and the last one, left alone, ends with exactly the 14 files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from facecraft.core.io.output_set import STAGE_PREFIX
from facecraft.core.io.records import UV_MAPS
from facecraft.core.resources import resource_path

STEM = "portrait"
OUTPUTS = sorted(
    [f"{STEM}_uv_{name}.png" for name in UV_MAPS]
    + [STEM + end for end in (".json", ".obj", ".mtl", "_albedo.png", ".ply", "_render.png", "_mask.png")]
)
KILL_DELAYS_S = (0.0, 0.05, 0.15, 0.3, 0.5, 0.8, 1.2)
"""After the stage appears; the write phase of this photo takes about a second here."""


def start_decompose(photo: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "facecraft", "decompose", str(photo), "--out", str(out)]
    return subprocess.Popen(
        [*command, "--fidelity", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def wait_for_stage(child: subprocess.Popen, out: Path, timeout_s: float = 120.0) -> bool:
    """True once the child's stage exists; False when the child ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(out.glob(f"{STAGE_PREFIX}*")):
            return True
        if child.poll() is not None:
            return False
        time.sleep(0.002)
    raise AssertionError("decompose did not start writing in time")


def check_complete_or_absent(out: Path) -> bool:
    """True when the folder holds the whole set; fails the test on a JSON without its files."""
    if not (out / f"{STEM}.json").exists():
        return False
    finished = sorted(path.name for path in out.iterdir() if not path.name.startswith("."))
    assert finished == OUTPUTS
    assert json.loads((out / f"{STEM}.json").read_text())["face_count"] == 1
    for name in OUTPUTS:
        if name.endswith(".png"):
            Image.open(out / name).load()  # complete, decodable
    assert (out / f"{STEM}.obj").read_text().rstrip().endswith(tuple("0123456789"))
    return True


@pytest.mark.slow
def test_decompose_killed_during_its_write_phase(tmp_path):
    photo = tmp_path / f"{STEM}.jpg"
    Image.open(resource_path("samples/astronaut.jpg")).resize((2048, 2048)).save(photo, quality=92)
    out = tmp_path / "out"
    landed_in_write_phase = 0
    for delay in KILL_DELAYS_S:
        child = start_decompose(photo, out)
        if wait_for_stage(child, out):
            time.sleep(delay)
            landed_in_write_phase += child.poll() is None
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        check_complete_or_absent(out)
    assert landed_in_write_phase >= 3  # most kills really did cut a write phase

    child = start_decompose(photo, out)  # a later run, left alone
    _, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    assert check_complete_or_absent(out)
    assert sorted(path.name for path in out.iterdir()) == OUTPUTS  # no stage, no temporary left


def test_a_later_run_says_what_it_cleaned(tmp_path, capsys):
    from facecraft.launcher import main

    out = tmp_path / "out"
    stale = out / f"{STAGE_PREFIX}astronaut-dead"
    stale.mkdir(parents=True)
    (stale / ".lock").write_bytes(b"")
    (stale / "astronaut_render.png").write_bytes(b"half")
    photo = resource_path("samples/astronaut.jpg")
    assert main(["decompose", str(photo), "--out", str(out), "--fidelity", "0"]) == 0
    err = capsys.readouterr().err
    assert f"{stale}: an interrupted run's stage; removed the unfinished outputs" in err
    assert not stale.exists()
    assert len(list(out.iterdir())) == 14
