"""A tiny model, a six-photo prepared split and a run config: what the training tests train."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import torch

from facecraft.core.face.crop import crop_image, face_crop
from facecraft.core.model.config import DecoderConfig, EncoderConfig, ModelConfig, ObjectiveConfig
from facecraft.core.resources import resource_path
from facecraft.training.config import StageConfig, TrainConfig
from facecraft.training.faces_data import PhotoRecord
from facecraft.training.prepare_data import PreparedSplit, prepare_photo

ASTRONAUT = resource_path("samples/astronaut.jpg")

TINY_MODEL = ModelConfig(
    shape_code_size=8,
    albedo_code_size=8,
    encoder=EncoderConfig(stem_channels=8, stage_channels=(8, 8, 8, 8), convs_per_stage=1),
    decoder=DecoderConfig(global_channels=(8, 8, 8, 8, 8, 8), local_channels=(8, 8, 8, 8), fusion_channels=8),
)


def tiny_split(astronaut_rgb, detector, template, copies: int = 6) -> PreparedSplit:
    face = detector.detect_one(astronaut_rgb, 0)
    rows = []
    for i in range(copies):
        crop = face_crop(face.landmarks68 + i, size=224, margin=1.4 + 0.05 * i)
        rows.append(
            (
                crop_image(astronaut_rgb, crop),
                crop.photo_to_crop(torch.as_tensor(face.landmarks68)).numpy().astype(np.float32),
            )
        )
    sample = prepare_photo(PhotoRecord(ASTRONAUT, "a", "s", 512, 512, False, "train"), detector, template)
    return PreparedSplit(
        crops=np.stack([r[0] for r in rows]),
        landmarks=np.stack([r[1] for r in rows]),
        annotated=np.array([True, False] * (copies // 2)),
        cameras=np.repeat(sample["cameras"][None], copies, 0),
        offsets=np.repeat(sample["offsets"][None], copies, 0),
        fit_residual=np.zeros(copies, np.float32),
        relpaths=np.array([f"a{i}" for i in range(copies)]),
        sources=np.array(["sample"] * copies),
    )


def tiny_config(prepared, steps: int = 3, **changes) -> TrainConfig:
    stages = (
        StageConfig("pose", steps, batch_size=2),
        StageConfig("pretrain", steps, batch_size=2),
        StageConfig("finetune", steps, batch_size=2, objective=ObjectiveConfig(perceptual=0.0)),
    )
    config = TrainConfig(
        model=TINY_MODEL,
        stages=stages,
        prepared=str(prepared),
        checkpoint_every=2,
        log_every=1,
        workers=0,
        mixed_precision=False,
    )
    return dataclasses.replace(config, **changes)


def read_log(path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))
