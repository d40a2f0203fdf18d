"""The Train page driven like a user: real clicks and keys, a real event loop, real job subprocesses.

Runs use the workspace's own tiny configs, so each trains in seconds (niced)."""

from __future__ import annotations

import json
import os
import shlex

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest

from stickgen_core.cli import build_parser
from stickgen_core.cli.jobs import spec_from_args
from stickgen_core.jobs import ACTIVE, JobSpec, launch, list_runs
from stickgen_studio.main_window import MainWindow

from .conftest import shot
from .train_workspace import embedded_split, make_train_workspace
from .user import click, visible_dialogs

LONG = int(os.environ.get("STICKGEN_GUI_WAIT_MS", 300_000))  # a guard against a hang, never a speed limit


@pytest.fixture(scope="session")
def split_template(tmp_path_factory):
    return embedded_split(tmp_path_factory.mktemp("train_split") / "pretrain_data.pt")


@pytest.fixture
def train_ws(tmp_path, split_template):
    ws = make_train_workspace(tmp_path / "ws", split_template)
    yield ws
    for run in list_runs(ws, refresh=False):  # never leave a trainer behind
        if run.raw_status().get("state") in ACTIVE:
            run.stop(timeout=60)


def open_window(qtbot, ws, settings):
    win = MainWindow(ws, settings=settings, train_poll_ms=250)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    click(win.nav.viewport(), win.nav.visualItemRect(win.nav.item(1)).center())   # the Train page
    qtbot.waitUntil(lambda: win.pages.currentWidget() is win.train, timeout=LONG)
    qtbot.waitUntil(lambda: win.train.polled_once, timeout=LONG)
    return win


@pytest.fixture
def window(qtbot, train_ws, settings):
    win = open_window(qtbot, train_ws, settings)
    yield win
    win.close()


def choose(combo, text):
    """Open the combo box's list with a click and walk to the first entry starting with ``text`` with the
    arrow keys, then Enter (a click inside a just-opened popup is ignored by Qt as a stray release)."""
    index = next(i for i in range(combo.count()) if combo.itemText(i).startswith(text))
    click(combo)
    view = combo.view()
    assert view.isVisible()
    QTest.keyClick(view, Qt.Key.Key_Home)
    for _ in range(index):
        QTest.keyClick(view, Qt.Key.Key_Down)
    QTest.keyClick(view, Qt.Key.Key_Return)
    assert combo.currentIndex() == index and not view.isVisible()


def type_into(box, text):
    box.setFocus()
    QTest.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(box, text)
    QTest.keyClick(box, Qt.Key.Key_Tab)


def row(win, run_id=None):
    rows = win.train.model.rows
    return next((r for r in rows if run_id is None or r.run_id == run_id), None)


def wait_state(qtbot, win, run_id, state):
    qtbot.waitUntil(lambda: row(win, run_id) is not None and row(win, run_id).state == state, timeout=LONG)


def total_points(win, run_id):
    curve = win.train.plots.curves().get(f"{run_id} · total")
    return 0 if curve is None or curve.xData is None else len(curve.xData)


def fill_tiny(form, epochs="400"):
    choose(form.config, "workspace · tiny")
    type_into(form.epochs, epochs)
    type_into(form.run_name, "pre")
    form.check()


def test_launch_watch_stop_resume(qtbot, window, train_ws):
    form = window.train.form
    fill_tiny(form)
    assert form.data.currentText() == str(train_ws / "curated" / "pretrain_data.pt")  # the Curate export first
    shot(window, "train_form")
    click(form.launch_button)
    qtbot.waitUntil(lambda: total_points(window, "pre") >= 3, timeout=LONG)
    seen = total_points(window, "pre")
    qtbot.waitUntil(lambda: total_points(window, "pre") > seen, timeout=LONG)   # the curve grows while it runs
    assert row(window, "pre").state == "running" and "epoch" in row(window, "pre").epoch_text
    shot(window, "train_running")

    qtbot.waitUntil(lambda: window.train.buttons["Stop"].isEnabled(), timeout=LONG)
    click(window.train.buttons["Stop"])
    wait_state(qtbot, window, "pre", "stopped")
    steps = window.train.series["pre"].steps["step"]
    stopped_at = int(window.train.states["pre"].status["global_step"])
    n = len(steps)

    qtbot.waitUntil(lambda: window.train.buttons["Resume"].isEnabled(), timeout=LONG)
    click(window.train.buttons["Resume"])
    qtbot.waitUntil(lambda: window.train.series["pre"].steps.n > n, timeout=LONG)
    assert window.train.series["pre"].steps["step"][n] == stopped_at + 1       # continues at its step
    assert row(window, "pre").state == "running"
    click(window.train.buttons["Stop"])
    wait_state(qtbot, window, "pre", "stopped")


def test_sft_from_best_in_one_click(qtbot, window, train_ws):
    parent = launch(JobSpec(stage="pretrain", config=str(train_ws / "configs" / "tiny.yaml"), run_name="pre",
                            data=str(train_ws / "curated" / "pretrain_data.pt"), epochs=2), train_ws)
    wait_state(qtbot, window, "pre", "completed")
    window.train.select_runs(["pre"])
    qtbot.waitUntil(lambda: window.train.buttons["Start SFT from best"].isEnabled(), timeout=LONG)
    click(window.train.buttons["Start SFT from best"])
    form = window.train.form
    assert form.stage.currentText() == "sft" and form.config.currentData().endswith("sft_tiny.yaml")
    assert form.checkpoint.currentText() == str(parent.checkpoint("best"))
    assert form.data.currentText() == str(train_ws / "curated" / "sft_data.pt")   # the SFT split
    (box,) = visible_dialogs()
    click(box.button(box.StandardButton.Yes))
    qtbot.waitUntil(lambda: row(window, "pre-sft") is not None, timeout=LONG)
    info = json.loads((train_ws / "runs" / "pre-sft" / "run.json").read_text())
    assert info["job"]["stage"] == "sft" and info["job"]["init_from"] == str(parent.checkpoint("best"))
    qtbot.waitUntil(lambda: total_points(window, "pre-sft") >= 1, timeout=LONG)
    wait_state(qtbot, window, "pre-sft", "completed")
    shot(window, "train_sft")


def test_reopen_lists_runs_and_the_live_one_keeps_plotting(qtbot, train_ws, settings):
    run = launch(JobSpec(stage="pretrain", config=str(train_ws / "configs" / "tiny.yaml"), run_name="live",
                         data=str(train_ws / "curated" / "pretrain_data.pt")), train_ws)
    win = open_window(qtbot, train_ws, settings)
    qtbot.waitUntil(lambda: total_points(win, "live") >= 2, timeout=LONG)
    win.close()
    assert run.status()["state"] == "running"            # closing the studio leaves training alone
    win = open_window(qtbot, train_ws, settings)
    assert row(win, "live").state == "running" and win.train.selected_ids() == ["live"]
    seen = total_points(win, "live")
    assert seen >= 2                                      # the history is read back ...
    qtbot.waitUntil(lambda: total_points(win, "live") > seen, timeout=LONG)   # ... and it keeps plotting
    win.close()


def test_failing_run_shows_failed_and_its_error(qtbot, window, train_ws):
    bad = train_ws / "curated" / "broken.pt"
    bad.write_bytes(b"this is not a dataset")
    form = window.train.form
    fill_tiny(form)
    type_into(form.data.lineEdit(), str(bad))
    form.check()
    click(form.launch_button)
    wait_state(qtbot, window, "pre", "failed")
    click(window.train.buttons["Show log"])
    view = window.train.log_view
    qtbot.waitUntil(lambda: view.error.isVisible(), timeout=LONG)
    assert "failed" in view.error.text() and "broken.pt" in view.error.text()
    assert window.train.tabs.currentWidget() is view


def test_invalid_settings_inline_and_exact_cli_line(qtbot, window, train_ws):
    form = window.train.form
    fill_tiny(form, epochs="7")
    type_into(form.data.lineEdit(), str(train_ws / "nowhere.pt"))
    qtbot.waitUntil(lambda: "job.data: no such file" in form.problem.text(), timeout=LONG)
    assert form.problem.isVisible() and not form.launch_button.isEnabled()
    type_into(form.data.lineEdit(), str(train_ws / "curated" / "pretrain_data.pt"))
    qtbot.waitUntil(lambda: form.launch_button.isEnabled(), timeout=LONG)
    click(form.copy_cli)
    line = QGuiApplication.clipboard().text()
    spec = spec_from_args(build_parser().parse_args(shlex.split(line)[1:]))
    assert spec == form.spec() and spec.epochs == 7
    form.tabs.setCurrentIndex(3)
    assert "<code>training.epochs</code>: 10 → <b>7</b>" in form.preview.diff_label.text()   # vs built-in defaults


def test_delete_asks_and_never_deletes_a_running_run(qtbot, window, train_ws):
    run = launch(JobSpec(stage="pretrain", config=str(train_ws / "configs" / "tiny.yaml"), run_name="pre",
                         data=str(train_ws / "curated" / "pretrain_data.pt")), train_ws)
    wait_state(qtbot, window, "pre", "running")
    assert not window.train.buttons["Delete"].isEnabled()
    assert "stop it first" in window.train.buttons["Delete"].toolTip()
    run.stop()
    wait_state(qtbot, window, "pre", "stopped")
    qtbot.waitUntil(lambda: window.train.buttons["Delete"].isEnabled(), timeout=LONG)
    click(window.train.buttons["Delete"])
    (box,) = visible_dialogs()
    click(box.button(box.StandardButton.Yes))
    qtbot.waitUntil(lambda: row(window, "pre") is None, timeout=LONG)
    assert not run.root.exists()


def test_long_data_path_is_elided_in_the_middle_with_the_whole_path_in_its_tooltip(qtbot, window, train_ws):
    form = window.train.form
    deep = train_ws / ("a-very-long-folder-name-" * 6).strip("-") / "nested" / "again" / "my_split.pt"
    deep.parent.mkdir(parents=True)
    type_into(form.data.lineEdit(), str(deep))                       # typing ends with Tab: focus leaves
    edit = form.data.lineEdit()
    assert not edit.hasFocus() and form.data.currentText() == str(deep)
    shown = edit.displayed_text()
    assert "…" in shown and shown.endswith("my_split.pt") and shown.startswith(str(train_ws)[:8])
    assert edit.fontMetrics().horizontalAdvance(shown) <= edit.width()
    assert edit.toolTip() == str(deep)
    edit.setFocus()                                                 # editing shows it whole
    qtbot.waitUntil(edit.hasFocus, timeout=LONG)
    assert edit.displayed_text() == str(deep)


def test_an_export_made_outside_the_studio_is_offered_when_the_page_is_shown(qtbot, tmp_path, split_template, settings):
    ws = make_train_workspace(tmp_path / "ws2", split_template)
    exported = ws / "curated" / "pretrain_data.pt"
    exported.rename(tmp_path / "held_back.pt")                  # nothing exported yet
    win = open_window(qtbot, ws, settings)
    assert win.train.form.data.currentText() != str(exported)
    click(win.nav.viewport(), win.nav.visualItemRect(win.nav.item(0)).center())   # to Curate
    (tmp_path / "held_back.pt").rename(exported)                # `stickgen curate export` in a terminal
    click(win.nav.viewport(), win.nav.visualItemRect(win.nav.item(1)).center())   # back to Train
    qtbot.waitUntil(lambda: win.pages.currentWidget() is win.train, timeout=LONG)
    assert win.train.form.data.currentText() == str(exported)
    win.close()
