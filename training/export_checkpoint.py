"""Export a training checkpoint as the shipped model (fp16 weights + card), while training goes on.

    python -m facecraft.training.export_checkpoint runs/long/checkpoint.pt resources/weights/facecraft.pt \\
        [--metrics val_metrics.json] [--note "..."]

The card records the run's config, step, hardware and the training totals over the
weights' whole lineage (wall time and images seen, warm starts included), plus any
metrics given. Checkpoints load with ``weights_only=True``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from facecraft.core.face.template import load_template
from facecraft.core.model.io import save_model
from facecraft.core.model.model import FaceModel
from facecraft.training.config import TrainConfig


def export_checkpoint(checkpoint: Path, out: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the model of ``checkpoint`` to ``out`` (+ card); returns the card's training facts."""
    payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
    config = TrainConfig.from_dict(json.loads(payload["config"]))
    model = FaceModel(config.model, load_template())
    model.load_state_dict(payload["model"])
    seconds = float(payload.get("train_seconds", 0.0))
    facts = {
        "hardware": f"CPU: {platform.machine()}, {torch.get_num_threads()} threads available",
        "steps": int(payload["step"]),
        "train_config": config.to_dict(),
        "training_totals": {
            "train_seconds": round(seconds, 1),
            "train_hours": round(seconds / 3600.0, 3),
            "images_seen": int(payload.get("images_seen", 0)),
        },
    }
    save_model(model.eval(), out, card=facts | dict(extra or {}))
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path, help="the .pt model file (its .json card is written beside it)")
    parser.add_argument("--metrics", type=Path, help="a JSON file of measured metrics to put on the card")
    parser.add_argument("--note", help="a line for the card")
    args = parser.parse_args(argv)
    extra: dict[str, Any] = {}
    try:
        if args.metrics:
            extra["metrics"] = json.loads(args.metrics.read_text())
        if args.note:
            extra["note"] = args.note
        facts = export_checkpoint(args.checkpoint, args.out, extra)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        print(f"error: {args.checkpoint}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"out": str(args.out), **facts["training_totals"], "steps": facts["steps"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
