"""The training loop: a resumable run of :class:`TrainConfig` stages on one device or with DDP.

Stages (:class:`facecraft.training.config.Stage`): ``pose`` trains the encoder's camera
against the pseudo ground truth; ``pretrain`` (paper section 4) supervises shape, camera,
landmarks and albedo with it (:class:`facecraft.training.supervision.SupervisedLoss`);
``finetune`` is :class:`facecraft.core.model.objective.Objective`.

Checkpoints (every ``checkpoint_every`` steps, every ``checkpoint_minutes`` and at the end)
hold the model, the optimiser, the step, the RNG state and the lineage's training totals;
the data order and augmentations are functions of (seed, epoch, index), so a resumed run
takes exactly the steps the uninterrupted one would have. Progress goes to a bar and to
``log_<stage>.csv``. The command line is :mod:`facecraft.training.train`.
"""

from __future__ import annotations

import io
import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from facecraft.core.face.template import FaceTemplate
from facecraft.core.io.atomic import write_bytes_atomically
from facecraft.core.model.config import ModelConfig, ObjectiveConfig
from facecraft.core.model.io import save_model
from facecraft.core.model.model import FaceModel
from facecraft.core.model.objective import Objective, ObjectiveTargets
from facecraft.core.model.perceptual import PerceptualNetwork
from facecraft.core.model.precision import bf16_is_native
from facecraft.core.render.renderer import Renderer
from facecraft.training.config import Stage, StageConfig, TrainConfig
from facecraft.training.dataset import FaceBatch, PreparedFaces, collate
from facecraft.training.prepare_data import load_split
from facecraft.training.run_support import append_csv, camera_to_float, read_card_totals, to_float
from facecraft.training.supervision import CameraSpread, SupervisedLoss

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainState:
    """Where a run is, and how much training lies behind its weights.

    Attributes:
        step: global optimiser step of this run.
        train_seconds: wall time spent training, summed over every run in the weights'
            lineage (a warm start carries its source's total over).
        images_seen: training images over the same lineage.
    """

    step: int = 0
    train_seconds: float = 0.0
    images_seen: int = 0

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
        split = load_split(Path(config.prepared) / "train.npz")
        self.dataset = PreparedFaces(split, template, config.augmentation, seed=config.seed)
        self.camera_spread = CameraSpread.from_cameras(split.cameras)
        prior = self.camera_spread.scale_prior
        if abs(math.log(config.model.camera_scale_prior / prior)) > 0.1 and self.rank == 0:
            print(
                f"warning: camera_scale_prior {config.model.camera_scale_prior:g} is far from the "
                f"data's geometric mean scale {prior:.1f}; faces will start mis-sized",
                file=sys.stderr,
            )
        torch.manual_seed(config.seed)
        self.model = FaceModel(config.model, template).to(self.device)
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.network: nn.Module = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            has_pose = any(stage.name is Stage.POSE for stage in config.stages)
            self.network = nn.parallel.DistributedDataParallel(
                self.model, device_ids=ids, find_unused_parameters=has_pose
            )
        self.use_bf16 = config.mixed_precision and bf16_is_native(self.device)
        self.renderer = Renderer(template).to(self.device)
        self.supervised = SupervisedLoss(template, self.renderer, self.camera_spread).to(self.device)
        self.state = TrainState()
        self.optimizer: torch.optim.Optimizer | None = None
        self.optimizer_stage = -1
        self.objectives: dict[int, Objective] = {}
        self.stop_requested = False
        self.was_paused = False
        """Set by a SIGCONT handler: the step in flight was stopped (``kill -STOP``) and does not
        count its wall time; it counts the step before it instead."""
        """Set (e.g. by a SIGTERM handler) to checkpoint after the current step and return."""

    # -- state ------------------------------------------------------------------------------

    def _optimizer_for(self, index: int, stage: StageConfig) -> torch.optim.Optimizer:
        if self.optimizer is None or self.optimizer_stage != index:
            # fused: one kernel over all tensors instead of a loop of small ops per tensor (the
            # shipped model's 187 tensors: Adam's step 49 -> 16 ms on one CPU thread, the same update).
            self.optimizer = torch.optim.Adam(
                self.model.parameters(), lr=stage.learning_rate, betas=(stage.beta1, 0.999), fused=True
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
            "train_seconds": self.state.train_seconds,
            "images_seen": self.state.images_seen,
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
        self.state.train_seconds = float(payload.get("train_seconds", 0.0))
        self.state.images_seen = int(payload.get("images_seen", 0))
        located = self.state.stage_at(self.config.stages)
        if payload["optimizer"] is not None and located is not None:
            index = int(payload["optimizer_stage"])
            optimizer = self._optimizer_for(index, self.config.stages[index])
            if index == located[0]:
                optimizer.load_state_dict(payload["optimizer"])
                stage = self.config.stages[index]
                for group in optimizer.param_groups:  # the config given now, not the checkpoint's
                    group["lr"], group["betas"] = stage.learning_rate, (stage.beta1, 0.999)
                    group["fused"] = True  # checkpoints from before the fused step say None
        torch.set_rng_state(payload["torch_rng"].cpu())

    def warm_start(self, path: Path) -> list[str]:
        """Start from a saved model's weights where they fit this architecture.

        Tensors whose name and shape match are copied; the rest (e.g. a changed head)
        keep their fresh initialisation. The source card's training totals carry over.

        Returns:
            The names of this model's tensors that were not taken from ``path``.
        """
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict):
            raise ValueError(f"{path}: not a FaceCraft model file")
        own = self.model.state_dict()
        taken = {
            name: tensor.to(own[name].dtype)
            for name, tensor in payload["state_dict"].items()
            if name in own and tensor.shape == own[name].shape
        }
        self.model.load_state_dict(taken, strict=False)
        card = read_card_totals(path)
        self.state.train_seconds += card[0]
        self.state.images_seen += card[1]
        return sorted(set(own) - set(taken))

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

    def stage_loss(self, index: int, stage: StageConfig, batch: FaceBatch) -> tuple[Tensor, dict[str, float]]:
        """The loss of one batch in ``stage`` (networks under bf16 autocast when enabled)."""
        images = batch.images
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.use_bf16
        )
        if stage.name is Stage.POSE:
            with autocast:
                encoded = self.model.encoder(images)
            return self.supervised.pose(camera_to_float(encoded.camera), batch, stage.pose)
        with autocast:
            output = self.network(images)
        output = to_float(output)
        if stage.name is Stage.PRETRAIN:
            return self.supervised.pretrain(output, batch, stage.pretrain)
        targets = ObjectiveTargets(batch.images, batch.landmarks, batch.landmark_weights)
        result = self._objective(index, stage.objective)(output, targets)
        total, terms = result.terms.total, result.terms.as_floats()
        if stage.anchor > 0:
            anchor, anchor_terms = self.supervised.pretrain(output, batch, stage.pretrain)
            total = total + stage.anchor * anchor
            terms |= {f"anchor_{name}": value for name, value in anchor_terms.items()}
        return total, terms

    def _objective(self, index: int, config: ObjectiveConfig) -> Objective:
        if index not in self.objectives:
            perceptual = PerceptualNetwork() if config.perceptual > 0 else None
            self.objectives[index] = Objective(
                self.template, config, self.config.model.variant, perceptual
            ).to(self.device)
        return self.objectives[index]

    # -- loop -------------------------------------------------------------------------------

    def run(self, stop_after: int | None = None, until_seconds: float | None = None) -> dict[str, float]:
        """Train to the end; returns the last logged values.

        Args:
            stop_after: stop after this many more steps (no checkpoint is forced).
            until_seconds: stop, with a checkpoint, once the lineage's training time
                (``state.train_seconds``) reaches this; a time budget that survives a resume.
        """
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
        last_checkpoint = time.monotonic()
        last_step_seconds = 0.0
        while (located := self.state.stage_at(self.config.stages)) is not None:
            index, stage, _ = located
            optimizer = self._optimizer_for(index, stage)
            started = time.perf_counter()
            for batch in self.batches(stage.batch_size):
                if until_seconds is not None and self.state.train_seconds >= until_seconds:
                    self.save_checkpoint()
                    bar.close()
                    return last
                step_started = time.perf_counter()
                batch = batch.to(self.device)
                self.model.train()
                loss, terms = self.stage_loss(index, stage, batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {float(loss.detach())} at step {self.state.step}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                self.state.step += 1
                self.state.images_seen += stage.batch_size
                spent = time.perf_counter() - step_started
                if self.was_paused:  # a SIGSTOP pause is not training time
                    spent, self.was_paused = last_step_seconds, False
                self.state.train_seconds += spent
                last_step_seconds = spent
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
                    append_csv(self.out_dir / f"log_{stage.name.value}.csv", last)
                    bar.set_postfix(loss=f"{float(loss.detach()):.4f}", stage=stage.name.value)
                overdue = time.monotonic() - last_checkpoint > 60.0 * self.config.checkpoint_minutes
                if self.state.step % self.config.checkpoint_every == 0 or overdue:
                    self.save_checkpoint()
                    last_checkpoint = time.monotonic()
                if self.stop_requested:  # a signal asked to stop: keep every step taken
                    self.save_checkpoint()
                    bar.close()
                    return last
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
            card=card
            | {
                "train_config": self.config.to_dict(),
                "steps": self.state.step,
                "training_totals": {
                    "train_seconds": round(self.state.train_seconds, 1),
                    "train_hours": round(self.state.train_seconds / 3600.0, 3),
                    "images_seen": self.state.images_seen,
                },
            },
        )
