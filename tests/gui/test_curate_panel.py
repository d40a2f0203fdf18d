"""The Curate panel shows exactly what stickgen_core computes, live, and survives bad input."""

import numpy as np
from PySide6.QtCore import Qt

from stickgen_core.curation import CurationConfig, apply_thresholds
from tests.gui.conftest import shot


def counts(win):
    s = win.curate.summary
    return tuple(int(lbl.text().replace(",", "")) for lbl in (s.total, s.pretrain, s.sft, s.dropped))


def core_counts(table, **changes):
    st = apply_thresholds(table, CurationConfig(**changes)).stats
    return st["total"], st["pretrain"], st["sft"], st["dropped"]


def test_window_opens_on_workspace_with_core_counts(window):
    shot(window, "curate_1280x800")
    cur = window.curate
    assert cur.table is not None and len(cur.table) == 150
    assert counts(window) == core_counts(cur.table)
    assert cur.model.rowCount() == 150
    assert window.nav.count() == 3 and window.pages.currentIndex() == 0
    assert not cur.banner.isVisible()


def test_moving_a_slider_updates_counts_to_core_values(window, qtbot):
    cur = window.curate
    control = cur.thresholds.controls["min_quality_pretrain"]
    with qtbot.waitSignal(cur.updated):
        control.slider.setValue(90)
    assert control.value() == 0.9
    assert counts(window) == core_counts(cur.table, min_quality_pretrain=0.9)
    with qtbot.waitSignal(cur.updated):
        cur.thresholds.controls["min_frames"].spin.setValue(120)
    assert counts(window) == core_counts(cur.table, min_quality_pretrain=0.9, min_frames=120)


def test_dragging_a_histogram_line_moves_its_slider(window, qtbot):
    cur = window.curate
    line = cur.thresholds.histograms["artifact"].lines["max_artifact_score"]
    control = cur.thresholds.controls["max_artifact_score"]
    with qtbot.waitSignal(cur.updated):
        line.setValue(0.2)  # what a mouse drag does to the line
    assert control.value() == 0.2 and control.slider.value() == 20
    assert counts(window) == core_counts(cur.table, max_artifact_score=0.2)
    control.slider.setValue(70)  # and the other way round
    assert abs(line.value() - 0.7) < 1e-9


def test_histogram_bars_split_kept_and_dropped(window):
    cur = window.curate
    hist = cur.thresholds.histograms["artifact"]
    sft, pre_only, dropped = (np.asarray(b.opts["height"]).sum() for b in hist.bars)
    s = cur.result.stats
    assert (sft, pre_only, dropped) == (s["sft"], s["pretrain"] - s["sft"], s["dropped"])


def test_selecting_a_row_plays_the_clip_with_flagged_frames(window, qtbot):
    cur = window.curate
    cur.split_filter.setCurrentIndex(cur.split_filter.findData("artifact"))
    assert cur.model.rowCount() == cur.result.stats["dropped_by_reason"]["artifact"] > 0
    cur.view.selectRow(0)
    assert cur.player.is_playing()
    qtbot.waitUntil(lambda: cur.player.frame >= 5, timeout=5000)
    assert cur.player.issues
    shot(window, "curate_playing")
    cur.player.pause()
    assert not cur.player.is_playing()


def test_filters_and_sorting(window):
    cur = window.curate
    cur.search.setText("walk")
    n = cur.model.rowCount()
    assert 0 < n < 150
    assert all("walk" in cur.table.iloc[cur.model.table_row(r)]["description"].lower()
               or "walk" in cur.table.iloc[cur.model.table_row(r)]["clip_id"] for r in range(n))
    cur.search.setText("")
    cur.split_filter.setCurrentIndex(cur.split_filter.findData("sft"))
    assert cur.model.rowCount() == cur.result.stats["sft"]
    cur.split_filter.setCurrentIndex(0)
    cur.model.sort(3, Qt.SortOrder.DescendingOrder)  # frames
    frames = [int(cur.model.data(cur.model.index(r, 3))) for r in range(20)]
    assert frames == sorted(frames, reverse=True)


def test_export_writes_the_splits(window, qtbot, tmp_path):
    cur = window.curate
    out = tmp_path / "curated"
    cur.export(str(out))
    qtbot.waitUntil(lambda: cur.last_export is not None, timeout=60_000)
    for name in ("pretrain_data.pt", "sft_data.pt", "curation_stats.json", "curation_thresholds.yaml"):
        assert (out / name).exists()
    from stickgen_core.io import load_dataset
    assert len(load_dataset(out / "sft_data.pt")) == cur.result.stats["sft"]


def test_thresholds_save_and_load(window, qtbot, tmp_path):
    cur = window.curate
    path = tmp_path / "cfg.yaml"
    cur.thresholds.controls["min_quality_sft"].slider.setValue(90)
    cur.save_thresholds(str(path))
    assert CurationConfig.from_yaml(path).min_quality_sft == 0.9
    cur.thresholds.controls["min_quality_sft"].slider.setValue(50)
    with qtbot.waitSignal(cur.updated):
        cur.load_thresholds(str(path))
    assert cur.thresholds.controls["min_quality_sft"].value() == 0.9
    assert counts(window) == core_counts(cur.table, min_quality_sft=0.9)


def test_bad_dataset_shows_an_error_and_the_app_keeps_working(window, qtbot, tmp_path):
    cur = window.curate
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a torch file at all")
    cur.add_datasets([str(bad)])
    qtbot.waitUntil(lambda: cur.last_error is not None, timeout=30_000)
    qtbot.waitUntil(lambda: not cur._busy(), timeout=30_000)
    assert "broken.pt" in cur.last_error and "not a torch file" in cur.last_error
    shot(window, "curate_error")
    assert len(cur.table) == 150  # the loaded data is untouched
    with qtbot.waitSignal(cur.updated):
        cur.thresholds.controls["min_quality_pretrain"].slider.setValue(60)
    assert counts(window) == core_counts(cur.table, min_quality_pretrain=0.6)
    cur.load_thresholds(str(tmp_path / "missing.yaml"))
    assert "no such config file" in cur.last_error


def test_empty_workspace_offers_a_demo_dataset(qtbot, tmp_path, settings):
    from stickgen_studio.main_window import MainWindow

    win = MainWindow(tmp_path / "empty", settings=settings)
    qtbot.addWidget(win)
    win.show()
    cur = win.curate
    assert cur.banner.isVisible() and cur.table is None
    shot(win, "empty_workspace")
    with qtbot.waitSignal(cur.updated, timeout=60_000):
        cur.generate_demo(num_samples=40)
    assert len(cur.table) == 40 and not cur.banner.isVisible()
    assert (tmp_path / "empty" / "datasets" / "demo_synth.pt").exists()
    assert str(win.workspace.root) in win.recent_workspaces()
    win.close()


def test_layout_at_1920x1080(window):
    window.resize(1920, 1080)
    shot(window, "curate_1920x1080")
    assert window.curate.view.width() > 700


def test_every_config_field_has_a_control(window):
    import dataclasses

    t = window.curate.thresholds
    covered = set(t.controls) | set(t.switches) | set(t.source_lists) | {"seed", "source_weights"}
    assert {f.name for f in dataclasses.fields(CurationConfig)} <= covered
    t.source_lists["mocap_sources"].setText("mocap, mocap_like, video_estimate")
    assert t.config().mocap_sources == ("mocap", "mocap_like", "video_estimate")


def test_annotation_can_be_cancelled(qtbot, tmp_path, settings, dataset_template):
    import shutil

    from stickgen_studio.main_window import MainWindow

    ws = tmp_path / "ws"
    (ws / "datasets").mkdir(parents=True)
    for i in range(6):  # several uncached files: cancel lands between them
        shutil.copy(dataset_template, ws / "datasets" / f"c{i}.pt")
    win = MainWindow(ws, settings=settings)
    qtbot.addWidget(win)
    cur = win.curate
    assert cur._busy()
    cur.cancel()
    qtbot.waitUntil(lambda: not cur._busy(), timeout=60_000)
    assert cur.table is None and cur.last_error is None
    win.close()
