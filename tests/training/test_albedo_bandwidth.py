"""The albedo-bandwidth analysis on the tiny model and the six-photo split."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from tiny_runs import TINY_MODEL

from facecraft.core.model.config import Variant
from facecraft.core.model.io import save_model
from facecraft.core.model.model import FaceModel
from facecraft.core.render.renderer import Renderer
from facecraft.training.albedo_bandwidth import albedo_bandwidth, blur, equivalent_sigma, main
from facecraft.training.prepare_data import load_split


@pytest.fixture(scope="module")
def model(template) -> FaceModel:
    torch.manual_seed(5)
    return FaceModel(dataclasses.replace(TINY_MODEL, variant=Variant.GLOBAL_LOCAL_PROXY), template).eval()


def test_the_photo_albedo_reproduces_the_photo_and_blurring_it_costs(model, prepared, template) -> None:
    split = load_split(prepared / "train.npz")
    report = albedo_bandwidth(model, split, Renderer(template), sigmas=(0.0, 2.0, 8.0), limit=4, batch_size=3)
    assert report.photos == 4
    # the photo's own albedo under the model's shading gives back the photo up to resampling
    assert report.photo[0.0] < 0.25 * report.model
    assert report.photo[0.0] < report.photo[2.0] < report.photo[8.0]
    assert report.model_detail > report.photo[0.0]


def test_equivalent_sigma_interpolates_and_says_none_outside() -> None:
    photo = {0.0: 0.01, 4.0: 0.05, 8.0: 0.09}
    assert equivalent_sigma(0.07, photo) == pytest.approx(6.0)
    assert equivalent_sigma(0.2, photo) is None


def test_blur_keeps_a_constant_and_zero_sigma_is_the_identity() -> None:
    texture = torch.rand(1, 3, 20, 24)
    assert torch.equal(blur(texture, 0.0), texture)
    flat = torch.full((1, 3, 20, 24), 0.4)
    assert torch.allclose(blur(flat, 3.0), flat, atol=1e-6)


def test_the_cli_prints_json_and_names_a_missing_model(model, prepared, tmp_path, capsys) -> None:
    path = tmp_path / "tiny.pt"
    save_model(model, path)
    assert main(["--model", str(path), "--split", str(prepared / "train.npz"), "--limit", "2",
                 "--sigmas", "0", "4"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["model_file"] == str(path) and set(printed["photo"]) == {"0", "4"}
    assert main(["--model", str(tmp_path / "none.pt")]) == 1
    assert "none.pt: model file not found" in capsys.readouterr().err
