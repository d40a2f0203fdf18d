"""The Curate page's widget tree: datasets and thresholds on the left; counts, clip table and
player in the centre; why clips are left out, the share charts and the file buttons on the right."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget

from ..widgets.motion_viewer import MotionViewer
from .clip_browser import ClipBrowser
from .datasets_box import DatasetsBox
from .renders_strip import RendersStrip
from .summary_panel import CountsStrip, SummaryPanel
from .thresholds_panel import ThresholdPanel

LEFT_MIN, CENTRE_MIN, RIGHT_MIN = 220, 360, 200


def _column(*widgets: QWidget, stretch: int | None = None) -> QWidget:
    """``widgets`` stacked without margins; the one at index ``stretch`` takes the spare height."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    for i, w in enumerate(widgets):
        lay.addWidget(w, 1 if i == stretch else 0)
    return box


def _scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a scroll area that scrolls up and down only, at the area's width."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(widget)
    return area


def build(panel) -> None:
    """Create the page's widgets as attributes of ``panel`` (the names tests and menus use) and lay
    them out in three columns under ``panel.splitter``."""
    # -- left: datasets and thresholds
    panel.data_box = DatasetsBox(panel.demo_clips)
    panel.banner = panel.data_box.banner
    panel.thresholds = ThresholdPanel()
    left = _column(panel.data_box, _scrolling(panel.thresholds), stretch=1)

    # -- centre: counts, filters, table, player
    panel.counts = CountsStrip()
    panel.browser = ClipBrowser()
    b = panel.browser
    # the panel's names for what a user touches (tests and menus use them)
    panel.search, panel.source_filter, panel.action_filter = b.search, b.source_filter, b.action_filter
    panel.split_filter, panel.columns_button, panel.shown = b.split_filter, b.columns_button, b.shown
    panel.clear_filters, panel.model, panel.view = b.clear_filters, b.model, b.view
    panel.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    panel.player = MotionViewer()
    vsplit = QSplitter(Qt.Orientation.Vertical)
    vsplit.addWidget(_column(panel.browser))
    vsplit.addWidget(panel.player)
    vsplit.setSizes([380, 340])
    panel.renders = RendersStrip()  # the clip's parallax renders, when <workspace>/parallax has them
    centre = _column(panel.counts, vsplit, panel.renders, stretch=1)

    # -- right: why clips are left out, share charts, actions
    panel.summary = SummaryPanel()
    panel.load_button = QPushButton("Load thresholds…")
    panel.save_button = QPushButton("Save thresholds…")
    panel.export_button = QPushButton("Export splits…")
    panel.export_button.setDefault(True)
    # on a short screen the reasons and charts need more height than there is: they scroll rather
    # than being squeezed on top of each other
    panel.summary_scroll = _scrolling(panel.summary)
    panel.summary_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    right = _column(panel.summary_scroll, panel.load_button, panel.save_button, panel.export_button, stretch=0)

    panel.splitter = QSplitter(Qt.Orientation.Horizontal)
    for w in (left, centre, right):
        panel.splitter.addWidget(w)
    panel.splitter.setStretchFactor(0, 0)
    panel.splitter.setStretchFactor(1, 1)
    panel.splitter.setStretchFactor(2, 0)
    panel.splitter.setChildrenCollapsible(False)
    left.setMinimumWidth(LEFT_MIN)
    centre.setMinimumWidth(CENTRE_MIN)
    right.setMinimumWidth(RIGHT_MIN)
    panel.splitter.setSizes([320, 640, 280])
    lay = QVBoxLayout(panel)
    lay.setContentsMargins(4, 4, 4, 4)
    lay.addWidget(panel.splitter)


def column_widths(width: int) -> list[int]:
    """The columns' share of ``width``: the table keeps the most room."""
    left = int(min(max(0.24 * width, LEFT_MIN), 340))
    right = int(min(max(0.2 * width, RIGHT_MIN), 300))
    return [left, max(width - left - right, CENTRE_MIN), right]
