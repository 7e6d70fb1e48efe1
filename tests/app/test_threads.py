"""Background threads lower their own priority (Linux), leaving the GUI thread's alone."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from facecraft.app.threads import BACKGROUND_NICENESS, lower_this_thread_priority


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
def test_a_worker_thread_lowers_only_its_own_priority():
    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def work() -> None:
        thread_id = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, thread_id)
        seen["done"] = lower_this_thread_priority()
        seen["change"] = os.getpriority(os.PRIO_PROCESS, thread_id) - before
        seen["expected"] = min(19, before + BACKGROUND_NICENESS) - before

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen["done"] and seen["change"] == seen["expected"]
    assert seen["expected"] > 0 or main_before == 19  # already the lowest: nothing to lower
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before
