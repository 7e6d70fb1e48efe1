"""The composed objective: which renders enter it, which terms each variant uses, the weighted total."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from facecraft.core.model.config import DecoderConfig, EncoderConfig, ModelConfig, ObjectiveConfig, Variant
from facecraft.core.model.model import FaceModel
from facecraft.core.model.objective import Objective, ObjectiveTargets
from facecraft.core.render.unwrap import unwrap_image

TINY = dict(shape_code_size=8, albedo_code_size=8, image_size=64, camera_scale_prior=20.0,
            encoder=EncoderConfig(stem_channels=8, stage_channels=(8, 8, 8, 8), convs_per_stage=1),
            decoder=DecoderConfig(global_channels=(8, 8, 8, 8, 8, 8), local_channels=(8, 8, 8, 8),
                                  fusion_channels=8))
WEIGHTS = ObjectiveConfig(perceptual=0.0, gradient_difference=0.3)


def run(template, variant: Variant):
    torch.manual_seed(1)
    model = FaceModel(ModelConfig(variant=variant, **TINY), template)
    for head in [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.abs().sum() == 0]:
        torch.nn.init.normal_(head.weight, std=0.05)  # give the proxies and residuals something to say
    targets = ObjectiveTargets(torch.rand(2, 3, 64, 64), 32 + 10 * torch.randn(2, 68, 2))
    return Objective(template, WEIGHTS, variant)(model(targets.images), targets)


@pytest.mark.parametrize("variant", list(Variant), ids=lambda v: v.value)
def test_terms_are_finite_and_the_total_is_their_weighted_sum(template, variant):
    terms = run(template, variant).terms
    values = terms.as_floats()
    assert all(torch.isfinite(torch.tensor(list(values.values()))))
    expected = sum(getattr(WEIGHTS, name) * value for name, value in values.items() if name != "total")
    assert values["total"] == pytest.approx(expected, rel=1e-5)
    assert values["reconstruction"] > 0 and values["landmark"] > 0 and values["gradient_difference"] > 0


def test_proxy_variant_reconstructs_the_three_paired_renders_never_the_true_pair(template):
    result = run(template, Variant.GLOBAL_LOCAL_PROXY)
    assert [name for name, _ in result.renders] == ["S~,A~", "S~,A", "S,A~"]
    assert result.terms.residual > 0
    assert result.projected_landmarks.shape == (2, 68, 2)


@pytest.mark.parametrize("variant", [Variant.LINEAR, Variant.GLOBAL, Variant.GLOBAL_LOCAL])
def test_variants_without_proxies_reconstruct_one_render_and_have_no_residual(template, variant):
    result = run(template, variant)
    assert [name for name, _ in result.renders] == ["S,A"]
    assert result.terms.residual == 0 and result.terms.residual_symmetry == 0


def test_perceptual_weight_needs_a_network(template):
    with pytest.raises(ValueError, match="perceptual"):
        Objective(template, dataclasses.replace(WEIGHTS, perceptual=0.1), Variant.GLOBAL)


def test_unwrapping_a_render_returns_the_albedo_on_visible_texels(template):
    from facecraft.core.camera import Camera
    from facecraft.core.render import Renderer, ambient_light

    shape = torch.as_tensor(template.mean_shape_uv).permute(2, 0, 1)[None]
    rows, cols = torch.meshgrid(torch.arange(192.0), torch.arange(224.0), indexing="ij")
    albedo = torch.stack([0.5 + 0.3 * torch.sin(cols / 9), 0.5 + 0.3 * torch.cos(rows / 7),
                          0.4 + 0.002 * cols])[None]  # smooth at the texel scale
    camera = Camera(torch.tensor([300.0]), torch.zeros(1, 3), torch.tensor([[383.5, 383.5]]))
    result = Renderer(template)(shape, albedo, camera, ambient_light(1), (768, 768))
    texture = unwrap_image(result.image, shape, camera)
    visible = result.visibility[0, 0] > 0
    error = (texture - albedo)[0].abs().amax(0)[visible]
    assert error.median() < 0.02
