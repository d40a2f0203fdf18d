"""The Train page's runs table (config values and final metrics, sorted, searched), the loss plot's cursor
tooltip, and one colour per run alone or overlaid: by real clicks, keys and mouse moves."""

from __future__ import annotations

import json
import re

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolTip


from .test_train_page import LONG, open_window, split_template, train_ws  # noqa: F401 - fixtures
from .test_train_plots import finished_run, select_two
from .user import click, plot_point


def write_json(path, data):
    path.write_text(json.dumps(data))


def read_json(path):
    return json.loads(path.read_text())


def _configure(root, lr, d_model, params):
    info = read_json(root / "run.json")
    info.update(config={"training": {"epochs": 4, "learning_rate": lr, "batch_size": 8},
                        "model": {"d_model": d_model, "n_layers": 2}},
                parameters={"total": params}, batch={"total": 16})
    write_json(root / "run.json", info)


def _cells(overview, column):
    index = [overview.model.headerData(c, Qt.Orientation.Horizontal) for c in range(overview.model.columnCount())]
    c = index.index(column)
    return [overview.proxy.index(r, c).data() for r in range(overview.proxy.rowCount())]


def _click_header(overview, column):
    header = overview.view.horizontalHeader()
    c = [overview.model.headerData(i, Qt.Orientation.Horizontal) for i in range(overview.model.columnCount())].index(column)
    overview.view.scrollTo(overview.proxy.index(0, c))
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     header.rect().center().__class__(header.sectionViewportPosition(c) + header.sectionSize(c) // 2,
                                                      header.height() // 2))


def test_runs_table_sorts_searches_and_selects(qtbot, train_ws, settings):
    _configure(finished_run(train_ws, "alpha"), 3e-4, 64, 2_500_000)              # best val 1.0, final train 2.5
    _configure(finished_run(train_ws, "beta", scale=3.0, best_epoch=1), 1e-3, 32, 90_000)  # best val 3.0, train 7.5
    win = open_window(qtbot, train_ws, settings)
    page = win.train
    overview = page.overview
    bar = page.tabs.tabBar()
    click(bar, bar.tabRect(page.tabs.indexOf(overview)).center())
    qtbot.waitUntil(lambda: overview.isVisible() and overview.model.rowCount() == 2, timeout=LONG)
    rows = {r["run_id"]: r for r in overview.model.rows}
    assert rows["alpha"]["best_val_loss"] == 1.0 and rows["beta"]["final_train_loss"] == 7.5
    _click_header(overview, "Best val loss")
    qtbot.waitUntil(lambda: overview.shown_ids() == ["alpha", "beta"], timeout=LONG)
    assert _cells(overview, "Best val loss") == ["1.0000", "3.0000"]
    assert _cells(overview, "LR") == ["0.0003", "0.001"] and _cells(overview, "Batch") == ["16", "16"]
    assert _cells(overview, "Model") == ["small · 64×2", "small · 32×2"]
    assert _cells(overview, "Params") == ["2.50 M", "90,000"]
    _click_header(overview, "Best val loss")          # again: descending
    qtbot.waitUntil(lambda: overview.shown_ids() == ["beta", "alpha"], timeout=LONG)
    _click_header(overview, "Params")                 # numbers sort as numbers: 90,000 < 2.50 M
    qtbot.waitUntil(lambda: overview.shown_ids() == ["beta", "alpha"], timeout=LONG)
    overview.search.setFocus()
    QTest.keyClicks(overview.search, "0.0003 small")  # every word somewhere in the row
    qtbot.waitUntil(lambda: overview.shown_ids() == ["alpha"], timeout=LONG)
    assert overview.count.text() == "1 of 2 runs"
    QTest.keyClicks(overview.search, " nowhere")
    qtbot.waitUntil(lambda: overview.shown_ids() == [], timeout=LONG)
    assert overview.message.isVisible() and "No run matches" in overview.message.text()
    QTest.keyClick(overview.search, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(overview.search, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: len(overview.shown_ids()) == 2, timeout=LONG)
    # a double click on a row selects that run in the runs list (and so in the plots)
    r = overview.shown_ids().index("beta")
    rect = overview.view.visualRect(overview.proxy.index(r, 0))
    QTest.mouseDClick(overview.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    qtbot.waitUntil(lambda: page.selected_ids() == ["beta"], timeout=LONG)
    # the table follows the registry: a new run's row appears on the next poll
    _configure(finished_run(train_ws, "gamma"), 5e-4, 16, 1000)
    qtbot.waitUntil(lambda: "gamma" in overview.shown_ids(), timeout=LONG)
    win.close()


def test_cursor_tooltip_and_one_colour_per_run(qtbot, train_ws, settings):
    finished_run(train_ws, "a")
    finished_run(train_ws, "b", scale=3.0, best_epoch=1)
    win = open_window(qtbot, train_ws, settings)
    plots = win.train.plots
    view = win.train.table.viewport()
    click(view, win.train.table.visualRect(win.train.model.index(1, 0)).center())   # b alone
    qtbot.waitUntil(lambda: set(plots.curves()) >= {"b · total"} and "a · total" not in plots.curves(), timeout=LONG)
    alone = plots.curves()["b · total"].opts["pen"].color().name()
    select_two(win)
    qtbot.waitUntil(lambda: set(plots.curves()) >= {"a · total", "b · total"}, timeout=LONG)
    curves = plots.curves()
    assert curves["b · total"].opts["pen"].color().name() == alone      # b keeps its colour when overlaid
    assert curves["a · total"].opts["pen"].color().name() != alone
    assert [plots.legend.item(i).text() for i in range(2)] == ["a", "b"]
    plots.smoothing.setFocus()
    QTest.keyClick(plots.smoothing, Qt.Key.Key_Home)   # raw values: step 20 reads 2.0 (a) and 6.0 (b)
    QTest.mouseMove(plots.loss.viewport(), plot_point(plots.loss, 20.0))
    qtbot.waitUntil(lambda: QToolTip.isVisible() and "a · total" in QToolTip.text(), timeout=LONG)
    text = QToolTip.text()
    step = round(float(re.search(r"step ([\d.,]+)", text).group(1).replace(",", "")))   # the row under the cursor
    assert abs(step - 20) <= 2
    a, b = 2.0 + step % 2, 3.0 * (2.0 + step % 2)
    assert f"a · total = {a:.4g}<" in text and f"b · total = {b:.4g}<" in text and "b · val total = 3" in text
    assert alone in text                                # each line's swatch in its run's colour
    QTest.mouseMove(plots.loss.viewport(), plots.loss.viewport().rect().topLeft())   # off the plot area
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=LONG)
    win.close()
