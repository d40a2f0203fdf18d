"""The issue's 'done when', clicked through like a user, without a terminal: a fresh workspace ->
Curate page -> Export splits -> Train page (the export offered first) -> launch pretraining -> watch
it -> one click 'Start SFT from best' -> watch that. The splits are embedded by the job itself.

STICKGEN_E2E_DATASET may name another clip file (the reference clips of /work/shared/data, say);
STICKGEN_SCREENSHOTS saves a picture of every step."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from stickgen_core.jobs import ACTIVE, find_run, list_runs
from stickgen_studio.main_window import MainWindow

from .conftest import shot
from .test_train_page import LONG, choose, row, total_points, type_into, wait_state
from .train_workspace import SFT_TINY_YAML, TINY_YAML
from .user import click, visible_dialogs


@pytest.fixture
def fresh_ws(tmp_path, dataset_template):
    """A workspace with only clips in datasets/ and the tiny configs: nothing curated, no runs."""
    ws = tmp_path / "fresh"
    (ws / "datasets").mkdir(parents=True)
    (ws / "configs").mkdir()
    clips = Path(os.environ.get("STICKGEN_E2E_DATASET") or dataset_template)
    shutil.copy(clips, ws / "datasets" / clips.name)
    (ws / "configs" / "tiny.yaml").write_text(TINY_YAML)
    (ws / "configs" / "sft_tiny.yaml").write_text(SFT_TINY_YAML)
    yield ws
    for run in list_runs(ws, refresh=False):  # never leave a trainer behind
        if run.raw_status().get("state") in ACTIVE:
            run.stop(timeout=60)


def test_curate_export_train_then_sft_from_best_all_in_the_studio(qtbot, fresh_ws, settings, monkeypatch):
    win = MainWindow(fresh_ws, settings=settings, train_poll_ms=250)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    cur = win.curate
    qtbot.waitUntil(lambda: cur.export_button.isEnabled(), timeout=LONG)
    # the reference clips score about 0.78 at best: an SFT bar of 0.70 (typed in) gives SFT clips
    sft_bar = cur.thresholds.controls["min_quality_sft"].spin
    sft_bar.setFocus()
    sft_bar.selectAll()
    QTest.keyClicks(sft_bar, "0.70")
    QTest.keyClick(sft_bar, Qt.Key.Key_Enter)
    qtbot.waitUntil(lambda: cur.result is not None and cur.result.stats["sft"] > 0 and cur.export_button.isEnabled(),
                    timeout=LONG)
    shot(win, "e2e_1_curate")

    # export to a folder of the user's choosing (not the default): the Train page must follow it
    out = fresh_ws / "exports" / "first"
    out.mkdir(parents=True)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    click(cur.export_button)
    qtbot.waitUntil(lambda: any(d.windowTitle() == "Splits exported" for d in visible_dialogs()), timeout=LONG)
    (done,) = [d for d in visible_dialogs() if d.windowTitle() == "Splits exported"]
    shot(win, "e2e_2_exported")
    shot(done, "e2e_2b_export_dialog")
    click(done.button(done.StandardButton.Ok))

    click(win.nav.viewport(), win.nav.visualItemRect(win.nav.item(1)).center())      # the Train page
    qtbot.waitUntil(lambda: win.pages.currentWidget() is win.train and win.train.polled_once, timeout=LONG)
    form = win.train.form
    choose(form.config, "workspace · tiny")
    assert form.data.currentText() == str(out / "pretrain_data.pt")       # the Curate export first
    assert form.data.lineEdit().toolTip() == str(out / "pretrain_data.pt")
    type_into(form.epochs, "3")
    type_into(form.run_name, "pre")
    form.check()
    qtbot.waitUntil(lambda: form.launch_button.isEnabled(), timeout=LONG)
    shot(win, "e2e_3_train_form")
    click(form.launch_button)

    qtbot.waitUntil(lambda: total_points(win, "pre") >= 3, timeout=LONG)   # embedded, then training
    seen = total_points(win, "pre")
    qtbot.waitUntil(lambda: total_points(win, "pre") > seen or row(win, "pre").state == "completed", timeout=LONG)
    shot(win, "e2e_4_pretrain_running")
    wait_state(qtbot, win, "pre", "completed")
    assert win.train.series["pre"].epochs.n == 3
    shot(win, "e2e_5_pretrain_done")

    win.train.select_runs(["pre"])
    qtbot.waitUntil(lambda: win.train.buttons["Start SFT from best"].isEnabled(), timeout=LONG)
    click(win.train.buttons["Start SFT from best"])
    assert form.stage.currentText() == "sft" and form.config.currentData().endswith("sft_tiny.yaml")
    best = find_run(fresh_ws, "pre").checkpoint("best")
    assert form.checkpoint.currentText() == str(best)
    # the SFT split of the very export the parent trained on (a run pins the export's generation)
    assert Path(form.data.currentText()).resolve() == (out / "sft_data.pt").resolve()
    (ask,) = visible_dialogs()
    shot(win, "e2e_6_sft_form")
    shot(ask, "e2e_6b_sft_confirm")
    click(ask.button(ask.StandardButton.Yes))
    qtbot.waitUntil(lambda: row(win, "pre-sft") is not None, timeout=LONG)
    win.train.select_runs(["pre", "pre-sft"])
    qtbot.waitUntil(lambda: total_points(win, "pre-sft") >= 1, timeout=LONG)
    wait_state(qtbot, win, "pre-sft", "completed")
    info = json.loads((fresh_ws / "runs" / "pre-sft" / "run.json").read_text())
    assert info["job"]["stage"] == "sft" and info["job"]["init_from"] == str(best)
    assert Path(info["job"]["data"]).resolve() == (out / "sft_data.pt").resolve()
    qtbot.waitUntil(lambda: set(win.train.plots.legend.labels()) >= {"pre", "pre-sft"}, timeout=LONG)
    shot(win, "e2e_7_sft_done")
    win.close()
