"""Where bfloat16 pays: the networks run under bf16 autocast only on hardware that computes it natively.

Training and inference share the rule: convolutions and linear layers under autocast,
everything geometric (cameras, renders, losses) in float32. The encoder and the decoders
return float32 whatever precision they ran in.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch


def bf16_is_native(device: torch.device) -> bool:
    """Whether bfloat16 autocast speeds ``device`` up rather than slowing it down.

    CUDA: yes. CPU: only with native bf16 instructions (AVX512-BF16 or AMX). Without them
    oneDNN emulates bf16, and on an AVX2-only EPYC a batch-16 forward and backward took 14x
    longer than float32 (31.5 s against 2.2 s, issue 12).
    """
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    return cpu_flags() & {"avx512_bf16", "amx_bf16"} != set()


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where it is not readable); read once."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def network_autocast(device: torch.device, enabled: bool = True) -> torch.autocast:
    """bf16 autocast for the networks on ``device``, enabled only where bf16 is native."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and bf16_is_native(device))
