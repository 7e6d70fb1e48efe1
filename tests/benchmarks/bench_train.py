"""Benchmark: training throughput, images per second per stage (not a test; run it by hand, alone).

    python tests/benchmarks/bench_train.py [--prepared cache/prepared] [--steps 6] [--batch 32]
        [--finetune-batch 16] [--precision bf16 fp32] [--layouts contiguous channels_last]
        [--device cpu|cuda]

Builds a :class:`Trainer` over the prepared train split exactly as ``train`` does
(augmentation, data loading, losses, backward, Adam step) and times ``--steps``
steps of each stage after ``--warmup`` untimed steps, for each precision asked. Issue 12's
targets on the 2-core CPU: >= 20 img/s pre-train, >= 12 img/s fine-tune. Run it
with nothing else on the machine (under contention one step went from 0.72 s to
6.4 s). ``--allocator`` as in the training command (``keep``, the default, is glibc
keeping freed memory; ``jemalloc`` re-executes the script with it preloaded).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from facecraft.core.face.template import load_template
from facecraft.core.model.config import ObjectiveConfig
from facecraft.training.config import Stage, StageConfig, TrainConfig
from facecraft.training.process import Allocator, jemalloc_active, use_allocator
from facecraft.training.trainer import Trainer


def stage_throughput(config: TrainConfig, device: str, steps: int, warmup: int) -> tuple[float, float]:
    """Images per second of ``config``'s single stage: over all ``steps`` timed steps, and at
    the median step (robust to a noisy neighbour); ``warmup`` untimed steps first."""
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(config, Path(folder), load_template(), device=device, progress=False)
        trainer.run(stop_after=warmup)
        seconds = []
        for _ in range(steps):
            started = time.perf_counter()
            trainer.run(stop_after=1)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - started)
    batch = config.stages[0].batch_size
    return steps * batch / sum(seconds), batch / statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--prepared", default="cache/prepared")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps first (the allocator's heap fills in over the first three)")
    parser.add_argument("--batch", type=int, default=32, help="pose and pre-train batch")
    parser.add_argument("--finetune-batch", type=int, default=16)
    parser.add_argument("--precision", nargs="+", default=["bf16", "fp32"], choices=["bf16", "fp32"])
    names = [s.value for s in Stage]
    parser.add_argument("--stages", nargs="+", default=names, choices=names)
    parser.add_argument("--layouts", nargs="+", default=["contiguous"],
                        choices=["contiguous", "channels_last"], help="memory format of the networks")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--allocator", type=Allocator, choices=list(Allocator), default=Allocator.KEEP)
    args = parser.parse_args()
    kept = False
    if args.device == "cpu":
        # A jemalloc relaunch runs ``python -m bench_train``: make this folder importable.
        os.environ.setdefault("PYTHONPATH", str(Path(__file__).parent))
        kept = use_allocator(args.allocator, "bench_train", sys.argv[1:])
    report: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(),
        "allocator": "jemalloc" if jemalloc_active() else "glibc keeping freed memory" if kept else "system",
        "images_per_s": {},
        "images_per_s_median_step": {},
    }
    base = TrainConfig(prepared=args.prepared, workers=0, checkpoint_every=10**9, log_every=10**9)
    for precision in args.precision:
        for layout in args.layouts:
            for name in args.stages:
                stage = Stage(name)
                batch = args.finetune_batch if stage is Stage.FINETUNE else args.batch
                stage_config = StageConfig(stage, args.warmup + args.steps, batch_size=batch,
                                           objective=ObjectiveConfig(perceptual=0.0))
                config = dataclasses.replace(
                    base, stages=(stage_config,), mixed_precision=precision == "bf16",
                    channels_last=layout == "channels_last",
                )
                rate, median_rate = stage_throughput(config, args.device, args.steps, args.warmup)
                label = f"{name} {precision} batch {batch}"
                label += " channels_last" if layout == "channels_last" else ""
                report["images_per_s"][label] = round(rate, 2)  # type: ignore[index]
                report["images_per_s_median_step"][label] = round(median_rate, 2)  # type: ignore[index]
                print(f"{label}: {rate:6.2f} img/s ({median_rate:.2f} at the median step)", file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
