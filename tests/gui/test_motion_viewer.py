"""The motion viewer driven as a user: painted pixels, tints, timeline clicks, keys, framing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from stickgen_core.io import load_dataset
from stickgen_core.issues import IssueSpan
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_studio.widgets import ClipCard, MotionViewer
from stickgen_studio.widgets.figure_canvas import LEFT, RIGHT
from stickgen_studio.widgets.issue_style import issue_colour

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "data" / "reference" / "ref_sample_60.pt"
needs_reference = pytest.mark.shared_data("reference/ref_sample_60.pt")


@pytest.fixture(scope="module")
def clips():
    ds = generate_dataset(12, seed=1, config=SynthConfig(defect_rate=0.0, multi_actor_rate=0.0))
    standing = next(s for s in ds if "climb" not in s["description"])
    climbing = next(s for s in ds if "climbs a ladder" in s["description"])
    return standing, climbing


@pytest.fixture
def viewer(qtbot):
    v = MotionViewer()
    qtbot.addWidget(v)
    v.resize(900, 480)
    v.show()
    qtbot.waitExposed(v)
    return v


def pixels(widget) -> np.ndarray:
    """The widget as painted now, ``[H, W, 3]`` RGB."""
    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = img.width(), img.height(), img.bytesPerLine()
    return np.frombuffer(img.constBits(), np.uint8, count=stride * h).reshape(h, stride)[:, : 3 * w].reshape(h, w, 3).copy()


def near(rgb: np.ndarray, colour, tol: int = 40) -> np.ndarray:
    target = np.array([colour.red(), colour.green(), colour.blue()])
    return np.abs(rgb.astype(int) - target).max(-1) < tol


def limb_box(canvas) -> tuple[int, int]:
    """Top and bottom rows of the left/right limb pixels (the colour key's corner left out)."""
    rgb = pixels(canvas)
    mask = near(rgb, LEFT) | near(rgb, RIGHT)
    mask[:30, -130:] = False
    rows = np.flatnonzero(mask.any(1))
    return int(rows.min()), int(rows.max())


def test_figure_is_painted_in_side_colours(viewer, clips, qtbot):
    standing, _ = clips
    before = pixels(viewer.canvas)
    viewer.set_clip(standing["motion"].numpy(), 25.0, [], ground=0.0)
    after = pixels(viewer.canvas)
    assert (before != after).any(-1).sum() > 2000
    assert near(after, LEFT).sum() > 150 and near(after, RIGHT).sum() > 150


def test_a_flagged_frame_tints_the_figure(viewer, clips):
    standing, _ = clips
    m = standing["motion"].numpy()
    pink = issue_colour("jitter")
    viewer.set_clip(m, 25.0, [IssueSpan("jitter", 10, 20, 0.9, "jitter, frames 10–19")], ground=0.0)
    viewer.set_frame(5)
    clean = pixels(viewer.canvas)
    viewer.set_frame(15)
    flagged = pixels(viewer.canvas)
    top, bottom = limb_box(viewer.canvas)
    mid = (top + bottom) // 2

    def tinted_limbs(rgb: np.ndarray) -> int:
        """Pink pixels in the lower half of the figure (below the caption and the head)."""
        r, g, b = (rgb[mid:, :, i].astype(int) for i in range(3))
        return int(((r - g > 50) & (b - g > 15)).sum())

    assert pink.red() - pink.green() > 50
    assert tinted_limbs(flagged) > 400 > 10 > tinted_limbs(clean)


def test_foot_sliding_tints_only_the_legs(viewer, clips):
    standing, _ = clips
    m = standing["motion"].numpy()
    viewer.set_clip(m, 25.0, [IssueSpan("foot_sliding", 0, len(m), 0.9, "skating")], ground=0.0)
    rgb = pixels(viewer.canvas)
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    teal = (g - r > 60) & (b - r > 60) & (abs(g - b) < 40)  # the halo's teal, not the left limbs' blue
    teal[:60, :220] = False  # the caption names the issue in its colour
    rows = np.flatnonzero(teal.any(1))
    top, bottom = limb_box(viewer.canvas)
    assert len(rows) and rows.min() > top + 0.3 * (bottom - top)  # below the arms: legs only


def test_timeline_rows_are_labelled_and_a_click_seeks(viewer, clips, qtbot):
    standing, _ = clips
    m = standing["motion"].numpy()
    T = len(m)
    spans = [IssueSpan("jitter", 5, 30, 0.8, "j"), IssueSpan("foot_sliding", 40, 60, 0.3, "f")]
    viewer.set_clip(m, 25.0, spans, ground=0.0)
    tl = viewer.timeline
    assert tl.row_labels == ["jitter", "foot sliding"]
    rgb = pixels(tl)
    fm = tl.fontMetrics()
    assert tl.label_width() > max(fm.horizontalAdvance(t) for t in tl.row_labels)
    for row in range(2):  # dark text pixels in each row's label cell
        cell = rgb[3 + row * 15: 3 + (row + 1) * 15, 4: tl.label_width() - 4]
        assert (cell.max(-1) < 120).sum() > 15, row
    x = int(tl._x(0.75 * T))
    qtbot.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(x, 10))
    assert abs(viewer.frame - 0.75 * T) <= 2
    qtbot.mousePress(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(tl._x(0.2 * T)), 10))
    QTest.mouseMove(tl, QPoint(int(tl._x(0.5 * T)), 12))
    qtbot.mouseRelease(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(tl._x(0.5 * T)), 12))
    assert abs(viewer.frame - 0.5 * T) <= 2


def test_keys_step_jump_and_play(viewer, clips, qtbot):
    standing, _ = clips
    m = standing["motion"].numpy()
    viewer.set_clip(m, 25.0, [], ground=0.0)
    viewer.setFocus()
    qtbot.waitUntil(viewer.hasFocus)
    for _ in range(3):
        QTest.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.frame == 3
    QTest.keyClick(viewer, Qt.Key.Key_Left)
    assert viewer.frame == 2
    QTest.keyClick(viewer, Qt.Key.Key_End)
    assert viewer.frame == len(m) - 1
    QTest.keyClick(viewer, Qt.Key.Key_Home)
    assert viewer.frame == 0
    QTest.keyClick(viewer, Qt.Key.Key_Space)
    assert viewer.is_playing()
    QTest.keyClick(viewer, Qt.Key.Key_Space)
    assert not viewer.is_playing()


def test_clicking_the_figure_gives_the_viewer_the_keys(viewer, clips, qtbot):
    standing, _ = clips
    viewer.set_clip(standing["motion"].numpy(), 25.0, [], ground=0.0)
    qtbot.mouseClick(viewer.canvas, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(viewer.hasFocus)
    QTest.keyClick(viewer.canvas, Qt.Key.Key_Right)
    assert viewer.frame == 1


def test_play_range_loops_the_issue_frames(viewer, clips, qtbot):
    standing, _ = clips
    viewer.set_clip(standing["motion"].numpy(), 25.0, [IssueSpan("jitter", 20, 26, 0.5, "j")], ground=0.0)
    seen: list[int] = []
    viewer.frameChanged.connect(seen.append)
    viewer.play_range(20, 26)
    qtbot.waitUntil(lambda: seen.count(20) >= 2, timeout=10_000)
    viewer.pause()
    assert set(seen) == set(range(20, 26))


@pytest.mark.parametrize("source", ["climbing", pytest.param("reference", marks=needs_reference)])
def test_a_tall_clip_fills_the_view(viewer, clips, source):
    if source == "climbing":
        s, ground = clips[1], 0.0
    else:
        s, ground = load_dataset(REFERENCE, skip_invalid=True)[3], None  # foreign: ground near y = -0.7
    m = s["motion"].numpy()
    viewer.set_clip(m, 25.0, [], ground=ground)
    H = viewer.canvas.height()
    for t in (0, len(m) // 2, len(m) - 1):
        viewer.set_frame(t)
        top, bottom = limb_box(viewer.canvas)
        assert bottom - top > 0.5 * H, (source, t, bottom - top, H)
        assert top > 0 and bottom < H - 1  # and nothing is cut off


@needs_reference
def test_ground_and_earth_are_drawn_for_foreign_data(viewer):
    s = load_dataset(REFERENCE, skip_invalid=True)[3]
    viewer.set_clip(s["motion"].numpy(), 25.0, [])
    rgb = pixels(viewer.canvas)
    from stickgen_studio.widgets.figure_canvas import EARTH
    earth_rows = np.flatnonzero(near(rgb, EARTH, tol=6).mean(1) > 0.5)
    assert len(earth_rows) > 5 and earth_rows.max() >= viewer.canvas.height() - 2  # shaded to the bottom
    _, bottom = limb_box(viewer.canvas)
    assert abs(earth_rows.min() - bottom) < 0.08 * viewer.canvas.height()  # the feet stand on it


def test_clip_card_shows_status_metrics_and_injected_defects(viewer, qtbot):
    s = generate_dataset(40, seed=1, config=SynthConfig(defect_rate=0.6))
    s = next(x for x in s if any(d["type"] == "ground_penetration" for d in x["meta"]["injected_defects"]))
    card = ClipCard.from_sample(s, status="dropped", drop_reason="realism 0.41 < 0.50", metrics={"Quality": 0.25})
    viewer.set_clip(s["motion"].numpy(), 25.0, [], card)
    cv = viewer.card_view
    assert cv.description.text() == s["description"]
    assert "dropped" in cv.status.text() and "realism 0.41" in cv.status.text() and cv.status.isVisible()
    assert "injected ground penetration" in cv.defects.text() and cv.defects.isVisible()
    assert cv.metrics.rowCount() == 1
