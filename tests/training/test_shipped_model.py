"""The shipped model: it loads, its card says how it was made, and the evaluation runs on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facecraft.core.face.crop import crop_image, face_crop
from facecraft.core.model.config import Variant
from facecraft.core.model.io import load_model
from facecraft.core.resources import resource_path
from facecraft.training.evaluate import evaluate
from facecraft.training.prepare_data import PreparedSplit

SHIPPED = resource_path("weights/facecraft.pt")


@pytest.fixture(scope="module")
def shipped(template):
    return load_model(SHIPPED, template)


def test_the_shipped_model_loads_with_its_card(shipped):
    assert shipped.config.variant is Variant.GLOBAL_LOCAL_PROXY
    card = shipped.card
    keys = ("data", "hardware", "steps", "train_config", "val_metrics", "training_totals", "weights_dtype")
    for key in keys:
        assert key in card, key
    assert card["weights_dtype"] == "float16"
    assert card["training_totals"]["train_seconds"] > 0 and card["training_totals"]["images_seen"] > 0
    assert SHIPPED.stat().st_size < 40 * 2**20


def test_the_evaluation_runs_on_the_shipped_weights(shipped, template, astronaut_rgb, detector):
    face = detector.detect_one(astronaut_rgb, 0)
    crops, landmarks = [], []
    for margin in (1.45, 1.5, 1.55):
        crop = face_crop(face.landmarks68, margin=margin)
        crops.append(crop_image(astronaut_rgb, crop))
        landmarks.append(crop.photo_to_crop(torch.as_tensor(face.landmarks68)).numpy())
    count = len(crops)
    split = PreparedSplit(np.stack(crops), np.stack(landmarks).astype(np.float32), np.ones(count, bool),
                          np.zeros((count, 6), np.float32), np.zeros((count, 468, 3), np.float32),
                          np.zeros(count, np.float32), np.array(["a"] * count), np.array(["sample"] * count))
    report = evaluate(shipped.model, split, template, fit_steps=3, progress=False)
    assert report.photos == count and report.annotated_photos == count
    assert np.isfinite([report.nme_mean, report.l21_encoder, report.l21_fitted]).all()
    assert report.nme_mean < 0.5  # a trained model puts its landmarks on the face
