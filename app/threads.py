"""Background threads yield the CPU to the GUI thread.

On a busy machine (two cores, a fit and a file write running) the GUI thread otherwise waits its
turn behind its own workers. Each worker thread lowers its own scheduling priority when it starts
(Linux schedules threads individually: ``setpriority`` on the thread id); threads it starts, like
PyTorch's, inherit it. Elsewhere this does nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

BACKGROUND_NICENESS = 10
"""Added to a background thread's nice value (lower priority; 19 is the lowest)."""


def lower_this_thread_priority(niceness: int = BACKGROUND_NICENESS) -> bool:
    """Lower the calling thread's priority by ``niceness``; whether it was done."""
    if not sys.platform.startswith("linux"):
        return False
    thread_id = threading.get_native_id()
    with contextlib.suppress(OSError):
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, current + niceness))
        return True
    return False
