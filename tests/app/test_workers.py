"""DecompositionRunner with the real engine: signals, cancellation, newest-wins, failures, run_now."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, Slot

from facecraft.app.workers import DecomposeRequest, DecompositionRunner, FitPreview
from facecraft.core.decompose import Decomposer
from facecraft.core.decomposition import Decomposition
from facecraft.core.errors import ResourceError
from facecraft.core.fitting import FitProgress, FitSchedule
from facecraft.core.io.image_read import load_image
from facecraft.core.resources import resource_path

WAIT_MS = 60_000


class Recorder(QObject):
    """Every signal of a runner, in the order the GUI thread received them."""

    def __init__(self, runner: DecompositionRunner) -> None:
        super().__init__()
        self.events: list[tuple[str, int, object]] = []
        runner.started.connect(self.on_started)
        runner.progress.connect(self.on_progress)
        runner.preview.connect(self.on_preview)
        runner.finished.connect(self.on_finished)
        runner.failed.connect(self.on_failed)
        runner.cancelled.connect(self.on_cancelled)

    @Slot(int, float)
    def on_started(self, request_id, fidelity):
        self.events.append(("started", request_id, fidelity))

    @Slot(int, object)
    def on_progress(self, request_id, report):
        self.events.append(("progress", request_id, report))

    @Slot(int, object)
    def on_preview(self, request_id, preview):
        self.events.append(("preview", request_id, preview))

    @Slot(int, object)
    def on_finished(self, request_id, decomposition):
        self.events.append(("finished", request_id, decomposition))

    @Slot(int, str)
    def on_failed(self, request_id, message):
        self.events.append(("failed", request_id, message))

    @Slot(int)
    def on_cancelled(self, request_id):
        self.events.append(("cancelled", request_id, None))

    def of(self, kind: str, request_id: int | None = None) -> list[object]:
        return [p for k, i, p in self.events if k == kind and (request_id is None or i == request_id)]

    def kinds(self, request_id: int) -> list[str]:
        return [k for k, i, _ in self.events if i == request_id]


@pytest.fixture(scope="module")
def engine(template) -> Decomposer:
    """The shipped model, loaded once; its detector is never created (runners get their own)."""
    return Decomposer.load(template=template)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_image(resource_path("samples/astronaut.jpg")).rgb


@pytest.fixture
def make_runner(engine):
    """Runners sharing the loaded model, each with its own detector; all shut down after the test."""
    runners: list[DecompositionRunner] = []

    def make(load=None) -> DecompositionRunner:
        runner = DecompositionRunner(load or (lambda: Decomposer(engine.model, engine.template)))
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.shutdown()


@pytest.fixture
def runner(make_runner) -> DecompositionRunner:
    return make_runner()


def test_a_request_reports_start_progress_previews_and_the_result(qtbot, runner, photo):
    recorder = Recorder(runner)
    with qtbot.waitSignal(runner.finished, timeout=WAIT_MS) as blocker:
        request_id = runner.submit(DecomposeRequest(photo, 0.2, tag="astronaut"))
    assert blocker.args[0] == request_id

    total = FitSchedule.from_fidelity(0.2).total
    kinds = recorder.kinds(request_id)
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert recorder.of("started", request_id) == [pytest.approx(0.2)]
    reports = recorder.of("progress", request_id)
    assert all(isinstance(report, FitProgress) for report in reports)
    assert [report.step for report in reports] == list(range(1, total + 1))
    assert {report.total for report in reports} == {total}
    assert all("total" in report.terms for report in reports)

    previews = recorder.of("preview", request_id)
    assert previews, "a fit must show at least one live preview"
    for preview in previews:
        assert isinstance(preview, FitPreview)
        assert preview.shape.shape == preview.albedo.shape == (192, 224, 3)
        assert preview.lighting.shape == (3, 9)
        assert np.isfinite(preview.albedo).all()

    (decomposition,) = recorder.of("finished", request_id)
    assert isinstance(decomposition, Decomposition)
    assert decomposition.fidelity == pytest.approx(0.2)
    assert decomposition.error <= decomposition.encoder_error
    assert recorder.of("failed") == [] and recorder.of("cancelled") == []
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)


def test_cancel_stops_a_running_fit(qtbot, runner, photo):
    recorder = Recorder(runner)
    with qtbot.waitSignal(runner.progress, timeout=WAIT_MS):
        request_id = runner.submit(DecomposeRequest(photo, 1.0))
    with qtbot.waitSignal(runner.cancelled, timeout=WAIT_MS, check_params_cb=lambda i: i == request_id):
        runner.cancel()
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
    assert recorder.of("finished") == [] and recorder.of("failed") == []
    assert recorder.of("cancelled") == [None]
    assert len(recorder.of("progress", request_id)) < FitSchedule.from_fidelity(1.0).total


def test_the_newest_request_wins(qtbot, runner, photo):
    recorder = Recorder(runner)
    with qtbot.waitSignal(runner.finished, timeout=WAIT_MS) as blocker:
        slow = runner.submit(DecomposeRequest(photo, 1.0))
        fast = runner.submit(DecomposeRequest(photo, 0.0))
    assert fast > slow and blocker.args[0] == fast
    assert blocker.args[1].fidelity == 0.0
    assert "cancelled" in recorder.kinds(slow)
    assert "finished" not in recorder.kinds(slow)
    assert recorder.kinds(fast)[-1] == "finished"


def test_a_photo_without_a_face_fails_with_a_message(qtbot, runner):
    blank = np.full((240, 320, 3), 127, dtype=np.uint8)
    with qtbot.waitSignal(runner.failed, timeout=WAIT_MS) as blocker:
        request_id = runner.submit(DecomposeRequest(blank, 0.5))
    assert blocker.args[0] == request_id
    assert "no face" in blocker.args[1]


def test_a_failure_names_the_requests_photo_file(qtbot, runner):
    blank = np.full((240, 320, 3), 127, dtype=np.uint8)
    source = Path("shoot") / "IMG_0042.jpg"
    with qtbot.waitSignal(runner.failed, timeout=WAIT_MS) as blocker:
        runner.submit(DecomposeRequest(blank, 0.0, source=source))
    assert blocker.args[1].startswith(f"{source}: no face was found")


def test_a_failing_model_load_is_reported_and_the_next_request_loads_again(qtbot, make_runner, engine, photo):
    calls: list[str] = []

    def load() -> Decomposer:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            raise ResourceError("weights are corrupt")
        return Decomposer(engine.model, engine.template)

    runner = make_runner(load)
    recorder = Recorder(runner)
    with qtbot.waitSignal(runner.failed, timeout=WAIT_MS) as blocker:
        first = runner.submit(DecomposeRequest(photo, 0.0))
    assert blocker.args == [first, "weights are corrupt"]
    assert recorder.kinds(first) == ["failed"]  # it never started

    with qtbot.waitSignal(runner.finished, timeout=WAIT_MS) as blocker:
        second = runner.submit(DecomposeRequest(photo, 0.0))
    assert blocker.args[0] == second
    assert calls == ["facecraft-decompose", "facecraft-decompose"]  # loaded in the worker, not the GUI


def test_run_now_decomposes_synchronously_without_signals(runner, photo):
    recorder = Recorder(runner)
    decomposition = runner.run_now(DecomposeRequest(photo, 0.0))
    assert isinstance(decomposition, Decomposition)
    assert decomposition.fidelity == 0.0 and decomposition.face_count == 1
    assert recorder.events == []
    assert not runner.busy


def test_the_thread_fixture_sees_a_runner_until_it_is_shut_down(qtbot, make_runner, no_leaked_threads):
    def broken() -> Decomposer:
        raise ResourceError("no weights")

    runner = make_runner(broken)
    with qtbot.waitSignal(runner.failed, timeout=WAIT_MS):
        runner.submit(DecomposeRequest(np.zeros((8, 8, 3), np.uint8), 0.0))
    assert [t.name for t in no_leaked_threads.leaked(grace_s=0.1)] == ["facecraft-decompose"]
    runner.shutdown()
    assert no_leaked_threads.leaked(grace_s=1.0) == []


def test_the_thread_fixture_waits_for_threads_that_are_finishing(no_leaked_threads):
    release = threading.Event()
    probe = threading.Thread(target=release.wait, name="facecraft-probe", daemon=True)
    probe.start()
    assert no_leaked_threads.leaked(grace_s=0.1) == [probe]
    threading.Timer(0.2, release.set).start()
    assert no_leaked_threads.leaked() == []


class CallsBack(QObject):
    """Calls the runner again on ``cancelled``, from a helper thread so that a deadlock shows as a timeout."""

    def __init__(self, runner: DecompositionRunner) -> None:
        super().__init__()
        self.runner = runner
        self.calls: list[tuple[int, bool]] = []
        runner.cancelled.connect(self.on_cancelled)

    @Slot(int)
    def on_cancelled(self, request_id):
        if self.calls:
            return
        caller = threading.Thread(target=self.runner.cancel, name="facecraft-test-caller")
        caller.start()
        caller.join(2.0)
        self.calls.append((request_id, not caller.is_alive()))


def test_slots_of_cancelled_may_call_back_into_the_runner(qtbot, make_runner, engine, photo):
    loading, release = threading.Event(), threading.Event()

    def slow_load() -> Decomposer:
        loading.set()
        release.wait(10)
        return Decomposer(engine.model, engine.template)

    runner = make_runner(slow_load)
    reacts = CallsBack(runner)
    first = runner.submit(DecomposeRequest(photo, 0.0))
    assert loading.wait(10)  # the worker holds the first request
    queued = runner.submit(DecomposeRequest(photo, 0.0))
    with qtbot.waitSignal(runner.cancelled, timeout=WAIT_MS, check_params_cb=lambda i: i == first):
        runner.submit(DecomposeRequest(photo, 0.0))  # drops the queued one: cancelled(queued) here
        release.set()
    assert reacts.calls == [(queued, True)], "the runner's lock was held while the slot ran"


def test_preload_loads_the_engine_in_the_worker_once(qtbot, make_runner, engine, photo):
    calls: list[str] = []

    def load() -> Decomposer:
        calls.append(threading.current_thread().name)
        return Decomposer(engine.model, engine.template)

    runner = make_runner(load)
    runner.preload()
    with qtbot.waitSignal(runner.finished, timeout=WAIT_MS):
        runner.submit(DecomposeRequest(photo, 0.0))  # does not drop the queued preload
    assert calls == ["facecraft-decompose"]  # loaded once, in the worker


def test_a_failing_preload_is_reported_by_the_first_request(qtbot, make_runner, engine, photo):
    def load() -> Decomposer:
        raise ResourceError("weights are corrupt")

    runner = make_runner(load)
    runner.preload()
    with qtbot.waitSignal(runner.failed, timeout=WAIT_MS) as blocker:
        first = runner.submit(DecomposeRequest(photo, 0.0))
    assert blocker.args == [first, "weights are corrupt"]
