"""FaceCraft: a face photo turned into an editable 3D decomposition.

The importable parts live in sub-packages mapped from the repository's top-level
folders (see ``pyproject.toml``): :mod:`facecraft.core` (engine, no Qt),
:mod:`facecraft.app` (the PySide6 GUI), :mod:`facecraft.training` (template
build, training, evaluation) and :mod:`facecraft.resources` (shipped data).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("facecraft")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
