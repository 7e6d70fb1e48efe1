"""File reading and writing off the GUI thread: photos and sessions in, exports and sessions out.

:class:`PhotoLoader` reads a photo or a session in a short thread of its own and delivers only
the newest load; :class:`FileJobs` writes one file at a time from a snapshot the caller took,
so the user keeps editing while it is written and a failed write loses nothing.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from facecraft.app.image_view import to_qimage
from facecraft.app.threads import lower_this_thread_priority
from facecraft.app.workers import PreparedFace, shaded_geometry
from facecraft.core.editing.document import EditDocument
from facecraft.core.editing.editor import FaceEditor
from facecraft.core.errors import FaceCraftError
from facecraft.core.face.template import FaceTemplate
from facecraft.core.io.image_read import load_image
from facecraft.core.io.session import load_session


class PhotoLoader(QObject):
    """Reads photo files off the GUI thread (a 24-megapixel JPEG takes ~0.25 s to decode).

    Each :meth:`load` runs in its own short thread; only the newest load's result is
    delivered, so opening another photo while one is loading simply supersedes it.

    The photo's ``QImage`` for the views is made here too: for a 24-megapixel photo that copy
    alone blocked the GUI thread ~35 ms.

    Signals:
        loaded(int, object, object, bytes, object): load id, path, the LoadedImage, the file's
            bytes, and the photo as a ``QImage``.
        session_loaded(int, object, object, object, object): load id, path, the LoadedSession, a
            :class:`PreparedFace` whose editor holds the session's layers (and relighting), and
            the session's photo as a ``QImage``.
        failed(int, object, str): load id, path, a message for the user.
    """

    loaded = Signal(int, object, object, bytes, object)
    failed = Signal(int, object, str)
    session_loaded = Signal(int, object, object, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._latest = 0
        self._threads: list[threading.Thread] = []

    def load(self, path: Path) -> int:
        """Start reading the photo ``path``; returns the load's id."""
        return self._start(self._read, Path(path))

    def load_session(self, path: Path, template: FaceTemplate) -> int:
        """Start reading the session ``path`` and preparing its editor; returns the load's id."""
        return self._start(self._read_session, Path(path), template)

    def _start(self, target: Callable[..., None], *args: object) -> int:
        load_id = next(self._ids)
        self._latest = load_id
        thread = threading.Thread(target=target, args=(load_id, *args), name="facecraft-load", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return load_id

    def _read_session(self, load_id: int, path: Path, template: FaceTemplate) -> None:
        lower_this_thread_priority()
        try:
            session = load_session(path)
            document = EditDocument(session.canvas_size, template, session.layers)
            editor = FaceEditor(session.photo.original, session.decomposition, template, document=document)
            if session.lighting is not None:
                editor.relight(session.lighting)
            editor.base_albedo()
            prepared = PreparedFace(editor, editor.reconstruction()[0], shaded_geometry(editor))
            image = to_qimage(session.photo.original)
        except FaceCraftError as exc:
            message = str(exc)
        except ValueError as exc:  # a session whose parts do not fit together
            message = f"{path}: the session is damaged ({exc})"
        else:
            if load_id == self._latest:
                self.session_loaded.emit(load_id, path, session, prepared, image)
            return
        if load_id == self._latest:
            self.failed.emit(load_id, path, message)

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for running loads to finish (tests, shutdown)."""
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _read(self, load_id: int, path: Path) -> None:
        lower_this_thread_priority()
        try:
            photo = load_image(path)
            data = path.read_bytes()
            image = to_qimage(photo.original) if load_id == self._latest else None
        except FaceCraftError as exc:
            message = str(exc)
        except OSError as exc:
            message = f"{path}: {exc.strerror or exc}"
        else:
            if load_id == self._latest:
                self.loaded.emit(load_id, path, photo, data, image)
            return
        if load_id == self._latest:
            self.failed.emit(load_id, path, message)


class FileJobs(QObject):
    """Writes files (exports, sessions) off the GUI thread, one at a time.

    The caller snapshots what it writes (copies of the pixels and layers) before
    calling :meth:`run`, so the user can keep editing while the file is written.

    Signals:
        finished(str, object, object, str): the job's kind, its path, what the job
            returned, and an error message ("" on success).
    """

    finished = Signal(str, object, object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._writing = threading.Event()

    @property
    def busy(self) -> bool:
        """Whether a file is being written (False from the moment its ``finished`` is emitted)."""
        return self._writing.is_set()

    def run(self, kind: str, path: Path, job: Callable[[], object]) -> bool:
        """Start ``job`` (which writes ``path``); False when another file is still being written."""
        if self.busy:
            return False
        self._writing.set()
        self._thread = threading.Thread(
            target=self._work, args=(kind, path, job), name="facecraft-write", daemon=True
        )
        self._thread.start()
        return True

    def wait(self, timeout: float = 120.0) -> None:
        """Wait for the file being written (before quitting, and in tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self, kind: str, path: Path, job: Callable[[], object]) -> None:
        lower_this_thread_priority()
        result, error = None, ""
        try:
            result = job()
        except FaceCraftError as exc:
            error = str(exc)
        except Exception as exc:  # reported, never lost: the edits stay in memory
            error = f"{path}: {type(exc).__name__}: {exc}"
        # Not busy before the signal: a slot (or a test woken by it) may start the next file at once.
        self._writing.clear()
        self.finished.emit(kind, path, result, error)
