"""Encoder, decoders and the assembled model, for every variant."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from facecraft.core.face.template import PART_NAMES
from facecraft.core.model.config import DecoderConfig, ModelConfig, ObjectiveConfig, Variant
from facecraft.core.model.decoder import DualPathwayDecoder, LocalPathway
from facecraft.core.model.model import FaceModel


@pytest.fixture(scope="module", params=list(Variant), ids=lambda v: v.value)
def model(request, template) -> FaceModel:
    return FaceModel(ModelConfig(variant=request.param), template).eval()


def test_outputs_have_the_documented_shapes_and_ranges(model):
    torch.manual_seed(0)
    with torch.no_grad():
        output = model(torch.rand(2, 3, 224, 224))
    assert output.shape_code.shape == (2, 320) and output.albedo_code.shape == (2, 320)
    assert output.lighting.shape == (2, 3, 9) and output.camera.batch_size == 2
    for uv_map in (output.face.shape, output.face.shape_proxy, output.face.albedo, output.face.albedo_proxy):
        assert uv_map.shape == (2, 3, 192, 224) and torch.isfinite(uv_map).all()
    assert output.face.albedo.min() >= 0 and output.face.albedo.max() <= 1
    assert (output.camera.scale > 0).all()
    assert model.landmark_points(output.face.shape).shape == (2, 68, 3)


def test_an_untrained_model_starts_from_the_priors(model, template):
    with torch.no_grad():
        output = model(torch.rand(1, 3, 224, 224))
    # Decoder heads start at zero: the mean face and a mid-grey albedo; the pose head starts near zero
    # (a small gain on its output): a centred camera at the prior scale under ambient light.
    offset = (output.face.shape - model.mean_shape).abs().max()
    assert offset < 0.01
    prior = torch.tensor([model.config.camera_scale_prior])
    assert torch.allclose(output.camera.scale, prior, rtol=0.02)
    assert torch.allclose(output.camera.translation, torch.tensor([[111.5, 111.5]]), atol=0.5)
    assert torch.allclose(output.lighting[0, :, 0], torch.ones(3), atol=0.02)


def test_proxy_and_true_components_differ_only_with_proxies(model):
    face = model.decode(torch.randn(1, 320), torch.randn(1, 320))
    if model.config.variant.has_proxy:
        assert face.shape is not face.shape_proxy and face.albedo is not face.albedo_proxy
    else:
        assert face.shape is face.shape_proxy and face.albedo is face.albedo_proxy


def test_gradients_reach_every_parameter(model):
    model.train()
    for head in [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.abs().sum() == 0]:
        torch.nn.init.normal_(head.weight, std=0.01)  # zero-initialised heads block gradients for one step
    output = model(torch.rand(2, 3, 224, 224))
    face = output.face
    loss = (
        face.shape.square().mean()
        + face.albedo.mean()
        + face.shape_proxy.mean()
        + face.albedo_proxy.mean()
        + output.camera.to_vector().square().sum()
        + output.lighting.square().sum()
    )
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing
    model.zero_grad()
    model.eval()


def test_linear_variant_is_linear_in_its_codes(template):
    linear = FaceModel(ModelConfig(variant=Variant.LINEAR), template)
    a, b = torch.randn(1, 320), torch.randn(1, 320)
    zero = torch.zeros(1, 320)
    shape = lambda code: linear.decode(code, zero).shape - linear.mean_shape  # noqa: E731
    torch.testing.assert_close(shape(a + 2 * b), shape(a) + 2 * shape(b), atol=1e-5, rtol=1e-4)


def test_local_pathway_places_each_part_in_its_box_and_is_zero_elsewhere(template):
    channels = DecoderConfig().local_channels
    pathway = LocalPathway(320, template.part_boxes, channels).eval()
    with torch.no_grad():
        features = pathway.in_frame(pathway(torch.randn(2, 320)))
    assert features.shape == (2, channels[-1], 192, 224)
    inside = torch.zeros(192, 224, dtype=torch.bool)
    for name in PART_NAMES:
        inside[template.part_boxes[name].slices] = True
    assert (features[:, :, ~inside] == 0).all()
    assert (features[:, :, inside] != 0).float().mean() > 0.5


def test_variant_decides_the_architecture(template):
    counts = {v: FaceModel(ModelConfig(variant=v), template).parameter_counts() for v in Variant}
    assert counts[Variant.GLOBAL_LOCAL]["shape_decoder"] > counts[Variant.GLOBAL]["shape_decoder"]
    assert counts[Variant.GLOBAL_LOCAL_PROXY]["shape_decoder"] > counts[Variant.GLOBAL_LOCAL]["shape_decoder"]
    assert len({c["encoder"] for c in counts.values()}) == 1


def test_configs_round_trip_and_refuse_unknown_keys():
    config = ModelConfig(variant=Variant.GLOBAL, shape_code_size=64, decoder=DecoderConfig(fusion_channels=8))
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert ObjectiveConfig.from_dict(ObjectiveConfig(landmark=3.0).to_dict()).landmark == 3.0
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({"varient": "linear"})
    with pytest.raises(ValueError, match="number"):
        ObjectiveConfig.from_dict({"landmark": "high"})
    with pytest.raises(ValueError):
        ModelConfig.from_dict({"variant": "quadratic"})
    with pytest.raises(ValueError, match="multiple of 32"):
        ModelConfig(image_size=100)


def test_encoder_refuses_a_wrong_input_size(model):
    with pytest.raises(ValueError, match=r"\(B, 3, 224, 224\)"):
        model(torch.rand(1, 3, 200, 200))


def test_split_fusion_equals_a_conv_over_the_concatenated_pathways(template):
    decoder = DualPathwayDecoder(ModelConfig(), 320, template.part_boxes).eval()
    code = torch.randn(2, 320)
    with torch.no_grad():
        global_features = decoder.global_pathway(code)
        local_features = decoder.local_pathway.in_frame(decoder.local_pathway(code))
        weight = torch.cat([decoder.fusion_global.weight, decoder.fusion_local.weight], dim=1)
        expected = F.conv2d(torch.cat([global_features, local_features], dim=1), weight, padding=1)
        torch.testing.assert_close(decoder.fused_features(code), expected, atol=1e-4, rtol=1e-4)


def test_landmark_patches_spread_the_gradient_and_keep_smooth_surfaces_exact():
    from facecraft.core.model.model import LANDMARK_PATCH, sample_landmark_patches, sample_landmarks

    rows, cols = torch.meshgrid(torch.arange(192.0), torch.arange(224.0), indexing="ij")
    plane = torch.stack([cols * 0.01, rows * -0.02, cols * 0.003 + rows * 0.001])[None]  # linear in u, v
    uv = torch.tensor([[0.5, 0.5], [0.3, 0.6], [0.71, 0.42]])
    assert torch.allclose(sample_landmark_patches(plane, uv), sample_landmarks(plane, uv), atol=1e-5)

    shape = plane.clone().requires_grad_(True)
    sample_landmarks(shape, uv[:1]).sum().backward()
    point_texels = int((shape.grad.abs().sum(1) > 0).sum())
    shape.grad = None
    sample_landmark_patches(shape, uv[:1]).sum().backward()
    patch_texels = int((shape.grad.abs().sum(1) > 0).sum())
    assert point_texels <= 4 and patch_texels >= LANDMARK_PATCH**2
    assert float(shape.grad.abs().amax()) < 0.05  # no texel carries much of the pull
    with pytest.raises(ValueError, match="odd"):
        sample_landmark_patches(plane, uv, patch=4)
