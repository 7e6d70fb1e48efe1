"""Turntable videos: frame count and size, decodable, first frame = a GL render of that pose, atomic."""

from __future__ import annotations

import imageio
import numpy as np
import pytest

from facecraft.core.errors import ExportError
from facecraft.core.render.gl import DisplayMode, GLFaceRenderer, create_headless_context
from facecraft.core.render.turntable import (
    BACKGROUND,
    ExportCancelled,
    TurntableScene,
    TurntableSettings,
    centred,
    turntable_camera,
    write_turntable,
)

SETTINGS = TurntableSettings(seconds=0.5, fps=12, size=96)
"""6 frames of 96x96."""


@pytest.fixture(scope="module")
def scene(astronaut_decomposition) -> TurntableScene:
    d = astronaut_decomposition
    albedo = (np.clip(d.albedo, 0, 1) * 255).round().astype(np.uint8)
    return TurntableScene(d.shape, albedo, d.lighting)


def _frames(path) -> list[np.ndarray]:
    return [frame[..., :3] for frame in imageio.get_reader(path)]


def _gl_first_frame(scene: TurntableScene, template) -> np.ndarray:
    """Frame 0 drawn directly: yaw 0, the face centred, over the background."""
    ctx = create_headless_context()
    renderer = GLFaceRenderer(ctx, template)
    try:
        shape, height = centred(scene.shape, template)
        renderer.set_shape(shape)
        renderer.set_albedo(scene.albedo)
        camera = turntable_camera(SETTINGS.yaws()[0], SETTINGS, height)
        rgba = renderer.render(camera, scene.lighting, (SETTINGS.size,) * 2, DisplayMode.TEXTURED, dtype="f4")
    finally:
        renderer.release()
        ctx.release()
    alpha = rgba[..., 3:]
    return rgba[..., :3] * 255.0 * alpha + np.asarray(BACKGROUND, np.float32) * (1.0 - alpha)


@pytest.mark.parametrize(("suffix", "tolerance"), [(".gif", 4.0), (".mp4", 4.0)])
def test_a_short_video_has_the_frames_asked_for_and_starts_on_the_gl_render(
    scene, template, tmp_path, suffix, tolerance
):
    path = tmp_path / f"turn{suffix}"
    seen: list[tuple[int, int]] = []
    assert write_turntable(path, scene, template, SETTINGS, progress=lambda i, n: seen.append((i, n))) == path
    frames = _frames(path)
    assert len(frames) == SETTINGS.frame_count == 6
    assert all(frame.shape == (96, 96, 3) for frame in frames)
    assert seen == [(i, 6) for i in range(1, 7)]
    expected = _gl_first_frame(scene, template)
    error = np.abs(frames[0].astype(np.float32) - expected)
    assert error.mean() < tolerance  # lossy: GIF's 256 colours, H.264
    assert not frames[0].std() < 10  # a face, not a blank frame
    assert not np.array_equal(frames[1], frames[0])  # it turns
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_the_sweep_reaches_the_asked_yaw_both_ways_and_no_two_neighbours_are_equal():
    yaws = np.degrees(TurntableSettings(seconds=4, fps=30, sweep_degrees=60).yaws())
    assert len(yaws) == 120 and yaws[0] == 0.0
    assert yaws.max() == pytest.approx(60.0) and yaws.min() == pytest.approx(-60.0)
    for count in range(1, 40):
        yaws = TurntableSettings(seconds=count, fps=1).yaws()
        assert len(yaws) == count
        assert count < 2 or np.abs(np.diff(np.append(yaws, yaws[0]))).min() > 1e-6


def test_a_cancelled_export_leaves_no_file_and_keeps_an_old_one(scene, template, tmp_path):
    path = tmp_path / "turn.gif"
    path.write_bytes(b"previous")
    calls = iter(range(100))
    with pytest.raises(ExportCancelled, match="nothing was written"):
        write_turntable(path, scene, template, SETTINGS, cancelled=lambda: next(calls) >= 3)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["turn.gif"]
    mp4 = tmp_path / "new.mp4"
    with pytest.raises(ExportCancelled):
        write_turntable(mp4, scene, template, SETTINGS, cancelled=lambda: True)
    assert not mp4.exists() and [p.name for p in tmp_path.iterdir()] == ["turn.gif"]


def test_bad_requests_are_messages_naming_the_file(scene, template, tmp_path):
    with pytest.raises(ExportError, match=r"turn\.avi.*\.mp4 or \.gif"):
        write_turntable(tmp_path / "turn.avi", scene, template, SETTINGS)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ExportError, match=r"turn\.gif.*cannot write there"):
        write_turntable(blocker / "turn.gif", scene, template, SETTINGS)
    with pytest.raises(ExportError, match="too many for a GIF"):
        write_turntable(tmp_path / "big.gif", scene, template, TurntableSettings(60, 60, 2048))
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.parametrize(
    "values", [{"seconds": 0}, {"fps": 0}, {"fps": 2.5}, {"size": 15}, {"size": 4096}, {"sweep_degrees": 120}]
)
def test_settings_are_validated(values):
    with pytest.raises(ValueError):
        TurntableSettings(**values)
