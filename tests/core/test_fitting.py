"""The fitting schedule and the per-photo fit, on the shipped model and the astronaut."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from facecraft.core.face.crop import crop_image, face_crop
from facecraft.core.fit_geometry import mesh_in_crop
from facecraft.core.fitting import (
    DETAIL_STEPS,
    GEOMETRY_STEPS,
    PHOTOMETRIC_STEPS,
    FitCancelled,
    FitSchedule,
    FitStage,
)


def test_fidelity_zero_is_the_encoder_and_one_runs_everything():
    assert FitSchedule.from_fidelity(0.0).total == 0
    full = FitSchedule.from_fidelity(1.0)
    assert (full.geometry_steps, full.photometric_steps, full.detail_steps) == (
        GEOMETRY_STEPS,
        PHOTOMETRIC_STEPS,
        DETAIL_STEPS,
    )
    assert [stage for stage, _ in full.stages()] == [
        FitStage.GEOMETRY,
        FitStage.PHOTOMETRIC,
        FitStage.DETAIL,
    ]


def test_a_higher_fidelity_runs_every_step_of_a_lower_one():
    previous = FitSchedule.from_fidelity(0.0)
    for fidelity in np.linspace(0.0, 1.0, 41)[1:]:
        schedule = FitSchedule.from_fidelity(float(fidelity))
        steps = (schedule.geometry_steps, schedule.photometric_steps, schedule.detail_steps)
        before = (previous.geometry_steps, previous.photometric_steps, previous.detail_steps)
        assert all(a >= b for a, b in zip(steps, before, strict=True))
        # a later stage only starts once the earlier ones are full
        if schedule.photometric_steps:
            assert schedule.geometry_steps == GEOMETRY_STEPS
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
    mesh = torch.as_tensor(mesh_in_crop(face.landmarks478, crop), dtype=torch.float32)
    with torch.no_grad():
        start = decomposer.model(image)
    return image, landmarks, start, mesh


@pytest.mark.slow
def test_the_photometric_error_falls_monotonically_with_fidelity(decomposer, astronaut_fit_inputs):
    image, landmarks, start, mesh = astronaut_fit_inputs
    errors = []
    for fidelity in (0.0, 0.1, 0.35, 0.6, 0.7):
        schedule = FitSchedule.from_fidelity(fidelity)
        result = decomposer.fitter.fit(image, landmarks, start, schedule, mesh=mesh)
        errors.append(result.error)
    assert errors[0] == pytest.approx(
        decomposer.fitter.fit(image, landmarks, start, FitSchedule(), mesh=mesh).encoder_error
    )
    # From the first geometry step on (the geometry replaces the encoder's pose whatever its error).
    assert all(later <= earlier for earlier, later in itertools.pairwise(errors[1:])), errors
    assert errors[-1] < 0.8 * errors[0], errors  # the fit does real work, not just "no worse"


def test_a_fit_is_repeatable_and_reports_progress(decomposer, astronaut_fit_inputs):
    image, landmarks, start, mesh = astronaut_fit_inputs
    schedule = FitSchedule(geometry_steps=3, photometric_steps=2)
    reports = []
    first = decomposer.fitter.fit(image, landmarks, start, schedule, progress=reports.append, mesh=mesh)
    second = decomposer.fitter.fit(image, landmarks, start, schedule, mesh=mesh)
    assert first.error == second.error
    assert torch.equal(first.state.shape_code, second.state.shape_code)
    assert [r.step for r in reports] == [1, 2, 3, 4, 5]
    assert {r.total for r in reports} == {5}
    assert [r.stage for r in reports] == [FitStage.GEOMETRY] * 3 + [FitStage.PHOTOMETRIC] * 2
    assert {"total", "mesh", "landmark"} <= set(reports[0].terms)
    assert {"total", "photometric", "reconstruction"} <= set(reports[-1].terms)
    assert set(first.stage_ms) == {"geometry", "photometric"}


def test_cancelling_stops_the_fit(decomposer, astronaut_fit_inputs):
    image, landmarks, start, mesh = astronaut_fit_inputs
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(FitCancelled):
        decomposer.fitter.fit(
            image, landmarks, start, FitSchedule(geometry_steps=10), cancelled=cancelled, mesh=mesh
        )
    assert len(calls) == 3
