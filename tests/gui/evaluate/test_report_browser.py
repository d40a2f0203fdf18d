"""The report browser driven as a user: a real report of a tiny checkpoint, its tiles, filters,
prompts and animations, a malformed report, and an evaluation run from the page."""

import json

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from stickgen_core.evaluation import REPORT_FILE, rate
from stickgen_core.issues import critic_issues
from tests.gui.conftest import shot
from tests.gui.evaluate.conftest import report_of
from tests.gui.user import click, painted_fraction, visible_dialogs


def open_reports_tab(win, qtbot):
    page = win.evaluate
    bar = page.tabs.tabBar()
    click(bar, bar.tabRect(page.tabs.indexOf(page.reports)).center())
    qtbot.waitUntil(page.reports.isVisible)
    return page.reports


def click_report(browser, qtbot, name):
    lst = browser.list
    item = next(lst.item(i) for i in range(lst.count()) if lst.item(i).text() == name)
    click(lst.viewport(), lst.visualItemRect(item).center())
    qtbot.waitUntil(lambda: browser.report is not None and name in browser.report["_path"])


def report_open_at(win, qtbot, size):
    """The window at ``size`` with the tiny report open; the Evaluate page."""
    win.resize(*size)
    qtbot.waitUntil(lambda: win.width() == size[0], timeout=30_000)
    click_report(open_reports_tab(win, qtbot), qtbot, "tiny-best")
    return win.evaluate


def toggle(lst, row):
    """Click the check box of a list row."""
    item = lst.item(row)
    lst.scrollToItem(item)
    r = lst.visualItemRect(item)
    QTest.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     r.topLeft() + QPoint(10, r.height() // 2))


def tick_only(lst, name):
    """Tick one suite alone by clicking check boxes (the quick set is ticked by default)."""
    for i in range(lst.count()):
        item = lst.item(i)
        if (item.data(Qt.ItemDataRole.UserRole) == name) != (item.checkState() == Qt.CheckState.Checked):
            toggle(lst, i)


def visible_prompts(browser):
    m = browser.model
    return {(m.data(m.index(r, 0)), m.data(m.index(r, 1))) for r in range(m.rowCount())}


def test_report_opens_and_tiles_show_its_own_numbers(eval_window, qtbot):
    browser = open_reports_tab(eval_window, qtbot)
    click_report(browser, qtbot, "tiny-best")
    rep = report_of(eval_window.workspace.root)
    o = rep["overall"]
    for key in ("baseline_safe_ratio", "adversarial_safe_ratio", "robustness_gap"):
        tile = browser.tiles.tiles[key]
        assert tile.value.text() == f"{o[key]:.1%}"
        assert tile.rating.text() == o["ratings"][key] == rate(key, o[key])
        assert tile.isVisible()
    assert browser.model.rowCount() == len(rep["results"]) and browser.shown.text() == f"{len(rep['results'])} prompts"
    assert browser.chart.labels == [f"{s}{' *' if v['expect_degradation'] else ''} ({v['safe']}/{v['prompts']})"
                                    for s, v in rep["suites"].items()]
    axis = browser.chart.getAxis("left")  # the suite names have room on the axis
    qtbot.waitUntil(lambda: axis.width() >= browser.chart.fontMetrics().horizontalAdvance(max(browser.chart.labels, key=len)))
    shot(eval_window, "evaluate_reports_1280x800")


def test_filter_unsafe_shows_exactly_the_unsafe_prompts(eval_window, qtbot):
    browser = open_reports_tab(eval_window, qtbot)
    click_report(browser, qtbot, "tiny-best")
    rep = report_of(eval_window.workspace.root)
    unsafe = {(r["suite"], r["id"]) for r in rep["results"] if not r["is_safe"]}
    safe = {(r["suite"], r["id"]) for r in rep["results"] if r["is_safe"]}
    combo = browser.safe_filter
    combo.setFocus()
    QTest.keyClick(combo, Qt.Key.Key_Down)  # "Safe only"
    qtbot.waitUntil(lambda: visible_prompts(browser) == safe)
    QTest.keyClick(combo, Qt.Key.Key_Down)  # "Unsafe only"
    qtbot.waitUntil(lambda: visible_prompts(browser) == unsafe)
    assert browser.shown.text() == (f"{len(unsafe)} of {len(rep['results'])} prompts shown" if safe
                                    else f"{len(unsafe)} prompts")
    # search narrows further: one prompt id typed in
    sid = sorted(unsafe or safe)[0]
    QTest.keyClick(combo, Qt.Key.Key_Up) if not unsafe else None
    browser.search.setFocus()
    QTest.keyClicks(browser.search, sid[1])
    qtbot.waitUntil(lambda: sid in visible_prompts(browser) and all(sid[1] in i for _, i in visible_prompts(browser)))


def test_filter_by_issue_type_and_suite(eval_window, qtbot):
    browser = open_reports_tab(eval_window, qtbot)
    click_report(browser, qtbot, "tiny-best")
    rep = report_of(eval_window.workspace.root)
    kinds = sorted({i["type"] for r in rep["results"] for i in r["issues"]})
    if not kinds:
        pytest.skip("the tiny model's report holds no issue")
    browser.issue_filter.setFocus()
    QTest.keyClick(browser.issue_filter, Qt.Key.Key_Down)  # the first issue type
    want = {(r["suite"], r["id"]) for r in rep["results"] if any(i["type"] == kinds[0] for i in r["issues"])}
    qtbot.waitUntil(lambda: visible_prompts(browser) == want)
    browser.suite_filter.setFocus()
    QTest.keyClick(browser.suite_filter, Qt.Key.Key_Down)  # the first suite
    first = next(iter(rep["suites"]))
    qtbot.waitUntil(lambda: visible_prompts(browser) == {p for p in want if p[0] == first})


def test_selecting_a_prompt_animates_its_motion_with_its_issue_ranges(eval_window, qtbot):
    browser = open_reports_tab(eval_window, qtbot)
    click_report(browser, qtbot, "tiny-best")
    rep = report_of(eval_window.workspace.root)
    with_issues = [k for k, r in enumerate(rep["results"]) if r["issues"]]
    target = rep["results"][with_issues[0] if with_issues else 0]
    m = browser.model
    row = next(r for r in range(m.rowCount()) if (m.data(m.index(r, 0)), m.data(m.index(r, 1))) == (target["suite"], target["id"]))
    browser.view.scrollTo(m.index(row, 0))
    click(browser.view.viewport(), browser.view.visualRect(m.index(row, 2)).center())
    qtbot.waitUntil(lambda: browser.selected is not None and browser.selected["result"]["id"] == target["id"])
    frames = int(round(target["generated_seconds"] * 25))
    viewer = browser.viewer
    assert viewer._T == frames
    want = critic_issues(target["issues"], frames)
    assert [(s.kind, s.start, s.end) for s in viewer.issues] == [(s.kind, s.start, s.end) for s in want]
    assert len(viewer.timeline.row_labels) == len({s.kind for s in want})
    qtbot.waitUntil(lambda: painted_fraction(viewer.canvas) > 0.002, timeout=60_000)  # the figure is drawn
    assert viewer.is_playing()
    assert target["text"][:20] in viewer.card_view.description.text() or not target["text"]


def test_malformed_report_gives_an_error_dialog_and_the_app_keeps_working(eval_window, qtbot):
    ws = eval_window.workspace.root
    bad = ws / "reports" / "broken" / REPORT_FILE
    bad.parent.mkdir()
    doc = report_of(ws)
    del doc["results"][2]["is_safe"]
    bad.write_text(json.dumps(doc))
    garbage = ws / "reports" / "garbage" / REPORT_FILE
    garbage.parent.mkdir()
    garbage.write_text("{ not json")
    browser = open_reports_tab(eval_window, qtbot)
    click(browser.refresh_button)
    qtbot.waitUntil(lambda: browser.list.count() == 3)
    for name, needle in (("broken", "results[2].is_safe: missing"), ("garbage", "not a JSON file")):
        lst = browser.list
        item = next(lst.item(i) for i in range(lst.count()) if lst.item(i).text() == name)
        click(lst.viewport(), lst.visualItemRect(item).center())
        qtbot.waitUntil(lambda: len(visible_dialogs()) == 1)
        box = visible_dialogs()[0]
        assert box.windowTitle() == "Could not open the report" and needle in box.text() and str(ws) in box.text()
        shot(eval_window, f"evaluate_bad_report_{name}")
        click(box.button(box.StandardButton.Ok))
        qtbot.waitUntil(lambda: not visible_dialogs())
        assert browser.report is None  # nothing half-shown
    click_report(browser, qtbot, "tiny-best")  # still works
    assert browser.model.rowCount() == len(report_of(ws)["results"])


def test_run_an_evaluation_from_a_checkpoint_then_cancel_one(eval_window, qtbot):
    browser = open_reports_tab(eval_window, qtbot)
    box = browser.run_box
    assert box.checkpoint.currentText() == "tiny · best"
    tick_only(box.suites, "robustness_baseline")
    assert box.chosen_suites() == ["robustness_baseline"]
    before = {str(p) for p in eval_window.evaluate.report_paths()}
    seen = []
    box.progress.valueChanged.connect(lambda v: seen.append(box.progress.text()))
    click(box.run_button)
    qtbot.waitUntil(lambda: not box.run_button.isEnabled())
    qtbot.waitUntil(lambda: browser.report is not None and browser.report["_path"] not in before, timeout=120_000)
    new = json.loads(open(browser.report["_path"]).read())
    assert new["suites_run"] == ["robustness_baseline"]
    assert browser.tiles.tiles["baseline_safe_ratio"].value.text() == f"{new['overall']['baseline_safe_ratio']:.1%}"
    assert any("prompts" in s for s in seen)  # per-prompt progress was shown
    qtbot.waitUntil(box.run_button.isEnabled)
    assert browser.list.item(0).data(Qt.ItemDataRole.UserRole) == browser.report["_path"]  # newest first
    assert [it.data(Qt.ItemDataRole.UserRole) for it in browser.list.selectedItems()] == [browser.report["_path"]]
    # a second run, cancelled after its first prompt: no report is written, the page is usable
    toggle(box.suites, next(i for i in range(box.suites.count())  # tick another suite on
                            if box.suites.item(i).data(Qt.ItemDataRole.UserRole) == "basic_actions"))
    n_reports = len(eval_window.evaluate.report_paths())
    click(box.run_button)
    qtbot.waitUntil(lambda: box.progress.maximum() > 0 and box.progress.value() >= 1, timeout=60_000)
    click(box.cancel_button)
    qtbot.waitUntil(lambda: box.progress.text().startswith("Cancelled at "), timeout=60_000)
    qtbot.waitUntil(box.run_button.isEnabled)
    assert len(eval_window.evaluate.report_paths()) == n_reports


@pytest.mark.parametrize("size", [(1024, 700), (1280, 800)])
def test_every_evaluate_view_fits_a_laptop_screen(eval_window, qtbot, size):
    from tests.gui.user import truncated_texts

    page = report_open_at(eval_window, qtbot, size)
    for view in (page.critic, page.reports, page.compare, page.playground):
        page.tabs.setCurrentWidget(view)
        qtbot.waitUntil(view.isVisible)
        assert truncated_texts(view) == [], (type(view).__name__, truncated_texts(view))


def elided_cells(view, columns) -> list[str]:
    """Cells of ``columns`` (by header text) whose text is wider than the column shows."""
    model, fm, out = view.model(), view.fontMetrics(), []
    heads = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    for name in columns:
        col = heads.index(name)
        for r in range(model.rowCount()):
            text = str(model.data(model.index(r, col)))
            if fm.horizontalAdvance(text) + 6 > view.columnWidth(col):  # the cell's text margins
                out.append(f"{name}: {text}")
    return out


def test_a_prompt_s_id_and_verdict_are_whole_while_the_text_column_takes_the_rest(eval_window, qtbot):
    """Fixed widths cut ids and verdicts ('walk_st…', 'UNS…') while the free text took the spare room."""
    page = report_open_at(eval_window, qtbot, (1280, 800))
    view = page.reports.view
    qtbot.waitUntil(lambda: page.reports.model.rowCount() > 0)
    assert elided_cells(view, ["Id", "Verdict", "Score"]) == []
    page.compare.compare()
    page.tabs.setCurrentWidget(page.compare)
    qtbot.waitUntil(lambda: page.compare.prompts.rowCount() > 0)
    assert elided_cells(page.compare.prompt_view, ["Change", "Id", "A", "B", "Score Δ"]) == []


def test_a_prompt_with_issue_lanes_keeps_the_window_on_a_short_screen(eval_window, qtbot):
    """The tiles, the suite chart and a player with issue lanes asked for their heights together: with a
    long checkpoint path and four suites the window grew to 1016 x 621 on a 587 px screen (this report,
    shorter, still needed 533). The tiles and chart now scroll, so the window fits 510 px."""
    page = report_open_at(eval_window, qtbot, (1016, 587))
    browser = page.reports
    m = browser.model
    issues = [str(m.data(m.index(r, 4)) or "") for r in range(m.rowCount())]   # the Issues column
    most = max(range(m.rowCount()), key=lambda r: len([i for i in issues[r].split(",") if i.strip()]))
    browser.view.scrollTo(m.index(most, 0))
    click(browser.view.viewport(), browser.view.visualRect(m.index(most, 2)).center())
    qtbot.waitUntil(lambda: browser.selected is not None and len(browser.viewer.timeline.row_labels) > 0)
    for tab in (page.compare, page.reports):      # every tab: a tab widget's minimum is its largest page's
        page.tabs.setCurrentWidget(tab)
        qtbot.waitUntil(tab.isVisible)
    eval_window.resize(1016, 510)
    qtbot.waitUntil(lambda: eval_window.height() <= 510, timeout=5_000)
    # at this width the prompt table is a drawer that closed when the prompt was picked; opened, it fits too
    assert browser.tiles.isVisible() and browser.drawer.isVisible() and not browser.view.isVisible()
    click(browser.drawer)
    qtbot.waitUntil(browser.view.isVisible)
    assert eval_window.height() <= 510
