"""Atomic writes (core/io/atomic.py): a file killed mid-save is its old self or the new one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from facecraft.core.io.atomic import write_bytes_atomically

CHILD = """
import sys
from facecraft.core.io.atomic import write_bytes_atomically
path, size = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
for index in range(1_000_000):
    write_bytes_atomically(path, bytes([index % 251]) * size)
"""


def test_writes_and_replaces(tmp_path):
    path = tmp_path / "sub" / "file.bin"
    write_bytes_atomically(path, b"old")
    write_bytes_atomically(path, b"new", mode=0o600)
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]


@pytest.mark.slow
def test_a_save_killed_at_any_instant_leaves_a_whole_file(tmp_path):
    # Session saves and the GUI's image and mesh exports all go through this writer.
    path = tmp_path / "face.facecraft"
    size = 3_000_000
    write_bytes_atomically(path, b"\xff" * size)
    for attempt in range(12):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(size)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.01 + 0.013 * attempt)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        data = path.read_bytes()
        assert len(data) == size and data == data[:1] * size, attempt  # one whole save, old or new
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != path.name]
    assert all(name.startswith(".face.facecraft.") and name.endswith(".tmp") for name in leftovers)
