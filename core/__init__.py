"""The FaceCraft engine: template, detection, model, renderer, fitting, editing, I/O, CLI.

Nothing here imports Qt or :mod:`facecraft.app` (an import-linter contract in
``pyproject.toml`` enforces it). Coordinate conventions are defined once, in
:mod:`facecraft.core.conventions`.
"""
