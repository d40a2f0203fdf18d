"""Every wait says what it waits for: a run's row reads its phase from status.json (embedding with its
count, starting the trainer) instead of 'epoch 1/3 · step 0'."""

from __future__ import annotations

import json
import os
import re

import psutil

from stickgen_studio.train.runs_table import COLUMNS, PROGRESS_ROLE

from .test_train_page import LONG, open_window


def write_status(run, **fields) -> None:
    me = psutil.Process()  # this process stands in for the run's: alive, so never settled as dead
    body = {"state": "running", "updated": "2026-01-01T00:00:00+00:00", "epoch": 0, "global_step": 0,
            "process": {"pid": os.getpid(), "create_time": me.create_time()}, **fields}
    (run / "status.json").write_text(json.dumps(body))


def progress_cell(win, run_id: str) -> tuple[str, float | None]:
    m = win.train.model
    i = m.index(m.row_of(run_id), COLUMNS.index("Progress"))
    return m.data(i), m.data(i, PROGRESS_ROLE)


def test_a_run_row_shows_its_phase_and_count_before_training(qtbot, tmp_path, settings):
    ws = tmp_path / "ws"
    run = ws / "runs" / "pre"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"stage": "pretrain", "backend": "local", "created": "2026-01-01T00:00:00",
                                              "config": {"training": {"epochs": 3}}}))
    write_status(run, phase="embed")
    win = open_window(qtbot, ws, settings)
    try:
        qtbot.waitUntil(lambda: win.train.model.rows and progress_cell(win, "pre")[0] == "embedding…", timeout=LONG)
        assert progress_cell(win, "pre")[1] is None  # no count: no made-up fraction
        write_status(run, phase="embed", progress={"done": 1200, "total": 2504, "unit": "clips"})
        qtbot.waitUntil(lambda: progress_cell(win, "pre")[0] == "embedding 1,200 / 2,504 clips", timeout=LONG)
        assert abs(progress_cell(win, "pre")[1] - 1200 / 2504) < 1e-9
        write_status(run, phase="train")  # the trainer process is starting (data, model) before its first step
        qtbot.waitUntil(lambda: progress_cell(win, "pre")[0] == "starting the trainer…", timeout=LONG)
        write_status(run)  # the trainer's own status (no phase): training has begun
        qtbot.waitUntil(lambda: progress_cell(win, "pre")[0] == "epoch 1/3 · step 0", timeout=LONG)
    finally:
        win.close()


def test_the_first_preview_of_a_file_says_it_is_reading_it(window, qtbot, monkeypatch):
    import threading

    import stickgen_studio.curate.preview as preview_module

    from .user import click

    cur = window.curate
    cur.preview.cache = {}  # as on a first preview: the clip's file is not in memory yet
    release, real = threading.Event(), preview_module.load_torch_file
    monkeypatch.setattr(preview_module, "load_torch_file", lambda *a, **k: release.wait(60) and real(*a, **k))
    click(cur.view.viewport(), cur.view.visualRect(cur.model.index(0, 1)).center())
    size = (window.workspace.root / "datasets" / "clips.pt").stat().st_size / 1e6
    reading = f"Reading clips.pt ({size:,.0f} MB) to show this clip… "
    qtbot.waitUntil(lambda: cur.player.canvas.empty_text.startswith(reading), timeout=LONG)
    assert cur.player.canvas.isVisible() and cur.player._T == 0  # the message is what the canvas paints
    # its clock runs (a tick late on a busy machine may show "2 s" first: any whole count past 0 will do)
    counted = re.escape(reading) + r"[1-9]\d* s"
    qtbot.waitUntil(lambda: re.fullmatch(counted, cur.player.canvas.empty_text) is not None, timeout=LONG)
    release.set()
    qtbot.waitUntil(lambda: cur.player._T > 0 and cur.player.is_playing(), timeout=LONG)
    assert cur.player.canvas.empty_text == "Select a clip to play it"  # the viewer's own text is back


def test_demo_generation_counts_from_the_start_in_words_that_fit_and_no_empty_banner(qtbot, tmp_path, settings,
                                                                                     monkeypatch):
    from PySide6.QtCore import QRect
    from PySide6.QtCore import Qt as _Qt

    from stickgen_studio.curate.datasets_box import DatasetsBox
    from stickgen_studio.main_window import MainWindow

    shown = []  # (text, banner visible) at every progress update
    real = DatasetsBox.show_progress

    def spy(box, text, fraction):
        real(box, text, fraction)
        shown.append((text, box.banner.isVisible()))

    monkeypatch.setattr(DatasetsBox, "show_progress", spy)
    win = MainWindow(tmp_path / "empty", settings=settings, generate_if_empty=True, demo_clips=400)
    qtbot.addWidget(win)
    win.resize(1024, 640)
    win.show()
    cur, label = win.curate, win.curate.data_box.progress_text
    qtbot.waitUntil(lambda: "/ 400 clips" in label.text() and label.isVisible(), timeout=LONG)
    assert not cur.data_box.banner.isVisible()  # not "no datasets yet" while the demo is made
    rect = label.fontMetrics().boundingRect(QRect(0, 0, label.width(), 10_000),
                                            int(_Qt.TextFlag.TextWordWrap), label.text())
    assert rect.width() <= label.width() and rect.height() <= label.height(), (rect, label.size())  # not cut
    qtbot.waitUntil(lambda: not cur.tasks.busy(), timeout=LONG)
    texts = [t for t, _ in shown if t.startswith("Generating")]  # then the cached annotation is read
    assert texts[0] == "Generating demo clips…" and texts[1] == "Generating demo clips · 0 / 400 clips"
    assert texts[-1] == "Generating demo clips · 400 / 400 clips"
    assert not any(banner for _, banner in shown)
    assert not label.isVisible() and not cur.data_box.banner.isVisible()  # done: the list says what is there
    win.close()
