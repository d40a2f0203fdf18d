"""The core install path (the training image's): stickgen_core and the `stickgen` CLI run with no GUI
package installed. A meta-path finder makes PySide6/pyqtgraph/shiboken6 unimportable, as on a pod."""

import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import stickgen_core

GUI = ("PySide6", "shiboken6", "pyqtgraph")
ROOT = Path(__file__).resolve().parents[1]

BLOCK = f"""
import importlib.abc, sys
class _NoGui(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {GUI!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: core install)", name=name)
        return None
sys.meta_path.insert(0, _NoGui())
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_the_blocker_really_blocks_the_gui():
    proc = _run("import PySide6")
    assert proc.returncode != 0 and "blocked: core install" in proc.stderr


def test_every_core_module_and_the_stickgen_command_work_without_gui_packages():
    modules = [m.name for m in pkgutil.walk_packages(stickgen_core.__path__, "stickgen_core.")]
    script = shutil.which("stickgen", path=str(Path(sys.executable).parent))
    assert script, "the stickgen console script is not installed beside this Python"
    code = (f"import importlib, runpy\nfor m in {modules!r}: importlib.import_module(m)\n"
            f"sys.argv = ['stickgen', '--help']\n"
            f"runpy.run_path({script!r}, run_name='__main__')\n")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage: stickgen" in proc.stdout and "jobs" in proc.stdout
    helps = _run("from stickgen_core.cli import main\nimport contextlib\n"
                 "for argv in (['jobs', 'launch', '--help'], ['runpod-entrypoint', '--help'], ['train', '--help']):\n"
                 "    with contextlib.suppress(SystemExit): main(argv)\n")
    assert helps.returncode == 0 and "--gpu-count" in helps.stdout, helps.stderr[-2000:]


def test_gui_packages_are_an_extra_not_a_core_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = " ".join(project["dependencies"])
    assert not any(name.lower() in core.lower() for name in ("PySide6", "pyqtgraph"))
    gui = " ".join(project["optional-dependencies"]["gui"])
    assert "PySide6" in gui and "pyqtgraph" in gui
    assert '".[gui,dev]"' in (ROOT / "Makefile").read_text(encoding="utf-8")  # make studio / make test still get Qt


def test_the_studio_command_says_how_to_get_the_gui_on_a_core_install():
    proc = _run("import sys\nfrom stickgen_studio.app import main\nsys.exit(main(['ws']))")
    assert proc.returncode == 2 and "pip install 'stickgen-studio[gui]'" in proc.stderr, proc.stderr[-1000:]
