"""The Train page's System tab: the selected run's CPU, memory and GPU samples (system.jsonl), following
the selection and the file as it grows; by real clicks."""

from __future__ import annotations

import datetime as dt
import json

from stickgen_core.system_metrics import SYSTEM_FILE

from .test_train_page import LONG, open_window, split_template, train_ws  # noqa: F401 - fixtures
from .test_train_plots import finished_run
from .user import click


def _samples(root, n, start=0, gpu=True):
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with open(root / SYSTEM_FILE, "a") as fh:
        for i in range(start, start + n):
            row = {"time": (t0 + dt.timedelta(seconds=30 * i)).isoformat(), "cpu_percent": 100.0 + i,
                   "rss_mb": 2048.0, "sys_cpu_percent": 50.0, "sys_mem_percent": 40.0}
            if gpu:
                row.update(gpu0_util_percent=87.0, gpu0_mem_mb=30 * 1024.0, gpu0_mem_total_mb=80 * 1024.0)
            fh.write(json.dumps(row) + "\n")


def _select(win, run_id):
    i = win.train.model.row_of(run_id)
    click(win.train.table.viewport(), win.train.table.visualRect(win.train.model.index(i, 0)).center())


def test_system_tab_follows_the_selected_run_and_its_file(qtbot, train_ws, settings):
    _samples(finished_run(train_ws, "gpu_run"), 5)
    finished_run(train_ws, "old_run")                                  # trained before system metrics existed
    _samples(finished_run(train_ws, "cpu_run"), 3, gpu=False)
    win = open_window(qtbot, train_ws, settings)
    page, system = win.train, win.train.system
    bar = page.tabs.tabBar()
    click(bar, bar.tabRect(page.tabs.indexOf(system)).center())
    _select(win, "gpu_run")
    qtbot.waitUntil(lambda: system.isVisible() and system.names("gpu_mem") == ["gpu0"], timeout=LONG)
    assert system.names("cpu") == ["process", "machine"] and system.names("memory") == ["process"]
    curve = system.curves["cpu"][0]
    assert list(curve.xData) == [0.0, 0.5, 1.0, 1.5, 2.0] and list(curve.yData) == [100, 101, 102, 103, 104]
    assert list(system.curves["gpu_mem"][0].yData) == [30.0] * 5                    # GB
    text = system.summary.text()
    assert "gpu_run" in text and "5 samples over 2.0 min" in text and "CPU 104 %" in text
    assert "RSS 2.00 GB" in text and "gpu0 87 % · 30.0 / 80.0 GB" in text
    _samples(train_ws / "runs" / "gpu_run", 2, start=5)                           # the trainer samples on
    qtbot.waitUntil(lambda: len(system.curves["cpu"][0].xData) == 7, timeout=LONG)
    _select(win, "old_run")
    qtbot.waitUntil(lambda: "No system metrics for old_run" in system.summary.text(), timeout=LONG)
    assert all(m.isVisible() for m in system.messages.values()) and not system.names("cpu")
    _select(win, "cpu_run")                                                             # a CPU machine: no GPU lines
    qtbot.waitUntil(lambda: system.names("cpu") == ["process", "machine"], timeout=LONG)
    assert system.names("gpu_util") == [] and system.messages["gpu_util"].isVisible()
    assert "no GPU" in system.messages["gpu_util"].text() and not system.messages["cpu"].isVisible()
    win.close()
