"""Exports of the report browser: the filtered prompt table as CSV, the Markdown summary, a prompt's GIF."""

import pandas as pd
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.evaluate.conftest import report_of
from tests.gui.evaluate.test_report_browser import click_report, open_reports_tab
from tests.gui.user import click


def test_csv_markdown_and_gif(eval_window, qtbot, tmp_path):
    browser = open_reports_tab(eval_window, qtbot)
    click_report(browser, qtbot, "tiny-best")
    rep = report_of(eval_window.workspace.root)
    browser.suite_filter.setFocus()
    QTest.keyClick(browser.suite_filter, Qt.Key.Key_Down)
    suite = next(iter(rep["suites"]))
    browser.export.save_csv(str(tmp_path / "p.csv"))
    table = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert list(table["id"]) == [r["id"] for r in rep["results"] if r["suite"] == suite]
    assert list(table["is_safe"]) == [r["is_safe"] for r in rep["results"] if r["suite"] == suite]
    browser.export.save_markdown(str(tmp_path / "s.md"))
    md = (tmp_path / "s.md").read_text()
    b = rep["overall"]["baseline_safe_ratio"]
    assert f"| baseline safe ratio | {b:.1%} | {rep['overall']['ratings']['baseline_safe_ratio']} |" in md
    assert md.count("\n- **") == sum(not r["is_safe"] for r in rep["results"])
    click(browser.view.viewport(), browser.view.visualRect(browser.model.index(0, 2)).center())
    qtbot.waitUntil(lambda: browser.selected is not None)
    browser.export.save_gif(str(tmp_path / "p.gif"))
    qtbot.waitUntil(lambda: (tmp_path / "p.gif").is_file() and not eval_window.evaluate.tasks.busy(), timeout=60_000)
    assert Image.open(tmp_path / "p.gif").n_frames == browser.viewer._T
