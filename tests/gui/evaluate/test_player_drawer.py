"""The Reports player keeps a usable size at 1024 px: the prompt table is a drawer that closes once a
prompt is picked (and opens again from its button, or by itself in a wide window); ‹ › step the prompts."""

from __future__ import annotations

import pytest

from tests.gui.evaluate.test_report_browser import report_open_at
from tests.gui.user import click


def pick(browser, qtbot, row):
    click(browser.view.viewport(), browser.view.visualRect(browser.model.index(row, 2)).center())
    qtbot.waitUntil(lambda: browser.selected is not None and browser.view.currentIndex().row() == row)


def test_the_table_is_a_drawer_at_1024_px(eval_window, qtbot):
    page = report_open_at(eval_window, qtbot, (1024, 640))
    browser = page.reports
    qtbot.waitUntil(lambda: browser.model.rowCount() > 2)
    beside, slider = browser.viewer.width(), browser.viewer.slider.width()
    assert browser.view.isVisible() and not browser.drawer.isVisible()   # no room taken while the table shows
    pick(browser, qtbot, 0)
    qtbot.waitUntil(lambda: not browser.view.isVisible())            # the drawer closed itself
    assert browser.drawer.isVisible() and browser.next_button.isVisible()
    qtbot.waitUntil(lambda: browser.viewer.width() >= 600)
    # beside the table: a 390 px player with a ~30 px frame slider once a clip card shows; alone 650 and ~290
    assert browser.viewer.width() > beside + 200 and browser.viewer.slider.width() > max(slider, 60) + 200
    first = browser.selected["result"]["id"]
    click(browser.next_button)                                        # the next prompt, the drawer stays shut
    qtbot.waitUntil(lambda: browser.view.currentIndex().row() == 1)
    assert browser.selected["result"]["id"] != first or browser.model.rowCount() == 1
    assert not browser.view.isVisible()
    click(browser.prev_button)
    qtbot.waitUntil(lambda: browser.view.currentIndex().row() == 0)
    click(browser.drawer)                                             # the button opens it again
    qtbot.waitUntil(browser.view.isVisible)
    assert not browser.drawer.isVisible()
    click(browser.hide_table)                                         # and "◂ Hide" closes it by hand
    qtbot.waitUntil(lambda: not browser.view.isVisible())
    eval_window.resize(1920, 1080)                                    # closed by hand: it stays closed
    qtbot.waitUntil(lambda: eval_window.width() == 1920)
    assert not browser.view.isVisible()
    click(browser.drawer)
    eval_window.resize(1024, 640)
    qtbot.waitUntil(lambda: eval_window.width() == 1024 and browser.view.isVisible())
    pick(browser, qtbot, 2)
    qtbot.waitUntil(lambda: not browser.view.isVisible())
    eval_window.resize(1920, 1080)                                    # wide: it comes back by itself
    qtbot.waitUntil(browser.view.isVisible, timeout=10_000)


@pytest.mark.parametrize("size, closes", [((1280, 800), True), ((1920, 1080), False)])
def test_picking_a_prompt_closes_the_drawer_only_when_narrow(eval_window, qtbot, size, closes):
    page = report_open_at(eval_window, qtbot, size)
    browser = page.reports
    qtbot.waitUntil(lambda: browser.model.rowCount() > 0)
    pick(browser, qtbot, 0)
    qtbot.waitUntil(lambda: browser.view.isVisible() != closes and browser.viewer.width() >= 600)
    assert browser.drawer.isVisible() == closes
