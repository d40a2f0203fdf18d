"""The Curate panel, driven as a user drives it: counts on screen equal stickgen_core's."""

import numpy as np
import pytest
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from stickgen_core.curation import CurationConfig, apply_thresholds
from stickgen_studio.curate.table_model import status_label
from tests.gui.conftest import shot
from tests.gui.user import click, drag, painted_fraction, plot_point, visible_counts, visible_dialogs


def core_counts(table, **changes):
    st = apply_thresholds(table, CurationConfig(**changes)).stats
    return st["total"], st["pretrain"], st["sft"], st["dropped"]


def test_window_opens_on_workspace_with_core_counts(window):
    shot(window, "curate_1280x800")
    cur = window.curate
    assert cur.model.rowCount() == 150
    assert visible_counts(window) == core_counts(cur.table)
    assert cur.shown.text() == "150 clips"
    assert not cur.banner.isVisible()
    assert "clips.pt — " in cur.data_box.list.item(0).text()


def test_slider_keys_update_the_counts_to_core_values(window, qtbot):
    cur = window.curate
    control = cur.thresholds.controls["min_quality_pretrain"]
    control.slider.setFocus()
    for _ in range(4):
        QTest.keyClick(control.slider, Qt.Key.Key_PageUp)  # 0.50 -> 0.90 in steps of 0.10
    qtbot.waitUntil(lambda: visible_counts(window) == core_counts(cur.table, min_quality_pretrain=0.9), timeout=30_000)
    assert control.spin.value() == pytest.approx(0.9)
    assert "●" in control.title.text()  # changed from its default
    click(control.reset)
    qtbot.waitUntil(lambda: visible_counts(window) == core_counts(cur.table), timeout=30_000)


def test_dragging_a_histogram_line_with_the_mouse_moves_slider_and_counts(window, qtbot):
    cur = window.curate
    cur.thresholds.sections["artifact"].button.setChecked(True)
    hist = cur.thresholds.histograms["artifact"]
    cur.thresholds.parentWidget().parentWidget().ensureWidgetVisible(hist)
    qtbot.waitUntil(lambda: hist.isVisible() and hist.height() > 50, timeout=30_000)
    control = cur.thresholds.controls["max_artifact_score"]
    start, end = plot_point(hist, control.value(), 0.3), plot_point(hist, 0.2, 0.3)
    drag(hist.viewport(), start, end)
    qtbot.waitUntil(lambda: abs(control.value() - 0.2) <= 0.03, timeout=30_000)
    v = control.value()
    assert control.slider.value() == round(v * 100)
    assert "pretrain ≤ %.2f" % v in hist.lines["max_artifact_score"].label.toPlainText()
    qtbot.waitUntil(lambda: visible_counts(window) == core_counts(cur.table, max_artifact_score=v), timeout=30_000)


def test_histogram_bars_split_kept_and_dropped(window):
    cur = window.curate
    hist = cur.thresholds.histograms["artifact"]
    sft, pre_only, dropped = (np.asarray(b.opts["height"]).sum() for b in hist.bars)
    s = cur.result.stats
    assert (sft, pre_only, dropped) == (s["sft"], s["pretrain"] - s["sft"], s["dropped"])


def test_clicking_a_histogram_bar_filters_the_table(window, qtbot):
    cur = window.curate
    hist = cur.thresholds.histograms["artifact"]
    cur.thresholds.parentWidget().parentWidget().ensureWidgetVisible(hist)
    QTest.mouseClick(hist.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     plot_point(hist, 0.01, 0.1))  # the first bin: artifact score below 0.025
    qtbot.waitUntil(lambda: "of 150 clips shown" in cur.shown.text(), timeout=30_000)
    n = cur.model.rowCount()
    expected = int((cur.table["artifact_score"] < 0.025).sum())
    assert n == expected > 0
    assert cur.shown.text().startswith(f"{n} of 150 clips shown")
    click(cur.clear_filters)
    qtbot.waitUntil(lambda: cur.model.rowCount() == 150, timeout=30_000)


def test_clicking_a_drop_reason_lists_those_clips(window, qtbot):
    cur = window.curate
    cur.summary.reasons.linkActivated.emit("reason:artifact")  # what a click on the link sends
    qtbot.waitUntil(lambda: cur.split_filter.currentData() == "artifact", timeout=30_000)
    assert cur.model.rowCount() == cur.result.stats["dropped_by_reason"]["artifact"] > 0


def test_clicking_a_row_plays_the_clip_and_paints_the_figure(window, qtbot):
    cur = window.curate
    cur.split_filter.setCurrentIndex(cur.split_filter.findData("artifact"))
    rect = cur.view.visualRect(cur.model.index(0, 1))
    click(cur.view.viewport(), rect.center())
    qtbot.waitUntil(lambda: cur.player.is_playing(), timeout=30_000)
    qtbot.waitUntil(lambda: cur.player.frame >= 3, timeout=10_000)
    assert painted_fraction(cur.player.canvas) > 0.002  # figure drawn, not just a blank canvas
    marks = [h.selected for h in cur.thresholds.histograms.values()]
    assert all(m.isVisible() for m in marks[1:3])  # the clip is marked on the histograms
    QTest.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not cur.player.is_playing(), timeout=30_000)


def test_a_clip_preview_reads_its_file_off_the_gui_thread(window, qtbot, monkeypatch):
    """A 10,000-clip file takes seconds to read: clicking its first clip must not freeze the window.
    The read runs in the background (the window says so and keeps answering), then the clip plays."""
    import threading

    import stickgen_studio.curate.preview as preview_mod  # the preview reads files

    cur = window.curate
    gate, on_main = threading.Event(), []
    real = preview_mod.load_torch_file

    def slow_read(path, *a, **k):
        on_main.append(threading.current_thread() is threading.main_thread())
        if not on_main[-1]:      # on the GUI thread this would freeze the test too: fail fast instead
            gate.wait(120)
        return real(path, *a, **k)

    monkeypatch.setattr(preview_mod, "load_torch_file", slow_read)
    try:
        _click_and_use_the_window_while_the_file_is_read(window, qtbot, on_main)
    finally:
        gate.set()      # never leave the reader blocked, whatever failed
    qtbot.waitUntil(lambda: cur.player.is_playing(), timeout=60_000)
    qtbot.waitUntil(lambda: cur.player.frame >= 3, timeout=30_000)
    assert painted_fraction(cur.player.canvas) > 0.002


def _click_and_use_the_window_while_the_file_is_read(window, qtbot, on_main):
    cur = window.curate
    rect = cur.view.visualRect(cur.model.index(0, 1))
    clicked = cur.table.iloc[cur.model.table_row(0)]["clip_id"]
    click(cur.view.viewport(), rect.center())
    qtbot.waitUntil(lambda: bool(on_main), timeout=30_000)
    assert on_main == [False]
    qtbot.waitUntil(lambda: "Loading clips.pt" in window.statusBar().currentMessage(), timeout=30_000)
    control = cur.thresholds.controls["min_quality_pretrain"]
    control.slider.setFocus()
    QTest.keyClick(control.slider, Qt.Key.Key_PageUp)   # the window answers while the file is read
    qtbot.waitUntil(lambda: visible_counts(window) == core_counts(cur.table, min_quality_pretrain=0.6),
                    timeout=30_000)
    # the slider re-sorted the table (it is sorted by split status): the clicked clip stays selected
    assert cur.table.iloc[cur.model.table_row(cur.view.currentIndex().row())]["clip_id"] == clicked
    assert not cur.player.is_playing()


def test_filters_and_sorting(window):
    cur = window.curate
    QTest.keyClicks(cur.search, "walk")
    n = cur.model.rowCount()
    assert 0 < n < 150 and cur.shown.text() == f"{n} of 150 clips shown"
    assert all("walk" in cur.table.iloc[cur.model.table_row(r)]["description"].lower()
               or "walk" in cur.table.iloc[cur.model.table_row(r)]["clip_id"] for r in range(n))
    cur.search.clear()
    cur.split_filter.setCurrentIndex(cur.split_filter.findData("sft"))
    assert cur.model.rowCount() == cur.result.stats["sft"]
    cur.split_filter.setCurrentIndex(0)
    col = cur.model.column_of("Frames")
    cur.view.horizontalHeader().setSortIndicator(col, Qt.SortOrder.DescendingOrder)
    frames = [int(cur.model.data(cur.model.index(r, col))) for r in range(20)]
    assert frames == sorted(frames, reverse=True)


def test_min_frames_dragged_past_max_pushes_max_without_errors(window, qtbot):
    cur = window.curate
    lo, hi = cur.thresholds.controls["min_frames"], cur.thresholds.controls["max_frames"]
    hi.spin.setValue(150)
    lo.spin.setFocus()
    lo.spin.selectAll()
    QTest.keyClicks(lo.spin, "200")
    QTest.keyClick(lo.spin, Qt.Key.Key_Enter)
    qtbot.waitUntil(lambda: lo.value() == 200, timeout=30_000)
    assert hi.value() == 200  # the maximum followed
    assert not visible_dialogs() and not lo.problem.isVisible()
    qtbot.waitUntil(lambda: visible_counts(window) == core_counts(cur.table, min_frames=200, max_frames=200), timeout=30_000)


def test_export_writes_the_splits_and_asks_before_overwriting(window, qtbot, tmp_path):
    cur = window.curate
    out = tmp_path / "curated"
    cur.export(str(out))
    qtbot.waitUntil(lambda: cur.last_export is not None, timeout=60_000)
    for name in ("pretrain_data.pt", "sft_data.pt", "curation_stats.json", "curation_thresholds.yaml"):
        assert (out / name).exists()
    done = [d for d in visible_dialogs() if d.windowTitle() == "Splits exported"]
    assert done and any(b.text() == "Open folder" for b in done[0].buttons())
    done[0].close()
    from stickgen_core.io import load_dataset
    assert len(load_dataset(out / "sft_data.pt")) == cur.result.stats["sft"]
    cur.last_export = None
    cur.export(str(out))
    qtbot.waitUntil(lambda: any(d.windowTitle() == "Replace the exported splits?" for d in visible_dialogs()), timeout=30_000)
    assert cur.last_export is None  # nothing written before the user agrees
    ask = [d for d in visible_dialogs() if d.windowTitle() == "Replace the exported splits?"][0]
    click(ask.button(ask.StandardButton.Yes))
    qtbot.waitUntil(lambda: cur.last_export is not None, timeout=60_000)


def test_thresholds_save_keeps_comments_and_load_widens_sliders(window, qtbot, tmp_path):
    cur = window.curate
    path = tmp_path / "cfg.yaml"
    path.write_text("# my settings\nmodel:\n  d_model: 64  # small\ndata_curation:\n  max_frames: 1500\n")
    cur.load_thresholds(str(path))
    hi = cur.thresholds.controls["max_frames"]
    assert hi.value() == 1500 and hi.spin.value() == 1500  # widened, not clamped to 1000
    cur.thresholds.controls["min_quality_sft"].spin.setValue(0.9)
    cur.save_thresholds(str(path))
    text = path.read_text()
    assert "# my settings" in text and "# small" in text and "d_model: 64" in text
    saved = CurationConfig.from_yaml(path)
    assert saved.max_frames == 1500 and saved.min_quality_sft == 0.9
    qtbot.waitUntil(lambda: visible_counts(window) == core_counts(cur.table, max_frames=1500, min_quality_sft=0.9), timeout=30_000)


def test_gui_counts_equal_the_cli_on_a_config_beyond_the_slider_range(window, qtbot, tmp_path, workspace):
    import json
    import subprocess
    import sys

    cur = window.curate
    path = tmp_path / "wide.yaml"
    path.write_text("data_curation:\n  max_frames: 1500\n  min_frames: 60\n")
    cur.load_thresholds(str(path))
    out = tmp_path / "cli"
    subprocess.run([sys.executable, "-m", "stickgen_core.cli", "curate", "--inputs", str(workspace / "datasets"),
                    "--config", str(path), "--output-dir", str(out)], check=True, capture_output=True)
    stats = json.loads((out / "curation_stats.json").read_text())
    qtbot.waitUntil(lambda: visible_counts(window) == (stats["total"], stats["pretrain"], stats["sft"], stats["dropped"]), timeout=30_000)


def global_rect(widget):
    from PySide6.QtCore import QPoint, QRect
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


@pytest.mark.parametrize("size", [(1280, 800), (1016, 587)])
def test_the_reasons_and_share_charts_never_print_over_each_other(window, qtbot, size):
    """On a short screen the summary column scrolls; its parts are stacked, whole, never on top of each other."""
    window.resize(*size)
    cur, summary = window.curate, window.curate.summary
    control = cur.thresholds.controls["min_quality_pretrain"]
    control.slider.setFocus()
    with qtbot.waitSignal(cur.updated, timeout=30_000):
        QTest.keyClick(control.slider, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: global_rect(summary.reasons_box).height() >= summary.reasons_box.minimumSizeHint().height())
    box, legend = global_rect(summary.reasons_box), global_rect(summary.legend)
    actions, sources = global_rect(summary.actions), global_rect(summary.sources)
    assert box.bottom() < legend.top() and legend.bottom() < actions.top() and actions.bottom() < sources.top()
    # every reason line fits in its box, and every action name has a text line's height in its chart
    reasons = summary.reasons
    assert reasons.height() >= reasons.heightForWidth(reasons.width())
    assert global_rect(reasons).bottom() <= box.bottom()
    names = cur.action_filter.count() - 1   # "All actions" and one entry per action
    assert names >= 10 and actions.height() >= names * summary.actions.fontMetrics().height()
    # the buttons under the column stay on screen, whatever scrolls
    assert cur.export_button.isVisible() and global_rect(cur.export_button).bottom() <= global_rect(window).bottom()
    shot(window, f"summary_{size[0]}x{size[1]}")


@pytest.mark.parametrize("size", [(1280, 800), (1016, 587)])
def test_a_threshold_label_stays_whole_inside_its_plot_on_either_side(window, qtbot, size):
    """Past the middle of the plot the label moves to the left of its line; its end is never cut off."""
    window.resize(*size)
    cur = window.curate
    control = cur.thresholds.controls["min_quality_pretrain"]
    hist = cur.thresholds.histograms["quality"]
    label, box = hist.lines["min_quality_pretrain"].label, hist.getViewBox()
    control.slider.setFocus()
    for key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_PageDown, Qt.Key.Key_PageDown):
        with qtbot.waitSignal(cur.updated, timeout=30_000):
            QTest.keyClick(control.slider, key)  # 0.5 -> 0.6 -> 0.7 -> 0.6 -> 0.5 -> 0.4
        text = label.mapRectToScene(label.boundingRect())
        plot = box.sceneBoundingRect()
        assert plot.left() <= text.left() and text.right() <= plot.right(), (control.value(), text, plot)
        assert label.toPlainText() == f"pretrain ≥ {control.value():.2f}"


def test_a_threshold_label_never_lies_across_the_other_line_where_it_has_room(window, qtbot):
    """Realism 0.30 / 0.36 with the threshold column dragged wider: 'pretrain ≥ 0.30' lay right of its line,
    across the 0.36 line (reading as that line's label), where the left side had room."""
    from tests.gui.user import drag

    window.resize(1920, 1080)
    cur = window.curate
    hist = cur.thresholds.histograms["realism"]
    box = hist.getViewBox()
    handle = cur.splitter.handle(1)                  # the user widens the threshold column by 300 px
    drag(handle, handle.rect().center(), handle.rect().center() + QPoint(300, 0))
    qtbot.waitUntil(lambda: box.sceneBoundingRect().width() > 450, timeout=30_000)
    for field, value in (("min_realism_pretrain", 0.30), ("min_realism_sft", 0.36)):
        spin = cur.thresholds.controls[field].spin
        spin.selectAll()
        with qtbot.waitSignal(cur.updated, timeout=30_000):
            QTest.keyClicks(spin, f"{value:.2f}")
            QTest.keyClick(spin, Qt.Key.Key_Return)
    lines = hist.lines
    for field, line in lines.items():
        text = line.label.mapRectToScene(line.label.boundingRect())
        for other in lines.values():
            if other is not line:
                x = box.mapViewToScene(pg.Point(other.value(), 0)).x()
                assert not text.left() <= x <= text.right(), (line.label.toPlainText(), text, x)
        plot = box.sceneBoundingRect()
        assert plot.left() <= text.left() and text.right() <= plot.right()


def test_a_slider_move_lays_out_only_what_changed(window, qtbot):
    """A move's new numbers repaint their widgets but post no layout request to the main window or the
    column of sliders (the counts label's new text re-laid out the whole window on every move, and the
    moved control's title was restyled each time: both fail this)."""
    from PySide6.QtCore import QEvent, QObject

    class Count(QObject):
        def __init__(self):
            super().__init__()
            self.layouts = 0

        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QEvent.Type.LayoutRequest and obj in watched:
                self.layouts += 1
            return False

    cur = window.curate
    watched = (window, cur, cur.splitter, cur.thresholds)   # the window, and the column of sliders
    control = cur.thresholds.controls["min_quality_pretrain"]
    control.slider.setFocus()
    with qtbot.waitSignal(cur.updated, timeout=30_000):
        QTest.keyClick(control.slider, Qt.Key.Key_PageUp)   # leaves its default: the title restyles once
    for _ in range(5):   # that restyle's layout passes (posted level by level) are done before counting starts
        QApplication.processEvents()
    count = Count()
    QApplication.instance().installEventFilter(count)
    before = visible_counts(window)
    for key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
        with qtbot.waitSignal(cur.updated, timeout=30_000):
            QTest.keyClick(control.slider, key)
        QApplication.processEvents()
    QApplication.instance().removeEventFilter(count)
    assert visible_counts(window) != before   # the numbers did change on screen
    assert count.layouts == 0


def test_a_value_back_at_its_default_loses_its_mark_even_while_the_panel_is_disabled(window):
    """Thresholds loaded while no data is open (the panel is disabled then) mark exactly the changed values."""
    cur = window.curate
    control = cur.thresholds.controls["min_quality_pretrain"]
    cur.thresholds.setEnabled(False)
    control.setValue(control.default + 0.1)
    control.setValue(control.default)
    cur.thresholds.setEnabled(True)
    assert "●" not in control.title.text() and not control.reset.isEnabled()
    control.setValue(control.default + 0.1)
    assert "●" in control.title.text() and control.reset.isEnabled()


def test_the_counts_are_drawn_in_the_theme_s_text_colour(window, qtbot):
    from PySide6.QtGui import QColor, QPalette

    strip = window.curate.counts
    dark = QPalette(strip.palette())
    dark.setColor(QPalette.ColorRole.Window, QColor("#2b2b2b"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#f0f0f0"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#f0f0f0"))
    strip.setPalette(dark)
    strip.setAutoFillBackground(True)
    img = strip.grab().toImage()
    light = sum(QColor(img.pixel(x, y)).lightness() > 200 for x in range(0, img.width(), 2) for y in range(img.height()))
    assert light > 20, "the counts' words are not drawn in the palette's light text colour"
    assert "pretrain" in strip.accessibleName() and str(visible_counts(window)[0]) in strip.accessibleName()


def test_histogram_axis_titles_are_whole_on_a_small_screen(window, qtbot):
    window.resize(1016, 587)
    qtbot.waitUntil(lambda: window.width() == 1016)
    QApplication.processEvents()
    for key, hist in window.curate.thresholds.histograms.items():
        title = hist.getAxis("bottom").label           # the axis title under the bars
        shown = title.mapRectToScene(title.boundingRect())
        assert 0 <= shown.left() and shown.right() <= hist.viewport().width(), (key, title.toPlainText(), shown)


def test_a_dropped_clip_s_card_names_its_reason_once(window, qtbot):
    cur = window.curate
    cur.split_filter.setCurrentIndex(cur.split_filter.findData("dropped"))
    qtbot.waitUntil(lambda: cur.model.rowCount() > 0)
    code = cur.model.status_code(0)
    reason = status_label(code)[2:]          # the table shows "✗ <reason>"
    click(cur.view.viewport(), cur.view.visualRect(cur.model.index(0, 1)).center())
    status = cur.player.card_view.status
    qtbot.waitUntil(lambda: reason in status.text(), timeout=30_000)
    assert status.text() == f"✗ dropped — {reason}" and status.isVisible()


def test_a_threshold_set_on_the_session_by_a_script_moves_the_slider_and_the_counts(window, qtbot):
    """The page renders its CurationSession: a change made on the session (not through a widget) shows in
    the control and the counts on screen."""
    cur = window.curate
    control = cur.thresholds.controls["min_quality_pretrain"]
    with qtbot.waitSignal(cur.updated, timeout=30_000):
        cur.session.set_threshold("min_quality_pretrain", 0.85)
    assert control.value() == pytest.approx(0.85) and control.slider.value() == 85 and "●" in control.title.text()
    qtbot.waitUntil(lambda: visible_counts(window) == core_counts(cur.table, min_quality_pretrain=0.85), timeout=30_000)
    assert cur.session.config.min_quality_pretrain == 0.85  # the controls' echo did not move it again
