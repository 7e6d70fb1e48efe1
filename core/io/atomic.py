"""Atomic file writes: a file is either its old self or completely new, never half written.

This holds across a hard kill or a power cut too: the new content is flushed to disk under a
hidden temporary name, renamed over the old file, and the rename is flushed. A kill at the wrong
instant can leave that hidden ``.<name>.<random>.tmp`` beside the file, never a damaged file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes_atomically(path: str | Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``.

    Args:
        path: the destination; its folder is created when missing.
        data: the whole content.
        mode: permissions of the new file (``mkstemp`` alone would give 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).chmod(mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Flush the rename to disk (POSIX), so that after a power cut the file is the new one or the old."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
