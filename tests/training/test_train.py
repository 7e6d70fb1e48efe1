"""The training loop: tiny end-to-end runs of every stage, exact resume, warm starts, exports."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_runs import TINY_MODEL, read_log, tiny_config

from facecraft.core.model.config import ModelConfig, ObjectiveConfig, PoseHead
from facecraft.core.model.io import load_model
from facecraft.core.resources import resource_path
from facecraft.training.config import PretrainWeights, StageConfig, TrainConfig
from facecraft.training.trainer import Trainer


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
