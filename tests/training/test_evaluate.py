"""Evaluation on a tiny model and a tiny in-memory split of astronaut crops."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_runs import TINY_MODEL

from facecraft.core.face.crop import crop_image, face_crop
from facecraft.core.face.landmark_indices import IBUG_MIRROR, nme
from facecraft.core.model import losses
from facecraft.core.model.config import Variant
from facecraft.core.model.io import save_model
from facecraft.core.model.model import FaceModel
from facecraft.training.eval_support import crops_to_images
from facecraft.training.evaluate import (
    EvaluationReport,
    _PseudoShapes,
    evaluate,
    main,
    model_landmarks,
    photo_l21,
)
from facecraft.training.figures import FIGURE_TITLE_HEIGHT, FIGURE_TITLES, save_figure
from facecraft.training.prepare_data import PreparedSplit, save_split


@pytest.fixture(scope="module")
def model(template) -> FaceModel:
    torch.manual_seed(3)
    face_model = FaceModel(dataclasses.replace(TINY_MODEL, variant=Variant.GLOBAL_LOCAL_PROXY), template)
    for head in [
        m for m in face_model.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.abs().sum() == 0
    ]:
        torch.nn.init.normal_(head.weight, std=0.02)  # proxies, residuals, camera and lighting say something
    return face_model.eval()


@pytest.fixture(scope="module")
def split(astronaut_rgb, detector) -> PreparedSplit:
    """4 crops of the astronaut (margins and a mirror), the 2nd and 4th not annotated."""
    landmarks68 = detector.detect_one(astronaut_rgb).landmarks68
    crops, points = [], []
    for margin, mirror in ((1.5, False), (1.7, False), (1.4, True), (1.6, True)):
        crop = face_crop(landmarks68, margin=margin)
        image = crop_image(astronaut_rgb, crop)
        landmarks = crop.photo_to_crop(torch.as_tensor(landmarks68)).numpy()
        if mirror:
            image = image[:, ::-1]
            landmarks = landmarks[list(IBUG_MIRROR)] * np.array([-1.0, 1.0]) + np.array([223.0, 0.0])
        crops.append(np.ascontiguousarray(image))
        points.append(landmarks)
    count = len(crops)
    return PreparedSplit(
        crops=np.stack(crops).astype(np.uint8),
        landmarks=np.stack(points).astype(np.float32),
        annotated=np.array([True, False, True, False]),
        cameras=np.zeros((count, 6), np.float32),
        offsets=np.zeros((count, 468, 3), np.float32),
        fit_residual=np.zeros(count, np.float32),
        relpaths=np.array([f"val/astronaut_{i}.jpg" for i in range(count)]),
        sources=np.array(["test"] * count),
    )


@pytest.fixture(scope="module")
def report(model, split, template) -> EvaluationReport:
    return evaluate(model, split, template, fit_steps=4, batch_size=3, progress=False)


def test_report_has_the_documented_finite_fields(report):
    assert [f.name for f in dataclasses.fields(report)] == [
        "photos",
        "annotated_photos",
        "nme_mean",
        "nme_median",
        "nme_pseudo_camera_mean",
        "l21_encoder",
        "l21_fitted",
        "visible_fraction",
        "shape_correlation",
        "fit_steps",
        "seconds",
    ]
    values = report.to_dict()
    assert values["photos"] == 4 and values["fit_steps"] == 4
    assert all(
        math.isfinite(values[name])
        for name in ("nme_mean", "nme_median", "nme_pseudo_camera_mean", "l21_encoder", "l21_fitted")
    )
    assert report.nme_mean > 0 and report.l21_encoder > 0
    json.dumps(values, allow_nan=False)


def test_the_shape_metrics_see_the_face_and_the_per_person_shape(model, split, template, report):
    # The pseudo ground truth is the mean face here: no per-person deviation to correlate with.
    assert report.shape_correlation == 0.0
    assert 0.0 < report.visible_fraction <= 1.0
    # Pseudo offsets equal to the model's own deviation from the mean (plus a shared shift, which
    # does not count): the correlation is then the interpolation's round trip, close to 1.
    reference = _PseudoShapes(template, "cpu")
    with torch.no_grad():
        predicted = reference.mesh(model(crops_to_images(split.crops)).face.shape)
    offsets = (predicted - reference.mean_mesh + 0.01).numpy()
    own = evaluate(model, dataclasses.replace(split, offsets=offsets), template, fit_steps=0, progress=False)
    assert own.shape_correlation > 0.99
    assert own.visible_fraction == pytest.approx(report.visible_fraction)


def test_fitting_lowers_the_reconstruction_error(report):
    assert report.l21_fitted < report.l21_encoder


def test_evaluation_leaves_the_model_as_it_was(model, split, template):
    model.train()
    model.encoder.trunk.requires_grad_(False)
    try:
        before = {name: p.detach().clone() for name, p in model.named_parameters()}
        evaluate(model, split, template, fit_steps=1, limit=1, progress=False)
        assert model.training
        assert not any(p.requires_grad for p in model.encoder.trunk.parameters())
        assert all(p.requires_grad for p in model.shape_decoder.parameters())
        assert all(p.grad is None for p in model.parameters())
        assert all(torch.equal(before[name], p) for name, p in model.named_parameters())
    finally:
        model.requires_grad_(True)
        model.eval()


def test_nme_uses_only_the_annotated_photos(model, split, template, report):
    # Ground truth = the model's own landmarks on the annotated photos; nonsense on the others.
    with torch.no_grad():
        predicted = model_landmarks(model, model(crops_to_images(split.crops))).numpy()
    landmarks = np.where(split.annotated[:, None, None], predicted, predicted[:, ::-1] * 3.0 + 50.0)
    matched = dataclasses.replace(split, landmarks=landmarks.astype(np.float32))
    result = evaluate(model, matched, template, fit_steps=0, progress=False)
    assert result.annotated_photos == 2
    assert result.nme_mean == pytest.approx(0.0, abs=1e-4)
    assert result.l21_fitted == pytest.approx(result.l21_encoder)

    expected = nme(predicted[split.annotated], split.landmarks[split.annotated])
    assert report.annotated_photos == 2
    assert report.nme_mean == pytest.approx(float(expected.mean()), rel=1e-4)
    assert report.nme_median == pytest.approx(float(np.median(expected)), rel=1e-4)

    # Through the pseudo ground-truth camera: equal to the NME when that is the encoder's own camera.
    with torch.no_grad():
        cameras = model(crops_to_images(split.crops)).camera.to_vector().numpy()
    own = dataclasses.replace(split, cameras=cameras)
    own_camera = evaluate(model, own, template, fit_steps=0, progress=False)
    assert own_camera.nme_pseudo_camera_mean == pytest.approx(own_camera.nme_mean, rel=1e-5)
    assert report.nme_pseudo_camera_mean != pytest.approx(report.nme_mean, rel=1e-3)

    unannotated = dataclasses.replace(split, annotated=np.zeros(len(split), bool))
    none = evaluate(model, unannotated, template, fit_steps=0, limit=1, progress=False)
    assert none.photos == 1 and none.annotated_photos == 0
    assert none.nme_mean is None and none.nme_median is None and none.nme_pseudo_camera_mean is None


def test_photo_l21_averages_to_the_training_loss():
    torch.manual_seed(0)
    rendered, target = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    mask = (torch.rand(3, 1, 16, 16) > 0.5).float()
    per_photo = photo_l21(rendered, target, mask)
    assert per_photo.shape == (3,)
    assert float(per_photo.mean()) == pytest.approx(float(losses.reconstruction_l21(rendered, target, mask)))


def test_save_figure_writes_rows_of_six_columns(model, split, template, tmp_path):
    path = tmp_path / "figures" / "fig5.png"
    save_figure(model, split, template, [0, 2], path)
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (6 * 224, FIGURE_TITLE_HEIGHT + 2 * 224)
        pixels = np.asarray(image.convert("RGB"))
    assert len(FIGURE_TITLES) == 6
    first_input = pixels[FIGURE_TITLE_HEIGHT : FIGURE_TITLE_HEIGHT + 224, :224]
    assert np.array_equal(first_input, split.crops[0])
    assert pixels[:FIGURE_TITLE_HEIGHT].min() < 128  # the titles are drawn
    shape_tile = pixels[FIGURE_TITLE_HEIGHT : FIGURE_TITLE_HEIGHT + 224, 5 * 224 :]
    assert shape_tile[0, 0].max() == 0 and shape_tile.max() > 50  # grey face over black
    assert [p.name for p in path.parent.iterdir()] == ["fig5.png"]  # no temporary left behind


def test_cli_reports_a_missing_model_in_one_line(tmp_path, capsys):
    missing = tmp_path / "nothing.pt"
    assert main(["--model", str(missing), "--split", str(tmp_path / "val.npz")]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(missing) in error and "not found" in error


def test_cli_reports_a_missing_split(model, tmp_path, capsys):
    save_model(model, tmp_path / "tiny.pt")
    assert main(["--model", str(tmp_path / "tiny.pt"), "--split", str(tmp_path / "none.npz")]) == 1
    error = capsys.readouterr().err.strip()
    assert "none.npz" in error and "prepare_data" in error and "Traceback" not in error


def test_cli_module_exits_1_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "facecraft.training.evaluate", "--model", str(tmp_path / "absent.pt")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "absent.pt: model file not found" in result.stderr


def test_cli_runs_end_to_end(model, split, tmp_path, capsys):
    save_model(model, tmp_path / "tiny.pt")
    save_split(split, tmp_path / "val.npz")
    out = tmp_path / "eval"
    paths = ["--model", str(tmp_path / "tiny.pt"), "--split", str(tmp_path / "val.npz"), "--out", str(out)]
    options = ["--fit-steps", "1", "--limit", "2", "--figure-photos", "1", "--device", "cpu", "--quiet"]
    code = main(paths + options)
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((out / "tiny_eval.json").read_text())
    assert printed == written
    assert written["photos"] == 2 and written["annotated_photos"] == 1 and written["fit_steps"] == 1
    assert written["variant"] == "global_local_proxy"
    with Image.open(out / "tiny_fig5.png") as image:
        assert image.size == (6 * 224, FIGURE_TITLE_HEIGHT + 224)
