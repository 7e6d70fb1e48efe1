"""Per-user desktop integration (packaging/desktop_integration.sh, bootstrap.sh install/uninstall).

Every test installs into a temporary XDG_DATA_HOME and checks what a desktop reads: the menu
entry (Exec, Icon, MIME types), the icons in the hicolor theme, the session MIME type; then that
uninstall removes all of it and nothing else.
"""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "desktop_integration.sh"
SIZES = (16, 24, 32, 48, 64, 128, 256)
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/tiff"}
SESSION_TYPE = "application/x-facecraft-session"


def run(*args: str, data_home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_DATA_HOME": str(data_home)}
    return subprocess.run(["bash", *args], env=env, capture_output=True, text=True, timeout=60)


def tree(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")}


@pytest.fixture
def executable(tmp_path) -> Path:
    folder = tmp_path / "my apps"  # a space in the path: Exec must quote it
    folder.mkdir()
    path = folder / "facecraft"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path)
    return parser["Desktop Entry"]


def test_install_then_uninstall(tmp_path, executable):
    data_home = tmp_path / "data"
    (data_home / "applications").mkdir(parents=True)
    (data_home / "applications" / "other.desktop").write_text("[Desktop Entry]\nName=Other\n")
    before = tree(data_home)

    result = run(str(SCRIPT), "install", str(executable), data_home=data_home)
    assert result.returncode == 0, result.stderr

    entry = read_entry(data_home / "applications" / "facecraft.desktop")
    command = shlex.split(entry["Exec"])
    assert command == [str(executable), "%f"]
    assert entry["TryExec"] == str(executable)
    assert entry["Icon"] == "facecraft" and entry["Type"] == "Application" and entry["Terminal"] == "false"
    types = set(filter(None, entry["MimeType"].split(";")))
    assert types == IMAGE_TYPES | {SESSION_TYPE}

    for kind, name in (("apps", "facecraft"), ("mimetypes", "application-x-facecraft-session")):
        assert (data_home / f"icons/hicolor/scalable/{kind}/{name}.svg").is_file()
        for size in SIZES:
            icon = data_home / f"icons/hicolor/{size}x{size}/{kind}/{name}.png"
            assert icon.read_bytes() == (ROOT / f"resources/icons/facecraft_{size}.png").read_bytes()

    package = ET.parse(data_home / "mime/packages/facecraft-session.xml").getroot()
    namespace = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    mime_type = package.find("m:mime-type", namespace)
    assert mime_type.get("type") == SESSION_TYPE
    assert mime_type.find("m:glob", namespace).get("pattern") == "*.facecraft"
    if shutil.which("update-mime-database"):
        assert f"{SESSION_TYPE}:*.facecraft" in (data_home / "mime/globs2").read_text()

    result = run(str(SCRIPT), "uninstall", data_home=data_home)
    assert result.returncode == 0, result.stderr
    # everything installed is gone, the other entry is kept (with the cache of its MIME types)
    assert tree(data_home) - {"applications/mimeinfo.cache"} == before
    cache = data_home / "applications" / "mimeinfo.cache"
    assert not cache.exists() or "facecraft" not in cache.read_text()


def test_bootstrap_uninstall_needs_no_set_up(tmp_path, executable):
    data_home = tmp_path / "data"
    assert run(str(SCRIPT), "install", str(executable), data_home=data_home).returncode == 0
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "FACECRAFT_VENV": str(tmp_path / "no-venv")}
    result = subprocess.run(
        ["bash", str(ROOT / "packaging/bootstrap.sh"), "uninstall"], env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert tree(data_home) == set()
    assert not (tmp_path / "no-venv").exists()


def test_install_refuses_a_missing_executable(tmp_path):
    data_home = tmp_path / "data"
    result = run(str(SCRIPT), "install", str(tmp_path / "nothing"), data_home=data_home)
    assert result.returncode == 1
    assert "nothing is not an executable file" in result.stderr
    assert not data_home.exists()


def test_the_entry_is_a_valid_desktop_file():
    entry = read_entry(ROOT / "packaging" / "facecraft.desktop")
    assert entry["Name"] == "FaceCraft"
    assert entry["StartupWMClass"] == "FaceCraft"  # the class in Qt's WM_CLASS: the application name
    if shutil.which("desktop-file-validate"):
        entry_file = str(ROOT / "packaging" / "facecraft.desktop")
        result = subprocess.run(["desktop-file-validate", entry_file], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
