"""The inference model: BatchNorms folded away, and the networks' precision rule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from facecraft.core.model.config import EncoderConfig, ModelConfig, PoseHead, Variant
from facecraft.core.model.inference import fold_batch_norms, with_layer_weights_in
from facecraft.core.model.model import FaceModel
from facecraft.core.model.precision import bf16_is_native, cpu_flags, network_autocast


def trained_looking(model: FaceModel, seed: int = 0) -> FaceModel:
    """``model`` with random BatchNorm statistics and affine terms, and non-zero heads, as after training."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                channels = module.num_features
                module.running_mean.copy_(torch.randn(channels, generator=generator) * 0.3)
                module.running_var.copy_(torch.rand(channels, generator=generator) * 2.0 + 0.1)
                module.weight.copy_(torch.rand(channels, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(channels, generator=generator) * 0.2)
            elif isinstance(module, nn.Conv2d) and not module.weight.abs().sum():
                module.weight.normal_(0.0, 0.05, generator=generator)  # the zero-started heads
    return model.eval()


@pytest.mark.parametrize("variant", list(Variant), ids=lambda v: v.value)
@pytest.mark.parametrize("pose_head", list(PoseHead), ids=lambda p: p.value)
def test_folding_keeps_the_function_and_removes_every_batch_norm(template, variant, pose_head):
    config = ModelConfig(variant=variant, encoder=EncoderConfig(pose_head=pose_head))
    model = trained_looking(FaceModel(config, template))
    folded = fold_batch_norms(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    again = fold_batch_norms(folded).state_dict()
    assert all(torch.equal(again[name], value) for name, value in folded.state_dict().items())
    images = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = model(images), folded(images)
    for name in ("shape", "shape_proxy", "albedo", "albedo_proxy"):
        torch.testing.assert_close(
            getattr(actual.face, name), getattr(expected.face, name), atol=2e-5, rtol=1e-4
        )
    torch.testing.assert_close(actual.shape_code, expected.shape_code, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(actual.camera.to_vector(), expected.camera.to_vector(), atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(actual.lighting, expected.lighting, atol=2e-5, rtol=1e-4)


def test_the_folded_model_is_differentiable_in_its_codes(template):
    folded = fold_batch_norms(trained_looking(FaceModel(ModelConfig(), template))).requires_grad_(False)
    code = torch.randn(1, folded.config.shape_code_size, requires_grad=True)
    folded.decode_shape(code).square().sum().backward()
    assert code.grad is not None and code.grad.abs().sum() > 0


def test_a_batch_norm_no_rule_covers_is_refused(template):
    model = FaceModel(ModelConfig(), template)
    model.encoder.extra = nn.BatchNorm2d(4)  # not after a layer it could be folded into
    with pytest.raises(ValueError, match=r"no rule folds encoder\.extra"):
        fold_batch_norms(model)


def test_networks_return_float32_under_autocast_and_stay_close_to_float32(template):
    model = fold_batch_norms(trained_looking(FaceModel(ModelConfig(), template)))
    images = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        exact = model(images)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # forced, whatever the CPU
            low = model(images)
    for value in (low.shape_code, low.camera.scale, low.lighting, low.face.shape, low.face.albedo):
        assert value.dtype == torch.float32
    assert (low.face.albedo - exact.face.albedo).abs().max() < 0.02
    assert (low.camera.translation - exact.camera.translation).abs().max() < 0.25  # crop pixels


def test_bf16_autocast_only_where_the_hardware_has_it():
    native = bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    assert bf16_is_native(torch.device("cpu")) is native
    assert network_autocast(torch.device("cpu"))._enabled is native
    assert network_autocast(torch.device("cpu"), enabled=False)._enabled is False
    assert bf16_is_native(torch.device("meta")) is False


def test_a_copy_with_bf16_layer_weights_keeps_buffers_and_outputs_in_float32(template):
    model = fold_batch_norms(trained_looking(FaceModel(ModelConfig(), template)))
    low = with_layer_weights_in(model, torch.bfloat16)
    assert low.encoder.trunk[0][0].weight.dtype == torch.bfloat16
    assert model.encoder.trunk[0][0].weight.dtype == torch.float32  # the original is untouched
    assert low.mean_shape.dtype == torch.float32 and low.landmark_uv.dtype == torch.float32
    images = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected, actual = model(images), low(images)
    assert actual.face.shape.dtype == torch.float32 and actual.camera.scale.dtype == torch.float32
    torch.testing.assert_close(actual.face.albedo, expected.face.albedo, atol=1e-2, rtol=0)
    torch.testing.assert_close(actual.camera.to_vector(), expected.camera.to_vector(), atol=0.05, rtol=0)
