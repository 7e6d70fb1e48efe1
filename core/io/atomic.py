"""Atomic file writes: a file is either its old self or completely new, never half written.

This holds across a hard kill or a power cut too: the new content is flushed to disk under a
hidden temporary name, renamed over the old file, and the rename is flushed. A kill at the wrong
instant can leave that hidden ``.<name>.<random>.tmp`` beside the file, never a damaged file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import tempfile
from pathlib import Path

from facecraft.core.errors import ExportError


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


def write_files_together(contents: dict[Path, bytes]) -> None:
    """Write several files so that all of them appear or none of the new ones is left.

    Each file is first written atomically under a hidden temporary name beside
    its destination; only when all are on disk are they renamed into place.

    Raises:
        ExportError: a file could not be written, naming it and the reason.
    """
    staged: list[tuple[Path, Path]] = []
    committed: list[Path] = []
    current = next(iter(contents))
    try:
        for destination, data in contents.items():
            current = destination
            temporary = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.part")
            staged.append((temporary, destination))
            write_bytes_atomically(temporary, data)
        for temporary, destination in staged:
            current = destination
            temporary.replace(destination)
            committed.append(destination)
    except BaseException as exc:
        for leftover in [temporary for temporary, _ in staged] + committed:
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            reason = write_failure_reason(current, exc)
            raise ExportError(f"{current}: cannot write the file ({reason})") from exc
        raise


def write_failure_reason(path: Path, exc: OSError) -> str:
    """A user-facing reason for a failed write."""
    if isinstance(exc, PermissionError):
        return f"permission denied; is the folder {path.parent} writable?"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno == errno.EROFS:
        return "the disk is read-only"
    if isinstance(exc, IsADirectoryError):
        return "a folder of that name is in the way"
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return f"{path.parent} is not a folder, or part of its path is a file"
    return exc.strerror or str(exc) or type(exc).__name__
