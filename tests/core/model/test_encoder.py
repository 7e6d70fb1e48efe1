"""The encoder E: what it outputs, and that its pose head sees where the face is in the crop."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from facecraft.core.model.config import EncoderConfig, ModelConfig, PoseHead
from facecraft.core.model.encoder import Encoder

TINY = ModelConfig(
    shape_code_size=16,
    albedo_code_size=12,
    encoder=EncoderConfig(stem_channels=8, stage_channels=(8, 12, 12, 16), convs_per_stage=1),
)


def tiny_encoder(pose_head: PoseHead) -> Encoder:
    torch.manual_seed(0)
    config = dataclasses.replace(TINY, encoder=dataclasses.replace(TINY.encoder, pose_head=pose_head))
    encoder = Encoder(config)
    for name, parameter in encoder.named_parameters():
        if name.startswith(("camera_head", "lighting_head")) and parameter.dim() > 1:
            torch.nn.init.normal_(parameter, std=0.05)  # pooled heads start at zero: make them speak
    return encoder.eval()


@pytest.mark.parametrize("pose_head", list(PoseHead), ids=lambda head: head.value)
def test_outputs_have_the_documented_shapes(pose_head):
    encoder = tiny_encoder(pose_head)
    with torch.no_grad():
        out = encoder(torch.rand(3, 3, 224, 224))
    assert out.shape_code.shape == (3, 16) and out.albedo_code.shape == (3, 12)
    assert out.camera.batch_size == 3 and out.lighting.shape == (3, 3, 9)
    assert bool((out.camera.scale > 0).all())
    assert all(t.dtype == torch.float32 for t in (out.shape_code, out.lighting, out.camera.translation))


def test_a_fresh_pooled_head_starts_at_the_priors():
    config = dataclasses.replace(TINY, encoder=dataclasses.replace(TINY.encoder, pose_head=PoseHead.POOLED))
    with torch.no_grad():
        out = Encoder(config).eval()(torch.rand(2, 3, 224, 224))
    assert torch.allclose(out.camera.scale, torch.full((2,), config.camera_scale_prior))
    assert torch.allclose(out.camera.translation, torch.full((2, 2), 111.5))
    assert torch.count_nonzero(out.camera.angles) == 0 and torch.count_nonzero(out.lighting[:, :, 1:]) == 0


def test_the_spatial_head_sees_where_the_face_is_and_the_pooled_head_hardly():
    # The same content moved by the trunk's whole stride (32 px, wrapped round): a pooled head sees
    # nearly the same features in another place; the spatial head sees them move.
    image = torch.zeros(1, 3, 224, 224)
    image[:, :, 80:144, 80:144] = torch.rand(1, 3, 64, 64)
    moved = torch.roll(image, shifts=(32, 32), dims=(2, 3))
    change = {}
    for head in PoseHead:
        encoder = tiny_encoder(head)
        with torch.no_grad():
            before, after = encoder(image).camera.translation, encoder(moved).camera.translation
        change[head] = float((after - before).abs().max() / before.sub(111.5).abs().max().clamp(min=1e-6))
    assert change[PoseHead.SPATIAL] > 10 * change[PoseHead.POOLED], change
