"""The fidelity panel: slider bound to the model, Fit/Cancel, progress, the throttled loss plot, status."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QStyle, QStyleOptionSlider

from facecraft.app.fidelity_panel import REDRAW_INTERVAL_MS, FidelityPanel, describe_fidelity
from facecraft.app.state import EditorState
from facecraft.app.workers import DecomposeRequest, DecompositionRunner
from facecraft.core.camera import Camera
from facecraft.core.decompose import Decomposer
from facecraft.core.fitting import DEFAULT_FIDELITY, FitProgress, FitSchedule, FitStage, FitState
from facecraft.core.io.image_read import load_image
from facecraft.core.resources import resource_path

STATE = FitState(
    shape_code=torch.zeros(1, 4),
    albedo_code=torch.zeros(1, 4),
    camera=Camera(torch.ones(1), torch.zeros(1, 3), torch.zeros(1, 2)),
    lighting=torch.zeros(1, 3, 9),
    shape_residual=torch.zeros(1, 3, 2, 2),
    albedo_residual=torch.zeros(1, 3, 2, 2),
)


def report(step: int, of: int = 23, stage: FitStage = FitStage.GEOMETRY, **terms: float) -> FitProgress:
    """A progress report of step ``step`` of ``of``; the panel never looks at its state."""
    terms = terms or {"total": 1.0 / step, "landmark": 0.1 / step, "reconstruction": 0.5}
    return FitProgress(step, of, stage, terms, STATE)


def fake_decomposition(fidelity: float = 0.5) -> SimpleNamespace:
    """What the panel reads of a Decomposition."""
    return SimpleNamespace(
        fidelity=fidelity, error=0.134, encoder_error=0.168, timings_ms={"detection": 100.0, "fit": 3000.0}
    )


@pytest.fixture
def state(template) -> EditorState:
    return EditorState(template)


@pytest.fixture
def panel(qtbot, state) -> FidelityPanel:
    widget = FidelityPanel(state)
    qtbot.addWidget(widget)
    widget.resize(360, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def fits(panel) -> list[float]:
    requested: list[float] = []
    panel.fit_requested.connect(requested.append)
    return requested


def test_the_slider_starts_at_the_models_fidelity_and_follows_it(panel, state, fits):
    assert panel.slider.value() == round(DEFAULT_FIDELITY * 100)
    state.set_fidelity(0.3)
    assert panel.slider.value() == 30
    assert panel.value_label.text() == "0.30 · geometry 4 + photometric 3 steps"
    assert fits == []  # the model changing is not a request to fit
    assert state.fidelity == 0.3


def test_the_label_names_the_stages_a_fidelity_reaches():
    assert describe_fidelity(0.0) == "0.00 · encoder only"
    assert describe_fidelity(0.075) == "0.07 · geometry 4 steps"
    assert describe_fidelity(1.0) == "1.00 · geometry 4 + photometric 8 + detail 40 steps"


def test_the_tooltip_explains_the_stages(panel):
    tip = panel.slider.toolTip()
    for words in ("encoder", "0.15", "landmarks", "0.60", "photometric", "proxy", "slower"):
        assert words in tip


def test_dragging_updates_only_the_label_and_release_commits_once(panel, state, fits):
    panel.slider.setSliderDown(True)
    for value in (55, 62, 70):
        panel.slider.setValue(value)
    assert panel.value_label.text().startswith("0.70")
    assert state.fidelity == DEFAULT_FIDELITY and fits == []
    panel.slider.setSliderDown(False)  # emits sliderReleased
    assert state.fidelity == pytest.approx(0.7)
    assert fits == [pytest.approx(0.7)]


def test_a_mouse_drag_on_the_handle_commits_on_release(qtbot, panel, state, fits):
    slider = panel.slider
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    handle = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider
    )
    start = handle.center()
    end = QPoint(slider.width() - 2, start.y())
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(slider, QPoint((start.x() + end.x()) // 2, start.y()))
    qtbot.mouseMove(slider, end)
    assert slider.isSliderDown() and fits == []
    assert slider.value() > 50
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=end)
    assert fits == [pytest.approx(slider.value() / 100)]
    assert state.fidelity == pytest.approx(slider.value() / 100)


def test_a_key_press_commits_at_once(qtbot, panel, state, fits):
    panel.slider.setFocus()
    qtbot.keyClick(panel.slider, Qt.Key.Key_Right)
    assert state.fidelity == pytest.approx(0.51)
    assert fits == [pytest.approx(0.51)]


def test_the_fit_button_requests_the_models_fidelity(qtbot, panel, state, fits):
    state.set_fidelity(0.25)
    qtbot.mouseClick(panel.fit_button, Qt.MouseButton.LeftButton)
    assert fits == [0.25]


def test_progress_moves_the_bar_and_the_plot_is_throttled(qtbot, panel):
    panel.on_started(3, 0.2)
    total = FitSchedule.from_fidelity(0.2).total
    assert panel.running and panel.cancel_button.isEnabled()
    assert panel.progress_bar.maximum() == total and panel.progress_bar.value() == 0

    for step in range(1, 201):
        panel.on_progress(3, report(step, of=200, code_prior=0.0, total=1.0 / step, landmark=0.2))
    assert panel.progress_bar.value() == 200
    assert panel.progress_bar.text() == "geometry — step 200 of 200"
    assert panel.plot.redraws == 0  # nothing drawn per step: the timer draws
    history = panel.plot.history()
    assert set(history) == {"total", "landmark"}  # a zero term has no place on a log axis
    np.testing.assert_array_equal(history["total"][0], np.arange(1, 201))

    qtbot.waitUntil(lambda: panel.plot.redraws > 0, timeout=2000)
    qtbot.wait(3 * REDRAW_INTERVAL_MS)
    assert panel.plot.redraws == 1  # nothing new: no redraw
    drawn = panel.plot.drawn()
    assert set(drawn) == {"total", "landmark"}
    np.testing.assert_allclose(drawn["total"][1], 1.0 / np.arange(1, 201))
    assert panel.plot.getPlotItem().getAxis("left").logMode

    panel.on_started(4, 0.5)  # a new run clears the curves
    assert panel.plot.drawn() == {} and panel.plot.history() == {}
    assert panel.plot.getPlotItem().listDataItems() == []


def test_terms_of_later_stages_get_their_own_curves(panel):
    panel.on_started(1, 1.0)
    panel.on_progress(1, report(1, 3, FitStage.GEOMETRY, total=2.0, landmark=0.5))
    panel.on_progress(1, report(2, 3, FitStage.PHOTOMETRIC, total=1.5, code_prior=0.01))
    panel.on_progress(1, report(3, 3, FitStage.DETAIL, total=1.0, residual=0.02, shape_smoothness=0.3))
    assert panel.progress_bar.text() == "detail — step 3 of 3"
    panel.on_finished(1, fake_decomposition(1.0))  # draws what is left
    assert set(panel.plot.drawn()) == {"total", "landmark", "code_prior", "residual", "shape_smoothness"}
    np.testing.assert_array_equal(panel.plot.drawn()["total"][0], [1, 2, 3])


def test_finishing_shows_the_errors_and_time(panel):
    panel.on_started(7, 0.5)
    panel.on_progress(7, report(1))
    panel.on_finished(7, fake_decomposition())
    assert panel.status_label.text() == (
        "Fitted at fidelity 0.50: photometric error 0.134 (encoder 0.168), 3.1 s"
    )
    assert not panel.running and not panel.cancel_button.isEnabled()
    assert panel.progress_bar.value() == panel.progress_bar.maximum()


def test_signals_of_older_requests_are_ignored(panel):
    panel.on_started(5, 0.5)
    panel.on_progress(5, report(2))
    panel.on_started(4, 0.9)
    panel.on_progress(4, report(9))
    panel.on_finished(4, fake_decomposition())
    panel.on_failed(4, "stale failure")
    panel.on_cancelled(4)
    assert panel.latest_request == 5 and panel.running
    assert panel.progress_bar.value() == 2
    assert panel.status_label.text() == "Fitting at fidelity 0.50…"
    assert set(panel.plot.history()["total"][0]) == {2.0}


def test_a_failure_shows_its_message(panel):
    panel.on_started(1, 0.5)
    panel.on_failed(1, "no face was found in the photo")
    assert panel.status_label.text() == "no face was found in the photo"
    assert not panel.running and not panel.cancel_button.isEnabled()
    panel.on_failed(2, "weights are corrupt")  # a request that failed before it started
    assert panel.status_label.text() == "weights are corrupt"


def test_cancel_is_enabled_only_while_running_and_emits_cancel_requested(qtbot, panel):
    assert not panel.cancel_button.isEnabled()
    panel.on_started(1, 0.5)
    with qtbot.waitSignal(panel.cancel_requested, timeout=1000):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    panel.on_cancelled(1)
    assert panel.status_label.text() == "Cancelled"
    assert not panel.cancel_button.isEnabled()


def test_connect_runner_routes_the_runners_signals(panel):
    runner = DecompositionRunner(load_decomposer=lambda: pytest.fail("nothing is run"))
    panel.connect_runner(runner)
    runner.started.emit(2, 0.5)
    assert panel.running and panel.latest_request == 2
    runner.progress.emit(2, report(4))
    assert panel.progress_bar.value() == 4
    runner.cancelled.emit(2)
    assert panel.status_label.text() == "Cancelled"
    runner.started.emit(3, 0.5)
    runner.failed.emit(3, "boom")
    assert panel.status_label.text() == "boom"
    runner.started.emit(4, 0.5)
    runner.finished.emit(4, fake_decomposition())
    assert panel.status_label.text().startswith("Fitted at fidelity 0.50")


def test_a_real_fit_through_the_runner(qtbot, panel, template):
    engine = Decomposer.load(template=template)
    runner = DecompositionRunner(load_decomposer=lambda: engine)
    panel.connect_runner(runner)
    photo = load_image(resource_path("samples/astronaut.jpg")).rgb
    try:
        with qtbot.waitSignal(runner.finished, timeout=60_000):
            runner.submit(DecomposeRequest(photo, 0.2))
    finally:
        runner.shutdown()
    assert panel.status_label.text().startswith("Fitted at fidelity 0.20: photometric error ")
    total = FitSchedule.from_fidelity(0.2).total
    assert panel.progress_bar.value() == panel.progress_bar.maximum() == total
    drawn = panel.plot.drawn()
    assert {"total", "landmark", "reconstruction", "photometric"} <= set(drawn)
    assert drawn["total"][0][-1] == total
