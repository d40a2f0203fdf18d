"""The issue timeline as Rerun's time panel: wheel zoom around the cursor, Shift+wheel pan, double-click
to fit; a range dragged out on the ruler (or Shift+drag) loops and filters the critic's issue list. Real
wheel and mouse events."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from stickgen_core.io import save_dataset
from stickgen_core.issues import IssueSpan
from stickgen_core.synth import SynthConfig, generate_dataset, generate_sample
from stickgen_studio.widgets import MotionViewer
from stickgen_studio.widgets.issue_timeline import MIN_VIEW, TICKS_HEIGHT

from .user import drag

T = 200


def wheel(widget, x: float, notches: float, shift: bool = False, sideways: bool = False) -> None:
    pos = QPointF(x, widget.height() / 2)
    delta = QPoint(int(120 * notches), 0) if sideways else QPoint(0, int(120 * notches))
    mods = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(widget, QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(), delta,
                                               Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False))


def shift_drag(widget, start: QPoint, end: QPoint) -> None:
    """A left-button drag with Shift held, as the platform sends it."""
    left, shift = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier
    for kind, pos, buttons in ((QEvent.Type.MouseButtonPress, start, left), (QEvent.Type.MouseMove, end, left),
                               (QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)):
        button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else left
        QApplication.sendEvent(widget, QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button,
                                                   buttons, shift))


@pytest.fixture
def viewer(qtbot):
    clip = next(s for s in generate_dataset(6, seed=2, config=SynthConfig(defect_rate=0.0, multi_actor_rate=0.0))
                if len(s["motion"]) >= 60)
    motion = np.resize(np.asarray(clip["motion"], dtype=np.float32), (T, 48))
    v = MotionViewer(show_card=False)
    qtbot.addWidget(v)
    v.resize(900, 420)
    v.show()
    qtbot.waitExposed(v)
    v.set_clip(motion, 25.0, [IssueSpan("foot_sliding", 20, 40, 0.6, "slides"),
                              IssueSpan("velocity_explosion", 150, 160, 0.9, "spike")], ground=0.0)
    return v


def test_wheel_zooms_around_the_cursor_pans_and_fits(viewer, qtbot):
    tl = viewer.timeline
    x = tl._x(150.5)
    wheel(tl, x, 2)                                            # two notches in: 0.64 of the frames
    v0, v1 = tl.view
    assert v1 - v0 == pytest.approx(0.64 * T) and tl.frame_at(x) == 150   # the frame under the cursor stays
    row_y = 3 + 15 * tl._kinds.index("velocity_explosion") + 7
    assert tl.span_at(QPointF(tl._x(155), row_y)).kind == "velocity_explosion"          # found where painted
    QTest.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(tl._x(100.5)), 10))  # a click seeks the zoomed frame
    qtbot.waitUntil(lambda: viewer.frame == 100)
    wheel(tl, x, 40)                                           # the deepest zoom is MIN_VIEW frames
    assert tl.view[1] - tl.view[0] == MIN_VIEW
    before = tl.view
    wheel(tl, x, -1, shift=True)                               # Shift+wheel pans a tenth of the view
    assert tl.view[0] == pytest.approx(before[0] + 0.1 * MIN_VIEW)
    wheel(tl, x, 1, sideways=True)                             # a sideways wheel pans too
    assert tl.view == pytest.approx(before)
    wheel(tl, x, -60, shift=True)                              # never past the clip's end
    assert tl.view[1] == T
    QTest.mouseDClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(tl._x(T - 1)), 5))   # off the spans: fit
    qtbot.waitUntil(lambda: tl.view == (0.0, float(T)))
    wheel(tl, x, 1)
    wheel(tl, x, -1.2)                                         # zooming out past the clip is the whole clip
    assert tl.view == (0.0, float(T)) and tl._view is None


def test_a_range_dragged_on_the_ruler_loops_and_esc_ends_it(viewer, qtbot):
    tl = viewer.timeline
    seen, frames = [], []
    viewer.selectionChanged.connect(seen.append)
    viewer.frameChanged.connect(frames.append)
    ruler = tl.height() - TICKS_HEIGHT // 2
    drag(tl, QPoint(int(tl._x(60.5)), ruler), QPoint(int(tl._x(89.5)), ruler))
    qtbot.waitUntil(lambda: viewer.selection == (60, 90))
    assert viewer.play_bounds == (60, 90) and viewer.is_playing() and seen == [(60, 90)]
    qtbot.waitUntil(lambda: (89, 60) in zip(frames, frames[1:]), timeout=20_000)   # the last frame, then the first
    assert 90 not in frames
    QTest.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(tl._x(30.5)), ruler))  # a click on the ruler seeks
    qtbot.waitUntil(lambda: viewer.selection is None)          # outside the range: the loop ends
    assert seen == [(60, 90), None] and viewer.play_bounds == (0, T)
    # Shift+drag over the rows selects too; a span's own loop (double-click) is not a selection
    shift_drag(tl, QPoint(int(tl._x(10.5)), 10), QPoint(int(tl._x(40.5)), 10))
    qtbot.waitUntil(lambda: viewer.selection == (10, 41))
    viewer.setFocus()
    QTest.keyClick(viewer, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: viewer.selection is None and viewer.play_bounds == (0, T))
    QTest.mouseDClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(tl._x(30.5)), 3 + 15 * tl._kinds.index("foot_sliding") + 7))
    qtbot.waitUntil(lambda: viewer.play_bounds == (20, 40))
    assert viewer.selection is None


def test_selected_frames_filter_the_critic_issue_list(qtbot, tmp_path):
    from stickgen_studio.evaluate.critic_view import CriticView

    s = generate_sample(3, seed=12, config=SynthConfig(defect_rate=1.0, defect_types=("velocity_explosion",),
                                                      multi_actor_rate=0.0, min_seconds=6, max_seconds=8))
    save_dataset([s], tmp_path / "spike.pt")
    critic = CriticView()
    qtbot.addWidget(critic)
    critic.resize(1280, 760)
    critic.show()
    assert critic.open_file(str(tmp_path / "spike.pt"))
    qtbot.waitUntil(lambda: len(critic.issues.spans) > 0, timeout=60_000)
    spans, tl, n = critic.issues.spans, critic.viewer.timeline, len(s["motion"])
    first = min(spans, key=lambda sp: sp.start)
    ruler = tl.height() - TICKS_HEIGHT // 2
    drag(tl, QPoint(int(tl._x(first.start + 0.5)), ruler), QPoint(int(tl._x(first.start + 1.5)), ruler))
    qtbot.waitUntil(lambda: critic.viewer.selection == (first.start, first.start + 2))
    overlapping = [sp for sp in spans if sp.start < first.start + 2 and sp.end > first.start]
    assert sorted(critic.issues.shown(), key=id) == sorted(overlapping, key=id) and first in critic.issues.shown()
    assert critic.frames_note.isVisible() and f"{len(overlapping)} of {len(spans)} issues" in critic.frames_note.text()
    clean = next((a for a in range(0, n - 3) if not any(sp.start < a + 3 and sp.end > a for sp in spans)), None)
    if clean is not None:                                      # frames without an issue: the list says so
        drag(tl, QPoint(int(tl._x(clean + 0.5)), ruler), QPoint(int(tl._x(clean + 2.5)), ruler))
        qtbot.waitUntil(lambda: critic.viewer.selection == (clean, clean + 3))
        assert critic.issues.shown() == [] and critic.issues.item(0).text() == "No issue in the selected frames"
    critic.viewer.setFocus()
    QTest.keyClick(critic.viewer, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: len(critic.issues.shown()) == len(spans))
    assert not critic.frames_note.isVisible()
