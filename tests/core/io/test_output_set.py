"""Output sets that appear whole or not at all (core/io/output_set.py), including after a hard kill.

The kill tests run a real child process that writes a set and kill it with SIGKILL at many
instants; what any reader of the folder sees must then be the old set, the new set, or no set
(never a JSON with missing files), and a later clean must leave exactly one whole set.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facecraft.core.errors import ExportError
from facecraft.core.io import output_set
from facecraft.core.io.output_set import (
    COMMIT_MARK,
    STAGE_PREFIX,
    UNBORN_PREFIX,
    OutputStage,
    StaleStageAction,
    clean_stale_stages,
)

NAMES = [f"photo_{i}.bin" for i in range(8)]


def write_set(folder: Path, content: bytes) -> list[Path]:
    with OutputStage(folder, "photo.json") as stage:
        for name in NAMES:
            stage.file(name).write_bytes(content)
        stage.file("photo.json").write_bytes(content)
        return stage.commit()


def test_commit_moves_everything_and_leaves_no_stage(tmp_path):
    moved = write_set(tmp_path, b"new")
    assert [path.name for path in moved][-1] == "photo.json"
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*NAMES, "photo.json"])


def test_an_error_before_commit_leaves_the_folder_as_it_was(tmp_path):
    write_set(tmp_path, b"old")
    with pytest.raises(RuntimeError), OutputStage(tmp_path, "photo.json") as stage:
        stage.file(NAMES[0]).write_bytes(b"new")
        raise RuntimeError("failed half-way")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*NAMES, "photo.json"])
    assert all(path.read_bytes() == b"old" for path in tmp_path.iterdir())


def test_output_names_are_plain_file_names(tmp_path):
    with OutputStage(tmp_path, "photo.json") as stage:
        for bad in ("../escape.png", "sub/file.png", ".lock", COMMIT_MARK):
            with pytest.raises(ValueError, match="plain file name"):
                stage.file(bad)


def test_a_commit_without_the_completion_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="completion file"), OutputStage(tmp_path, "photo.json") as stage:
        stage.file(NAMES[0]).write_bytes(b"x")
        stage.commit()
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_is_an_export_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="cannot write outputs there"):
        OutputStage(blocker / "out", "photo.json")


def test_a_live_stage_is_left_alone(tmp_path):
    with OutputStage(tmp_path, "photo.json") as stage:
        stage.file(NAMES[0]).write_bytes(b"x")
        assert clean_stale_stages(tmp_path) == []
        assert stage.path.is_dir()


CHILD = """
import sys, time
from pathlib import Path
from facecraft.core.io.output_set import OutputStage
folder, content, pause = Path(sys.argv[1]), sys.argv[2].encode() * 200_000, float(sys.argv[3])
names = [f"photo_{i}.bin" for i in range(8)]
with OutputStage(folder, "photo.json") as stage:
    for index, name in enumerate(names):
        stage.file(name).write_bytes(content)
        if index == 0:
            print("writing", flush=True)
        time.sleep(pause)
    stage.file("photo.json").write_bytes(content)
    stage.commit()
"""


def visible_set(folder: Path) -> set[bytes] | None:
    """The contents a reader of the folder sees: None when there is no JSON, i.e. no complete set."""
    if not (folder / "photo.json").exists():
        return None
    # a JSON present means every file of the set is there, all from the same run
    return {(folder / name).read_bytes() for name in [*NAMES, "photo.json"]}


@pytest.mark.slow
def test_killed_at_many_instants_the_folder_holds_one_whole_set(tmp_path):
    old, new = b"o" * 200_000, b"n" * 200_000
    delays_ms = [0, 2, 4, 6, 8, 10, 13, 16, 20, 24, 28, 32, 36, 40, 45, 50, None]  # None: not killed
    actions, finals = [], []
    for attempt, delay_ms in enumerate(delays_ms):
        folder = tmp_path / f"run{attempt}"
        write_set(folder, old)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(folder), "n", "0.004"], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout.readline().strip() == "writing"  # the first file is staged
        if delay_ms is not None:
            time.sleep(delay_ms / 1000)
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        # What a reader sees right after the kill: the old set or the new one, never a mixture.
        assert visible_set(folder) in (None, {old}, {new}), attempt
        # A later run cleans up: exactly one whole set, no stage, no stray file.
        actions.append({stage.action for stage in clean_stale_stages(folder)})
        assert sorted(path.name for path in folder.iterdir()) == sorted([*NAMES, "photo.json"]), attempt
        finals.append(visible_set(folder))
        assert finals[-1] in ({old}, {new}), attempt
    # the first kill lands with one file of eight staged: that stage is thrown away
    assert actions[0] == {StaleStageAction.DISCARDED} and finals[0] == {old}
    assert actions[-1] == set() and finals[-1] == {new}  # the run left alone completes


def test_a_stage_killed_after_its_commit_mark_is_completed(tmp_path):
    write_set(tmp_path, b"old")
    # What a kill between the moves leaves: the mark, some files still staged, the old JSON gone.
    stage = tmp_path / f"{STAGE_PREFIX}photo-abc"
    stage.mkdir()
    (stage / ".lock").write_bytes(b"")
    (stage / COMMIT_MARK).write_text("photo.json")
    for name in [*NAMES[4:], "photo.json"]:
        (stage / name).write_bytes(b"new")
    for name in NAMES[:4]:
        (tmp_path / name).write_bytes(b"new")
    (tmp_path / "photo.json").unlink()
    assert visible_set(tmp_path) is None
    [cleaned] = clean_stale_stages(tmp_path)
    assert cleaned.action is StaleStageAction.COMPLETED and cleaned.completion == "photo.json"
    assert visible_set(tmp_path) == {b"new"}
    assert not stage.exists()


def test_a_stage_is_born_locked_and_never_seen_unborn(tmp_path):
    with OutputStage(tmp_path, "photo.json") as stage:
        assert stage.path.name.startswith(STAGE_PREFIX)
        assert (stage.path / ".lock").is_file()
        assert [path.name for path in tmp_path.iterdir()] == [stage.path.name]  # no unborn folder left


def test_unborn_stages_a_killed_process_left_are_removed(tmp_path):
    empty = tmp_path / f"{UNBORN_PREFIX}photo-a"  # killed right after making the folder
    empty.mkdir()
    with_lock = tmp_path / f"{UNBORN_PREFIX}photo-b"  # killed before it was renamed
    with_lock.mkdir()
    (with_lock / ".lock").write_bytes(b"")
    assert clean_stale_stages(tmp_path) == []  # nothing to report: they held no output
    assert list(tmp_path.iterdir()) == []


def test_an_unborn_stage_whose_lock_is_held_is_left_alone(tmp_path):
    import fcntl

    unborn = tmp_path / f"{UNBORN_PREFIX}photo-a"
    unborn.mkdir()
    with (unborn / ".lock").open("wb") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        clean_stale_stages(tmp_path)
        assert (unborn / ".lock").is_file()


def test_a_maker_whose_unborn_stage_a_cleaner_removed_makes_another(tmp_path, monkeypatch):
    made = []

    def mkdtemp_then_clean(**kwargs):
        path = real_mkdtemp(**kwargs)
        made.append(path)
        if len(made) == 1:
            clean_stale_stages(tmp_path)  # a cleaner runs between making the folder and locking it
        return path

    real_mkdtemp = output_set.tempfile.mkdtemp
    monkeypatch.setattr(output_set.tempfile, "mkdtemp", mkdtemp_then_clean)
    names = write_set(tmp_path, b"new")
    assert len(made) == 2 and not Path(made[0]).exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(path.name for path in names)


def test_a_stage_cut_off_while_being_deleted_is_removed_at_once(tmp_path):
    stage = tmp_path / f"{STAGE_PREFIX}photo-abc"  # its lock file already deleted
    stage.mkdir()
    (stage / NAMES[0]).write_bytes(b"half")
    [cleaned] = clean_stale_stages(tmp_path)
    assert cleaned.action is StaleStageAction.DISCARDED
    assert list(tmp_path.iterdir()) == []


def test_finishing_a_stage_again_never_removes_the_set_it_completed(tmp_path):
    write_set(tmp_path, b"new")
    # A clean cut off after every file was moved, before its stage was gone: only the mark is left.
    stage = tmp_path / f"{STAGE_PREFIX}photo-abc"
    stage.mkdir()
    (stage / COMMIT_MARK).write_text("photo.json")
    [cleaned] = clean_stale_stages(tmp_path)
    assert cleaned.action is StaleStageAction.COMPLETED
    assert visible_set(tmp_path) == {b"new"}
    assert not stage.exists()
