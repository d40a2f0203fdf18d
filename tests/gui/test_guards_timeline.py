"""The issue timeline paints a span over frames [a, b) from a to b, not on to the right edge:
read back from the painted pixels of the widget, at two widths."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor

from stickgen_core.issues import IssueSpan
from stickgen_studio.widgets.issue_style import issue_colour
from stickgen_studio.widgets.issue_timeline import ROW_HEIGHT, IssueTimeline

T = 100
SPANS = [IssueSpan("frozen", 20, 40, 1.0, "still"), IssueSpan("frozen", 60, 65, 1.0, "still again"),
         IssueSpan("jitter", 45, 52, 1.0, "shaky")]
BACKGROUND = (QColor("#f3f4f6"), QColor("#e8eaee"))   # even rows, odd rows


def _rgb(c: QColor) -> tuple[int, int, int]:
    return c.red(), c.green(), c.blue()


@pytest.fixture(params=[420, 1100])
def timeline(qtbot, request):
    w = IssueTimeline()
    qtbot.addWidget(w)
    w.resize(request.param, 80)
    w.set_issues(SPANS, T)
    w.set_frame(T - 1)          # the playhead sits at the far right, past every span
    w.show()
    qtbot.waitExposed(w)
    return w


def _row_pixels(w: IssueTimeline, row: int) -> list[tuple[int, int, int]]:
    image = w.grab().toImage()
    y = 3 + row * ROW_HEIGHT + ROW_HEIGHT // 2
    return [_rgb(image.pixelColor(x, y)) for x in range(image.width())]


def test_each_span_is_painted_from_its_start_to_its_end(timeline):
    w = timeline
    end_of_track = w._x(T - 0.5) - 4       # left of the playhead
    for row, kind in enumerate(w._kinds):
        pixels = _row_pixels(w, row)
        colour, back = _rgb(issue_colour(kind, 1.0)), _rgb(BACKGROUND[row % 2])
        painted = [False] * len(pixels)
        for s in (s for s in SPANS if s.kind == kind):
            a, b = w._x(s.start), w._x(s.end)
            for x in range(math.ceil(a) + 1, math.floor(b) - 1):
                assert pixels[x] == colour, (kind, s.start, s.end, x, pixels[x])
            for x in range(math.floor(a), math.ceil(b) + 1):
                painted[x] = True
        for x in range(w.label_width() + 1, int(end_of_track)):
            if not painted[x]:
                assert pixels[x] == back, (kind, x, pixels[x], "painted outside every span of the row")


def test_a_span_is_found_where_it_is_painted_and_nowhere_else(timeline):
    w = timeline
    y = 3 + ROW_HEIGHT // 2
    assert w.span_at(QPointF(w._x(30), y)).start == 20
    assert w.span_at(QPointF(w._x(41), y)) is None and w.span_at(QPointF(w._x(90), y)) is None


def test_the_looped_range_is_shaded_from_its_start_to_its_end(timeline):
    w = timeline
    w.set_range((30, 60))
    row = w._kinds.index("jitter")      # its spans (45-52) sit inside the range; its background shows
    pixels, back = _row_pixels(w, row), _rgb(BACKGROUND[row % 2])
    a, b = w._x(30), w._x(60)
    jitter = (w._x(45) - 1, w._x(52) + 1)
    shaded = [x for x in range(math.ceil(a) + 1, math.floor(b) - 1) if not jitter[0] <= x <= jitter[1]]
    assert shaded and all(pixels[x] != back for x in shaded)
    outside = [x for x in range(w.label_width() + 1, int(w._x(T - 0.5) - 4)) if not a - 1 <= x <= b + 1]
    assert all(pixels[x] == back for x in outside), [x for x in outside if pixels[x] != back][:5]
