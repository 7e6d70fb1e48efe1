"""Saving and loading models: round trip, fp16, and clear errors for bad files."""

from __future__ import annotations

import json

import pytest
import torch

from facecraft.core.errors import ResourceError
from facecraft.core.model.config import DecoderConfig, EncoderConfig, ModelConfig, Variant
from facecraft.core.model.io import card_path, load_model, save_model
from facecraft.core.model.model import FaceModel

SMALL = ModelConfig(variant=Variant.GLOBAL_LOCAL_PROXY, shape_code_size=16, albedo_code_size=16,
                    encoder=EncoderConfig(stem_channels=8, stage_channels=(8, 8, 8, 8), convs_per_stage=1),
                    decoder=DecoderConfig(global_channels=(8, 8, 8, 8, 8, 8), local_channels=(8, 8, 8, 8),
                                          fusion_channels=8))


@pytest.fixture
def trained(template) -> FaceModel:
    torch.manual_seed(3)
    model = FaceModel(SMALL, template)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    model.train()
    model(torch.rand(2, 3, 224, 224))  # move the BatchNorm statistics off their defaults
    return model.eval()


@pytest.mark.parametrize("half", [True, False])
def test_round_trip_gives_the_same_outputs(trained, template, tmp_path, half):
    path = tmp_path / "model.pt"
    save_model(trained, path, card={"steps": 12, "data": "test"}, half=half)
    loaded = load_model(path, template)
    assert loaded.config == SMALL and loaded.card["steps"] == 12
    assert loaded.card["weights_dtype"] == ("float16" if half else "float32")
    images = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        expected, actual = trained(images).face, loaded.model(images).face
    tolerance = 2e-2 if half else 1e-6
    torch.testing.assert_close(actual.shape, expected.shape, atol=tolerance, rtol=tolerance)
    torch.testing.assert_close(actual.albedo, expected.albedo, atol=tolerance, rtol=tolerance)
    assert not loaded.model.training
    assert not list(tmp_path.glob(".*.tmp"))


def test_missing_file_is_reported(template, tmp_path):
    with pytest.raises(ResourceError, match="not found"):
        load_model(tmp_path / "nothing.pt", template)


def test_corrupt_and_foreign_files_are_refused(trained, template, tmp_path):
    path = tmp_path / "model.pt"
    save_model(trained, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ResourceError, match="unreadable"):
        load_model(path, template)
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ResourceError, match="not a FaceCraft model"):
        load_model(path, template)
    path.write_text("hello")
    with pytest.raises(ResourceError, match="unreadable"):
        load_model(path, template)


def test_pickled_objects_are_never_executed(template, tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "facecraft-nonlinear-3dmm", "version": 1, "evil": Payload()}, path)
    with pytest.raises(ResourceError, match="unreadable"):
        load_model(path, template)


def test_weights_that_do_not_fit_the_config_are_refused(trained, template, tmp_path):
    path = tmp_path / "model.pt"
    save_model(trained, path)
    payload = torch.load(path, weights_only=True)
    payload["config"] = json.dumps(ModelConfig(variant=Variant.GLOBAL).to_dict())
    torch.save(payload, path)
    card_path(path).unlink()
    with pytest.raises(ResourceError, match="do not match"):
        load_model(path, template)


def test_nan_weights_and_other_versions_are_refused(trained, template, tmp_path):
    path = tmp_path / "model.pt"
    save_model(trained, path)
    payload = torch.load(path, weights_only=True)
    name = next(n for n, t in payload["state_dict"].items() if t.is_floating_point())
    payload["state_dict"][name] = torch.full_like(payload["state_dict"][name], float("nan"))
    torch.save(payload, path)
    with pytest.raises(ResourceError, match="NaN"):
        load_model(path, template)
    payload["version"] = 99
    torch.save(payload, path)
    with pytest.raises(ResourceError, match="version 99"):
        load_model(path, template)


def test_a_card_for_another_model_is_refused(trained, template, tmp_path):
    path = tmp_path / "model.pt"
    save_model(trained, path)
    card = json.loads(card_path(path).read_text())
    card["config"]["shape_code_size"] = 320
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(ResourceError, match="different model"):
        load_model(path, template)
    card_path(path).write_text("{not json")
    with pytest.raises(ResourceError, match="unreadable model card"):
        load_model(path, template)
