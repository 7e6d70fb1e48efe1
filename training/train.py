"""Training: the supervised pre-train stage, then the fine-tune stage with the paired objective.

    python -m facecraft.training.train --config training/configs/full.json --out runs/full
    python -m facecraft.training.train --config ... --out runs/full --resume      # continue
    torchrun --nproc_per_node 8 -m facecraft.training.train --config ... --out ...  # multi-GPU

Pre-train (paper section 4): the shape proxy and shape regress the pseudo
ground-truth shape, the camera regresses the pseudo camera, the landmarks the
target landmarks, and the albedos the photo texture unwrapped through the pseudo
geometry on the texels it sees. Fine-tune: :class:`facecraft.core.model.objective.Objective`.

Checkpoints (every ``checkpoint_every`` steps and at the end) hold the model,
the optimiser, the step and the RNG state; the data order and augmentations are
functions of (seed, epoch, index), so a resumed run takes exactly the steps the
uninterrupted one would have. Progress goes to a bar and to ``log_<stage>.csv``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from facecraft.core.atomic import write_bytes_atomically
from facecraft.core.camera import Camera, project
from facecraft.core.mesh_fit import MeshToUV
from facecraft.core.model import losses
from facecraft.core.model.config import ModelConfig, ObjectiveConfig
from facecraft.core.model.io import save_model
from facecraft.core.model.model import FaceModel, ModelOutput
from facecraft.core.model.objective import Objective, ObjectiveTargets
from facecraft.core.model.perceptual import PerceptualNetwork
from facecraft.core.render.renderer import Renderer
from facecraft.core.render.shading import ambient_light
from facecraft.core.render.unwrap import unwrap_image
from facecraft.core.template import FaceTemplate, load_template
from facecraft.training.dataset import Augmentation, FaceBatch, PreparedFaces, collate
from facecraft.training.prepare_data import PREPARED_DIR, load_split

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class PretrainWeights:
    """Weights of the supervised pre-train losses."""

    shape: float = 10.0
    camera: float = 1.0
    landmark: float = 20.0
    texture: float = 1.0
    smoothness: float = 2000.0
    lighting: float = 0.01
    """Pull towards the ambient prior: no pseudo ground truth for lighting exists."""


@dataclass(frozen=True)
class StageConfig:
    """One training stage.

    Attributes:
        name: ``"pretrain"`` (supervised by pseudo ground truth) or ``"finetune"`` (paired objective).
        steps: optimiser steps in this stage.
        batch_size: images per step (over all processes).
        learning_rate: Adam's step size (paper: 1e-3).
        beta1: Adam's beta1 (paper's code: 0.5).
        pretrain: loss weights of the pre-train stage.
        objective: loss weights of the fine-tune stage.
    """

    name: str
    steps: int
    batch_size: int = 16
    learning_rate: float = 1e-3
    beta1: float = 0.5
    pretrain: PretrainWeights = field(default_factory=PretrainWeights)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)

    def __post_init__(self) -> None:
        if self.name not in ("pretrain", "finetune"):
            raise ValueError(f"stage name must be 'pretrain' or 'finetune', got {self.name!r}")


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run.

    Attributes:
        model: the architecture (its variant is the ablation row).
        stages: run in order.
        prepared: folder with ``train.npz`` / ``val.npz`` from ``prepare_data``.
        seed: seeds the model initialisation, data order and augmentations.
        checkpoint_every: steps between checkpoints.
        log_every: steps between log lines.
        workers: DataLoader worker processes.
        mixed_precision: bfloat16 autocast of the networks on CUDA (renders stay float32).
        augmentation: random changes per sample.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    stages: tuple[StageConfig, ...] = (StageConfig("pretrain", 1000), StageConfig("finetune", 1000))
    prepared: str = str(PREPARED_DIR)
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    workers: int = 2
    mixed_precision: bool = True
    augmentation: Augmentation = field(default_factory=Augmentation)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a JSON mapping; unknown keys are an error."""
        data = dict(data)
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown TrainConfig keys: {sorted(unknown)}")
        stages = []
        for stage in data.pop("stages", []):
            stage = dict(stage)
            pretrain = PretrainWeights(**stage.pop("pretrain", {}))
            objective = ObjectiveConfig.from_dict(stage.pop("objective", {}))
            stages.append(StageConfig(**stage, pretrain=pretrain, objective=objective))
        kwargs: dict[str, Any] = {k: v for k, v in data.items() if k not in ("model", "augmentation")}
        if stages:
            kwargs["stages"] = tuple(stages)
        return cls(
            model=ModelConfig.from_dict(data.get("model", {})),
            augmentation=Augmentation(**data.get("augmentation", {})),
            **kwargs,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"model": self.model.to_dict()}


@dataclass
class TrainState:
    """Where a run is: global step, and the stage it is in."""

    step: int = 0

    def stage_at(self, stages: tuple[StageConfig, ...]) -> tuple[int, StageConfig, int] | None:
        """``(index, stage, step within stage)`` for the current global step, ``None`` when done."""
        start = 0
        for index, stage in enumerate(stages):
            if self.step < start + stage.steps:
                return index, stage, self.step - start
            start += stage.steps
        return None


class Trainer:
    """Runs a :class:`TrainConfig` into an output folder, resumable.

    Args:
        config: the run.
        out_dir: checkpoints, ``log_<stage>.csv``, ``config.json`` and the final model go here.
        template: the face template.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        progress: show a progress bar.
    """

    def __init__(
        self,
        config: TrainConfig,
        out_dir: Path,
        template: FaceTemplate,
        device: str = "cpu",
        progress: bool = True,
    ) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        self.template = template
        self.device = torch.device(device)
        self.progress = progress
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.world = dist.get_world_size() if dist.is_initialized() else 1
        torch.manual_seed(config.seed)
        self.model = FaceModel(config.model, template).to(self.device)
        self.network: nn.Module = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.network = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.renderer = Renderer(template).to(self.device)
        self.mesh_to_uv = MeshToUV(template)
        self.uv_mask = torch.as_tensor(template.mask)[None, None].float().to(self.device)
        self.state = TrainState()
        self.optimizer: torch.optim.Optimizer | None = None
        self.optimizer_stage = -1
        self.objectives: dict[int, Objective] = {}
        split = load_split(Path(config.prepared) / "train.npz")
        self.dataset = PreparedFaces(split, template, config.augmentation, seed=config.seed)

    # -- state ------------------------------------------------------------------------------

    def _optimizer_for(self, index: int, stage: StageConfig) -> torch.optim.Optimizer:
        if self.optimizer is None or self.optimizer_stage != index:
            self.optimizer = torch.optim.Adam(
                self.model.parameters(), lr=stage.learning_rate, betas=(stage.beta1, 0.999)
            )
            self.optimizer_stage = index
        return self.optimizer

    def save_checkpoint(self) -> Path:
        """Write ``checkpoint.pt`` atomically (rank 0 only)."""
        path = self.out_dir / CHECKPOINT
        if self.rank != 0:
            return path
        payload = {
            "step": self.state.step,
            "optimizer_stage": self.optimizer_stage,
            "model": self.model.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "config": json.dumps(self.config.to_dict()),
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        write_bytes_atomically(path, buffer.getvalue())
        return path

    def load_checkpoint(self, path: Path) -> None:
        """Continue from a checkpoint written by :meth:`save_checkpoint`."""
        payload = torch.load(path, map_location=self.device, weights_only=True)
        if ModelConfig.from_dict(json.loads(payload["config"])["model"]) != self.config.model:
            raise ValueError(f"{path}: the checkpoint is of another model configuration")
        self.model.load_state_dict(payload["model"])
        self.state.step = int(payload["step"])
        located = self.state.stage_at(self.config.stages)
        if payload["optimizer"] is not None and located is not None:
            index = int(payload["optimizer_stage"])
            optimizer = self._optimizer_for(index, self.config.stages[index])
            if index == located[0]:
                optimizer.load_state_dict(payload["optimizer"])
        torch.set_rng_state(payload["torch_rng"].cpu())

    # -- data -------------------------------------------------------------------------------

    def batches(self, batch_size: int) -> Iterator[FaceBatch]:
        """Batches from the current step on: epoch ``e`` is a permutation seeded by (seed, e)."""
        per_epoch = max(1, len(self.dataset) // batch_size)
        local = batch_size // self.world
        while True:
            epoch, position = divmod(self.state.step, per_epoch)
            order = torch.randperm(
                len(self.dataset), generator=torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
            ).tolist()
            self.dataset.set_epoch(epoch)
            chunks = [order[i * batch_size : (i + 1) * batch_size] for i in range(position, per_epoch)]
            mine = [chunk[self.rank * local : (self.rank + 1) * local] for chunk in chunks]
            loader = DataLoader(
                self.dataset,
                batch_sampler=mine,
                collate_fn=collate,
                num_workers=self.config.workers,
                persistent_workers=False,
            )
            yield from loader

    # -- losses -----------------------------------------------------------------------------

    def pretrain_loss(
        self, output: ModelOutput, batch: FaceBatch, weights: PretrainWeights
    ) -> tuple[Tensor, dict[str, float]]:
        """The supervised loss against the pseudo ground truth."""
        size = batch.images.shape[-1]
        target_shape = self.model.mean_shape + self.mesh_to_uv(batch.offsets)
        target_camera = Camera.from_vector(batch.cameras)
        face = output.face
        shape_term = sum(
            ((s - target_shape).abs().mean(1, keepdim=True) * self.uv_mask).sum()
            / (self.uv_mask.sum() * s.shape[0])
            for s in _distinct(face.shape, face.shape_proxy)
        )
        predicted, target = output.camera.to_vector(), batch.cameras
        camera_term = (
            (predicted[:, 0].log() - target[:, 0].log()).square()
            + (predicted[:, 1:4] - target[:, 1:4]).square().sum(1)
            + ((predicted[:, 4:6] - target[:, 4:6]) / size).square().sum(1)
        ).mean()
        projected = project(self.model.landmark_points(face.shape_proxy), output.camera)[..., :2]
        landmark_term = losses.landmark_loss(
            projected, batch.landmarks, batch.landmark_weights, normaliser=float(size)
        )
        with torch.no_grad():
            texture = unwrap_image(batch.images, target_shape, target_camera)
            seen = self.renderer(
                target_shape,
                torch.zeros_like(target_shape),
                target_camera,
                ambient_light(batch.images.shape[0], device=self.device),
                (size, size),
            ).visibility
        texture_term = sum(
            ((a - texture).abs().mean(1, keepdim=True) * seen).sum() / seen.sum().clamp(min=1.0)
            for a in _distinct(face.albedo, face.albedo_proxy)
        )
        total = (
            weights.shape * shape_term
            + weights.camera * camera_term
            + weights.landmark * landmark_term
            + weights.texture * texture_term
        )
        smooth_term = sum(
            losses.shape_smoothness(s, self.uv_mask) for s in _distinct(face.shape, face.shape_proxy)
        )
        ambient = ambient_light(output.lighting.shape[0], device=self.device)
        lighting_term = (output.lighting - ambient).square().sum((1, 2)).mean()
        total = total + weights.smoothness * smooth_term + weights.lighting * lighting_term
        terms = {
            "shape": shape_term,
            "camera": camera_term,
            "landmark": landmark_term,
            "texture": texture_term,
            "smoothness": smooth_term,
            "lighting": lighting_term,
        }
        return total, {name: float(value.detach()) for name, value in terms.items()}

    def _objective(self, index: int, config: ObjectiveConfig) -> Objective:
        if index not in self.objectives:
            perceptual = PerceptualNetwork() if config.perceptual > 0 else None
            self.objectives[index] = Objective(
                self.template, config, self.config.model.variant, perceptual
            ).to(self.device)
        return self.objectives[index]

    # -- loop -------------------------------------------------------------------------------

    def run(self, stop_after: int | None = None) -> dict[str, float]:
        """Train to the end (or ``stop_after`` more steps); returns the last logged values."""
        total_steps = sum(stage.steps for stage in self.config.stages)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
        bar = tqdm(
            total=total_steps,
            initial=self.state.step,
            desc="training",
            unit="step",
            disable=not self.progress or self.rank != 0,
            file=sys.stderr,
        )
        last: dict[str, float] = {}
        steps_done = 0
        use_amp = self.config.mixed_precision and self.device.type == "cuda"
        while (located := self.state.stage_at(self.config.stages)) is not None:
            index, stage, _ = located
            optimizer = self._optimizer_for(index, stage)
            started = time.perf_counter()
            for batch in self.batches(stage.batch_size):
                batch = batch.to(self.device)
                self.model.train()
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                    output = self.network(batch.images)
                output = _to_float(output)
                if stage.name == "pretrain":
                    loss, terms = self.pretrain_loss(output, batch, stage.pretrain)
                else:
                    targets = ObjectiveTargets(batch.images, batch.landmarks, batch.landmark_weights)
                    result = self._objective(index, stage.objective)(output, targets)
                    loss, terms = result.terms.total, result.terms.as_floats()
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {float(loss.detach())} at step {self.state.step}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                self.state.step += 1
                steps_done += 1
                bar.update(1)
                elapsed = time.perf_counter() - started
                last = {
                    "step": self.state.step,
                    "stage": index,
                    "loss": float(loss.detach()),
                    "images_per_s": steps_done * stage.batch_size / max(elapsed, 1e-9),
                    **terms,
                }
                if self.state.step % self.config.log_every == 0 and self.rank == 0:
                    _append_csv(self.out_dir / f"log_{stage.name}.csv", last)
                    bar.set_postfix(loss=f"{float(loss.detach()):.4f}", stage=stage.name)
                if self.state.step % self.config.checkpoint_every == 0:
                    self.save_checkpoint()
                if stop_after is not None and steps_done >= stop_after:
                    bar.close()
                    return last
                now = self.state.stage_at(self.config.stages)
                if now is None or now[0] != index:
                    break
            steps_done = 0  # the next stage restarts its own throughput clock
        bar.close()
        self.save_checkpoint()
        return last

    def export(self, path: Path, card: dict[str, Any]) -> None:
        """Save the trained model (fp16) with its card."""
        save_model(
            self.model.eval(),
            path,
            card=card | {"train_config": self.config.to_dict(), "steps": self.state.step},
        )


def _distinct(*tensors: Tensor) -> list[Tensor]:
    """The tensors, each once (without proxies, proxy and true are the same tensor)."""
    return list({id(t): t for t in tensors}.values())


def _to_float(output: ModelOutput) -> ModelOutput:
    """Undo autocast's bfloat16 before rendering."""

    def f(tensor: Tensor) -> Tensor:
        return tensor.float() if tensor.is_floating_point() else tensor

    face = output.face
    return ModelOutput(
        f(output.shape_code),
        f(output.albedo_code),
        Camera(f(output.camera.scale), f(output.camera.angles), f(output.camera.translation)),
        f(output.lighting),
        type(face)(f(face.shape), f(face.shape_proxy), f(face.albedo), f(face.albedo_proxy)),
    )


def _append_csv(path: Path, row: dict[str, float]) -> None:
    new = not path.is_file()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(
            {k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v) for k, v in row.items()}
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="a JSON TrainConfig")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--variant", help="override the model variant (ablation)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--export", type=Path, help="save the final model (fp16) here with its card")
    parser.add_argument("--stop-after", type=int, help="stop after N steps (resume later)")
    args = parser.parse_args(argv)
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
    checkpoint = args.out / CHECKPOINT
    if args.resume and checkpoint.is_file():
        trainer.load_checkpoint(checkpoint)
    started = time.perf_counter()
    last = trainer.run(stop_after=args.stop_after)
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
