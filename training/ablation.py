"""The paper's ablation (Table 1) at an equal training-time budget per variant, resumable.

::

    python -m facecraft.training.ablation run --config training/configs/cpu_ablation.json \\
        --out runs/ablation --variants linear global --threads 1 --nice 10
    python -m facecraft.training.ablation table --out runs/ablation

Every variant starts from one shared encoder-only pose warm-up (``<out>/pose.pt``; that
stage never touches a decoder, so it is the same for all variants and is trained once),
then gets the same number of minutes of pre-train and of fine-tune (``"minutes"`` in the
config). A stage's budget is a target for the lineage's training time
(``train --until-seconds``), so an interrupted run continues where it stopped and the
budget is neither lost nor doubled. A stage is done when its export's card records the
target time; the driver skips done stages, so it can be run again after any stop. Each
variant is then scored by :mod:`facecraft.training.evaluate` on the first ``--limit`` val
photos, and ``table`` gathers the results as a markdown table.

The config is ``{"train": <TrainConfig with a pose, a pretrain and a finetune stage>,
"minutes": {"pretrain": M, "finetune": M}}``; the pretrain and finetune ``steps`` should be
larger than any budget reaches (the budget ends them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facecraft.core.io.atomic import write_bytes_atomically
from facecraft.core.model.config import Variant
from facecraft.training.config import Stage, TrainConfig
from facecraft.training.run_support import read_card_totals

TIMED_STAGES = (Stage.PRETRAIN, Stage.FINETUNE)
"""The stages each variant trains for a budget, in order (after the shared pose stage)."""


@dataclass(frozen=True)
class AblationConfig:
    """A parsed ablation config.

    Attributes:
        train: the run; its variant is replaced per row.
        minutes: the training-time budget of each timed stage.
    """

    train: TrainConfig
    minutes: dict[Stage, float]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AblationConfig:
        unknown = set(data) - {"train", "minutes"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected 'train' and 'minutes'")
        train = TrainConfig.from_dict(data["train"])
        names = [stage.name for stage in train.stages]
        if names != [Stage.POSE, *TIMED_STAGES]:
            raise ValueError(f"stages {[n.value for n in names]}: expected pose, pretrain, finetune")
        minutes = {Stage(name): float(value) for name, value in data["minutes"].items()}
        if set(minutes) != set(TIMED_STAGES) or min(minutes.values()) <= 0:
            raise ValueError("minutes: a positive budget for 'pretrain' and 'finetune' expected")
        return cls(train, minutes)

    def stage_config(self, stage: Stage, variant: Variant) -> dict[str, Any]:
        """A one-stage TrainConfig (as a dict) for ``stage`` of ``variant``."""
        data = self.train.to_dict()
        data["model"]["variant"] = variant.value
        data["stages"] = [s for s in data["stages"] if s["name"] == stage.value]
        return data


def _train(
    config: dict[str, Any],
    run_dir: Path,
    source: Path | None,
    export: Path,
    until_seconds: float | None,
    threads: int,
    nice: int,
) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "stage_config.json"
    write_bytes_atomically(config_path, (json.dumps(config, indent=2) + "\n").encode())
    command = [
        sys.executable, "-m", "facecraft.training.train", "--config", str(config_path),
        "--out", str(run_dir), "--resume", "--export", str(export),
        "--threads", str(threads), "--nice", str(nice),
    ]  # fmt: skip
    if source is not None:
        command += ["--warm-start", str(source)]
    if until_seconds is not None:
        command += ["--until-seconds", f"{until_seconds:.1f}"]
    env = os.environ | {"OMP_NUM_THREADS": str(threads)}
    subprocess.run(command, check=True, env=env)


def run_variant(config: AblationConfig, variant: Variant, out: Path, threads: int, nice: int) -> Path:
    """Train ``variant``'s timed stages from the shared pose model; returns its final model."""
    source = out / "pose.pt"
    for stage in TIMED_STAGES:
        export = out / variant.value / f"{stage.value}.pt"
        target = read_card_totals(source)[0] + 60.0 * config.minutes[stage]
        if not (export.is_file() and read_card_totals(export)[0] >= target):
            print(f"ablation: {variant.value} {stage.value} until {target:.0f} s of lineage", file=sys.stderr)
            _train(
                config.stage_config(stage, variant),
                out / variant.value / stage.value,
                source,
                export,
                target,
                threads,
                nice,
            )
        source = export
    return source


def evaluate_variant(model: Path, limit: int, fit_steps: int, threads: int) -> dict[str, Any]:
    """Run :mod:`facecraft.training.evaluate` on ``model`` (cached next to it)."""
    result = model.with_name(f"{model.stem}_eval.json")
    if not result.is_file():
        command = [
            sys.executable, "-m", "facecraft.training.evaluate", "--model", str(model),
            "--limit", str(limit), "--fit-steps", str(fit_steps), "--out", str(model.parent), "--quiet",
        ]  # fmt: skip
        env = os.environ | {"OMP_NUM_THREADS": str(threads)}
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads(result.read_text(encoding="utf-8"))


def table(out: Path) -> str:
    """The markdown table of every evaluated variant under ``out``, in the paper's row order."""
    lines = [
        "| variant | NME mean | NME median | ℓ2,1 encoder | ℓ2,1 fitted | visible fraction "
        "| shape correlation | images (pre / fine) | minutes (pre / fine) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    pose_seconds, pose_images = read_card_totals(out / "pose.pt")
    for variant in Variant:
        result = out / variant.value / "finetune_eval.json"
        if not result.is_file():
            continue
        scores = json.loads(result.read_text(encoding="utf-8"))
        pre_s, pre_i = read_card_totals(out / variant.value / "pretrain.pt")
        fine_s, fine_i = read_card_totals(out / variant.value / "finetune.pt")
        lines.append(
            f"| {variant.value} | {100 * scores['nme_mean']:.2f} % | {100 * scores['nme_median']:.2f} % "
            f"| {scores['l21_encoder']:.4f} | {scores['l21_fitted']:.4f} "
            f"| {scores.get('visible_fraction', float('nan')):.3f} "
            f"| {scores.get('shape_correlation', float('nan')):.2f} "
            f"| {pre_i - pose_images:,} / {fine_i - pre_i:,} "
            f"| {(pre_s - pose_seconds) / 60:.1f} / {(fine_s - pre_s) / 60:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=("run", "table"))
    parser.add_argument("--out", type=Path, required=True, help="ablation folder")
    parser.add_argument("--config", type=Path, help="the ablation config (run)")
    parser.add_argument("--variants", nargs="+", default=[v.value for v in Variant])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--nice", type=int, default=10)
    parser.add_argument("--limit", type=int, default=64, help="val photos to evaluate on")
    parser.add_argument("--fit-steps", type=int, default=20)
    args = parser.parse_args(argv)
    if args.command == "table":
        print(table(args.out), end="")
        return 0
    try:
        if args.config is None:
            raise ValueError("--config is required for run")
        config = AblationConfig.from_dict(json.loads(args.config.read_text(encoding="utf-8")))
        variants = [Variant(name) for name in args.variants]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"ablation: {args.config}: {exc}", file=sys.stderr)
        return 1
    pose = args.out / "pose.pt"
    if not pose.is_file():
        pose_config = config.train.to_dict()
        pose_config["stages"] = pose_config["stages"][:1]
        _train(pose_config, args.out / "pose", None, pose, None, args.threads, args.nice)
    # Train every variant before evaluating any: two drivers started together then train
    # side by side for the whole budget, so each variant meets the same contention.
    models = [run_variant(config, variant, args.out, args.threads, args.nice) for variant in variants]
    for variant, model in zip(variants, models, strict=True):
        scores = evaluate_variant(model, args.limit, args.fit_steps, args.threads)
        print(f"ablation: {variant.value}: {json.dumps(scores)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
