"""load_image: formats, bit depths, EXIF orientation, and every bad-input case."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from facecraft.core.errors import ImageLoadError
from facecraft.core.io.image_read import apply_exif_orientation, load_image
from facecraft.core.io.pixels import to_rgb8


def _gradient(h: int = 24, w: int = 32) -> np.ndarray:
    """An asymmetric RGB test card: orientation mistakes change it."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], -1).astype(np.uint8)


@pytest.mark.parametrize(("fmt", "suffix", "lossless"), [
    ("PNG", ".png", True), ("BMP", ".bmp", True), ("TIFF", ".tif", True),
    ("WEBP", ".webp", False), ("JPEG", ".jpg", False),
])
def test_reads_common_formats(tmp_path: Path, fmt: str, suffix: str, lossless: bool):
    pixels = _gradient()
    path = tmp_path / f"card{suffix}"
    Image.fromarray(pixels).save(path, format=fmt, **({"quality": 95} if not lossless else {}))
    loaded = load_image(path)
    assert loaded.format == fmt
    assert loaded.rgb.shape == (24, 32, 3) and loaded.rgb.dtype == np.uint8
    assert (loaded.width, loaded.height) == (32, 24)
    assert loaded.alpha is None
    error = np.abs(loaded.rgb.astype(int) - pixels).mean()
    assert error == 0 if lossless else error < 6


def test_grey_png_is_replicated_to_rgb(tmp_path: Path):
    grey = _gradient()[..., 0]
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    loaded = load_image(tmp_path / "g.png")
    assert loaded.original.shape == (24, 32, 1)
    assert np.array_equal(loaded.rgb, np.repeat(grey[..., None], 3, axis=2))


def test_rgba_png_keeps_alpha(tmp_path: Path):
    rgba = np.dstack([_gradient(), np.full((24, 32), 77, np.uint8)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert loaded.original.shape == (24, 32, 4)
    assert loaded.alpha is not None and (loaded.alpha == 77).all()
    assert np.array_equal(loaded.rgb, rgba[..., :3])


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16_bit_png_keeps_full_precision(tmp_path: Path, channels: int):
    rng = np.random.default_rng(0)
    deep = rng.integers(0, 65536, size=(20, 30, channels), dtype=np.uint16)
    bgr = deep if channels == 1 else deep[..., [2, 1, 0, 3][:channels]]
    assert cv2.imwrite(str(tmp_path / "d.png"), bgr)
    loaded = load_image(tmp_path / "d.png")
    assert loaded.bit_depth == 16
    assert np.array_equal(loaded.original, deep)
    expected_rgb = to_rgb8(deep)
    assert np.array_equal(loaded.rgb, expected_rgb)
    assert abs(int(loaded.rgb.max()) - int(deep[..., :3].max()) // 257) <= 1


def test_16_bit_tiff(tmp_path: Path):
    deep = (np.arange(12 * 10 * 3).reshape(12, 10, 3) * 97 % 65536).astype(np.uint16)
    assert cv2.imwrite(str(tmp_path / "d.tif"), deep[..., ::-1])
    loaded = load_image(tmp_path / "d.tif")
    assert loaded.bit_depth == 16 and np.array_equal(loaded.original, deep)


def _float_card(dtype: type, channels: int) -> np.ndarray:
    """A float test card in roughly [-0.2, 1.2], with NaN and exact 0, 0.5 and 1 samples."""
    rng = np.random.default_rng(channels)
    card = rng.uniform(-0.2, 1.2, size=(12, 16, channels)).astype(dtype)
    card[0, 0], card[0, 1], card[0, 2], card[0, 3] = 0.0, 0.5, 1.0, np.nan
    return card


def _expected_uint16(card: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] (NaN as 0), then scale to 0..65535: the documented mapping."""
    values = np.clip(np.nan_to_num(card.astype(np.float64), nan=0.0), 0.0, 1.0)
    return np.round(values * 65535).astype(np.uint16)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_float_tiff_is_read_as_16_bit(tmp_path: Path, dtype: type, channels: int):
    import tifffile

    card = _float_card(dtype, channels)
    path = tmp_path / "linear.tif"
    photometric = "rgb" if channels >= 3 else "minisblack"
    extra = {"extrasamples": ["unassalpha"]} if channels == 4 else {}
    tifffile.imwrite(path, card if channels > 1 else card[..., 0], photometric=photometric, **extra)
    loaded = load_image(path)
    assert loaded.format == "TIFF" and loaded.bit_depth == 16
    assert loaded.original.shape == (12, 16, channels)
    assert np.abs(loaded.original.astype(int) - _expected_uint16(card)).max() <= 1
    assert loaded.original[0, 0, 0] == 0 and loaded.original[0, 2, 0] == 65535  # 0 and 1
    assert loaded.original[0, 3, 0] == 0  # NaN
    assert loaded.rgb[0, 1, 0] == 128  # 0.5 is mid grey for the model
    assert np.array_equal(loaded.rgb, to_rgb8(loaded.original))
    over, under = card > 1, card < 0  # clipped, not rescaled by the maximum
    assert (loaded.original[over] == 65535).all() and (loaded.original[under] == 0).all()
    assert (loaded.alpha is not None) == (channels == 4)


def test_float_tiff_orientation_tag_is_applied(tmp_path: Path):
    import tifffile

    card = _float_card(np.float32, 3)
    tifffile.imwrite(tmp_path / "turned.tif", card, photometric="rgb", extratags=[(274, "H", 1, 6, False)])
    loaded = load_image(tmp_path / "turned.tif")
    assert loaded.exif_orientation == 6 and loaded.original.shape == (16, 12, 3)
    expected = apply_exif_orientation(_expected_uint16(card), 6)
    assert np.abs(loaded.original.astype(int) - expected).max() <= 1


def test_lzw_float_tiff_with_the_floating_point_predictor(tmp_path: Path):
    card = np.clip(_float_card(np.float32, 3), 0.0, 1.0)
    card[0, 3] = 0.25
    assert cv2.imwrite(str(tmp_path / "lzw.tif"), card[..., ::-1], [cv2.IMWRITE_TIFF_COMPRESSION, 5])
    loaded = load_image(tmp_path / "lzw.tif")
    assert loaded.bit_depth == 16
    assert np.abs(loaded.original.astype(int) - _expected_uint16(card)).max() <= 1


def test_damaged_float_tiff_names_the_file_and_why(tmp_path: Path):
    import tifffile

    tifffile.imwrite(tmp_path / "full.tif", _float_card(np.float32, 3), photometric="rgb", rowsperstrip=2)
    data = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match=r"cut\.tif: the floating-point TIFF cannot be decoded \(.+\)"):
        load_image(tmp_path / "cut.tif")
    tifffile.imwrite(tmp_path / "cmyk.tif", np.zeros((4, 5, 4), np.float32), photometric="separated")
    with pytest.raises(ImageLoadError, match=r"cmyk\.tif: unsupported floating-point TIFF \(colour model"):
        load_image(tmp_path / "cmyk.tif")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path: Path, orientation: int):
    from PIL import ImageOps

    pixels = _gradient()
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.png"
    Image.fromarray(pixels).save(path, exif=exif)
    loaded = load_image(path)
    with Image.open(path) as reference:
        expected = np.asarray(ImageOps.exif_transpose(reference).convert("RGB"))
    assert loaded.exif_orientation == orientation
    assert np.array_equal(loaded.rgb, expected)
    if orientation >= 5:
        assert (loaded.height, loaded.width) == (32, 24)


def test_apply_exif_orientation_is_identity_for_unknown_values():
    pixels = _gradient()
    assert np.array_equal(apply_exif_orientation(pixels, 0), pixels)
    assert np.array_equal(apply_exif_orientation(pixels, 42), pixels)


def test_missing_file(tmp_path: Path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "nothing.jpg")


def test_folder(tmp_path: Path):
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)


def test_empty_file(tmp_path: Path):
    (tmp_path / "e.jpg").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(tmp_path / "e.jpg")


def test_not_an_image(tmp_path: Path):
    (tmp_path / "notes.jpg").write_text("these are not pixels\n" * 20)
    with pytest.raises(ImageLoadError, match=r"notes\.jpg: not an image"):
        load_image(tmp_path / "notes.jpg")


def test_unsupported_format(tmp_path: Path):
    Image.fromarray(_gradient()).save(tmp_path / "x.gif", format="GIF")
    with pytest.raises(ImageLoadError, match="unsupported image format 'GIF'"):
        load_image(tmp_path / "x.gif")


@pytest.mark.parametrize(("fmt", "suffix"), [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp")])
def test_truncated_file(tmp_path: Path, fmt: str, suffix: str):
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format=fmt)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageLoadError, match=r"cut\.\w+: "):
        load_image(path)


def test_truncated_16_bit_png(tmp_path: Path):
    deep = np.random.default_rng(2).integers(0, 65536, (128, 128, 3), dtype=np.uint16)
    ok, encoded = cv2.imencode(".png", deep)
    assert ok
    (tmp_path / "cut16.png").write_bytes(encoded.tobytes()[: encoded.size // 2])
    with pytest.raises(ImageLoadError, match="truncated or corrupt"):
        load_image(tmp_path / "cut16.png")


def test_corrupt_jpeg_body(tmp_path: Path):
    buffer = io.BytesIO()
    Image.fromarray(_gradient(64, 64)).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    data[200:] = b"\x00" * (len(data) - 200)
    (tmp_path / "zero.jpg").write_bytes(bytes(data))
    with pytest.raises(ImageLoadError, match=r"zero\.jpg"):
        load_image(tmp_path / "zero.jpg")


def test_too_many_pixels_is_refused_before_decoding(tmp_path: Path):
    Image.fromarray(_gradient(300, 400)).save(tmp_path / "big.png")
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(tmp_path / "big.png", max_pixels=100_000)


def test_decompression_bomb(tmp_path: Path):
    # A 40000 x 40000 PNG header: it would decode to 1.6 GB. The size is refused from the
    # header alone, so the (short) pixel stream is never inflated.
    import struct
    import zlib

    width = height = 40_000
    body = zlib.compress(b"\x00" * (width + 1))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(tmp_path / "bomb.png")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "locked.png"
    Image.fromarray(_gradient()).save(path)

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ImageLoadError, match=r"locked\.png: permission denied"):
        load_image(path)
