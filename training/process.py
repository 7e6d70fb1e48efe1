"""How the training process runs on a shared CPU: allocator, threads and priority.

The allocator matters more than anything else on the 2-core development machine
(issue 12), a VM where a page touched for the first time costs ~50 us of system
time. A training step frees and re-allocates gigabytes of tensors:

- glibc's defaults serve every block over 32 MB with ``mmap`` and give it back on
  ``free``, so each step faults all of it in again (4.6 img/s pre-train at batch 32);
- jemalloc with page decay off (``dirty_decay_ms:-1``) keeps the pre-train fast, but
  in the fine-tune its resident size grew 3.2 -> 5.5 GB in 12 steps, each growth step
  spending 4-8 s in page faults (1.9 -> 7 s a step);
- glibc with ``mmap`` off and trimming off (:func:`keep_freed_memory`, the default,
  set in-process with ``mallopt``): the same pre-train speed as jemalloc, and a
  fine-tune that stayed at 3.47 GB with no page faults after the third step.

:class:`Allocator` names the three; jemalloc must be preloaded before Python starts,
so choosing it re-executes the command once with ``LD_PRELOAD`` set.
"""

from __future__ import annotations

import ctypes
import enum
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

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4
_TOP_PAD_BYTES = 512 << 20
_NEVER = 2**31 - 1


class Allocator(enum.StrEnum):
    """Which malloc the training process uses on CPU."""

    KEEP = "keep"
    """glibc, keeping freed memory for reuse (:func:`keep_freed_memory`)."""
    JEMALLOC = "jemalloc"
    """jemalloc preloaded with page decay off (a re-execution)."""
    SYSTEM = "system"
    """whatever the process started with, untouched."""


def use_allocator(allocator: Allocator, module: str, argv: Sequence[str]) -> bool:
    """Set ``allocator`` up for ``python -m module argv``; may re-execute (jemalloc).

    Returns whether glibc now keeps freed memory (:attr:`Allocator.KEEP` took effect).
    Falls back to leaving the allocator alone, with a note on stderr, where the
    choice is not available (no glibc, no jemalloc installed).
    """
    if allocator is Allocator.KEEP:
        if keep_freed_memory():
            return True
        print("note: not glibc; the allocator is left as it is", file=sys.stderr)
    elif allocator is Allocator.JEMALLOC:
        relaunch_with_jemalloc(module, argv)
    return False


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep every freed block for reuse; False where that is not glibc.

    ``mmap`` is turned off (big tensors come from the heap, where freed space is reused
    instead of unmapped) and the heap is never trimmed, so after the first steps a training
    loop runs without page faults. Memory the process once held is not given back.
    """
    libc = ctypes.CDLL(None)  # the symbols already loaded into this process, the C library's among them
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None or not hasattr(libc, "gnu_get_libc_version"):
        return False
    settings = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _NEVER), (_M_TOP_PAD, _TOP_PAD_BYTES))
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)


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
