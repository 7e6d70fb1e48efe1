"""Decomposition and fitting off the GUI thread: the newest request wins, stale ones are cancelled.

:class:`DecompositionRunner` owns one background thread and the engine's
:class:`~facecraft.core.decompose.Decomposer` (loaded there, on first use, so a
slow or failing model load never freezes the window). A request is a frozen
:class:`DecomposeRequest`; posting a new one cancels the one running. Progress,
previews and results come back as Qt signals, delivered on the GUI thread.
:meth:`DecompositionRunner.run_now` is the synchronous path for tests and the CLI.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from facecraft.app.threads import lower_this_thread_priority
from facecraft.core.decompose import Decomposer
from facecraft.core.decomposition import Decomposition
from facecraft.core.editing.composite import shading_under
from facecraft.core.editing.editor import FaceEditor
from facecraft.core.editing.relighting import studio_lighting
from facecraft.core.errors import FaceCraftError, naming_file
from facecraft.core.face.detection import DetectedFace
from facecraft.core.fitting import FitCancelled, FitProgress, decode_state
from facecraft.core.io.image_read import LoadedImage
from facecraft.core.io.pixels import unit_to_uint8

PREVIEW_INTERVAL_S = 0.4
"""Least time between two live previews of a running fit."""


@dataclass(frozen=True)
class DecomposeRequest:
    """One decomposition to run.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 photo.
        fidelity: ``[0, 1]``.
        face: which detected face (0 = largest).
        faces: the detections when already known (skips detecting again).
        tag: the caller's label, returned with every signal (e.g. the photo's path).
        source: the file the photo came from; a failure message names it.
    """

    rgb: np.ndarray
    fidelity: float
    face: int = 0
    faces: tuple[DetectedFace, ...] | None = None
    tag: object = None
    source: Path | None = None


@dataclass(frozen=True)
class FitPreview:
    """A live look at a running fit: the current shape and albedo, ``(192, 224, 3)`` float32."""

    shape: np.ndarray
    albedo: np.ndarray
    lighting: np.ndarray


@dataclass(frozen=True)
class Failure:
    """Why a request failed: the error's type (say :class:`~facecraft.core.errors.NoFaceFound`) and a
    message for the user."""

    error: type[BaseException]
    message: str


class DecompositionRunner(QObject):
    """Runs requests one at a time in a background thread.

    Signals (each carries the request id first):
        started(int, float): fidelity.
        faces_found(int, object): the detected faces (tuple of DetectedFace, largest first).
        progress(int, object): a :class:`~facecraft.core.fitting.FitProgress`.
        preview(int, object): a :class:`FitPreview` (at most every ``PREVIEW_INTERVAL_S``).
        finished(int, object): the Decomposition, or what ``postprocess`` made of it.
        failed(int, str): a message for the user (naming the request's ``source`` file).
        failure(int, object): the same failure as a :class:`Failure`, with the error's type;
            emitted just before ``failed``.
        cancelled(int): the request was superseded or cancelled.

    Args:
        load_decomposer: builds the engine (called once, in the worker thread).
        postprocess: turns ``(engine, request, decomposition)`` into what ``finished`` carries
            (in the worker thread); by default the decomposition itself.
    """

    started = Signal(int, float)
    faces_found = Signal(int, object)
    progress = Signal(int, object)
    preview = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    failure = Signal(int, object)
    cancelled = Signal(int)

    def __init__(
        self,
        load_decomposer: Callable[[], Decomposer] = Decomposer.load,
        parent: QObject | None = None,
        postprocess: Callable[[Decomposer, DecomposeRequest, Decomposition], object] | None = None,
    ) -> None:
        super().__init__(parent)
        self._load = load_decomposer
        self._postprocess = postprocess
        self._decomposer: Decomposer | None = None
        self._queue: queue.Queue[tuple[int, DecomposeRequest, threading.Event] | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._current: threading.Event | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._busy = threading.Event()

    # -- public -----------------------------------------------------------------------------------

    def submit(self, request: DecomposeRequest) -> int:
        """Queue a request, cancelling the running and queued ones; returns its id."""
        request_id = next(self._ids)
        flag = threading.Event()
        with self._lock:
            if self._current is not None:
                self._current.set()
            dropped = self._drain()
            self._current = flag
            self._queue.put((request_id, request, flag))
        self._ensure_thread()
        self._emit_cancelled(dropped)
        return request_id

    def preload(self) -> None:
        """Load the engine (model, detector) in the worker now instead of with the first request."""
        with self._lock:
            self._queue.put((0, None, threading.Event()))
        self._ensure_thread()

    def cancel(self) -> None:
        """Cancel whatever is running or queued."""
        with self._lock:
            if self._current is not None:
                self._current.set()
            dropped = self._drain()
        self._emit_cancelled(dropped)

    @property
    def busy(self) -> bool:
        """Whether a request is being worked on."""
        return self._busy.is_set()

    def run_now(self, request: DecomposeRequest) -> Decomposition:
        """Decompose synchronously on the calling thread (tests, scripts)."""
        return self._decompose(0, request, threading.Event(), emit=False)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel everything and stop the thread (waits for it)."""
        self.cancel()
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)
        self._thread = None
        if self._decomposer is not None:
            self._decomposer.close()
            self._decomposer = None

    # -- worker -----------------------------------------------------------------------------------

    def _drain(self) -> list[int]:
        """Empty the queue (lock held); returns the ids of the requests dropped (a preload is kept)."""
        dropped, kept = [], []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None and item[1] is None:
                kept.append(item)
            elif item is not None:
                dropped.append(item[0])
        for item in kept:
            self._queue.put(item)
        return dropped

    def _emit_cancelled(self, request_ids: list[int]) -> None:
        # Outside the lock: a slot connected directly may call submit() or cancel() again.
        for request_id in request_ids:
            self.cancelled.emit(request_id)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="facecraft-decompose", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        lower_this_thread_priority()  # the GUI thread comes first (app/threads.py)
        while True:
            item = self._queue.get()
            if item is None:
                return
            request_id, request, flag = item
            if request is None:  # preload; a failure is reported by the first request
                with contextlib.suppress(Exception):
                    self._engine()
                continue
            if flag.is_set():
                self.cancelled.emit(request_id)
                continue
            self._busy.set()
            try:
                decomposition = self._decompose(request_id, request, flag, emit=True)
                if self._postprocess is not None and not flag.is_set():
                    decomposition = self._postprocess(self._engine(), request, decomposition)
            except FitCancelled:
                self.cancelled.emit(request_id)
            except FaceCraftError as exc:
                self._fail(request_id, type(exc), _about(request, str(exc)))
            except Exception as exc:  # a bug must not kill the worker silently: report it
                self._fail(
                    request_id,
                    type(exc),
                    _about(request, f"decomposition failed unexpectedly: {type(exc).__name__}: {exc}"),
                )
            else:
                if flag.is_set():
                    self.cancelled.emit(request_id)
                else:
                    self.finished.emit(request_id, decomposition)
            finally:
                self._busy.clear()

    def _fail(self, request_id: int, error: type[BaseException], message: str) -> None:
        self.failure.emit(request_id, Failure(error, message))
        self.failed.emit(request_id, message)

    def _engine(self) -> Decomposer:
        if self._decomposer is None:
            self._decomposer = self._load()
            # Loading made ~10^5 long-lived objects: freeze them (instant, no collection) so that no
            # later full garbage collection walks them while holding the GIL (app/startup.py).
            gc.freeze()
        return self._decomposer

    def _decompose(
        self, request_id: int, request: DecomposeRequest, flag: threading.Event, emit: bool
    ) -> Decomposition:
        engine = self._engine()
        if emit:
            self.started.emit(request_id, request.fidelity)
        last_preview = [time.monotonic()]

        def on_progress(report: FitProgress) -> None:
            if not emit:
                return
            self.progress.emit(request_id, report)
            now = time.monotonic()
            if now - last_preview[0] >= PREVIEW_INTERVAL_S or report.step == report.total:
                last_preview[0] = now
                with torch.no_grad():
                    face = decode_state(engine.model, report.state)
                self.preview.emit(
                    request_id,
                    FitPreview(
                        face.shape[0].permute(1, 2, 0).numpy().copy(),
                        face.albedo[0].permute(1, 2, 0).numpy().copy(),
                        report.state.lighting[0].numpy().copy(),
                    ),
                )

        if request.faces is not None:
            faces = list(request.faces)
        else:
            faces = engine.detect(request.rgb)
            if emit:
                self.faces_found.emit(request_id, tuple(faces))
        return engine.decompose(
            request.rgb,
            request.fidelity,
            face=request.face,
            faces=faces,
            progress=on_progress,
            cancelled=flag.is_set,
        )


def _about(request: DecomposeRequest, message: str) -> str:
    """``message`` naming the request's photo file, when it has one."""
    return message if request.source is None else naming_file(request.source, message)


@dataclass(frozen=True)
class PreparedFace:
    """What the window shows for a new decomposition, built in the worker thread.

    Attributes:
        editor: the face editor (empty document; the window carries its edits over).
        reconstruction: ``(H, W, 3)`` uint8 ``I(S, A)`` over the photo.
        geometry: ``(H, W, 3)`` uint8 shaded geometry over the dimmed photo.
    """

    editor: FaceEditor
    reconstruction: np.ndarray
    geometry: np.ndarray

    @property
    def decomposition(self) -> Decomposition:
        return self.editor.decomposition


def prepare_face(engine: Decomposer, request: DecomposeRequest, decomposition: Decomposition) -> PreparedFace:
    """Post-processing for the GUI: the editor, its detailed albedo and the full-resolution panes.

    ``request.tag`` must be the :class:`~facecraft.core.io.image_read.LoadedImage` of ``request.rgb``.
    """
    photo = request.tag
    if not isinstance(photo, LoadedImage):
        raise TypeError("prepare_face needs the request's tag to be the LoadedImage")
    editor = FaceEditor(photo.original, decomposition, engine.template)
    editor.edited_albedo8()  # the UV canvas's pixels, made here rather than on the GUI thread
    reconstruction, _ = editor.reconstruction()
    return PreparedFace(editor, reconstruction, shaded_geometry(editor))


def shaded_geometry(editor: FaceEditor) -> np.ndarray:
    """The fitted shape lit by neutral studio light over the dimmed photo, ``(H, W, 3)`` uint8."""
    picture = (editor.photo_rgb8().astype(np.float32) * 0.35).astype(np.uint8)
    surface = editor.surface
    if surface.region.empty:
        return picture
    grey = shading_under(studio_lighting(), surface.normals).mean(-1, keepdims=True) * 0.8
    rows, cols = surface.region.slices()
    lit = unit_to_uint8(np.repeat(grey, 3, axis=-1))
    picture[rows, cols] = np.where(surface.covered[..., None], lit, picture[rows, cols])
    return picture
