"""Evaluate defaults that cost no minutes (quick suite set with its estimate, Compare's two newest
different reports, a playground prompt that is only a placeholder) and an evaluation whose bar says
which phase it is in and how it ended."""

import json
import re
import shutil
import threading

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from stickgen_core.evaluation import REPORT_FILE, generation_pace, load_suites, quick_suites, suite_cost
from stickgen_studio.evaluate.run_eval import duration
from tests.gui.evaluate.conftest import report_of
from tests.gui.evaluate.test_critic_compare_playground import show_tab
from tests.gui.evaluate.test_report_browser import open_reports_tab, tick_only, toggle


def ticked(box) -> list[str]:
    return [box.suites.item(i).data(Qt.ItemDataRole.UserRole) for i in range(box.suites.count())
            if box.suites.item(i).checkState() == Qt.CheckState.Checked]


def test_a_quick_suite_set_is_ticked_with_its_time_estimate(eval_window, qtbot):
    box = open_reports_tab(eval_window, qtbot).run_box
    suites = load_suites()
    quick = quick_suites(suites)
    assert sorted(ticked(box)) == sorted(quick) == ["adversarial_injection", "robustness_baseline"]  # baseline + an adversarial
    assert [box.suites.item(i).data(Qt.ItemDataRole.UserRole) for i in range(2)] == quick  # on top, in view
    prompts = sum(suite_cost(suites[n])[0] for n in quick)
    motion = sum(suite_cost(suites[n])[1] for n in quick)
    pace = generation_pace(report_of(eval_window.workspace.root))  # the workspace's report timed itself
    assert pace is not None and box.isVisible() and box.estimate.isVisible()
    assert box.estimate.text() == (f"2 of {len(suites)} suites · {prompts} prompts · {motion:.0f} s of motion · "
                                   f"{'' if pace * motion < 1 else '≈ '}{duration(pace * motion)} at the last "
                                   "evaluation's pace, plus loading")
    # ticking one more suite updates the estimate
    row = next(i for i in range(box.suites.count()) if box.suites.item(i).data(Qt.ItemDataRole.UserRole) == "basic_actions")
    toggle(box.suites, row)
    more = motion + suite_cost(suites["basic_actions"])[1]
    qtbot.waitUntil(lambda: box.estimate.text().startswith(f"3 of {len(suites)} suites · {prompts + 3} prompts · "
                                                           f"{more:.0f} s of motion"))


def add_report(ws, name: str, created: str) -> str:
    """A copy of the workspace's report under reports/<name>, made at ``created``."""
    doc = report_of(ws)
    doc["created"] = created
    out = ws / "reports" / name / REPORT_FILE
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps(doc))
    return str(out)


def test_compare_defaults_to_the_two_newest_different_reports(eval_window, qtbot):
    ws = eval_window.workspace.root
    cmp = show_tab(eval_window, qtbot, eval_window.evaluate.compare)
    only = str(ws / "reports" / "tiny-best" / REPORT_FILE)
    assert cmp.pick["a"].currentData() == cmp.pick["b"].currentData() == only  # one report: nothing else to pick
    later = add_report(ws, "tiny-later", "2100-01-01T00:00:00+00:00")
    eval_window.evaluate.refresh()
    assert (cmp.pick["a"].currentData(), cmp.pick["b"].currentData()) == (only, later)  # A before, B after
    # a third, newest report: two different picks the user kept stay as they are
    add_report(ws, "tiny-newest", "2100-06-01T00:00:00+00:00")
    eval_window.evaluate.refresh()
    assert (cmp.pick["a"].currentData(), cmp.pick["b"].currentData()) == (only, later)
    # the user's B deleted: B takes the newest report that is not A
    shutil.rmtree(ws / "reports" / "tiny-later")
    eval_window.evaluate.refresh()
    assert cmp.pick["a"].currentData() == only
    assert cmp.pick["b"].currentData() == str(ws / "reports" / "tiny-newest" / REPORT_FILE)


def test_the_playground_prompt_is_a_placeholder_typing_replaces_it(eval_window, qtbot):
    pg = show_tab(eval_window, qtbot, eval_window.evaluate.playground)
    assert pg.prompt.text() == "" and pg.prompt.placeholderText()
    pg.prompt.setFocus()
    QTest.keyClicks(pg.prompt, "A person jumps.")
    assert pg.prompt.text() == "A person jumps."


def test_evaluation_says_loading_then_counts_then_how_it_ended(eval_window, qtbot, monkeypatch):
    page = eval_window.evaluate
    box = open_reports_tab(eval_window, qtbot).run_box
    tick_only(box.suites, "robustness_baseline")  # 5 prompts
    loaded = threading.Event()
    real = page.generator
    monkeypatch.setattr(page, "generator", lambda ck, *a: loaded.wait(60) and real(ck, *a))  # a slow checkpoint
    shown = []
    set_format = box.progress.setFormat
    monkeypatch.setattr(box.progress, "setFormat", lambda t: (shown.append(t), set_format(t)))
    box.run_button.click()
    qtbot.waitUntil(lambda: box.progress.text().startswith("Loading the checkpoint… "))
    assert box.progress.maximum() > 0 and box.progress.isTextVisible()  # determinate: its text is drawn
    # it ticks (a tick late on a busy machine may show "2 s" first: any whole count past 0 will do)
    ticked = r"Loading the checkpoint… [1-9]\d* s"  # (a None from the lambda would pass the wait at once)
    qtbot.waitUntil(lambda: re.fullmatch(ticked, box.progress.text()) is not None, timeout=60_000)
    loaded.set()
    qtbot.waitUntil(lambda: box.progress.text().startswith("Done · "), timeout=120_000)
    assert box.progress.text().startswith("Done · 5 prompts in ") and box.progress.value() == box.progress.maximum()
    counts = [t.split(" · ~")[0] for t in shown if t.startswith("Evaluating")]
    assert counts[0].startswith("Evaluating · 0 / 5 prompts") and counts[-1] == "Evaluating · 5 / 5 prompts"
    first = next(t for t in shown if t.startswith("Evaluating · 0 / 5 prompts"))
    assert first.endswith(" left")  # before the first prompt: an ETA at the pace of the workspace's last report
    qtbot.waitUntil(box.run_button.isEnabled)
    assert box.progress.text().startswith("Done · ")  # the end stays said
