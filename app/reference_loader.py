"""Reference photos decomposed off the GUI thread: the newest request wins.

:class:`ReferenceLoader` reads a reference photo and decomposes one of its faces
(:func:`facecraft.core.editing.reference.load_reference`) in a background thread
with its own engine, so it never waits for, nor disturbs, a fit of the photo
being edited. A new request cancels the running one; results come back as Qt
signals on the GUI thread. :meth:`ReferenceLoader.load_now` is the synchronous
path for tests.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from facecraft.core.decompose import Decomposer
from facecraft.core.editing.reference import Reference, load_reference
from facecraft.core.errors import FaceCraftError, naming_file
from facecraft.core.fitting import DEFAULT_FIDELITY, FitCancelled, FitProgress


@dataclass(frozen=True)
class ReferenceRequest:
    """One reference to decompose.

    Attributes:
        path: the photo.
        canvas_size: ``(H, W)`` of the canvas the copies go to.
        face: which face (0 = largest).
        fidelity: how far to fit it.
    """

    path: Path
    canvas_size: tuple[int, int]
    face: int = 0
    fidelity: float = DEFAULT_FIDELITY


class ReferenceLoader(QObject):
    """Decomposes reference photos in a background thread.

    Signals (each carries the request id first):
        started(int, str): the photo's file name.
        progress(int, int, int): fitting step done and steps in all.
        loaded(int, object): the :class:`~facecraft.core.editing.reference.Reference`.
        failed(int, str): a message naming the file and saying what to do.
        cancelled(int): superseded or cancelled.

    Args:
        load_decomposer: builds the engine (called once, in the worker thread).
    """

    started = Signal(int, str)
    progress = Signal(int, int, int)
    loaded = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)

    def __init__(
        self, load_decomposer: Callable[[], Decomposer] = Decomposer.load, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._load = load_decomposer
        self._decomposer: Decomposer | None = None
        self._engine_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._flag: threading.Event | None = None
        self._threads: list[threading.Thread] = []

    @property
    def busy(self) -> bool:
        """Whether a reference is being decomposed."""
        return any(thread.is_alive() for thread in self._threads)

    def submit(self, request: ReferenceRequest) -> int:
        """Start decomposing ``request`` (cancelling the running one); returns its id."""
        request_id = next(self._ids)
        self.cancel()
        flag = threading.Event()
        self._flag = flag
        thread = threading.Thread(
            target=self._work, args=(request_id, request, flag), name="facecraft-reference", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return request_id

    def cancel(self) -> None:
        """Cancel the running request, if any."""
        if self._flag is not None:
            self._flag.set()

    def load_now(self, request: ReferenceRequest) -> Reference:
        """Decompose synchronously on the calling thread (tests)."""
        with self._engine_lock:
            return self._run(request, None, threading.Event())

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for running requests to end (tests, shutdown)."""
        for thread in self._threads:
            thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]

    def shutdown(self, timeout: float = 60.0) -> None:
        """Cancel, wait, and free the engine."""
        self.cancel()
        self.wait(timeout)
        if self._decomposer is not None:
            self._decomposer.close()
            self._decomposer = None

    def _work(self, request_id: int, request: ReferenceRequest, flag: threading.Event) -> None:
        self.started.emit(request_id, request.path.name)
        try:
            with self._engine_lock:  # an older request still stopping finishes first
                if flag.is_set():
                    raise FitCancelled()
                reference = self._run(
                    request, lambda done, total: self.progress.emit(request_id, done, total), flag
                )
        except FitCancelled:
            self.cancelled.emit(request_id)
        except FaceCraftError as exc:
            self.failed.emit(request_id, naming_file(request.path, str(exc)))
        except Exception as exc:  # a bug must not vanish with the thread: report it
            message = f"the reference could not be decomposed: {type(exc).__name__}: {exc}"
            self.failed.emit(request_id, naming_file(request.path, message))
        else:
            if flag.is_set():
                self.cancelled.emit(request_id)
            else:
                self.loaded.emit(request_id, reference)

    def _run(
        self,
        request: ReferenceRequest,
        progress: Callable[[int, int], None] | None,
        flag: threading.Event,
    ) -> Reference:
        if self._decomposer is None:
            self._decomposer = self._load()

        def on_progress(report: FitProgress) -> None:
            if progress is not None:
                progress(report.step, report.total)

        return load_reference(
            request.path,
            self._decomposer,
            request.canvas_size,
            request.fidelity,
            face=request.face,
            progress=on_progress,
            cancelled=flag.is_set,
        )
