"""The decoders D_S and D_A: output shapes per variant, the zero start, where the local pathway acts."""

from __future__ import annotations

import pytest
import torch

from facecraft.core.conventions import UV_HEIGHT, UV_WIDTH
from facecraft.core.model.config import DecoderConfig, ModelConfig, Variant
from facecraft.core.model.decoder import DualPathwayDecoder, LinearDecoder

SMALL = DecoderConfig(global_channels=(8, 8, 8, 8, 8, 8), local_channels=(8, 8, 8, 8), fusion_channels=8)


def decoder(variant: Variant, template) -> DualPathwayDecoder:
    torch.manual_seed(0)
    return DualPathwayDecoder(ModelConfig(variant=variant, decoder=SMALL), 32, template.part_boxes).eval()


@pytest.mark.parametrize("variant", [Variant.GLOBAL, Variant.GLOBAL_LOCAL, Variant.GLOBAL_LOCAL_PROXY])
def test_maps_have_the_uv_size_and_a_residual_only_with_proxies(variant, template):
    with torch.no_grad():
        proxy, residual = decoder(variant, template)(torch.randn(2, 32))
    assert proxy.shape == (2, 3, UV_HEIGHT, UV_WIDTH) and proxy.dtype == torch.float32
    if variant.has_proxy:
        assert residual is not None and residual.shape == proxy.shape
    else:
        assert residual is None


def test_a_fresh_decoder_starts_at_zero_whatever_the_code(template):
    # Zero heads: the mean face, a grey albedo and no residual, before any training.
    with torch.no_grad():
        proxy, residual = decoder(Variant.GLOBAL_LOCAL_PROXY, template)(torch.randn(3, 32))
    assert torch.count_nonzero(proxy) == 0 and torch.count_nonzero(residual) == 0


def test_the_local_pathway_changes_only_its_parts_and_a_one_texel_rim(template):
    model = decoder(Variant.GLOBAL_LOCAL, template)
    code = torch.randn(2, 32)
    with torch.no_grad():
        before = model.fused_features(code)
        for parameter in model.local_pathway.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
        after = model.fused_features(code)
    union = model.local_pathway.union
    near = torch.zeros(UV_HEIGHT, UV_WIDTH, dtype=torch.bool)
    near[union.top - 1 : union.top + union.height + 1, union.left - 1 : union.left + union.width + 1] = True
    changed = (after - before).abs().amax(dim=(0, 1)) > 0
    assert bool(changed.any()) and not bool(changed[~near].any())


def test_the_linear_decoder_is_linear_in_its_code():
    torch.manual_seed(0)
    linear = LinearDecoder(16).eval()
    a, b = torch.randn(1, 16), torch.randn(1, 16)
    with torch.no_grad():
        zero = linear(torch.zeros(1, 16))[0]
        combined = linear(2.0 * a - b)[0] - zero
        parts = 2.0 * (linear(a)[0] - zero) - (linear(b)[0] - zero)
    assert combined.shape == (1, 3, UV_HEIGHT, UV_WIDTH)
    torch.testing.assert_close(combined, parts, atol=1e-5, rtol=1e-4)
