"""Train page: "Terminate pod…" (the "⋯" menu and the runs table's right-click menu) removes a RunPod run's
pod through the API after a confirmation naming the pod and its price, off the GUI thread."""

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from stickgen_core.jobs import JobSpec, launch

from ..jobs.conftest import s3_server, s3_volume  # noqa: F401 - fixtures: the network volume's S3 API
from ..jobs.fake_runpod import FakeRunPod
from .test_train_page import LONG, open_window, row, split_template, train_ws  # noqa: F401
from .user import click, visible_dialogs

KEY = "rp-test-key-terminate-5c2e"


@pytest.fixture
def pod_run(train_ws, s3_volume, monkeypatch):  # noqa: F811
    """A finished RunPod run whose pod lingers (RUNNING, billed) in the loopback API."""
    with FakeRunPod(KEY) as fake:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", fake.url)
        monkeypatch.setenv("RUNPOD_API_KEY", KEY)
        monkeypatch.setenv("HOME", "/nonexistent")
        s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key="data/pretrain_data.pt", Body=b"split")
        spec = JobSpec(stage="pretrain", config=str(train_ws / "configs" / "tiny.yaml"),
                       data="/runpod-volume/data/pretrain_data.pt", run_name="pod", backend="runpod",
                       backend_settings={"image": "me/stickgen:2", "gpu_types": ["GPU A"], "poll_s": 0.0,
                                         **s3_volume.settings})
        run = launch(spec, train_ws)
        # the agent reported the end; the pod lingers for a last fetch (linger_s) and bills meanwhile
        run.set_status("completed", phase=None)
        run.update_job_state(remote_ended_at=time.time())
        assert list(fake.billing_pods()) == ["pod1"]
        yield fake, run


def _menu_click(qtbot, menu, text):
    qtbot.waitUntil(menu.isVisible, timeout=LONG)
    action = next(a for a in menu.actions() if a.text() == text)
    assert action.isEnabled(), action.toolTip()
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())


def _confirm(qtbot):
    qtbot.waitUntil(lambda: len(visible_dialogs()) == 1, timeout=LONG)
    (box,) = visible_dialogs()
    return box, box.text()


def test_terminate_from_the_more_menu_removes_the_pod(qtbot, train_ws, settings, pod_run):
    fake, run = pod_run
    win = open_window(qtbot, train_ws, settings)
    page = win.train
    page.select_runs(["pod"])
    qtbot.waitUntil(lambda: page.current() is not None and page.current().pod is not None, timeout=LONG)
    assert row(win, "pod").state == "completed"
    assert not page.buttons["Stop"].isEnabled() and "still exists" in page.buttons["Stop"].toolTip()
    click(page.more)
    _menu_click(qtbot, page.menu, "Terminate pod…")
    box, text = _confirm(qtbot)
    assert "pod1" in text and "$" in text and "/h" in text and "lost" not in text  # a finished run loses nothing
    click(box.button(QMessageBox.StandardButton.Cancel))     # Cancel leaves the pod
    qtbot.wait(300)
    assert list(fake.billing_pods()) == ["pod1"]
    click(page.more)
    _menu_click(qtbot, page.menu, "Terminate pod…")
    box, _ = _confirm(qtbot)
    click(box.button(QMessageBox.StandardButton.Yes))
    qtbot.waitUntil(lambda: not fake.live_pods(), timeout=LONG)
    assert "podTerminate" in [name for name, _ in fake.calls]
    qtbot.waitUntil(lambda: page.current() is not None and page.current().pod is None, timeout=LONG)
    assert not page.menu_actions["Terminate pod…"].isEnabled()
    assert row(win, "pod").state == "completed"              # the run's own record is untouched
    win.close()


def test_terminate_from_the_right_click_menu_of_an_active_run(qtbot, train_ws, settings, pod_run):
    fake, run = pod_run
    run.set_status("running", phase="train")
    run.update_job_state(remote_ended_at=None, agent_url="http://127.0.0.1:9/")  # an agent that never answers
    win = open_window(qtbot, train_ws, settings)
    page = win.train
    page.select_runs([])
    r = page.model.row_of("pod")
    rect = page.table.visualRect(page.model.index(r, 0))
    viewport = page.table.viewport()
    QTest.mouseClick(viewport, Qt.MouseButton.RightButton, pos=rect.center())
    # the event a right click becomes on a desktop (offscreen Qt makes none of its own)
    QApplication.sendEvent(viewport, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, rect.center(),
                                                       viewport.mapToGlobal(rect.center())))
    qtbot.waitUntil(lambda: page.selected_ids() == ["pod"] and page.current().pod is not None, timeout=LONG)
    _menu_click(qtbot, page.menu, "Terminate pod…")
    box, text = _confirm(qtbot)
    assert "pod1" in text and "training since its last checkpoint on the volume is lost" in text
    click(box.button(QMessageBox.StandardButton.Yes))
    qtbot.waitUntil(lambda: not fake.live_pods(), timeout=LONG)
    qtbot.waitUntil(lambda: row(win, "pod").state == "stopped", timeout=LONG)
    win.close()
