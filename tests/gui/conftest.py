import os
import shutil

import pytest
from PySide6.QtCore import QSettings

from stickgen_core.io import save_dataset
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_studio.resources import register_fonts
from stickgen_studio.workers import LIVE_TASKS

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def _fonts(qapp):
    register_fonts(qapp)


@pytest.fixture(autouse=True)
def no_thread_left_running(qtbot):
    """Fail any test that leaves a background task's QThread running."""
    yield
    running = [t.name for t in list(LIVE_TASKS) if t.is_running()]
    for t in list(LIVE_TASKS):
        if t.is_running():
            t.cancel()
            t.wait(10_000)
    assert not running, f"tasks still running after the test: {running}"


#: pytest-qt gives a wait with no timeout of its own 5 s: on a busy machine a step that takes 50 ms idle can
#: take longer, and the test fails for the machine's sake. Those waits get this guard against a hang instead
#: (a passing wait returns as soon as its condition holds; only a failing one takes longer to report).
PATIENT_MS = int(os.environ.get("STICKGEN_GUI_DEFAULT_WAIT_MS", 60_000))


@pytest.fixture(autouse=True)
def patient_waits(qtbot, monkeypatch):
    for name in ("waitUntil", "waitSignal", "waitSignals", "waitExposed", "waitActive", "waitCallback"):
        real = getattr(qtbot, name)
        monkeypatch.setattr(qtbot, name,
                            lambda *a, _real=real, timeout=PATIENT_MS, **k: _real(*a, timeout=timeout, **k))


@pytest.fixture(scope="session")
def dataset_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "clips.pt"
    save_dataset(generate_dataset(150, seed=4, config=SynthConfig(defect_rate=0.35, max_seconds=8)), path)
    return path


@pytest.fixture
def workspace(tmp_path, dataset_template):
    ws = tmp_path / "ws"
    (ws / "datasets").mkdir(parents=True)
    shutil.copy(dataset_template, ws / "datasets" / "clips.pt")
    return ws


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, workspace, settings):
    from stickgen_studio.main_window import MainWindow

    win = MainWindow(workspace, settings=settings)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    with qtbot.waitSignal(win.curate.updated, timeout=60_000):
        pass
    yield win
    win.close()


def shot(widget, name):
    """Save a screenshot when STICKGEN_SCREENSHOTS names a folder (for looking, not asserting)."""
    folder = os.environ.get("STICKGEN_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        widget.grab().save(os.path.join(folder, f"{name}.png"))
