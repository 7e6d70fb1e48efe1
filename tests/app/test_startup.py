"""Start-up: the heap is frozen after the heavy imports, so no later full collection walks it."""

from __future__ import annotations

import gc

from facecraft.app.startup import settle_heap


def test_settle_heap_freezes_the_imported_objects():
    try:
        frozen = settle_heap(("json", "no_such_module_for_facecraft"))  # a missing module is skipped
        assert frozen == gc.get_freeze_count() > 10_000
        assert len(gc.get_objects()) < frozen  # what a full collection still walks
    finally:
        gc.unfreeze()
