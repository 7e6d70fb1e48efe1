"""Training: the encoder-only pose warm-up, the supervised pre-train, then the paired fine-tune.

    python -m facecraft.training.train --config training/configs/full.json --out runs/full
    python -m facecraft.training.train --config ... --out runs/full --resume      # continue
    python -m facecraft.training.train --config ... --out runs/long --resume \
        --warm-start resources/weights/facecraft.pt --threads 1 --nice 10          # background, CPU
    torchrun --nproc_per_node 8 -m facecraft.training.train --config ... --out ...  # multi-GPU

Stages: ``pose`` (the encoder's camera against the pseudo ground truth), ``pretrain``
(paper section 4, supervised by it), ``finetune`` (the paper's objective); see
:mod:`facecraft.training.trainer` for the loop, its checkpoints and its exact resume.
``--until-seconds`` stops at a training-time target (the ablation's budget, kept across
resumes); SIGTERM or Ctrl-C checkpoint after the current step.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

from facecraft.core.face.template import load_template
from facecraft.training.config import TrainConfig
from facecraft.training.process import Allocator, lower_priority, set_threads, use_allocator
from facecraft.training.trainer import CHECKPOINT, Trainer

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="a JSON TrainConfig")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--variant", help="override the model variant (ablation)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--export", type=Path, help="save the final model (fp16) here with its card")
    parser.add_argument("--stop-after", type=int, help="stop after N steps (resume later)")
    parser.add_argument(
        "--until-seconds",
        type=float,
        help="stop with a checkpoint once the lineage has trained this long (a resumable time budget)",
    )
    parser.add_argument(
        "--warm-start",
        type=Path,
        help="with no checkpoint to resume, start from this model's weights where they fit",
    )
    parser.add_argument("--threads", type=int, help="intra-op CPU threads (default: torch's)")
    parser.add_argument("--nice", type=int, default=0, help="lower the process priority by this much")
    parser.add_argument(
        "--allocator",
        type=Allocator,
        choices=list(Allocator),
        default=Allocator.KEEP,
        help="CPU malloc: keep (glibc keeping freed memory; no page faults once warm), "
        "jemalloc (re-executes with it preloaded), system (untouched)",
    )
    args = parser.parse_args(argv)
    if not args.device.startswith("cuda") and "WORLD_SIZE" not in os.environ:
        use_allocator(args.allocator, "facecraft.training.train", sys.argv[1:] if argv is None else argv)
    lower_priority(args.nice)
    set_threads(args.threads)
    if args.until_seconds is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        print("error: --until-seconds needs one process (ranks would stop apart)", file=sys.stderr)
        return 1
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        dist.init_process_group("nccl" if args.device.startswith("cuda") else "gloo")
        if args.device.startswith("cuda"):
            args.device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
            torch.cuda.set_device(args.device)
    try:
        data = json.loads(args.config.read_text())
        if args.variant:
            data.setdefault("model", {})["variant"] = args.variant
        config = TrainConfig.from_dict(data)
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {args.config}: {exc}", file=sys.stderr)
        return 1
    trainer = Trainer(config, args.out, load_template(), device=args.device)

    def request_stop(signum: int, _frame: object) -> None:
        print(f"signal {signum}: checkpointing after this step, then stopping", file=sys.stderr)
        trainer.stop_requested = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    signal.signal(signal.SIGCONT, lambda _signum, _frame: setattr(trainer, "was_paused", True))
    checkpoint = args.out / CHECKPOINT
    if args.resume and checkpoint.is_file():
        trainer.load_checkpoint(checkpoint)
        print(f"resumed from {checkpoint} at step {trainer.state.step}", file=sys.stderr)
    elif args.warm_start is not None:
        fresh = trainer.warm_start(args.warm_start)
        print(f"warm start from {args.warm_start}; fresh: {', '.join(fresh) or 'none'}", file=sys.stderr)
    started = time.perf_counter()
    last = trainer.run(stop_after=args.stop_after, until_seconds=args.until_seconds)
    if args.export and trainer.rank == 0:
        device_name = torch.cuda.get_device_name(trainer.device) if trainer.device.type == "cuda" else "CPU"
        trainer.export(
            args.export,
            {
                "hardware": device_name,
                "world_size": trainer.world,
                "last_log": last,
                "wall_seconds_this_session": time.perf_counter() - started,
            },
        )
    if dist.is_initialized():
        dist.destroy_process_group()
    print(json.dumps(last))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
