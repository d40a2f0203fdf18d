"""Live plots and the RunPod form: overlaid runs with a legend, smoothing, x modes, log-y, hover
readout, best epoch, export; the RunPod launch against the jobs tests' loopback GraphQL server."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtTest import QTest

from stickgen_core.jobs import JobSpec
from stickgen_core.jobs.run import write_json

from ..jobs.conftest import s3_server, s3_volume  # noqa: F401 - fixtures: the network volume's S3 API
from ..jobs.fake_runpod import FakeRunPod
from .test_train_page import choose, open_window, row, train_ws, split_template, type_into  # noqa: F401
from .user import click, plot_point

from .test_train_page import LONG  # noqa: E402,F811
KEY = "rp-gui-test-key-51c0ffee9a"


def finished_run(ws, run_id, steps=40, spe=10, scale=1.0, best_epoch=2):
    """A completed run folder as the trainer leaves it (metrics of a known shape)."""
    root = ws / "runs" / run_id
    (root / "checkpoints").mkdir(parents=True)
    spec = JobSpec(stage="pretrain", config="small", data=str(ws / "curated" / "pretrain_data.pt"))
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    write_json(root / "run.json", {"run_id": run_id, "job": spec.to_dict(), "run_created": t0.isoformat()})
    write_json(root / "status.json", {"state": "completed", "epoch": steps // spe - 1, "global_step": steps,
                                      "updated": (t0 + dt.timedelta(seconds=steps)).isoformat()})
    lines = []
    for s in range(1, steps + 1):
        lines.append({"type": "step", "epoch": (s - 1) // spe, "step": s, "lr": 1e-3, "samples_per_s": 50.0,
                      "train_total": scale * (2.0 + (s % 2)), "train_pose": scale, "time": (t0 + dt.timedelta(seconds=s)).isoformat()})
        if s % spe == 0:
            e = s // spe - 1
            lines.append({"type": "epoch", "epoch": e, "step": s, "train_loss": scale * 2.5,
                          "val_total": scale * (1.0 if e == best_epoch else 2.0), "time": (t0 + dt.timedelta(seconds=s)).isoformat()})
    (root / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return root


@pytest.fixture
def two_runs(qtbot, train_ws, settings):
    finished_run(train_ws, "a")
    finished_run(train_ws, "b", scale=3.0, best_epoch=1)
    win = open_window(qtbot, train_ws, settings)
    yield win
    win.close()


def select_two(win):
    """Click run a, then ctrl-click run b in the runs list."""
    view = win.train.table.viewport()
    for i, mod in ((0, Qt.KeyboardModifier.NoModifier), (1, Qt.KeyboardModifier.ControlModifier)):
        rect = win.train.table.visualRect(win.train.model.index(i, 0))
        QTest.mouseClick(view, Qt.MouseButton.LeftButton, mod, rect.center())


def test_two_runs_overlaid_with_a_legend_and_best_marks(qtbot, two_runs):
    win = two_runs
    select_two(win)
    plots = win.train.plots
    qtbot.waitUntil(lambda: set(plots.curves()) >= {"a · total", "b · total"}, timeout=LONG)
    assert plots.legend.labels()[:2] == ["a", "b"] and "val loss" in plots.legend.labels()
    # the legend sits beside the loss plot's drawing area: it never covers a curve
    vb = plots.loss.getViewBox()
    area = plots.loss.mapFromScene(vb.sceneBoundingRect()).boundingRect()
    area.moveTopLeft(plots.loss.mapToGlobal(area.topLeft()))
    legend = QRect(plots.legend.mapToGlobal(QPoint(0, 0)), plots.legend.size())
    assert plots.legend.isVisible() and area.width() > 200 and not legend.intersects(area)
    assert len(plots.curves()["a · total"].xData) == 40 and len(plots.curves()["b · total"].xData) == 40
    best_lines = [m for m in plots._marks if hasattr(m, "label") and m.label is not None]
    # counted from 1 like the runs table's "epoch 4/4" (the fixture's best epochs are 0-based 2 and 1)
    assert sorted(m.label.toPlainText() for m in best_lines) == ["best a e3", "best b e2"]
    assert sorted(m.value() for m in best_lines) == [20, 30]      # end of the best epoch, in steps
    # two runs' labels 10 steps apart printed into one string ("best a e3best b e2"): one sits lower
    a, b = (m.label.mapRectToScene(m.label.boundingRect()) for m in best_lines)
    assert not a.intersects(b), (a, b)


def test_long_runs_are_drawn_decimated_but_exact_at_zoom(qtbot, two_runs):
    """A long run hands pyqtgraph a few points per pixel column, keeping every spike; zooming in
    shows the rows themselves; the readout reads the rows, not the drawn points."""
    win = two_runs
    select_two(win)
    plots = win.train.plots
    s = plots.series["a"]
    n = 200_000
    y = np.full(n, 1.0)
    y[123_457] = 50.0                                   # one spike among 200,000 rows
    step = np.arange(41, 41 + n, dtype=float)
    s.add({"step": step, "epoch": (step - 1) // 10, "train_total": y, "lr": np.full(n, 1e-3)}, {})
    plots.smoothing.setValue(0)
    plots.update_series(plots.series)
    curve = plots.curves()["a · total"]
    width = plots.loss.getViewBox().width()
    assert len(curve.xData) <= 2 * width + 4 and curve.yData.max() == 50.0
    assert plots.curves()["b · total"].xData.size == 40          # a short run is drawn as it is
    plots.loss.getViewBox().setXRange(123_400, 123_520, padding=0)  # zoom in: the rows themselves
    qtbot.waitUntil(lambda: plots.curves()["a · total"].xData.size < 200, timeout=LONG)
    curve = plots.curves()["a · total"]
    assert np.all(np.diff(curve.xData) == 1) and 123_457 + 41 in curve.xData
    assert "a · total = 50" in plots.readout_at(123_457 + 41)
    assert "a · total = 1" in plots.readout_at(123_460 + 41)


def test_x_range_steps_ahead_of_a_growing_run(qtbot, two_runs):
    """A poll adding a few rows leaves the axis alone (no relayout, no re-clipping of every curve);
    rows past the edge widen it."""
    win = two_runs
    select_two(win)
    plots = win.train.plots
    vb = plots.loss.getViewBox()
    qtbot.waitUntil(lambda: "a · total" in plots.curves(), timeout=LONG)
    plots.loss.grab()                                     # a paint settles the auto range
    before = vb.viewRange()[0]
    assert before[1] > 40                                 # room beyond the last step
    s = plots.series["a"]

    def add(first, n):
        step = np.arange(first, first + n, dtype=float)
        s.add({"step": step, "epoch": (step - 1) // 10, "train_total": np.full(n, 2.0)}, {})
        plots.update_series(plots.series)
        plots.loss.grab()

    add(41, 1)
    assert vb.viewRange()[0] == before and plots.curves()["a · total"].xData[-1] == 41
    add(42, int(before[1]))
    assert vb.viewRange()[0][1] > before[1] + 40


def test_smoothing_x_modes_log_y_and_hover(qtbot, two_runs):
    win = two_runs
    select_two(win)
    plots = win.train.plots
    curve = plots.curves()["a · total"]
    assert plots.smoothing.value() == 60
    assert np.ptp(curve.yData[10:]) < 0.8                  # 2, 3, 2, 3 ... smoothed at 0.6
    assert curve.yData[0] == pytest.approx(3.0)             # debiased: the first point is the first value
    plots.smoothing.setFocus()
    QTest.keyClick(plots.smoothing, Qt.Key.Key_Home)       # smoothing 0: the raw values
    curve = plots.curves()["a · total"]
    assert np.ptp(curve.yData[10:]) == pytest.approx(1.0)
    choose(plots.x_mode, "epoch")
    curve = plots.curves()["a · total"]
    assert curve.xData[-1] == pytest.approx(4.0) and plots.loss.getAxis("bottom").labelText == "epoch"
    choose(plots.x_mode, "wall time")
    assert plots.curves()["a · total"].xData[-1] == pytest.approx(39 / 60)   # rows 1 s apart, in minutes
    click(plots.log_y)
    assert plots.loss.getPlotItem().ctrl.logYCheck.isChecked()
    y = plots.curves()["a · total"].yData                  # the drawn values follow the log axis
    assert sorted(set(np.round(y, 6))) == pytest.approx([np.log10(2.0), np.log10(3.0)])
    pos = plot_point(plots.loss, 0.3)
    QTest.mouseMove(plots.loss.viewport(), pos)
    qtbot.waitUntil(lambda: "a · total" in plots.readout.text(), timeout=LONG)
    assert "b · total" in plots.readout.text() and plots.cursor.isVisible()


def test_export_png_and_csv(qtbot, two_runs, tmp_path, monkeypatch):
    win = two_runs
    select_two(win)
    from PySide6.QtWidgets import QFileDialog

    for name in ("plots.png", "metrics.csv"):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, n=name, **k: (str(tmp_path / n), ""))
        click(win.train.plots.png if name.endswith("png") else win.train.plots.csv)
    assert (tmp_path / "plots.png").stat().st_size > 5000
    table = pd.read_csv(tmp_path / "metrics.csv")
    assert sorted(table["run"].unique()) == ["a", "b"] and len(table) == 2 * 44
    assert set(table.columns) >= {"step", "train_total", "val_total", "lr"}


def test_runpod_form_launches_on_the_loopback_api(qtbot, train_ws, settings, monkeypatch, s3_volume):  # noqa: F811
    with FakeRunPod(KEY) as fake:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", fake.url)
        monkeypatch.setenv("RUNPOD_API_KEY", KEY)
        monkeypatch.setenv("HOME", "/nonexistent")
        fake.pods = [{"desiredStatus": "RUNNING", "runtime": None}]   # still provisioning: no agent traffic
        win = open_window(qtbot, train_ws, settings)
        form = win.train.form
        choose(form.config, "workspace · tiny")
        form.tabs.setCurrentIndex(2)
        choose(form.backend.kind, "RunPod")
        assert form.backend.key.text().startswith("set") and KEY not in form.backend.key.text()
        type_into(form.backend.image, "me/stickgen:2")
        assert form.backend.s3.text().startswith("set") and "rps_" not in form.backend.s3.text()
        type_into(form.backend.volume, s3_volume.volume_id)
        form.backend.dc.setCurrentText("EU-RO-1")
        s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key="data/pretrain_data.pt", Body=b"split")
        click(form.backend.estimate)
        qtbot.waitUntil(lambda: "/h" in form.backend.price.text(), timeout=LONG)
        type_into(form.data.lineEdit(), "/runpod-volume/data/pretrain_data.pt")  # a path on the volume
        type_into(form.run_name, "pod")
        form.check()
        assert "--backend runpod" in form.cli.text() and "--image me/stickgen:2" in form.cli.text()
        click(form.launch_button)
        # the run folder (so its row) exists before the launch task has asked for the pod
        qtbot.waitUntil(lambda: row(win, "pod") is not None and bool(fake.deploys), timeout=LONG)
        d = fake.deploys[0]
        assert d["imageName"] == "me/stickgen:2" and d["gpuTypeId"] == form.backend.gpu_types()[0]
        assert d["networkVolumeId"] == s3_volume.volume_id and d["dataCenterId"] == "EU-RO-1"
        assert row(win, "pod").backend == "runpod" and row(win, "pod").state == "queued"
        texts = " ".join(w.text() for w in win.findChildren(type(form.problem)))
        assert KEY not in texts
        win.train.select_runs(["pod"])
        qtbot.waitUntil(lambda: win.train.buttons["Stop"].isEnabled(), timeout=LONG)
        click(win.train.buttons["Stop"])                       # stops the pod through the API
        qtbot.waitUntil(lambda: row(win, "pod").state == "stopped", timeout=LONG)
        assert "podTerminate" in [name for name, _ in fake.calls] and not fake.live_pods()  # no pod bills on
        for f in (train_ws / "runs" / "pod").rglob("*"):
            assert not f.is_file() or KEY not in f.read_text(errors="replace")
        win.close()


def test_every_cell_of_the_runs_table_keeps_its_whole_text_in_a_1024_window(qtbot, two_runs):
    """On a small screen the table scrolls sideways; the progress bar's text is never squeezed or cut."""
    win = two_runs
    win.resize(1024, 700)
    table, model = win.train.table, win.train.model
    qtbot.waitUntil(lambda: model.rowCount() == 2 and "epoch" in (model.index(0, 4).data() or ""), timeout=LONG)
    qtbot.waitUntil(lambda: table.viewport().width() < 620)
    fm = table.fontMetrics()
    for c in range(model.columnCount()):
        for r in range(model.rowCount()):
            text = model.index(r, c).data() or ""
            assert table.columnWidth(c) >= fm.horizontalAdvance(str(text)) + 6, (model.headerData(c, Qt.Orientation.Horizontal), text)
