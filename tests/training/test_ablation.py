"""The time-budgeted training behind the ablation, and the ablation driver's bookkeeping."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tiny_runs import tiny_config

from facecraft.core.model.config import Variant
from facecraft.training import ablation
from facecraft.training.ablation import AblationConfig
from facecraft.training.config import Stage
from facecraft.training.trainer import Trainer


def test_a_time_budget_stops_with_a_checkpoint_and_survives_a_resume(prepared, template, tmp_path):
    trainer = Trainer(tiny_config(prepared, checkpoint_every=100), tmp_path / "run", template, progress=False)
    last = trainer.run(until_seconds=1e-9)  # the first step spends the budget
    assert last["step"] == 1 and trainer.state.train_seconds > 1e-9
    resumed = Trainer(tiny_config(prepared), tmp_path / "run", template, progress=False)
    resumed.load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert resumed.state.step == 1
    assert resumed.run(until_seconds=1e-9) == {}  # nothing left of the budget: no step taken
    assert resumed.state.step == 1
    assert resumed.run()["step"] == 9  # without a budget the run goes to its end


def shipped_config() -> dict:
    return json.loads(Path(__file__).parents[2].joinpath("training/configs/cpu_ablation.json").read_text())


def test_the_shipped_ablation_config_parses_into_one_stage_runs():
    config = AblationConfig.from_dict(shipped_config())
    assert config.minutes == {Stage.PRETRAIN: 15.0, Stage.FINETUNE: 25.0}
    finetune = config.stage_config(Stage.FINETUNE, Variant.LINEAR)
    assert finetune["model"]["variant"] == "linear"
    assert [stage["name"] for stage in finetune["stages"]] == ["finetune"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(extra=1), "unknown keys"),
        (lambda d: d["train"]["stages"].pop(0), "expected pose, pretrain, finetune"),
        (lambda d: d["minutes"].pop("finetune"), "positive budget"),
        (lambda d: d["minutes"].update(pretrain=0), "positive budget"),
    ],
)
def test_a_bad_ablation_config_is_refused_with_what_was_expected(change, message):
    data = shipped_config()
    change(data)
    with pytest.raises(ValueError, match=message):
        AblationConfig.from_dict(data)


def write_card(model: Path, seconds: float, images: int) -> None:
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"")
    totals = {"train_seconds": seconds, "images_seen": images}
    model.with_suffix(".json").write_text(json.dumps({"training_totals": totals}))


def test_a_variant_trains_each_stage_to_its_budget_once(tmp_path, monkeypatch):
    config = AblationConfig.from_dict(shipped_config())
    write_card(tmp_path / "pose.pt", 100.0, 1000)
    calls: list[tuple[str, float | None]] = []

    def fake_train(stage_config, run_dir, source, export, until_seconds, threads, nice):
        calls.append((stage_config["stages"][0]["name"], until_seconds))
        write_card(export, until_seconds + 0.5, 2000)

    monkeypatch.setattr(ablation, "_train", fake_train)
    model = ablation.run_variant(config, Variant.GLOBAL, tmp_path, threads=1, nice=0)
    assert model == tmp_path / "global" / "finetune.pt"
    # Each budget counts from where the stage's source stopped: 15 min after the pose model, 25 after that.
    assert calls == [("pretrain", 100.0 + 900.0), ("finetune", 1000.5 + 1500.0)]
    ablation.run_variant(config, Variant.GLOBAL, tmp_path, threads=1, nice=0)
    assert len(calls) == 2  # done stages are not trained again


def test_an_interrupted_stage_is_trained_again_to_its_target(tmp_path, monkeypatch):
    config = AblationConfig.from_dict(shipped_config())
    write_card(tmp_path / "pose.pt", 0.0, 0)
    write_card(tmp_path / "linear" / "pretrain.pt", 300.0, 500)  # exported by a stop at 5 of 15 min
    calls: list[str] = []

    def fake_train(stage_config, run_dir, source, export, until_seconds, threads, nice):
        calls.append(stage_config["stages"][0]["name"])
        write_card(export, until_seconds, 900)

    monkeypatch.setattr(ablation, "_train", fake_train)
    ablation.run_variant(config, Variant.LINEAR, tmp_path, threads=1, nice=0)
    assert calls == ["pretrain", "finetune"]


def test_the_table_lists_evaluated_variants_in_the_papers_order(tmp_path):
    write_card(tmp_path / "pose.pt", 60.0, 100)
    for variant, nme in ((Variant.GLOBAL_LOCAL_PROXY, 0.05), (Variant.LINEAR, 0.07)):
        write_card(tmp_path / variant.value / "pretrain.pt", 960.0, 1100)
        write_card(tmp_path / variant.value / "finetune.pt", 2460.0, 2100)
        scores = {"nme_mean": nme, "nme_median": nme, "l21_encoder": 0.1, "l21_fitted": 0.08}
        (tmp_path / variant.value / "finetune_eval.json").write_text(json.dumps(scores))
    rows = ablation.table(tmp_path).splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rows] == ["linear", "global_local_proxy"]
    assert "| 7.00 % |" in rows[0] and "| 1,000 / 1,000 | 15.0 / 25.0 |" in rows[0]


def test_a_stage_that_stops_short_of_its_budget_is_an_error_not_a_result(tmp_path, monkeypatch):
    config = AblationConfig.from_dict(shipped_config())
    write_card(tmp_path / "pose.pt", 0.0, 0)

    def stopped_early(stage_config, run_dir, source, export, until_seconds, threads, nice):
        write_card(export, until_seconds - 60.0, 100)  # a SIGTERM, or steps that ran out

    monkeypatch.setattr(ablation, "_train", stopped_early)
    with pytest.raises(RuntimeError, match="stopped before"):
        ablation.run_variant(config, Variant.LINEAR, tmp_path, threads=1, nice=0)


def test_a_budget_in_fractional_minutes_is_reached_as_the_card_rounds_it(tmp_path, monkeypatch):
    data = shipped_config()
    data["minutes"] = {"pretrain": 0.01, "finetune": 0.01}
    config = AblationConfig.from_dict(data)
    write_card(tmp_path / "pose.pt", 1.1, 0)
    calls: list[float] = []

    def fake_train(stage_config, run_dir, source, export, until_seconds, threads, nice):
        calls.append(until_seconds)
        write_card(export, round(until_seconds, 1), 10)  # cards keep 0.1 s

    monkeypatch.setattr(ablation, "_train", fake_train)
    ablation.run_variant(config, Variant.LINEAR, tmp_path, threads=1, nice=0)
    ablation.run_variant(config, Variant.LINEAR, tmp_path, threads=1, nice=0)
    assert calls == [1.7, 2.3]  # each stage once: 1.1 + 0.6 s, then 1.7 + 0.6 s


def test_retraining_a_variant_drops_its_cached_evaluation(tmp_path, monkeypatch):
    config = AblationConfig.from_dict(shipped_config())
    write_card(tmp_path / "pose.pt", 0.0, 0)
    cached = tmp_path / "linear" / "finetune_eval.json"
    cached.parent.mkdir(parents=True)
    cached.write_text("{}")
    monkeypatch.setattr(ablation, "_train", lambda c, r, s, export, until, t, n: write_card(export, until, 1))
    ablation.run_variant(config, Variant.LINEAR, tmp_path, threads=1, nice=0)
    assert not cached.exists()


def test_the_pose_model_is_trained_once_and_checked_for_its_steps(tmp_path, monkeypatch):
    config = AblationConfig.from_dict(shipped_config())
    steps = config.train.stages[0].steps
    calls: list[Path] = []

    def fake_train(stage_config, run_dir, source, export, until_seconds, threads, nice):
        calls.append(export)
        assert [stage["name"] for stage in stage_config["stages"]] == ["pose"] and source is None
        export.write_bytes(b"")
        export.with_suffix(".json").write_text(json.dumps({"steps": steps}))

    monkeypatch.setattr(ablation, "_train", fake_train)
    assert ablation.train_pose(config, tmp_path, threads=1, nice=0) == tmp_path / "pose.pt"
    ablation.train_pose(config, tmp_path, threads=1, nice=0)
    assert calls == [tmp_path / "pose.pt"]
    (tmp_path / "pose.json").write_text(json.dumps({"steps": steps // 2}))  # stopped by a signal
    monkeypatch.setattr(ablation, "_train", lambda *args: None)
    with pytest.raises(RuntimeError, match="pose stage stopped"):
        ablation.train_pose(config, tmp_path, threads=1, nice=0)


def test_a_time_budget_is_refused_for_several_processes(tmp_path, monkeypatch, capsys):
    from facecraft.training.train import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    code = main(
        ["--config", "x.json", "--out", str(tmp_path), "--until-seconds", "5", "--allocator", "system"]
    )
    assert code == 1 and "--until-seconds needs one process" in capsys.readouterr().err


def test_a_step_stopped_by_sigstop_counts_the_step_before_it_not_the_pause(prepared, template, tmp_path):
    trainer = Trainer(tiny_config(prepared, steps=2), tmp_path / "run", template, progress=False)
    step_loss = trainer.stage_loss

    def paused_second_step(index, stage, batch):
        if trainer.state.step == 1:
            time.sleep(3.0)  # as if stopped with kill -STOP, then continued
            trainer.was_paused = True  # what the command's SIGCONT handler sets
        return step_loss(index, stage, batch)

    trainer.stage_loss = paused_second_step
    started = time.perf_counter()
    trainer.run(stop_after=2)
    wall = time.perf_counter() - started
    assert trainer.state.step == 2 and trainer.state.train_seconds < wall - 2.5  # the pause is left out
