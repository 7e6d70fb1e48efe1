"""The fitting controls: the fidelity slider, Fit/Cancel, progress and a live plot of the loss terms.

:class:`FidelityPanel` is bound both ways to :attr:`EditorState.fidelity
<facecraft.app.state.EditorState.fidelity>`. It does not run anything itself: it
asks for a fit with :attr:`FidelityPanel.fit_requested` (and for a stop with
:attr:`FidelityPanel.cancel_requested`), and shows what a
:class:`~facecraft.app.workers.DecompositionRunner` reports through its slots
(:meth:`FidelityPanel.connect_runner` wires them). Only the newest request the
runner started is shown; signals of older ones are ignored.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from facecraft.app.state import EditorState
from facecraft.app.workers import DecompositionRunner
from facecraft.core.decomposition import Decomposition
from facecraft.core.fitting import STAGE_ENDS, FitProgress, FitSchedule

SLIDER_STEPS = 100
"""The slider's range: fidelity is ``value / SLIDER_STEPS``."""
REDRAW_INTERVAL_MS = 100
"""Least time between two redraws of the loss plot (at most ~10 per second)."""

FIDELITY_TOOLTIP = (
    "How far per-photo fitting goes (higher = better match to the photo, but slower):\n"
    "0: the encoder's estimate alone;\n"
    f"above 0, up to {STAGE_ENDS[0]:.2f}: pose and shape follow the detected 478-point face mesh "
    "and 68 landmarks (camera and shape offset in closed form, then shape-code steps);\n"
    f"up to {STAGE_ENDS[1]:.2f}: albedo and lighting are solved in closed form from the photo, then "
    "refined photometrically;\n"
    "beyond: the shape and albedo get per-texel detail, trained with the paper's proxy pairing."
)


def describe_fidelity(fidelity: float) -> str:
    """``"0.50 · geometry 4 + photometric 6 steps"``: the value and the steps each stage runs."""
    fidelity = min(max(float(fidelity), 0.0), 1.0)
    stages = FitSchedule.from_fidelity(fidelity).stages()
    if not stages:
        return f"{fidelity:.2f} · encoder only"
    steps = " + ".join(f"{stage.value} {count}" for stage, count in stages)
    return f"{fidelity:.2f} · {steps} steps"


class LossPlot(pg.PlotWidget):
    """Log-scale curves of the loss terms against the step, redrawn at most every ``REDRAW_INTERVAL_MS``.

    Points are buffered by :meth:`add` and drawn by a timer, so a fast fit does not
    flood the GUI thread with redraws. Non-positive values (e.g. a zero prior on the
    first step) have no place on a log axis and are skipped.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setLogMode(x=False, y=True)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "step")
        item.setLabel("left", "loss")
        item.addLegend(offset=(-5, 5), colCount=2, brush=pg.mkBrush(0, 0, 0, 150), labelTextSize="8pt")
        item.setMenuEnabled(False)
        self._history: dict[str, tuple[list[float], list[float]]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False
        self.redraws = 0
        """How many times the curves were redrawn (for tests and profiling)."""
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)

    def reset(self) -> None:
        """Forget every curve (a new run starts)."""
        self.getPlotItem().clear()
        self._history.clear()
        self._curves.clear()
        self._dirty = False

    def start(self) -> None:
        """Start redrawing on the timer."""
        self._timer.start()

    def stop(self) -> None:
        """Draw what is buffered and stop the timer."""
        self._timer.stop()
        self.flush()

    def add(self, step: int, terms: dict[str, float]) -> None:
        """Buffer one step's terms; they are drawn on the next tick."""
        for name, value in terms.items():
            if not (math.isfinite(value) and value > 0.0):
                continue
            steps, values = self._history.setdefault(name, ([], []))
            steps.append(float(step))
            values.append(float(value))
            self._dirty = True

    def flush(self) -> None:
        """Redraw the curves now if anything was added since the last redraw."""
        if not self._dirty:
            return
        self._dirty = False
        for name, (steps, values) in self._history.items():
            curve = self._curves.get(name)
            if curve is None:
                pen = pg.mkPen(pg.intColor(len(self._curves), hues=9), width=1.5)
                curve = self.getPlotItem().plot(name=name, pen=pen)
                self._curves[name] = curve
            curve.setData(np.asarray(steps), np.asarray(values))
        self.redraws += 1

    def history(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{term: (steps, values)}`` of every point received since the last :meth:`reset`."""
        return {name: (np.asarray(s), np.asarray(v)) for name, (s, v) in self._history.items()}

    def drawn(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{term: (steps, values)}`` as the curves show them now."""
        drawn = {}
        for name, curve in self._curves.items():
            steps, values = curve.getOriginalDataset()
            drawn[name] = (np.asarray(steps), np.asarray(values))
        return drawn


class FidelityPanel(QWidget):
    """Fidelity slider, Fit and Cancel buttons, progress bar, loss plot and a status line.

    Signals:
        fit_requested(float): fit the current photo at this fidelity (slider released,
            changed by keyboard or click, or Fit pressed).
        cancel_requested: stop the running fit.

    Args:
        state: the editor's model; the slider is bound to its ``fidelity``.
        parent: the parent widget.
    """

    fit_requested = Signal(float)
    cancel_requested = Signal()

    def __init__(self, state: EditorState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._latest = 0
        self._running = False

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(10)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(10)
        self.slider.setToolTip(FIDELITY_TOOLTIP)
        self.slider.setAccessibleName("Fidelity")
        self.value_label = QLabel()
        self.value_label.setToolTip(FIDELITY_TOOLTIP)
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Fit the photo again at the chosen fidelity")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running fit")
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.plot = LossPlot()
        self.plot.setMinimumHeight(140)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        # a wrapped label does not ask for its second line's height inside a dock: reserve two lines
        self.status_label.setMinimumHeight(2 * self.status_label.fontMetrics().lineSpacing() + 4)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout()

        self.slider.valueChanged.connect(self._on_slider_value)
        self.slider.sliderReleased.connect(self._commit_slider)
        self.fit_button.clicked.connect(self._on_fit_clicked)
        self.cancel_button.clicked.connect(self.cancel_requested)
        state.fidelity_changed.connect(self._on_model_fidelity)
        self._on_model_fidelity(state.fidelity)
        self._set_running(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not fitted")

    def _layout(self) -> None:
        title = QLabel("Fidelity")
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.value_label)
        ends = QHBoxLayout()
        ends.addWidget(QLabel("Encoder"))
        ends.addStretch(1)
        ends.addWidget(QLabel("High fidelity"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.fit_button)
        buttons.addWidget(self.progress_bar, 1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.slider)
        layout.addLayout(ends)
        layout.addLayout(buttons)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.status_label)

    # -- state ------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the newest started request is still running."""
        return self._running

    @property
    def latest_request(self) -> int:
        """The id of the newest request seen (0 before any)."""
        return self._latest

    # -- binding ----------------------------------------------------------------------------------

    def _on_model_fidelity(self, value: float) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(round(value * SLIDER_STEPS))
        self.value_label.setText(describe_fidelity(value))

    def _on_slider_value(self, value: int) -> None:
        self.value_label.setText(describe_fidelity(value / SLIDER_STEPS))
        if not self.slider.isSliderDown():  # keyboard, wheel or a click on the groove
            self._commit_slider()

    def _commit_slider(self) -> None:
        fidelity = self.slider.value() / SLIDER_STEPS
        if fidelity == self._state.fidelity:
            return
        self._state.set_fidelity(fidelity)
        self.fit_requested.emit(self._state.fidelity)

    def _on_fit_clicked(self) -> None:
        self.fit_requested.emit(self._state.fidelity)

    # -- runner -----------------------------------------------------------------------------------

    def connect_runner(self, runner: DecompositionRunner) -> None:
        """Show what ``runner`` reports (connects its five result signals to the slots)."""
        runner.started.connect(self.on_started)
        runner.progress.connect(self.on_progress)
        runner.finished.connect(self.on_finished)
        runner.failed.connect(self.on_failed)
        runner.cancelled.connect(self.on_cancelled)

    @Slot(int, float)
    def on_started(self, request_id: int, fidelity: float) -> None:
        """A request started: clear the plot and the progress."""
        if request_id < self._latest:
            return
        self._latest = request_id
        total = FitSchedule.from_fidelity(min(max(fidelity, 0.0), 1.0)).total
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"encoder — step 0 of {total}" if total else "encoder only")
        self.plot.reset()
        self.plot.start()
        self.status_label.setText(f"Fitting at fidelity {fidelity:.2f}…")
        self._set_running(True)

    @Slot(int, object)
    def on_progress(self, request_id: int, report: FitProgress) -> None:
        """One fitting step done: advance the bar and buffer the loss terms."""
        if request_id != self._latest or not self._running:
            return
        self.progress_bar.setRange(0, max(report.total, 1))
        self.progress_bar.setValue(report.step)
        self.progress_bar.setFormat(f"{report.stage.value} — step {report.step} of {report.total}")
        self.plot.add(report.step, report.terms)

    @Slot(int, object)
    def on_finished(self, request_id: int, result: object) -> None:
        """The request finished: show its errors and time (``result`` is a Decomposition or holds one)."""
        if not self._end(request_id):
            return
        decomposition: Decomposition = getattr(result, "decomposition", result)
        self.progress_bar.setValue(self.progress_bar.maximum())
        self.progress_bar.setFormat("Done")
        seconds = sum(decomposition.timings_ms.values()) / 1000.0
        self.status_label.setText(
            f"Fitted at fidelity {decomposition.fidelity:.2f}: photometric error "
            f"{decomposition.error:.3f} (encoder {decomposition.encoder_error:.3f}), {seconds:.1f} s"
        )

    @Slot(int, str)
    def on_failed(self, request_id: int, message: str) -> None:
        """The request failed: show the message."""
        if not self._end(request_id):
            return
        self.progress_bar.setFormat("Failed")
        self.status_label.setText(message)

    @Slot(int)
    def on_cancelled(self, request_id: int) -> None:
        """The request was cancelled or superseded."""
        if not self._end(request_id):
            return
        self.progress_bar.setFormat("Cancelled")
        self.status_label.setText("Cancelled")

    def _end(self, request_id: int) -> bool:
        """Stop showing a run; False when ``request_id`` is older than the newest one seen."""
        if request_id < self._latest:
            return False
        self._latest = request_id
        self.plot.stop()
        self._set_running(False)
        return True

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.cancel_button.setEnabled(running)
