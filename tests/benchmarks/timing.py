"""Wall-clock timing shared by the benchmark scripts."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def wall_ms(function: Callable[[], object], repeats: int, warmup: int = 3,
            sync: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Median and fastest wall time of ``function`` in ms.

    The fastest run shows how noisy a shared machine is. ``sync`` waits for
    asynchronous work (e.g. ``torch.cuda.synchronize``) before each clock read.
    """
    for _ in range(warmup):
        function()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        sync()
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(float(np.median(times)), 2), "min_ms": round(float(np.min(times)), 2)}
