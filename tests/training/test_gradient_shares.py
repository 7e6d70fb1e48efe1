"""Per-term gradient norms of the fine-tune objective."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tiny_runs import TINY_MODEL

from facecraft.core.model.config import ObjectiveConfig
from facecraft.core.model.model import FaceModel
from facecraft.core.model.objective import Objective
from facecraft.training.dataset import FaceBatch
from facecraft.training.gradient_shares import NETWORKS, TERMS, gradient_norms, shares


@pytest.fixture(scope="module")
def model(template) -> FaceModel:
    torch.manual_seed(0)
    return FaceModel(TINY_MODEL, template).train()


@pytest.fixture(scope="module")
def batch() -> FaceBatch:
    generator = torch.Generator().manual_seed(1)
    return FaceBatch(
        images=torch.rand(2, 3, 224, 224, generator=generator),
        landmarks=100.0 + 20.0 * torch.rand(2, 68, 2, generator=generator),
        landmark_weights=torch.ones(2, 68),
        cameras=torch.zeros(2, 6),
        offsets=torch.zeros(2, 468, 3),
        indices=torch.arange(2),
    )


def test_norms_scale_with_the_weights_and_a_zero_weight_gives_zero(model, batch, template):
    config = ObjectiveConfig(perceptual=0.0)
    norms = gradient_norms(model, Objective(template, config, TINY_MODEL.variant), batch)
    assert set(norms) == set(TERMS) and all(set(v) == set(NETWORKS) for v in norms.values())
    assert norms["perceptual"] == dict.fromkeys(NETWORKS, 0.0)
    assert norms["landmark"]["albedo_decoder"] == 0.0  # landmarks never reach the albedo
    assert norms["landmark"]["encoder"] > 0 and norms["reconstruction"]["albedo_decoder"] > 0
    doubled = dataclasses.replace(config, landmark=2 * config.landmark)
    again = gradient_norms(model, Objective(template, doubled, TINY_MODEL.variant), batch)
    assert again["landmark"]["encoder"] == pytest.approx(2 * norms["landmark"]["encoder"], rel=1e-4)
    assert again["reconstruction"]["encoder"] == pytest.approx(norms["reconstruction"]["encoder"], rel=1e-4)


def test_shares_sum_to_one_per_network():
    norms = {"a": {n: 1.0 for n in NETWORKS}, "b": {n: 3.0 for n in NETWORKS}}
    norms["a"]["albedo_decoder"] = norms["b"]["albedo_decoder"] = 0.0
    result = shares(norms)
    assert result["a"]["encoder"] == 0.25 and result["b"]["encoder"] == 0.75
    assert result["a"]["albedo_decoder"] == 0.0  # nothing pulls on it
