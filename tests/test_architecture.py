"""facecraft.core and facecraft.training never import Qt or the GUI; facecraft.core never imports training."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import facecraft.core
import facecraft.training


def _modules(package) -> list[str]:
    return [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def test_importing_every_engine_module_loads_no_qt():
    modules = _modules(facecraft.core) + _modules(facecraft.training)
    assert "facecraft.core.face.detection" in modules and "facecraft.training.build_template" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph')\n"
        "             or m.startswith('facecraft.app'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


FORBIDDEN_ROOTS = ("PySide6", "shiboken6", "pyqtgraph")


def _imported_names(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.lineno, node.module))
    return names


def test_no_engine_source_file_imports_qt_or_the_gui_even_lazily():
    root = Path(__file__).resolve().parents[1]
    sources = sorted((root / "core").rglob("*.py")) + sorted((root / "training").rglob("*.py"))
    assert len(sources) > 5
    offences = [
        f"{path.relative_to(root)}:{line} imports {name}"
        for path in sources
        for line, name in _imported_names(path)
        if name.split(".")[0] in FORBIDDEN_ROOTS or name.startswith("facecraft.app") or name == "app"
    ]
    assert offences == []


def test_no_core_source_file_imports_training_even_lazily():
    root = Path(__file__).resolve().parents[1]
    sources = sorted((root / "core").rglob("*.py"))
    assert len(sources) > 5
    offences = [
        f"{path.relative_to(root)}:{line} imports {name}"
        for path in sources
        for line, name in _imported_names(path)
        if name.startswith("facecraft.training") or name == "training"
    ]
    assert offences == []
