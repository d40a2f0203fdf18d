"""stickgen_core must stay headless: no Qt module may be imported by it, directly or not."""

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import stickgen_core

QT = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "shiboken6")


def test_importing_every_core_module_loads_no_qt():
    modules = [m.name for m in pkgutil.walk_packages(stickgen_core.__path__, "stickgen_core.")]
    assert len(modules) >= 8
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"bad = [m for m in sys.modules if m.split('.')[0] in {QT!r}]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_qt_import_statement_in_core_sources():
    pattern = re.compile(rf"^\s*(from|import)\s+({'|'.join(QT)})\b", re.M)
    offenders = [str(p) for p in Path(stickgen_core.__file__).parent.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_core_never_loads_torch_files_unsafely():
    src = "\n".join(p.read_text() for p in Path(stickgen_core.__file__).parent.rglob("*.py"))
    calls = re.findall(r"torch\.load\([^)]*\)", src)
    assert calls and all("weights_only=True" in c for c in calls)
