"""How the training process runs on a shared CPU: allocator, threads and priority.

Measured on the 2-core development machine (issue 12): at batch 32 glibc's
allocator collapses to 4.6 img/s while jemalloc, with its page decay turned off,
keeps 22 img/s. jemalloc must be preloaded before Python starts, so the training
command re-executes itself once with ``LD_PRELOAD`` set when the library is
installed (Debian: ``libjemalloc2``), and carries on with the system allocator
when it is not.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

JEMALLOC_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
    "/usr/local/lib/libjemalloc.so.2",
)
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
_RELAUNCHED = "FACECRAFT_JEMALLOC_RELAUNCHED"


def find_jemalloc(candidates: Sequence[str] = JEMALLOC_CANDIDATES) -> Path | None:
    """The first installed jemalloc shared library, or ``None``."""
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def jemalloc_active() -> bool:
    """Whether this process was started with jemalloc preloaded."""
    return "jemalloc" in os.environ.get("LD_PRELOAD", "")


def relaunch_with_jemalloc(module: str, argv: Sequence[str]) -> None:
    """Re-execute ``python -m module argv`` with jemalloc preloaded; returns only when that is not possible.

    Nothing happens when jemalloc is already active, is not installed, or a relaunch was
    already tried (so a broken library cannot loop).
    """
    if jemalloc_active() or os.environ.get(_RELAUNCHED):
        return
    library = find_jemalloc()
    if library is None:
        print("note: jemalloc not found (apt-get install libjemalloc2); using the system allocator",
              file=sys.stderr)
        return
    preload = " ".join(filter(None, [str(library), os.environ.get("LD_PRELOAD", "")]))
    env = os.environ | {"LD_PRELOAD": preload, "MALLOC_CONF": JEMALLOC_CONF, _RELAUNCHED: "1"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)


def set_threads(threads: int | None) -> None:
    """Use ``threads`` intra-op threads (``None``: torch's default)."""
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def lower_priority(niceness: int) -> None:
    """Be ``nice``: background training yields the CPU to interactive work."""
    if niceness > 0 and hasattr(os, "nice"):
        os.nice(niceness)
