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
import fcntl
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facecraft.core.io.atomic import write_bytes_atomically
from facecraft.core.model.config import Variant
from facecraft.training.config import Stage, TrainConfig
from facecraft.training.run_support import read_card, read_card_totals

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
    """One stage as a ``train`` process (resumed from ``run_dir`` when it has a checkpoint).

    A Ctrl-C or SIGTERM of the driver is passed on to the trainer, which checkpoints after its
    current step; the driver waits for it, so no work is lost and no trainer is left behind.
    """
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
    process = subprocess.Popen(command, env=os.environ | {"OMP_NUM_THREADS": str(threads)})
    forward = lambda signum, _frame: process.send_signal(signum)  # noqa: E731
    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                code = process.wait()
                break
            except KeyboardInterrupt:
                process.send_signal(signal.SIGINT)  # then wait for its checkpoint
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code != 0:
        raise subprocess.CalledProcessError(code, command)


def _stage_target(source: Path, minutes: float) -> float:
    """The lineage training time (s, to 0.1 s as cards and ``--until-seconds`` keep it) to train until."""
    return round(read_card_totals(source)[0] + 60.0 * minutes, 1)


def _reached(export: Path, target: float) -> bool:
    return export.is_file() and read_card_totals(export)[0] >= target - 0.05


def train_pose(config: AblationConfig, out: Path, threads: int, nice: int) -> Path:
    """The shared pose model ``<out>/pose.pt``, trained once (under a lock: drivers may start together)."""
    pose = out / "pose.pt"
    steps = config.train.stages[0].steps
    out.mkdir(parents=True, exist_ok=True)
    with (out / "pose.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second driver waits here for the first one's pose model
        if int(read_card(pose).get("steps", -1)) != steps:
            pose_config = config.train.to_dict()
            pose_config["stages"] = pose_config["stages"][:1]
            _train(pose_config, out / "pose", None, pose, None, threads, nice)
        if int(read_card(pose).get("steps", -1)) != steps:
            raise RuntimeError(f"{pose}: the pose stage stopped before its {steps} steps; run again")
    return pose


def run_variant(config: AblationConfig, variant: Variant, out: Path, threads: int, nice: int) -> Path:
    """Train ``variant``'s timed stages from the shared pose model; returns its final model.

    A stage whose export already records its target is skipped; one that does not is resumed.
    Training a stage again makes the variant's cached evaluation stale, so it is removed.
    """
    source = out / "pose.pt"
    for stage in TIMED_STAGES:
        export = out / variant.value / f"{stage.value}.pt"
        target = _stage_target(source, config.minutes[stage])
        if not _reached(export, target):
            print(f"ablation: {variant.value} {stage.value} until {target:.0f} s of lineage", file=sys.stderr)
            _evaluation_path(out / variant.value / "finetune.pt").unlink(missing_ok=True)
            _train(
                config.stage_config(stage, variant),
                out / variant.value / stage.value,
                source,
                export,
                target,
                threads,
                nice,
            )
            if not _reached(export, target):
                raise RuntimeError(
                    f"{export}: {variant.value} {stage.value} stopped before its {target:.0f} s "
                    "(interrupted, or its steps ran out first: raise them); run again to resume"
                )
        source = export
    return source


def _evaluation_path(model: Path) -> Path:
    return model.with_name(f"{model.stem}_eval.json")


def evaluate_variant(model: Path, split: Path, limit: int, fit_steps: int, threads: int) -> dict[str, Any]:
    """Run :mod:`facecraft.training.evaluate` on ``model`` (cached next to it for these settings)."""
    result = _evaluation_path(model)
    cached = json.loads(result.read_text(encoding="utf-8")) if result.is_file() else {}
    settings = (cached.get("split"), cached.get("photos"), cached.get("fit_steps"))
    if settings != (str(split), limit, fit_steps):
        command = [
            sys.executable, "-m", "facecraft.training.evaluate", "--model", str(model), "--split", str(split),
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
    try:
        train_pose(config, args.out, args.threads, args.nice)
        # Train every variant before evaluating any: two drivers started together then train
        # side by side for the whole budget, so each variant meets the same contention.
        models = [run_variant(config, variant, args.out, args.threads, args.nice) for variant in variants]
        split = Path(config.train.prepared) / "val.npz"
        for variant, model in zip(variants, models, strict=True):
            scores = evaluate_variant(model, split, args.limit, args.fit_steps, args.threads)
            print(f"ablation: {variant.value}: {json.dumps(scores)}", file=sys.stderr)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"ablation: {exc}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
