"""Live summary of a threshold setting: split counts, drop reasons, distributions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from stickgen_core.curation import PRETRAIN_RULES, SFT_RULES

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
        self.setTitle(f"{title}: <span style='color:#5b8fd6'>■ pretrain</span> "
                      f"<span style='color:#2e9d57'>■ SFT</span>", size="9pt", color="#333")
        self.setMinimumHeight(150)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.getPlotItem().setMenuEnabled(False)
        self._pre = pg.BarGraphItem(x0=[], y=[], height=0.4, width=[], brush="#5b8fd6")
        self._sft = pg.BarGraphItem(x0=[], y=[], height=0.4, width=[], brush="#2e9d57")
        self.addItem(self._pre)
        self.addItem(self._sft)
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self.setLabel("bottom", "share of split")
        self.getViewBox().invertY(True)

    def set_data(self, pre: dict[str, Any], sft: dict[str, Any]) -> None:
        names = sorted(set(pre) | set(sft))
        y = np.arange(len(names), dtype=float)
        self._pre.setOpts(x0=np.zeros(len(names)), y=y - 0.2, height=0.4,
                          width=[pre.get(n, {}).get("fraction", 0) for n in names])
        self._sft.setOpts(x0=np.zeros(len(names)), y=y + 0.2, height=0.4,
                          width=[sft.get(n, {}).get("fraction", 0) for n in names])
        self.getAxis("left").setTicks([[(i, n) for i, n in enumerate(names)]])
        self.setYRange(-0.6, max(len(names) - 0.4, 0.6), padding=0)
        top = max([1e-3] + [v.get("fraction", 0) for v in list(pre.values()) + list(sft.values())])
        self.setXRange(0, top * 1.1, padding=0)


class SummaryPanel(QWidget):
    def __init__(self) -> None:
        super().__init__()
        counts = QGroupBox("Splits")
        grid = QGridLayout(counts)
        self.total = QLabel("–")
        self.pretrain = QLabel("–")
        self.sft = QLabel("–")
        self.dropped = QLabel("–")
        for col, (title, lab) in enumerate((("Clips", self.total), ("Pretrain", self.pretrain), ("SFT", self.sft),
                                            ("Dropped", self.dropped))):
            lab.setProperty("class", "count")
            lab.setStyleSheet("font-size: 16pt; font-weight: bold;")
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            t = QLabel(title)
            t.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(lab, 0, col)
            grid.addWidget(t, 1, col)
        self.reasons = QLabel()
        self.reasons.setTextFormat(Qt.TextFormat.RichText)
        self.reasons.setWordWrap(True)
        reasons_box = QGroupBox("Why clips are left out")
        QVBoxLayout(reasons_box).addWidget(self.reasons)
        self.actions = DistributionChart("Actions")
        self.sources = DistributionChart("Sources")
        lay = QVBoxLayout(self)
        lay.addWidget(counts)
        lay.addWidget(reasons_box)
        lay.addWidget(self.actions, 3)
        lay.addWidget(self.sources, 1)

    def show_stats(self, stats: dict[str, Any]) -> None:
        self.total.setText(f"{stats['total']:,}")
        self.pretrain.setText(f"{stats['pretrain']:,}")
        self.sft.setText(f"{stats['sft']:,}")
        self.dropped.setText(f"{stats['dropped']:,}")
        rows = ["<b>Dropped from pretrain</b>"]
        rows += [f"{REASON_TEXT[r]}: {n:,}" for r in PRETRAIN_RULES if (n := stats["dropped_by_reason"].get(r, 0))]
        rows.append("<b>Pretrain, not in SFT</b>")
        rows += [f"{REASON_TEXT[r]}: {n:,}" for r in SFT_RULES[1:] if (n := stats["not_in_sft_by_reason"].get(r, 0))]
        for key in ("actions", "sources"):
            note = stats.get("balance", {}).get(key, {}).get("note")
            if note:
                rows.append(f"<i style='color:#8a5a00'>{note}</i>")
        self.reasons.setText("<br>".join(rows))
        self.actions.set_data(stats["pretrain_actions"], stats["sft_actions"])
        self.sources.set_data(stats["pretrain_sources"], stats["sft_sources"])
