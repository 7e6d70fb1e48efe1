"""Start-up work that keeps the GUI thread free later on.

Python's full (generation 2) garbage collection walks every tracked object while holding the GIL.
After torch, MediaPipe (which brings in matplotlib) and the Qt bindings are imported there are
about 300,000 of them, and one full collection takes 0.2-0.3 s: when it struck on the GUI thread
while a photo opened, the window froze for that long. :func:`settle_heap` imports the heavy
modules up front, collects once, and freezes what is left (``gc.freeze``): those objects live as
long as the process and are never walked again, so later collections only visit new objects.
"""

from __future__ import annotations

import gc
import importlib

HEAVY_MODULES = ("torch", "mediapipe.python.solutions.face_mesh", "scipy.ndimage", "cv2")
"""Imported before the heap is frozen (the detector imports MediaPipe's Face Mesh lazily)."""


def settle_heap(modules: tuple[str, ...] = HEAVY_MODULES) -> int:
    """Import ``modules``, collect, freeze the heap; the number of objects frozen.

    A module that cannot be imported is skipped (its absence is reported where it is used).
    """
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
