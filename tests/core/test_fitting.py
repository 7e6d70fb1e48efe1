"""The fitting schedule and the per-photo fit, on the shipped model and the astronaut."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from facecraft.core.crop import crop_image, face_crop
from facecraft.core.fitting import (
    DETAIL_STEPS,
    LANDMARK_STEPS,
    PHOTOMETRIC_STEPS,
    FitCancelled,
    FitSchedule,
    FitStage,
)


def test_fidelity_zero_is_the_encoder_and_one_runs_everything():
    assert FitSchedule.from_fidelity(0.0).total == 0
    full = FitSchedule.from_fidelity(1.0)
    assert (full.landmark_steps, full.photometric_steps, full.detail_steps) == (
        LANDMARK_STEPS,
        PHOTOMETRIC_STEPS,
        DETAIL_STEPS,
    )
    assert [stage for stage, _ in full.stages()] == [
        FitStage.LANDMARKS,
        FitStage.PHOTOMETRIC,
        FitStage.DETAIL,
    ]


def test_a_higher_fidelity_runs_every_step_of_a_lower_one():
    previous = FitSchedule.from_fidelity(0.0)
    for fidelity in np.linspace(0.0, 1.0, 41)[1:]:
        schedule = FitSchedule.from_fidelity(float(fidelity))
        steps = (schedule.landmark_steps, schedule.photometric_steps, schedule.detail_steps)
        before = (previous.landmark_steps, previous.photometric_steps, previous.detail_steps)
        assert all(a >= b for a, b in zip(steps, before, strict=True))
        # a later stage only starts once the earlier ones are full
        if schedule.photometric_steps:
            assert schedule.landmark_steps == LANDMARK_STEPS
        if schedule.detail_steps:
            assert schedule.photometric_steps == PHOTOMETRIC_STEPS
        previous = schedule


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_fidelity_outside_the_unit_interval_is_refused(bad):
    with pytest.raises(ValueError, match="fidelity"):
        FitSchedule.from_fidelity(bad)


@pytest.fixture(scope="module")
def astronaut_fit_inputs(decomposer, detector, astronaut_rgb):
    face = detector.detect_one(astronaut_rgb)
    crop = face_crop(face.landmarks68)
    image = torch.from_numpy(crop_image(astronaut_rgb, crop)).permute(2, 0, 1)[None].float() / 255
    landmarks = torch.as_tensor(face.landmarks68 * crop.scale + np.asarray(crop.offset), dtype=torch.float32)[
        None
    ]
    with torch.no_grad():
        start = decomposer.model(image)
    return image, landmarks, start


@pytest.mark.slow
def test_the_photometric_error_falls_monotonically_with_fidelity(decomposer, astronaut_fit_inputs):
    image, landmarks, start = astronaut_fit_inputs
    errors = []
    for fidelity in (0.0, 0.1, 0.35, 0.6, 0.7):
        result = decomposer.fitter.fit(image, landmarks, start, FitSchedule.from_fidelity(fidelity))
        errors.append(result.error)
    assert errors[0] == pytest.approx(
        decomposer.fitter.fit(image, landmarks, start, FitSchedule()).encoder_error
    )
    assert all(later <= earlier for earlier, later in itertools.pairwise(errors)), errors
    assert errors[-1] < 0.8 * errors[0], errors  # the fit does real work, not just "no worse"


def test_a_fit_is_repeatable_and_reports_progress(decomposer, astronaut_fit_inputs):
    image, landmarks, start = astronaut_fit_inputs
    schedule = FitSchedule(landmark_steps=3, photometric_steps=2)
    reports = []
    first = decomposer.fitter.fit(image, landmarks, start, schedule, progress=reports.append, seed=7)
    second = decomposer.fitter.fit(image, landmarks, start, schedule, seed=7)
    assert first.error == second.error
    assert torch.equal(first.state.shape_code, second.state.shape_code)
    assert [r.step for r in reports] == [1, 2, 3, 4, 5]
    assert {r.total for r in reports} == {5}
    assert [r.stage for r in reports] == [FitStage.LANDMARKS] * 3 + [FitStage.PHOTOMETRIC] * 2
    assert {"total", "photometric", "landmark"} <= set(reports[-1].terms)
    assert set(first.stage_ms) == {"landmarks", "photometric"}


def test_cancelling_stops_the_fit(decomposer, astronaut_fit_inputs):
    image, landmarks, start = astronaut_fit_inputs
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(FitCancelled):
        decomposer.fitter.fit(image, landmarks, start, FitSchedule(landmark_steps=10), cancelled=cancelled)
    assert len(calls) == 3
