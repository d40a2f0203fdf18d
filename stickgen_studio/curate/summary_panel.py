"""Live summary of a threshold setting: split counts, drop reasons, distributions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QTextDocument
from PySide6.QtWidgets import QGroupBox, QLabel, QSizePolicy, QVBoxLayout, QWidget

from stickgen_core.curation import PRETRAIN_RULES, SFT_RULES

from .. import palette
from ..widgets.empty_message import EmptyMessage, show_plot_message

REASON_TEXT = {
    "invalid_sample": "invalid sample", "duplicate": "duplicate clip", "missing_metrics": "missing metrics", "too_short": "too short",
    "too_long": "too long", "artifact": "artifact score", "low_realism": "low realism", "low_quality": "low quality",
    "sft_low_quality": "quality below SFT", "sft_low_realism": "realism below SFT",
    "sft_camera_unstable": "camera unstable", "sft_action_balance": "action balance", "sft_source_balance": "source balance",
}


class DistributionChart(pg.PlotWidget):
    """Horizontal grouped bars: pretrain and SFT share of each category (names stay readable)."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.setBackground("w")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(150)
        self.setMinimumHeight(120)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.getPlotItem().setMenuEnabled(False)
        self._pre = pg.BarGraphItem(x0=[], y=[], height=0.4, width=[], brush=palette.PRETRAIN_SPLIT)
        self._sft = pg.BarGraphItem(x0=[], y=[], height=0.4, width=[], brush=palette.SFT)
        self.addItem(self._pre)
        self.addItem(self._sft)
        for name in ("left", "bottom"):
            self.getAxis(name).setTextPen(pg.mkPen(palette.TEXT))
            self.getAxis(name).setPen(pg.mkPen(palette.AXIS))
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self.setTitle(title, size="9pt", color=palette.TEXT)
        self.getViewBox().invertY(True)
        self._names: list[str] | None = None
        self._right: float | None = None
        self.message = EmptyMessage(self)
        show_plot_message(self, self.message, "no clips loaded")

    def sizeHint(self) -> QSize:  # noqa: N802
        # pyqtgraph asks for 640 x 480; the summary column scrolls by its hints, so ask for the minimum
        # and let the layout's stretch hand out the height there is
        return self.minimumSize()

    def set_data(self, pre: dict[str, Any], sft: dict[str, Any]) -> None:
        names = sorted(set(pre) | set(sft))
        show_plot_message(self, self.message, None if names else "no clip in either split")
        y = np.arange(len(names), dtype=float)
        self._pre.setOpts(x0=np.zeros(len(names)), y=y - 0.2, height=0.4,
                          width=[pre.get(n, {}).get("fraction", 0) for n in names])
        self._sft.setOpts(x0=np.zeros(len(names)), y=y + 0.2, height=0.4,
                          width=[sft.get(n, {}).get("fraction", 0) for n in names])
        # axes are re-laid out only when their range changes, not on every threshold move
        if names != self._names:
            self._names = names
            self.getAxis("left").setTicks([[(i, n) for i, n in enumerate(names)]])
            self.setYRange(-0.6, max(len(names) - 0.4, 0.6), padding=0)
            # a row per name, each a line of text high, so fifteen actions do not print over each other
            row = self.fontMetrics().height()
            self.setMinimumHeight(max(120, row * len(names) + 3 * row + 20))
        top = max([1e-3] + [v.get("fraction", 0) for v in list(pre.values()) + list(sft.values())])
        right = np.ceil(top * 1.1 / 0.05) * 0.05 if top > 0.05 else top * 1.1
        if right != self._right:
            self._right = right
            self.setXRange(0, right, padding=0)


class CountsStrip(QWidget):
    """The split counts in one line above the table, in the split colours: read at a glance.

    Drawn from a text document rather than a QLabel: a label's new text posts a layout request that
    re-lays out the whole main window (measured: half the layout passes of a slider move); this strip
    asks for a new layout only when its text needs another number of lines.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("counts")
        self._doc = QTextDocument(self)
        self._doc.setDocumentMargin(2)
        font = self.font()
        font.setPointSizeF(12)
        self._doc.setDefaultFont(font)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._html = ""
        self.setText("No clips loaded")

    def text(self) -> str:
        return self._html

    def setText(self, html: str) -> None:  # noqa: N802 (as QLabel)
        self._html = html
        self._doc.setHtml(html)
        self.setAccessibleName(self._doc.toPlainText())  # what a label would tell a screen reader
        if self.heightForWidth(self.width()) != self.height():  # one text layout per move, not two
            self.updateGeometry()
        self.update()

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        self._doc.setTextWidth(max(width, 1))
        return int(np.ceil(self._doc.size().height()))

    def sizeHint(self) -> QSize:  # noqa: N802
        self._doc.setTextWidth(-1)
        return QSize(int(np.ceil(self._doc.idealWidth())), self.heightForWidth(max(self.width(), 1)))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(100, self.heightForWidth(max(self.width(), 100)))

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        self._doc.setTextWidth(self.width())
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette = self.palette()  # the theme's text colour, light on a dark palette
        self._doc.documentLayout().draw(painter, ctx)

    def show_stats(self, stats: dict[str, Any]) -> None:
        chip = "{name} <span style='color:{c}; font-weight:bold'>{n:,}</span>"
        self.setText(f"<b>{stats['total']:,}</b> clips · "
                     + " · ".join([chip.format(c=palette.PRETRAIN_SPLIT, n=stats["pretrain"], name="pretrain"),
                                   chip.format(c=palette.SFT, n=stats["sft"], name="SFT"),
                                   chip.format(c=palette.DROPPED, n=stats["dropped"], name="dropped")]))
        self.setToolTip(f"Pretrain split: {stats['pretrain']:,} clips, of which {stats['sft']:,} are also in "
                        f"the SFT split; {stats['dropped']:,} clips are in neither")


class SummaryPanel(QWidget):
    """Why clips are left out (click a reason to list those clips) and the share charts."""

    reasonClicked = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.reasons = QLabel()
        self.reasons.setObjectName("reasons")
        self.reasons.setTextFormat(Qt.TextFormat.RichText)
        self.reasons.setWordWrap(True)
        self.reasons.setToolTip("Click a reason to show its clips in the table")
        self.reasons.setText("<i>no clips loaded</i>")
        self.reasons.linkActivated.connect(lambda href: self.reasonClicked.emit(href.partition(":")[2]))
        self._total: tuple[int, int] | None = None  # (clips, label width) the minimum height was measured at
        reasons_box = self.reasons_box = QGroupBox("Why clips are left out")
        QVBoxLayout(reasons_box).addWidget(self.reasons)
        self.actions = DistributionChart("Actions")
        self.sources = DistributionChart("Sources")
        self.legend = QLabel("Share of each split: " + palette.legend_html(
            [(palette.PRETRAIN_SPLIT, "pretrain"), (palette.SFT, "SFT")]))
        self.legend.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(reasons_box)
        lay.addWidget(self.legend)
        lay.addWidget(self.actions, 3)
        lay.addWidget(self.sources, 1)

    def new_data(self) -> None:
        """Another table was loaded: the reasons box measures its height afresh."""
        self._total = None

    def show_stats(self, stats: dict[str, Any]) -> None:
        link = "<a href='reason:{r}' style='color:{c}'>{text}</a>: {n:,}"
        rows = ["<b>Dropped from pretrain</b>"]
        rows += [link.format(r=r, c=palette.DROPPED, text=REASON_TEXT[r], n=n)
                 for r in PRETRAIN_RULES if (n := stats["dropped_by_reason"].get(r, 0))]
        rows.append("<b>Pretrain, not in SFT</b>")
        rows += [f"{REASON_TEXT[r]}: {n:,}" for r in SFT_RULES[1:] if (n := stats["not_in_sft_by_reason"].get(r, 0))]
        for key in ("actions", "sources"):
            note = stats.get("balance", {}).get(key, {}).get("note")
            if note:
                rows.append(f"<i style='color:#8a5a00'>{note}</i>")
        self.reasons.setText("<br>".join(rows))
        # a reason appearing or going while a slider moves must not make the charts below jump:
        # the box only grows during one dataset
        width = self.reasons.width() if self.reasons.isVisible() else 0
        if (stats["total"], width) != self._total:  # another dataset or column width: measure afresh
            self._total = (stats["total"], width)
            self.reasons.setMinimumHeight(0)
            self.reasons_box.setMinimumHeight(0)
        need = self.reasons.heightForWidth(width) if width > 0 else self.reasons.sizeHint().height()
        self.reasons.setMinimumHeight(max(self.reasons.minimumHeight(), need))
        # the layout shares height by width-for-height hints that undercount the box's title: without
        # this the last reason was cut off at 1280 x 800
        self.reasons_box.setMinimumHeight(self.reasons_box.minimumSizeHint().height())
        self.actions.set_data(stats["pretrain_actions"], stats["sft_actions"])
        self.sources.set_data(stats["pretrain_sources"], stats["sft_sources"])
