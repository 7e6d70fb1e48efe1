"""The wheel's layout (pyproject.toml) covers every package and shipped resource of the checkout.

Building and installing the wheel is checked end to end by ``packaging/check_wheel.sh`` in CI;
these tests catch the usual way it breaks first: a new sub-package or resource folder that the
explicit lists in ``pyproject.toml`` do not name.
"""

from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _tracked(folder: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / line for line in out.stdout.splitlines()]


def test_every_source_package_is_listed():
    config = _setuptools()
    listed = set(config["packages"])
    for name, folder in config["package-dir"].items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            relative = init.parent.relative_to(ROOT / folder)
            package = ".".join([name, *relative.parts])
            assert package in listed, f"{package} ({init.parent}) is missing from pyproject's packages"


def test_every_shipped_resource_is_package_data():
    patterns = _setuptools()["package-data"]["facecraft.resources"]
    resources = ROOT / "resources"
    files = [path for path in _tracked("resources") if path.suffix != ".py"]
    assert files, "no tracked resources found"
    for path in files:
        relative = path.relative_to(resources).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), (
            f"resources/{relative} would not be in the wheel; add a pattern to package-data"
        )


def test_the_wheel_check_needs_what_the_bootstrap_installs():
    bootstrap = (ROOT / "packaging" / "bootstrap.sh").read_text()
    assert "x11-utils" in bootstrap  # xwininfo, xprop: packaging/gui_came_up.sh
    ci = (ROOT / ".ci" / "run").read_text()
    assert "packaging/check_wheel.sh" in ci
    assert ci.rstrip().endswith('tail -n 1 "$log"'), "CI must end by printing the tests' summary again"
