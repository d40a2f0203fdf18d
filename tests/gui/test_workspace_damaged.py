"""The studio opens any workspace: a workspace.json it cannot read is reported, set aside and never fatal."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from stickgen_studio.workspace import Workspace
from tests.gui.user import visible_dialogs

# name: (what to put at workspace.json, text the notice must hold)
BAD = {
    "200,000-deep JSON": (lambda p: p.write_text("[" * 200_000 + "]" * 200_000), "JSON nested 200,000 levels deep"),
    "a folder": (lambda p: p.mkdir(), "is a folder"),
    "hidden is text": (lambda p: p.write_text(json.dumps({"external": [], "hidden": "notalist"})),
                       "hidden: expected a list of file paths, got 'notalist'"),
    "external holds numbers": (lambda p: p.write_text(json.dumps({"external": [1, 2]})), "external: expected a list"),
    "not JSON": (lambda p: p.write_text("{oops"), "not a JSON file"),
    "a FIFO": (lambda p: os.mkfifo(p), "is a pipe (FIFO)"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_workspace_json_is_set_aside_and_the_workspace_opens(tmp_path, name):
    make, needle = BAD[name]
    make(tmp_path / "workspace.json")
    ws = Workspace.open(tmp_path)
    assert len(ws.notices) == 1 and needle in ws.notices[0] and "set aside as workspace.json.bad-" in ws.notices[0]
    assert not (tmp_path / "workspace.json").exists()
    assert len(list(tmp_path.glob("workspace.json.bad-*"))) == 1
    ws.forget(str(tmp_path / "datasets" / "a.pt"))  # saving works again, as a list of whole paths
    assert json.loads((tmp_path / "workspace.json").read_text())["hidden"] == [str(tmp_path / "datasets" / "a.pt")]
    assert Workspace.open(tmp_path).notices == ()


def test_a_good_workspace_json_is_kept(tmp_path):
    (tmp_path / "workspace.json").write_text(json.dumps({"external": ["/x/a.pt"], "hidden": ["/x/b.pt"]}))
    ws = Workspace.open(tmp_path)
    assert ws.notices == () and ws.manifest() == {"external": ["/x/a.pt"], "hidden": ["/x/b.pt"]}


def test_the_window_reports_the_set_aside_file(qtbot, tmp_path, settings):
    from stickgen_studio.main_window import MainWindow

    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "workspace.json").write_text(json.dumps({"hidden": "notalist"}))
    win = MainWindow(tmp_path / "ws", settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: bool(visible_dialogs()), timeout=30_000)
    box = visible_dialogs()[0]
    assert box.windowTitle() == "Workspace file set aside" and "hidden: expected a list" in box.text()
    box.close()
    win.close()


@pytest.mark.parametrize("name", ["200,000-deep JSON", "a folder", "hidden is text"])
def test_the_studio_entry_point_opens_a_workspace_with_a_bad_workspace_json(tmp_path, name):
    """`python -m stickgen_studio WS --screenshot F` (the real entry point, offscreen) opens and exits 0."""
    ws = tmp_path / "ws"
    ws.mkdir()
    BAD[name][0](ws / "workspace.json")
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-m", "stickgen_studio", str(ws), "--screenshot", str(shot)], env=env,
                          capture_output=True, text=True, timeout=300)  # a hang guard, not a speed limit
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and shot.stat().st_size > 0
    assert "set aside as workspace.json.bad-" in proc.stderr  # logged as well as shown
    assert len(list(ws.glob("workspace.json.bad-*"))) == 1


def test_a_damaged_run_folder_is_one_row_on_the_train_page(qtbot, tmp_path):
    """The Train page's poll lists a damaged folder as a 'damaged' row beside the good runs."""
    from stickgen_studio.train.poller import RunsPoller
    from stickgen_studio.train.runs_table import build_row
    from tests.jobs.test_damaged_runs import make_run

    make_run(tmp_path, "good", status={"state": "completed", "epoch": 1, "global_step": 8})
    make_run(tmp_path, "bad", run={"job": [1, 2]})
    make_run(tmp_path, "deep", status="[" * 100_000 + "]" * 100_000)
    states = {s.run_id: s for s in RunsPoller(tmp_path)._poll()}
    assert states["good"].status["state"] == "completed"
    for run_id, file in (("bad", "run.json"), ("deep", "status.json")):
        row = build_row(states[run_id], None)
        assert row.state == "damaged" and row.epoch_text == f"bad {file}" and row.error.startswith(f"{file}: ")
