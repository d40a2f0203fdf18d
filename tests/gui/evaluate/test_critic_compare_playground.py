"""Critic viewer, compare and playground driven as a user."""

import json

import numpy as np
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from stickgen_core.evaluation import REPORT_FILE, load_suites, summarise
from stickgen_core.io import load_dataset, save_dataset
from stickgen_core.synth import SynthConfig, generate_sample
from tests.gui.conftest import shot
from tests.gui.evaluate.conftest import report_of
from tests.gui.user import click, painted_fraction


def show_tab(win, qtbot, view):
    page = win.evaluate
    bar = page.tabs.tabBar()
    click(bar, bar.tabRect(page.tabs.indexOf(view)).center())
    qtbot.waitUntil(view.isVisible)
    return view


def type_into(spin, text):
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, text)
    QTest.keyClick(spin, Qt.Key.Key_Return)


def test_editing_a_threshold_flips_the_verdict_of_a_crafted_clip(eval_window, qtbot, tmp_path):
    s = generate_sample(0, seed=1, config=SynthConfig(actions=("walk",), multi_actor_rate=0.0, defect_rate=0.0))
    frozen = dict(s, motion=s["motion"][:1].repeat(len(s["motion"]), 1), physics=torch.zeros_like(s["physics"]),
                  description="A person walks to the right.")
    path = tmp_path / "frozen.pt"
    save_dataset([s, frozen], path)
    critic = show_tab(eval_window, qtbot, eval_window.evaluate.critic)
    assert critic.open_file(str(path), 1)
    assert critic.banner.text().startswith("<b>UNSAFE</b>") and "frozen" in critic.banner.text()
    assert "frozen" in critic.viewer.timeline.row_labels
    shot(eval_window, "evaluate_critic_1280x800")
    # raise the frozen share the critic tolerates to 100 %: the same clip is now safe
    type_into(critic.editor.controls["frozen_ratio"], "1")
    qtbot.waitUntil(lambda: critic.banner.text().startswith("<b>SAFE</b>"))
    assert "frozen" not in critic.viewer.timeline.row_labels
    click(critic.editor.reset)
    qtbot.waitUntil(lambda: critic.banner.text().startswith("<b>UNSAFE</b>"))
    # the rejection threshold above the frozen severity (0.9) flips it too
    type_into(critic.editor.controls["rejection_severity_threshold"], "0.95")
    qtbot.waitUntil(lambda: critic.banner.text().startswith("<b>SAFE</b>"))
    click(critic.editor.reset)
    qtbot.waitUntil(lambda: critic.banner.text().startswith("<b>UNSAFE</b>"))
    # the critic is prompt-aware: a figure asked to stand still is not frozen
    critic.prompt.setFocus()
    critic.prompt.selectAll()
    QTest.keyClicks(critic.prompt, "A person stands still and meditates.")
    QTest.keyClick(critic.prompt, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: critic.banner.text().startswith("<b>SAFE</b>") and "stillness" in critic.banner.text())
    # an invalid value is named inline and the last verdict stays (the spin boxes span the config's ranges,
    # so only an open end such as the rejection severity's 0 gets that far)
    type_into(critic.editor.controls["rejection_severity_threshold"], "0")
    qtbot.waitUntil(critic.editor.error.isVisible)
    assert "rejection_severity_threshold: expected a value in (0, 1]" in critic.editor.error.text()
    assert critic.banner.text().startswith("<b>SAFE</b>")


def test_clicking_an_issue_jumps_to_and_loops_its_frames(eval_window, qtbot, tmp_path):
    s = generate_sample(3, seed=12, config=SynthConfig(defect_rate=1.0, defect_types=("velocity_explosion",),
                                                      multi_actor_rate=0.0, min_seconds=4, max_seconds=8))
    path = tmp_path / "spike.pt"
    save_dataset([s], path)
    critic = show_tab(eval_window, qtbot, eval_window.evaluate.critic)
    assert critic.open_file(str(path))
    lst = critic.issues
    item = next(lst.item(i) for i in range(lst.count()) if lst.item(i).text().startswith("velocity"))
    span = item.data(Qt.ItemDataRole.UserRole)
    click(lst.viewport(), lst.visualItemRect(item).center())
    qtbot.waitUntil(lambda: critic.viewer.play_bounds == (span.start, max(span.end, span.start + 1)))
    assert critic.viewer.is_playing() and span.start <= critic.viewer.frame < max(span.end, span.start + 1)


def test_open_in_critic_from_the_curate_table(window, qtbot):
    cur = window.curate
    pos = cur.view.visualRect(cur.model.index(3, 1)).center()
    QApplication.sendEvent(cur.view.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos))
    qtbot.waitUntil(lambda: cur.clip_menu.isVisible())
    menu = cur.clip_menu
    act = next(a for a in menu.actions() if a.text() == "Open in critic")
    click(menu, menu.actionGeometry(act).center())
    critic = window.evaluate.critic
    qtbot.waitUntil(critic.isVisible)
    rec = cur.table.iloc[cur.model.table_row(3)]
    assert window.nav.currentRow() == 2
    assert critic.file_label.text() == f"clips.pt · clip index {int(rec['index'])} (0–149)"
    assert critic.viewer._T == int(rec["n_frames"]) and critic.prompt.text() == rec["description"]
    assert critic.banner.text().startswith(("<b>SAFE</b>", "<b>UNSAFE</b>"))


def test_compare_lists_a_known_regression_first_and_plays_both_in_sync(eval_window, qtbot):
    ws = eval_window.workspace.root
    a = report_of(ws)
    b = json.loads(json.dumps(a))
    victim = next(r for r in b["results"] if r["is_safe"])  # a prompt that was safe in A turns unsafe in B
    victim.update(is_safe=False, overall_score=0.1,
                  issues=[{"type": "frozen", "severity": 0.9, "description": "crafted", "frame_range": [[5, 20]]}])
    b.update(summarise(b["results"], load_suites()))
    out = ws / "reports" / "tiny-regressed" / REPORT_FILE
    out.parent.mkdir()
    (out.parent / "motions").symlink_to(ws / "reports" / "tiny-best" / "motions")
    out.write_text(json.dumps(b))
    eval_window.evaluate.refresh()
    cmp = show_tab(eval_window, qtbot, eval_window.evaluate.compare)
    assert cmp.summary.text() == "A (before) and B (after) are picked: press Compare"   # not "Pick two reports"
    for key, name in (("a", "tiny-best"), ("b", "tiny-regressed")):
        combo = cmp.pick[key]
        combo.setFocus()
        while combo.currentText() != name:
            QTest.keyClick(combo, Qt.Key.Key_Down if combo.currentIndex() < combo.findText(name) else Qt.Key.Key_Up)
    click(cmp.compare_button)
    qtbot.waitUntil(lambda: cmp.prompts.rowCount() == len(a["results"]))
    m = cmp.prompts
    first = [m.data(m.index(0, c)) for c in range(3)]
    assert first == ["turned unsafe", victim["suite"], victim["id"]]
    assert m.data(m.index(1, 0)) != "turned unsafe"
    n = a["suites"][victim["suite"]]["prompts"]
    srow = next(r for r in range(cmp.suites.rowCount()) if cmp.suites.data(cmp.suites.index(r, 0)) == victim["suite"])
    assert cmp.suites.data(cmp.suites.index(srow, 3)) == format(-1 / n, "+.0%")
    assert "<b>1</b> prompt(s) turned unsafe" in cmp.summary.text()
    # both motions of the selected prompt play in step
    qtbot.waitUntil(lambda: cmp.viewer_a._T > 0 and cmp.viewer_b._T > 0)
    assert [s.kind for s in cmp.viewer_b.issues] == ["frozen"]
    cmp.viewer_a.setFocus()
    for _ in range(7):
        QTest.keyClick(cmp.viewer_a, Qt.Key.Key_Right)
    assert cmp.viewer_a.frame == cmp.viewer_b.frame == 7
    cmp.viewer_a.play()
    qtbot.waitUntil(lambda: cmp.viewer_a.frame > 12, timeout=60_000)  # timer-driven: slow on a loaded CPU
    assert cmp.viewer_b.frame == cmp.viewer_a.frame
    shot(eval_window, "evaluate_compare_1280x800")
    # a comparison on show never makes the window taller than a small laptop's screen
    eval_window.resize(1016, 587)
    qtbot.waitUntil(lambda: eval_window.width() == 1016)
    QApplication.processEvents()
    assert eval_window.height() == 587 and eval_window.minimumSizeHint().height() <= 587
    shot(eval_window, "evaluate_compare_1016x587")


def test_playground_same_seed_same_motion(eval_window, qtbot, tmp_path):
    pg = show_tab(eval_window, qtbot, eval_window.evaluate.playground)
    assert pg.checkpoint.currentText() == "tiny · best"
    pg.prompt.setFocus()
    pg.prompt.selectAll()
    QTest.keyClicks(pg.prompt, "A person jumps.")
    type_into(pg.seconds, "2")
    got, ready = [], []
    pg.generated.connect(got.append)
    # when a result is shown the page takes the next prompt: a click right then must not fall on a
    # disabled Generate button (that lost click once made this test wait forever)
    pg.generated.connect(lambda _g: ready.append(pg.generate_button.isEnabled()))
    for k, seed in enumerate(("7", "7", "8")):
        type_into(pg.seed, seed)
        click(pg.generate_button)
        assert not pg.generate_button.isEnabled()  # the click was taken
        qtbot.waitUntil(lambda: len(got) > k or eval_window.evaluate.last_error is not None, timeout=120_000)
        assert eval_window.evaluate.last_error is None and len(got) == k + 1, eval_window.evaluate.last_error
        assert ready[k]
    motions = [g["motion"].numpy() for g in got]
    assert np.array_equal(pg.motion(), motions[2])
    assert motions[0].shape == (50, 48)
    assert np.array_equal(motions[0], motions[1]) and not np.array_equal(motions[0], motions[2])
    verdict = pg.result["safety"]
    assert pg.banner.text().startswith("<b>SAFE</b>" if verdict["is_safe"] else "<b>UNSAFE</b>")
    qtbot.waitUntil(lambda: painted_fraction(pg.viewer.canvas) > 0.002, timeout=60_000)
    shot(eval_window, "evaluate_playground_1280x800")
    pg.save_motion(str(tmp_path / "g.pt"))
    saved = load_dataset(tmp_path / "g.pt")
    assert np.array_equal(saved[0]["motion"].numpy(), motions[2]) and saved[0]["description"] == "A person jumps."
    pg.save_animation(str(tmp_path / "g.gif"))
    qtbot.waitUntil(lambda: (tmp_path / "g.gif").is_file() and not eval_window.evaluate.tasks.busy(), timeout=60_000)
    from PIL import Image
    assert Image.open(tmp_path / "g.gif").n_frames == 50
    click(pg.critic_button)
    qtbot.waitUntil(eval_window.evaluate.critic.isVisible)
    assert eval_window.evaluate.critic.viewer._T == 50
