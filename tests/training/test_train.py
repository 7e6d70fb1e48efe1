"""Data preparation, augmentation and the training loop (tiny end-to-end runs, exact resume)."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from facecraft.core.camera import Camera, project
from facecraft.core.face.crop import crop_image, face_crop
from facecraft.core.mesh_fit import MeshToUV
from facecraft.core.model.config import DecoderConfig, EncoderConfig, ModelConfig, ObjectiveConfig, PoseHead
from facecraft.core.model.io import load_model
from facecraft.core.render.texture import sample_texture
from facecraft.core.resources import resource_path
from facecraft.training.config import PretrainWeights
from facecraft.training.dataset import (
    Augmentation,
    PreparedFaces,
    augment_targets,
    collate,
    draw_augmentation,
)
from facecraft.training.faces_data import PhotoRecord, landmarked_photos
from facecraft.training.image_augment import augment_images
from facecraft.training.prepare_data import PreparedSplit, prepare, prepare_photo, save_split
from facecraft.training.train import StageConfig, TrainConfig, Trainer

ASTRONAUT = resource_path("samples/astronaut.jpg")

TINY_MODEL = ModelConfig(
    shape_code_size=8,
    albedo_code_size=8,
    encoder=EncoderConfig(stem_channels=8, stage_channels=(8, 8, 8, 8), convs_per_stage=1),
    decoder=DecoderConfig(global_channels=(8, 8, 8, 8, 8, 8), local_channels=(8, 8, 8, 8), fusion_channels=8),
)


def reprojected_landmarks(template, offsets: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """``(N, 68, 2)`` landmarks of the pseudo ground truth, projected by its camera."""
    mean = torch.as_tensor(template.mean_shape_uv).permute(2, 0, 1)[None]
    shape = mean + MeshToUV(template)(torch.as_tensor(offsets, dtype=torch.float32))
    uv = torch.as_tensor(template.landmark_uv)[None, None].expand(shape.shape[0], 1, -1, -1)
    points = sample_texture(shape, uv)[:, :, 0].transpose(1, 2)
    return project(points, Camera.from_vector(torch.as_tensor(camera, dtype=torch.float32)))[..., :2].numpy()


@pytest.fixture(scope="module")
def astronaut_sample(detector, template) -> dict[str, np.ndarray]:
    record = PhotoRecord(ASTRONAUT, "astronaut.jpg", "sample", 512, 512, has_landmarks=False, split="train")
    sample = prepare_photo(record, detector, template)
    assert sample is not None
    return sample


def test_pseudo_ground_truth_reprojects_onto_the_detected_landmarks(astronaut_sample, template):
    projected = reprojected_landmarks(
        template, astronaut_sample["offsets"][None], astronaut_sample["cameras"][None]
    )
    error = np.linalg.norm(projected[0] - astronaut_sample["landmarks"], axis=1)
    assert astronaut_sample["crops"].shape == (224, 224, 3) and not astronaut_sample["annotated"]
    assert error.mean() < 3.0 and error.max() < 8.0, (error.mean(), error.max())


@pytest.mark.data
def test_annotated_photos_keep_their_annotation_and_fit_it(template, data_dir):
    records = landmarked_photos("train", data_dir)[:3]
    split, failed = prepare(records, template)
    assert not failed and len(split) == 3 and split.annotated.all()
    projected = reprojected_landmarks(template, split.offsets, split.cameras)
    error = np.linalg.norm(projected - split.landmarks, axis=2)
    eye_distance = np.linalg.norm(split.landmarks[:, 36] - split.landmarks[:, 45], axis=1)
    assert (error.mean(1) / eye_distance < 0.08).all()


def augmented(sample: dict[str, np.ndarray], template, settings: Augmentation, rng: np.random.Generator):
    """A prepared sample augmented as training does: draws and targets per sample, the image
    through the batch path (kornia). Returns ``(image (S, S, 3) float in [0, 1], landmarks,
    camera, offsets)``."""
    size = sample["crops"].shape[0]
    drawn = draw_augmentation(settings, rng, size)
    landmarks, camera, offsets = augment_targets(
        sample["landmarks"].astype(np.float64),
        sample["cameras"].astype(np.float64),
        sample["offsets"].astype(np.float64),
        np.asarray(template.mesh_mirror),
        drawn,
        size,
    )
    image = torch.as_tensor(sample["crops"]).permute(2, 0, 1)[None].float() / 255.0
    image = augment_images(image, torch.as_tensor(drawn.warp)[None], torch.as_tensor(drawn.colour)[None])
    return image[0].permute(1, 2, 0).numpy(), landmarks, camera, offsets


@pytest.mark.parametrize("seed", range(4))
def test_augmentation_keeps_image_landmarks_and_pseudo_ground_truth_together(
    astronaut_sample, template, seed
):
    rng = np.random.default_rng(seed)
    settings = Augmentation(flip=0.5, scale=0.1, shift=12.0, colour=0.2)
    image, landmarks, camera, offsets = augmented(astronaut_sample, template, settings, rng)
    before = np.linalg.norm(
        reprojected_landmarks(template, astronaut_sample["offsets"][None], astronaut_sample["cameras"][None])[
            0
        ]
        - astronaut_sample["landmarks"],
        axis=1,
    ).mean()
    after = np.linalg.norm(
        reprojected_landmarks(template, offsets[None], camera[None])[0] - landmarks, axis=1
    )
    assert image.shape == (224, 224, 3) and image.min() >= 0.0 and image.max() <= 1.0
    assert after.mean() < before + 1.0


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_a_point_of_the_image_lands_where_the_landmarks_go(astronaut_sample, template, flip):
    """A bright dot drawn at a landmark is found, after augmentation, at that landmark's new place."""
    sample = dict(astronaut_sample)
    crop = np.zeros_like(sample["crops"])
    x, y = np.round(sample["landmarks"][30]).astype(int)  # the nose tip
    crop[y - 1 : y + 2, x - 1 : x + 2] = 255
    sample["crops"] = crop
    settings = Augmentation(flip=flip, scale=0.1, shift=12.0, colour=0.0)
    for seed in range(3):
        image, landmarks, *_ = augmented(sample, template, settings, np.random.default_rng(seed))
        grey = image.mean(axis=2)
        rows, cols = np.nonzero(grey > 0.5 * grey.max())
        weights = grey[rows, cols]
        found = np.array([np.average(cols, weights=weights), np.average(rows, weights=weights)])
        mirror = np.array([-1.0 if flip else 1.0, 1.0])
        expected = landmarks[30] + (np.array([x, y]) - sample["landmarks"][30]) * mirror
        assert np.linalg.norm(found - expected) < 1.0


def test_flip_mirrors_the_image_content(astronaut_sample, template):
    settings = Augmentation(flip=1.0, scale=0.0, shift=0.0, colour=0.0)
    image, landmarks, *_ = augmented(astronaut_sample, template, settings, np.random.default_rng(0))
    expected = astronaut_sample["crops"][:, ::-1].astype(np.float32) / 255.0
    np.testing.assert_allclose(image, expected, atol=1e-5)
    # The subject's right eye corner (36) is now where the mirrored left one (45) was.
    assert np.allclose(landmarks[36, 0], 223 - astronaut_sample["landmarks"][45, 0])


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


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, astronaut_rgb, detector, template):
    folder = tmp_path_factory.mktemp("prepared")
    save_split(tiny_split(astronaut_rgb, detector, template), folder / "train.npz")
    return folder


def test_a_tiny_run_trains_every_stage_logs_and_exports(prepared, template, tmp_path):
    trainer = Trainer(tiny_config(prepared), tmp_path / "run", template, progress=False)
    last = trainer.run()
    assert last["step"] == 9 and np.isfinite(last["loss"])
    for stage in ("pose", "pretrain", "finetune"):
        assert len(read_log(tmp_path / "run" / f"log_{stage}.csv")) == 3
    assert "shape_correlation" in read_log(tmp_path / "run" / "log_pretrain.csv")[0]
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    trainer.export(tmp_path / "model.pt", {"data": "test"})
    loaded = load_model(tmp_path / "model.pt", template)
    assert loaded.config == TINY_MODEL and loaded.card["steps"] == 9
    assert loaded.card["training_totals"]["images_seen"] == 18
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["shape_code_size"] == 8


def test_resuming_from_a_checkpoint_takes_the_same_steps(prepared, template, tmp_path):
    straight = Trainer(tiny_config(prepared), tmp_path / "straight", template, progress=False)
    straight.run()
    interrupted = Trainer(tiny_config(prepared), tmp_path / "resumed", template, progress=False)
    interrupted.run(stop_after=2)  # checkpoint_every=2: the checkpoint is at step 2
    resumed = Trainer(tiny_config(prepared), tmp_path / "resumed", template, progress=False)
    resumed.load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert resumed.state.step == 2
    resumed.run()
    for stage in ("pose", "pretrain", "finetune"):
        expected = [float(r["loss"]) for r in read_log(tmp_path / "straight" / f"log_{stage}.csv")]
        actual = [float(r["loss"]) for r in read_log(tmp_path / "resumed" / f"log_{stage}.csv")]
        assert actual == pytest.approx(expected, rel=1e-5)


def test_a_resumed_run_takes_its_learning_rate_from_the_config_given(prepared, template, tmp_path):
    Trainer(tiny_config(prepared), tmp_path / "run", template, progress=False).run(stop_after=2)
    slower = tuple(
        dataclasses.replace(stage, learning_rate=stage.learning_rate / 4, beta1=0.8)
        for stage in tiny_config(prepared).stages
    )
    resumed = Trainer(tiny_config(prepared, stages=slower), tmp_path / "run", template, progress=False)
    resumed.load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    located = resumed.state.stage_at(resumed.config.stages)
    assert located is not None and resumed.optimizer is not None
    group = resumed.optimizer.param_groups[0]
    assert group["lr"] == pytest.approx(located[1].learning_rate) and group["betas"] == (0.8, 0.999)
    assert resumed.optimizer.state  # the moments themselves are kept


def test_the_pose_stage_trains_the_encoder_only(prepared, template, tmp_path):
    config = tiny_config(prepared, stages=(StageConfig("pose", 2, batch_size=2, learning_rate=0.01),))
    trainer = Trainer(config, tmp_path / "run", template, progress=False)
    decoder_before = [p.detach().clone() for p in trainer.model.shape_decoder.parameters()]
    head_before = [p.detach().clone() for p in trainer.model.encoder.pose_head.parameters()]
    trainer.run()
    decoder_after = list(trainer.model.shape_decoder.parameters())
    head_after = list(trainer.model.encoder.pose_head.parameters())
    assert all(torch.equal(a, b) for a, b in zip(decoder_before, decoder_after, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(head_before, head_after, strict=True))


def test_bf16_autocast_trains_every_stage(prepared, template, tmp_path):
    trainer = Trainer(tiny_config(prepared, steps=1), tmp_path / "run", template, progress=False)
    trainer.use_bf16 = True  # forced: the CI machine may emulate bf16 (slow but correct)
    last = trainer.run()
    assert last["step"] == 3 and np.isfinite(last["loss"])


def test_a_warm_start_takes_the_fitting_weights_and_trains(prepared, template, tmp_path):
    source = Trainer(tiny_config(prepared, steps=1), tmp_path / "source", template, progress=False)
    source.run()
    source.export(tmp_path / "source.pt", {})
    pooled = dataclasses.replace(
        TINY_MODEL, encoder=dataclasses.replace(TINY_MODEL.encoder, pose_head=PoseHead.POOLED)
    )
    target = Trainer(tiny_config(prepared, model=pooled), tmp_path / "target", template, progress=False)
    fresh = target.warm_start(tmp_path / "source.pt")
    # The pooled camera and lighting heads have no counterpart in a spatial-head model; all else is taken.
    assert fresh and all(name.startswith(("encoder.camera_head", "encoder.lighting_head")) for name in fresh)
    taken, given = target.model.shape_decoder.state_dict(), source.model.shape_decoder.state_dict()
    assert all(torch.equal(taken[name], given[name].half().to(taken[name].dtype)) for name in given)
    assert target.state.images_seen == 6
    assert np.isfinite(target.run(stop_after=1)["loss"])


def test_the_shipped_weights_warm_start_a_new_model(prepared, template, tmp_path):
    config = tiny_config(prepared, model=ModelConfig(), stages=(StageConfig("pretrain", 1, batch_size=2),))
    trainer = Trainer(config, tmp_path / "run", template, progress=False)
    fresh = trainer.warm_start(resource_path("weights/facecraft.pt"))
    assert len(fresh) < 0.05 * len(trainer.model.state_dict())
    assert np.isfinite(trainer.run()["loss"])


def test_dataset_batches_have_the_documented_shapes(prepared, template):
    from facecraft.training.prepare_data import load_split

    dataset = PreparedFaces(load_split(prepared / "train.npz"), template, Augmentation())
    batch = collate([dataset[0], dataset[1]])
    assert batch.images.shape == (2, 3, 224, 224) and batch.images.max() <= 1.0
    assert batch.landmarks.shape == (2, 68, 2) and batch.offsets.shape == (2, 468, 3)
    assert batch.landmark_weights[0, 0] == 1.0 and batch.landmark_weights[1, 0] == 0.5
    dataset.set_epoch(0)
    again = collate([dataset[0]])
    assert torch.equal(again.images[0], batch.images[0])  # same (seed, epoch, index): same augmentation


def test_a_bad_config_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"stagez": []})
    with pytest.raises(ValueError, match="pretrain"):
        StageConfig("warmup", 3)


@pytest.mark.slow
def test_two_process_data_parallel_training_runs_with_torchrun(prepared, tmp_path):
    """The DistributedDataParallel path, on CPU with the gloo backend (what torchrun does on GPUs)."""
    import shutil
    import subprocess
    import sys

    config = tiny_config(prepared, steps=2)
    config_path = tmp_path / "config.json"
    data = config.to_dict()
    data["stages"] = [dataclasses.asdict(s) for s in config.stages]
    config_path.write_text(json.dumps(data))
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun is not None
    result = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "facecraft.training.train",
            "--config",
            str(config_path),
            "--out",
            str(tmp_path / "run"),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_log(tmp_path / "run" / "log_finetune.csv")
    assert len(rows) == 2 and all(np.isfinite(float(r["loss"])) for r in rows)


def test_a_checkpoint_exports_as_a_model_with_its_lineage(prepared, template, tmp_path):
    from facecraft.training.export_checkpoint import main as export_main

    trainer = Trainer(tiny_config(prepared, steps=1), tmp_path / "run", template, progress=False)
    trainer.run()
    out = tmp_path / "model.pt"
    assert export_main([str(tmp_path / "run" / "checkpoint.pt"), str(out), "--note", "tiny"]) == 0
    loaded = load_model(out, template)
    assert loaded.config == TINY_MODEL and loaded.card["note"] == "tiny"
    assert loaded.card["training_totals"]["images_seen"] == 6 and loaded.card["steps"] == 3
    assert export_main([str(tmp_path / "missing.pt"), str(out)]) == 1


def test_configs_round_trip_and_refuse_unknown_keys():
    from facecraft.training.config import Stage

    config = TrainConfig.from_dict(
        {"stages": [{"name": "pose", "steps": 5, "pose": {"mesh": 3.0}}, {"name": "finetune", "steps": 2}]}
    )
    assert [s.name for s in config.stages] == [Stage.POSE, Stage.FINETUNE]
    assert config.stages[0].pose.mesh == 3.0
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="unknown PoseWeights keys"):
        TrainConfig.from_dict({"stages": [{"name": "pose", "steps": 1, "pose": {"meshh": 1.0}}]})
    with pytest.raises(ValueError, match="unknown Augmentation keys"):
        TrainConfig.from_dict({"augmentation": {"flipp": 0.5}})
    assert not Stage.POSE.uses_decoders and Stage.PRETRAIN.supervised and not Stage.FINETUNE.supervised


def test_a_stop_request_checkpoints_the_steps_taken(prepared, template, tmp_path):
    trainer = Trainer(tiny_config(prepared, checkpoint_every=100), tmp_path / "run", template, progress=False)
    trainer.stop_requested = True  # as the SIGTERM handler of the command does
    last = trainer.run()
    assert last["step"] == 1
    resumed = Trainer(tiny_config(prepared), tmp_path / "run", template, progress=False)
    resumed.load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert resumed.state.step == 1


def test_an_anchored_finetune_adds_the_pretrain_loss_it_logs(prepared, template, tmp_path):
    anchored = StageConfig(
        "finetune",
        1,
        batch_size=2,
        objective=ObjectiveConfig(perceptual=0.0),
        pretrain=PretrainWeights(texture=0.0, lighting=0.0),
        anchor=0.5,
    )
    config = tiny_config(prepared, stages=(anchored,))
    trainer = Trainer(config, tmp_path / "run", template, progress=False)
    batch = next(trainer.batches(2))
    torch.manual_seed(0)
    total, terms = trainer.stage_loss(0, anchored, batch)
    plain, plain_terms = trainer.stage_loss(0, dataclasses.replace(anchored, anchor=0.0), batch)
    pretrain, _ = trainer.supervised.pretrain(trainer.model(batch.images), batch, anchored.pretrain)
    expected = float(plain.detach()) + 0.5 * float(pretrain.detach())
    assert float(total.detach()) == pytest.approx(expected, rel=1e-5)
    assert terms["anchor_shape"] > 0 and terms["anchor_texture"] == 0.0 and "anchor_shape" not in plain_terms
    assert np.isfinite(trainer.run()["anchor_mesh"])
    with pytest.raises(ValueError, match="only for a finetune stage"):
        StageConfig("pretrain", 1, anchor=1.0)
