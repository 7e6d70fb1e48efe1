"""A set of output files that appears whole or not at all, even across a hard kill or a power cut.

``facecraft decompose`` writes 14 files per photo. Renaming each one atomically is not enough:
a ``kill -9`` between two files leaves part of the set. Instead the files are written into a
*stage*, a hidden folder beside them (``.facecraft-stage-<stem>-<random>``, never mistaken for
finished output), each flushed to disk. Committing then

1. writes the commit mark into the stage (from here on the set will be completed, not dropped),
2. removes the previous completion file (the photo's JSON) so an older set is no longer marked done,
3. moves every other file into place, flushes the folder,
4. moves the completion file into place last, flushes the folder, and removes the stage.

So a folder holds a photo's complete set exactly when its completion file exists. The process
that owns a stage holds an exclusive ``flock`` on the stage's lock file; the kernel drops it when
the process dies, however it dies. A stage is born locked: it is made as ``.facecraft-new-...``,
its lock file is created and locked there, and only then is it renamed to its stage name, so a
stage without a held lock is always abandoned (or being deleted). :func:`clean_stale_stages`
(run by every later ``decompose`` into the folder) finds stages nobody holds: one without its
commit mark is deleted (the folder is as before the interrupted run), one with it is completed
(all its files were already on disk). Unborn stages a killed process left are removed too; a
process whose unborn stage a cleaner removed simply makes another.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import IO

from facecraft.core.errors import ExportError
from facecraft.core.io.atomic import sync_folder

try:
    import fcntl
except ImportError:  # not POSIX: stale stages are told by age instead of by their lock
    fcntl = None  # type: ignore[assignment]

STAGE_PREFIX = ".facecraft-stage-"
"""Name start of every stage folder."""
UNBORN_PREFIX = ".facecraft-new-"
"""Name start of a stage folder whose lock is not yet held (it holds nothing but the lock file)."""
LOCK_NAME = ".lock"
"""The stage's lock file, ``flock``-ed by the process writing the stage."""
COMMIT_MARK = ".commit"
"""Written when every file is on disk; holds the completion file's name."""
STALE_WITHOUT_LOCKS_S = 24 * 3600.0
"""Where ``flock`` does not exist, a stage this old is taken as abandoned."""
_BIRTH_ATTEMPTS = 5
"""Tries at making a stage when cleaners keep removing the unborn ones (each removal needs a race)."""
_NOT_OUTPUTS = frozenset({LOCK_NAME, COMMIT_MARK})


class StaleStageAction(Enum):
    """What :func:`clean_stale_stages` did with an abandoned stage."""

    DISCARDED = "discarded"
    """Not committed: deleted; the folder is as it was before the interrupted run."""
    COMPLETED = "completed"
    """Committed but cut off while moving files: the remaining files were moved into place."""


@dataclass(frozen=True)
class StaleStage:
    """One abandoned stage found and dealt with.

    Attributes:
        path: the stage folder (gone now).
        completion: the completion file's name, when the stage was committed.
        action: what was done.
    """

    path: Path
    completion: str | None
    action: StaleStageAction


class OutputStage:
    """A hidden folder where one set of outputs is written before it is moved into ``folder``.

    Use as a context manager; write every file to :meth:`file`, then call :meth:`commit`.
    Leaving the block without committing (an exception, or no commit) deletes the stage.
    """

    def __init__(self, folder: str | Path, completion: str) -> None:
        """Make the stage in ``folder`` (created when missing).

        Args:
            folder: where the files finally go.
            completion: the name of the file that marks the set complete; it is moved last.
        """
        self.folder = Path(folder)
        self.completion = completion
        self.committed = False
        self._lock: IO[bytes] | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.path = self._make_locked_stage(Path(completion).stem[:40])
        except OSError as exc:
            self._release()
            raise ExportError(f"{self.folder}: cannot write outputs there ({exc.strerror or exc})") from exc

    def _make_locked_stage(self, stem: str) -> Path:
        """An unborn folder with its lock file held, renamed to a stage name; the stage's path."""
        for attempt in range(_BIRTH_ATTEMPTS):
            unborn = Path(tempfile.mkdtemp(prefix=f"{UNBORN_PREFIX}{stem}-", dir=self.folder))
            stage = self.folder / (STAGE_PREFIX + unborn.name.removeprefix(UNBORN_PREFIX))
            try:
                self._lock = (unborn / LOCK_NAME).open("wb")
                if fcntl is not None:
                    fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX)
                if stage.exists():  # another stage by that name (vanishingly rare): make another
                    raise FileExistsError(stage)
                unborn.rename(stage)
                return stage
            except (FileNotFoundError, FileExistsError):
                # A cleaner removed the unborn folder between two of these steps.
                self._release()
                shutil.rmtree(unborn, ignore_errors=True)
                if attempt == _BIRTH_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def file(self, name: str) -> Path:
        """Where to write the output called ``name`` (a bare file name)."""
        if Path(name).name != name or name in _NOT_OUTPUTS:
            raise ValueError(f"an output name must be a plain file name, got {name!r}")
        return self.path / name

    def commit(self) -> list[Path]:
        """Move the staged files into the folder, the completion file last; the paths now there.

        Raises:
            ValueError: the completion file was not written into the stage (a programming error).
            ExportError: a file could not be flushed or moved; once the commit mark is written the
                stage stays and a later :func:`clean_stale_stages` completes it.
        """
        if not (self.path / self.completion).is_file():
            raise ValueError(f"{self.path / self.completion}: the completion file was not written")
        try:
            _sync_files(self.path / name for name in _staged_names(self.path))
            _write_synced(self.path / COMMIT_MARK, self.completion.encode())
            sync_folder(self.path)
            self.committed = True  # from here on the set is completed, now or by a later clean
            moved = _finish(self.path, self.folder, self.completion)
        except OSError as exc:
            self._release()
            raise ExportError(
                f"{self.folder}: the outputs could not be moved into place ({exc.strerror or exc})"
            ) from exc
        self._release()
        return moved

    def discard(self) -> None:
        """Delete the stage and everything in it (nothing in the folder changes)."""
        shutil.rmtree(self.path, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing drops the flock
            self._lock = None

    def __enter__(self) -> OutputStage:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if not self.committed:
            self.discard()


def clean_stale_stages(folder: str | Path) -> list[StaleStage]:
    """Complete or delete the stages in ``folder`` that no running process holds.

    Stages of processes still writing are left alone, so are unborn stages being made; unborn ones
    a killed process left are removed (they hold no output). Returns what was done, one entry per stage.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    for unborn in sorted(folder.glob(f"{UNBORN_PREFIX}*")):
        if unborn.is_dir():
            _remove_if_abandoned(unborn)
    cleaned = []
    for stage in sorted(folder.glob(f"{STAGE_PREFIX}*")):
        if not stage.is_dir():
            continue
        with _claimed(stage) as claimed:
            if not claimed:
                continue
            mark = stage / COMMIT_MARK
            completion = mark.read_text().strip() if mark.is_file() else ""
            if completion and Path(completion).name == completion:
                _finish(stage, folder, completion)
                cleaned.append(StaleStage(stage, completion, StaleStageAction.COMPLETED))
            else:
                shutil.rmtree(stage, ignore_errors=True)
                cleaned.append(StaleStage(stage, None, StaleStageAction.DISCARDED))
    return cleaned


def _remove_if_abandoned(unborn: Path) -> None:
    """Removes an unborn stage unless its maker holds its lock.

    Every removal is safe against a maker still at work: an empty folder is removed with
    ``rmdir``, which fails once the lock file is created; a lock file is removed only while this
    cleaner holds its lock, and its maker, finding the folder gone when it tries to rename it,
    makes another.
    """
    if fcntl is None:
        if time.time() - unborn.stat().st_mtime > STALE_WITHOUT_LOCKS_S:
            shutil.rmtree(unborn, ignore_errors=True)
        return
    try:
        handle = (unborn / LOCK_NAME).open("rb")
    except FileNotFoundError:
        with contextlib.suppress(OSError):  # not empty: its lock file was just made
            unborn.rmdir()
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # its maker holds it: about to be renamed
        (unborn / LOCK_NAME).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            unborn.rmdir()


@contextlib.contextmanager
def _claimed(stage: Path) -> Iterator[bool]:
    """Yields True when no live process holds ``stage`` (its lock is then held until the block ends).

    A stage without its lock file is being deleted or was cut off while being deleted: claimed.
    """
    lock_path = stage / LOCK_NAME
    if fcntl is None:
        yield time.time() - stage.stat().st_mtime > STALE_WITHOUT_LOCKS_S
        return
    try:
        handle = lock_path.open("rb")
    except FileNotFoundError:
        yield True
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _finish(stage: Path, folder: Path, completion: str) -> list[Path]:
    """Moves of a committed stage: old completion file out, other files in, completion file last.

    Run again on a stage cut off anywhere in here, it does what is left and nothing more (the old
    completion file is removed only while the new one is still staged).
    """
    pending = (stage / completion).exists()
    if pending:
        (folder / completion).unlink(missing_ok=True)
        sync_folder(folder)
    moved = []
    for name in _staged_names(stage):
        if name != completion:
            (stage / name).replace(folder / name)
            moved.append(folder / name)
    sync_folder(folder)
    if pending:
        (stage / completion).replace(folder / completion)
    moved.append(folder / completion)
    sync_folder(folder)
    (stage / COMMIT_MARK).unlink(missing_ok=True)  # first: a stage cut off from here holds no mark
    shutil.rmtree(stage, ignore_errors=True)
    return moved


def _staged_names(stage: Path) -> list[str]:
    """The output files in a stage (not its lock or commit mark)."""
    names = (entry.name for entry in stage.iterdir() if entry.is_file())
    return sorted(name for name in names if name not in _NOT_OUTPUTS)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _sync_files(paths: Iterable[Path]) -> None:
    for path in paths:
        with path.open("rb+") as file:
            os.fsync(file.fileno())
