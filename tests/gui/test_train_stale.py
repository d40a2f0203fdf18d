"""State on the Train and Evaluate pages that went stale: the Log tab follows the selected run, an ended
run's row counts its completed epochs (a run stopped in its first epoch read 'epoch 1/3' running and
'epoch 0/3' stopped), and Evaluate's checkpoint pickers list a run that finished after the page was filled."""

from __future__ import annotations

import json

from stickgen_core.jobs import RunState

from .test_train_page import LONG, open_window, row, split_template, train_ws  # noqa: F401 - fixtures
from .test_train_plots import finished_run
from .user import click


def _select(win, run_id):
    click(win.train.table.viewport(), win.train.table.visualRect(win.train.model.index(win.train.model.row_of(run_id), 0)).center())


def _status(root, state, epoch, epochs=3):
    info = json.loads((root / "run.json").read_text())
    info["config"] = {"training": {"epochs": epochs}}
    (root / "run.json").write_text(json.dumps(info))
    (root / "status.json").write_text(json.dumps({"state": state, "epoch": epoch, "global_step": 7,
                                                  "updated": "2026-01-01T00:01:00+00:00"}))


def test_log_tab_follows_the_selection_and_ended_rows_count_completed_epochs(qtbot, train_ws, settings):
    for run_id in ("a", "b"):
        root = finished_run(train_ws, run_id)
        (root / "train.log").write_text(f"log line of {run_id}\n")
    _status(train_ws / "runs" / "a", RunState.STOPPED, -1)     # stopped inside its first epoch
    _status(train_ws / "runs" / "b", RunState.COMPLETED, 2)    # all three done
    win = open_window(qtbot, train_ws, settings)
    page = win.train
    qtbot.waitUntil(lambda: row(win, "a") is not None and row(win, "b") is not None, timeout=LONG)
    assert row(win, "a").epoch_text == "0/3 epochs done · step 7"
    assert row(win, "b").epoch_text == "3/3 epochs done · step 7"
    bar = page.tabs.tabBar()
    click(bar, bar.tabRect(page.tabs.indexOf(page.log_view)).center())
    _select(win, "a")
    qtbot.waitUntil(lambda: "log line of a" in page.log_view.text.toPlainText(), timeout=LONG)
    assert page.log_view.title.text() == "train.log of a"
    _select(win, "b")                                            # no 'Show log' press: the tab follows
    qtbot.waitUntil(lambda: "log line of b" in page.log_view.text.toPlainText(), timeout=LONG)
    assert page.log_view.title.text() == "train.log of b" and "of a" not in page.log_view.text.toPlainText()
    win.close()


def test_wall_time_axis_reads_minutes_for_a_run_shorter_than_a_minute(qtbot, train_ws, settings):
    from .test_train_page import choose

    root = finished_run(train_ws, "short")                 # 40 rows one second apart: 0.65 min
    (root / "system.jsonl").write_text("".join(json.dumps({"time": f"2026-01-01T00:00:{i:02d}+00:00",
                                                           "cpu_percent": 10.0}) + "\n" for i in range(0, 30, 5)))
    win = open_window(qtbot, train_ws, settings)
    page = win.train
    qtbot.waitUntil(lambda: "short · total" in page.plots.curves(), timeout=LONG)
    choose(page.plots.x_mode, "wall time")
    qtbot.waitUntil(lambda: page.plots.curves()["short · total"].xData[-1] < 1)
    assert "wall time (min)" in page.plots.loss.getAxis("bottom").labelString()
    bar = page.tabs.tabBar()
    click(bar, bar.tabRect(page.tabs.indexOf(page.system)).center())
    qtbot.waitUntil(lambda: page.system.names("cpu") == ["process"], timeout=LONG)
    assert "wall time (min)" in page.system.plots["cpu"].getAxis("bottom").labelString()
    win.close()


def test_a_deleted_run_leaves_the_legend_and_the_runs_table(qtbot, train_ws, settings):
    import shutil

    from .test_train_plots import select_two
    from .user import visible_dialogs

    finished_run(train_ws, "a")
    finished_run(train_ws, "b")
    win = open_window(qtbot, train_ws, settings)
    page = win.train
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=LONG)
    select_two(win)
    qtbot.waitUntil(lambda: page.plots.legend.labels()[:2] == ["a", "b"], timeout=LONG)
    _select(win, "b")
    click(page.buttons["Delete"])
    qtbot.waitUntil(lambda: bool(visible_dialogs()), timeout=LONG)
    click(visible_dialogs()[0].button(visible_dialogs()[0].StandardButton.Yes))
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=LONG)
    qtbot.waitUntil(lambda: "b" not in page.plots.legend.labels() and "b · total" not in page.plots.curves(), timeout=LONG)
    assert [r["run_id"] for r in page.overview.model.rows] == ["a"] and not (train_ws / "runs" / "b").exists()
    shutil.rmtree(train_ws / "runs" / "a")                   # deleted outside the studio too
    qtbot.waitUntil(lambda: page.model.rowCount() == 0 and not page.plots.legend.labels(), timeout=LONG)
    win.close()


def test_checkpoint_pickers_list_a_run_finished_since_the_page_was_filled(qtbot, train_ws, settings):
    win = open_window(qtbot, train_ws, settings)
    win.nav.setCurrentRow(2)
    qtbot.waitUntil(win.evaluate.isVisible)
    pickers = (win.evaluate.reports.run_box.checkpoint, win.evaluate.playground.checkpoint)
    assert all(p.findText("just", flags=__import__("PySide6.QtCore").QtCore.Qt.MatchFlag.MatchContains) < 0
               for p in pickers)
    ck = train_ws / "runs" / "just_done" / "checkpoints"
    ck.mkdir(parents=True)
    (ck / "model_checkpoint_best.pth").write_bytes(b"not read by the picker")
    for picker in pickers:
        picker.window().activateWindow()
        win.evaluate.tabs.setCurrentWidget(win.evaluate.reports if picker is pickers[0] else win.evaluate.playground)
        qtbot.waitUntil(picker.isVisible)
        click(picker)                                            # opening its list reads the runs again
        qtbot.waitUntil(lambda: any(str(ck) in str(picker.itemData(i)) for i in range(picker.count())), timeout=LONG)
        picker.hidePopup()
    win.close()
