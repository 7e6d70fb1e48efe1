"""core/io/image_write: PNG and JPEG writing, exact round trips, atomic replacement, clear refusals."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facecraft.core.errors import ExportError, FaceCraftError
from facecraft.core.io import atomic
from facecraft.core.io.image_read import load_image
from facecraft.core.io.image_write import write_image


def _gradient(h: int = 24, w: int = 32) -> np.ndarray:
    """An asymmetric RGB test card: swapped channels or flipped rows change it."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], -1).astype(np.uint8)


def _files(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden temporaries included."""
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("dtype", "channels"),
    [(np.uint8, 3), (np.uint8, 4), (np.uint8, 1), (np.uint16, 3), (np.uint16, 4), (np.uint16, 1)],
)
def test_png_round_trips_exactly(tmp_path: Path, dtype: type, channels: int):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, np.iinfo(dtype).max + 1, size=(20, 30, channels), dtype=dtype)
    write_image(tmp_path / "out.png", pixels)
    loaded = load_image(tmp_path / "out.png")
    assert loaded.format == "PNG"
    assert loaded.original.dtype == dtype
    assert np.array_equal(loaded.original, pixels)
    assert _files(tmp_path) == ["out.png"]


def test_png_keeps_rgb_order_and_rows(tmp_path: Path):
    pixels = _gradient()
    write_image(tmp_path / "card.PNG", pixels)
    with Image.open(tmp_path / "card.PNG") as image:
        assert image.mode == "RGB"
        assert np.array_equal(np.asarray(image), pixels)


def test_grey_with_alpha_png_is_stored_as_rgba(tmp_path: Path):
    grey_alpha = np.dstack([_gradient()[..., 0], np.full((24, 32), 90, np.uint8)])
    write_image(tmp_path / "la.png", grey_alpha)
    original = load_image(tmp_path / "la.png").original
    assert np.array_equal(original, grey_alpha[..., [0, 0, 0, 1]])


def test_two_dimensional_pixels_are_grey(tmp_path: Path):
    grey = _gradient()[..., 1]
    write_image(tmp_path / "g.png", grey)
    assert np.array_equal(load_image(tmp_path / "g.png").original, grey[..., None])


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".JPG"])
def test_jpeg_is_8_bit_without_alpha_and_close(tmp_path: Path, suffix: str):
    rgba = np.dstack([_gradient(64, 96), np.full((64, 96), 10, np.uint8)])
    path = tmp_path / f"photo{suffix}"
    write_image(path, rgba)
    loaded = load_image(path)
    assert loaded.format == "JPEG"
    assert loaded.original.shape == (64, 96, 3) and loaded.original.dtype == np.uint8
    assert np.abs(loaded.original.astype(int) - rgba[..., :3]).mean() < 3
    with Image.open(path) as image:
        assert image.getexif().get(0x0112, 1) == 1


def test_jpeg_scales_16_bit_down_and_keeps_grey(tmp_path: Path):
    deep = _gradient(64, 96)[..., :1].astype(np.uint16) * 257
    write_image(tmp_path / "deep.jpg", deep)
    loaded = load_image(tmp_path / "deep.jpg")
    assert loaded.original.shape == (64, 96, 1) and loaded.original.dtype == np.uint8
    assert np.abs(loaded.original.astype(int) - deep // 257).mean() < 2


def test_jpeg_quality_is_used(tmp_path: Path):
    noise = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    write_image(tmp_path / "low.jpg", noise, quality=30)
    write_image(tmp_path / "high.jpg", noise, quality=95)
    assert (tmp_path / "low.jpg").stat().st_size < (tmp_path / "high.jpg").stat().st_size
    with pytest.raises(ExportError, match="quality"):
        write_image(tmp_path / "bad.jpg", noise, quality=0)


@pytest.mark.parametrize("name", ["image.bmp", "image.tif", "image"])
def test_unsupported_image_suffix(tmp_path: Path, name: str):
    with pytest.raises(ExportError, match=r"unsupported image file type.*\.png, \.jpg, \.jpeg") as info:
        write_image(tmp_path / name, _gradient())
    assert name in str(info.value)
    assert isinstance(info.value, FaceCraftError)
    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((8, 8, 3), np.float32),
        np.zeros((8, 8, 5), np.uint8),
        np.zeros((0, 8, 3), np.uint8),
        np.zeros((2, 8, 8, 3), np.uint8),
    ],
)
def test_bad_pixel_arrays(tmp_path: Path, pixels: np.ndarray):
    with pytest.raises(ExportError, match=r"bad\.png: expected"):
        write_image(tmp_path / "bad.png", pixels)
    assert _files(tmp_path) == []


def test_folder_that_is_a_file(tmp_path: Path):
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(ExportError, match=r"out\.png: cannot write the file \(.*blocker is not a folder"):
        write_image(tmp_path / "blocker" / "out.png", _gradient())
    with pytest.raises(ExportError, match=r"out\.png: cannot write"):
        write_image(tmp_path / "blocker" / "deeper" / "out.png", _gradient())
    assert _files(tmp_path) == ["blocker"]


def test_disk_error_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def disk_full(path: Path, data: bytes, mode: int = 0o644) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "write_bytes_atomically", disk_full)
    with pytest.raises(ExportError, match=r"out\.png: cannot write the file \(the disk is full\)"):
        write_image(tmp_path / "out.png", _gradient())
    assert _files(tmp_path) == []


def test_image_replaces_an_existing_file(tmp_path: Path):
    write_image(tmp_path / "out.png", _gradient())
    write_image(tmp_path / "out.png", _gradient()[::-1])
    assert np.array_equal(load_image(tmp_path / "out.png").original, _gradient()[::-1])
    assert _files(tmp_path) == ["out.png"]


# ---------------------------------------------------------------- OBJ
