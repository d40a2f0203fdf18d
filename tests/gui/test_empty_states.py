"""A page with nothing to show says what is missing and how to get it, instead of bare 0-1 axes, blank
boxes or an error the user has not made; once there is something, the messages go."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from stickgen_studio.main_window import MainWindow

from .test_train_page import LONG
from .test_train_plots import finished_run, select_two, train_ws, split_template  # noqa: F401
from .test_train_page import open_window
from .user import click


def messages(widget) -> list[str]:
    """The texts of the labels shown over ``widget`` (its visible QLabels, in a stable order)."""
    return sorted(w.text() for w in widget.findChildren(QLabel) if w.isVisible() and w.text())


def go_to(qtbot, win, page: int) -> None:
    click(win.nav.viewport(), win.nav.visualItemRect(win.nav.item(page)).center())
    qtbot.waitUntil(lambda: win.pages.currentIndex() == page, timeout=LONG)


def test_an_empty_workspace_says_what_is_missing_on_every_page(qtbot, tmp_path, settings):
    win = MainWindow(tmp_path / "ws", settings=settings, train_poll_ms=250)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    cur = win.curate
    qtbot.waitUntil(lambda: cur.summary.actions.isVisible(), timeout=LONG)
    for chart in (cur.summary.actions, cur.summary.sources):
        assert messages(chart) == ["no clips loaded"]
        assert not chart.getAxis("left").isVisible() and not chart.getAxis("bottom").isVisible()
    assert "no clips loaded" in cur.summary.reasons.text() and cur.summary.reasons.isVisible()
    for hist in cur.thresholds.histograms.values():   # no threshold line crosses "no clips loaded"
        assert hist.empty.isVisible() and not hist.getAxis("left").isVisible()
        assert not any(line.isVisible() for line in hist.lines.values())

    go_to(qtbot, win, 1)
    train = win.train
    qtbot.waitUntil(lambda: train.polled_once, timeout=LONG)
    assert messages(train.table)[0].startswith("No runs yet: set up a job on the left and press Launch")
    assert messages(train.plots.loss) == ["No run selected: select one or more runs above to plot them"]
    assert not train.plots.loss.getAxis("left").isVisible()
    # no dataset chosen yet is a step to take, not an error in red
    problem = train.form.problem
    qtbot.waitUntil(lambda: problem.isVisible() and problem.text() != "", timeout=LONG)   # checked off a timer
    assert problem.text() == "Choose the data to train on (Data, above) to enable Launch."
    assert "#b00020" not in problem.styleSheet() and not train.form.launch_button.isEnabled()
    assert not train.form.copy_cli.isEnabled()     # nothing to copy yet

    go_to(qtbot, win, 2)
    ev = win.evaluate
    ev.tabs.setCurrentWidget(ev.reports)
    qtbot.waitUntil(lambda: ev.reports.isVisible(), timeout=LONG)
    tiles = ev.reports.tiles
    assert [t.value.text() for t in tiles.tiles.values()] == ["–", "–", "–"]
    assert not any("no prompts of this kind" in text for text in messages(tiles))
    assert messages(ev.reports.chart) == ["no report open"]
    # nothing to generate with: Generate is off and the banner says why (it said "press Generate")
    ev.tabs.setCurrentWidget(ev.playground)
    qtbot.waitUntil(lambda: ev.playground.isVisible(), timeout=LONG)
    assert not ev.playground.generate_button.isEnabled()
    assert ev.playground.banner.text().startswith("No checkpoint to generate with yet")
    win.close()


def test_the_messages_go_once_there_is_something_to_show(qtbot, window):
    """The Curate fixture's workspace has clips: charts and histograms draw them, with their axes."""
    cur = window.curate
    for chart in (cur.summary.actions, cur.summary.sources):
        assert messages(chart) != ["no clips loaded"] and chart.getAxis("left").isVisible()
    for hist in cur.thresholds.histograms.values():
        assert not hist.empty.isVisible() and hist.getAxis("left").isVisible()
        assert all(line.isVisible() for line in hist.lines.values())
    assert "no clips loaded" not in cur.summary.reasons.text()


def test_a_run_s_curves_replace_the_plot_message(qtbot, train_ws, settings):  # noqa: F811
    finished_run(train_ws, "a")
    finished_run(train_ws, "b")
    win = open_window(qtbot, train_ws, settings)
    plots = win.train.plots
    assert messages(win.train.table) == []          # runs listed: no "No runs yet"
    select_two(win)
    qtbot.waitUntil(lambda: set(plots.curves()) >= {"a · total", "b · total"}, timeout=LONG)
    qtbot.waitUntil(lambda: messages(plots.loss) == [] and plots.loss.getAxis("left").isVisible(), timeout=LONG)
    assert messages(plots.lr) == [] and messages(plots.speed) == []
    win.train.table.clearSelection()
    qtbot.waitUntil(lambda: messages(plots.loss) == ["No run selected: select one or more runs above to plot them"],
                    timeout=LONG)
    win.close()
