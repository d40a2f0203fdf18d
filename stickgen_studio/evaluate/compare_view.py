"""Compare two reports (two checkpoints): per-suite deltas, regressions first, motions in sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QScrollArea, QSplitter, QTableView, QVBoxLayout, QWidget)

from stickgen_core.errors import StickGenError
from stickgen_core.eval_reports import compare_reports, load_report
from stickgen_core.issues import critic_issues

from ..widgets.motion_viewer import MotionViewer
from ..widgets.table_columns import keep_columns_fitted
from .critic_view import sample_fps
from .frame_model import FrameModel, fmt_bool, fmt_num
from .report_browser import load_prompt_motion

# short headers: the suite table shares the row with the prompt table and must fit without scrolling
SUITE_COLUMNS = [("Suite", "suite", str), ("A", "safe_ratio_a", fmt_num(".0%")),
                 ("B", "safe_ratio_b", fmt_num(".0%")), ("Δ", "delta", fmt_num("+.0%")),
                 ("Exp. ↓", "expect_degradation", fmt_bool("yes", "no"))]
SUITE_HEADER_TIPS = ["Prompt suite", "Safe ratio in report A", "Safe ratio in report B", "B − A",
                     "The spec expects this suite to degrade (adversarial prompts)"]
PROMPT_COLUMNS = [("Change", "change", str), ("Suite", "suite", str), ("Id", "id", str),
                  ("A", "is_safe_a", fmt_bool()), ("B", "is_safe_b", fmt_bool()),
                  ("Score Δ", "score_delta", fmt_num("+.2f")), ("Issues in B", "issue_types_b", str), ("Text", "text", str)]


def _table(model: FrameModel) -> QTableView:
    v = QTableView()
    v.setModel(model)
    v.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    v.setSelectionMode(QTableView.SelectionMode.SingleSelection)
    v.verticalHeader().setVisible(False)
    v.verticalHeader().setDefaultSectionSize(22)
    v.horizontalHeader().setStretchLastSection(True)
    return v


class CompareView(QWidget):
    status = Signal(str)
    failed = Signal(str, str)

    def __init__(self, host) -> None:
        super().__init__()
        self.host = host
        self.reports: dict[str, dict[str, Any] | None] = {"a": None, "b": None}
        self.pick = {"a": QComboBox(), "b": QComboBox()}
        self.open_buttons = {"a": QPushButton("Open…"), "b": QPushButton("Open…")}
        self.compare_button = QPushButton("Compare")
        self.summary = QLabel("Pick two reports: A (before) and B (after)")
        self.summary.setWordWrap(True)
        top = QGridLayout()
        for r, key in enumerate(("a", "b")):
            top.addWidget(QLabel(f"Report {key.upper()}"), r, 0)
            top.addWidget(self.pick[key], r, 1)
            top.addWidget(self.open_buttons[key], r, 2)
            self.pick[key].setMinimumContentsLength(30)
            self.pick[key].setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            self.open_buttons[key].clicked.connect(lambda _=False, k=key: self._browse(k))
        top.addWidget(self.compare_button, 0, 3, 2, 1)
        top.setColumnStretch(1, 1)
        self.suites = FrameModel(SUITE_COLUMNS)
        self.prompts = FrameModel(PROMPT_COLUMNS, alert_column="change", alert_values=("turned unsafe",))
        self.suite_view, self.prompt_view = _table(self.suites), _table(self.prompts)
        # "turned unsafe" whole: the change is what this table is read for
        self.prompt_view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        keep_columns_fitted(self.prompt_view)
        self.suites.header_tips = SUITE_HEADER_TIPS
        head = self.suite_view.horizontalHeader()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the suite name takes what is left, elided
        self.suite_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.suite_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.viewer_a, self.viewer_b = (MotionViewer(show_card=False, empty_text="Compare two reports, then pick a "
                                                                             "prompt in the table") for _ in "ab")
        self.viewer_b.play_button.setEnabled(False)
        self.viewer_b.play_button.setToolTip("B follows A's playback")
        self.caption = {"a": QLabel("A"), "b": QLabel("B")}
        motions = QHBoxLayout()
        for key, v in (("a", self.viewer_a), ("b", self.viewer_b)):
            box = QGroupBox(f"Report {key.upper()}")
            bl = QVBoxLayout(box)
            self.caption[key].setWordWrap(True)
            bl.addWidget(self.caption[key])
            bl.addWidget(v, 1)
            motions.addWidget(box)
        motion_box = QWidget()
        motion_box.setLayout(motions)
        # on a short screen the two players (and a long prompt above them) scroll instead of making the
        # window taller than the screen
        motion_scroll = QScrollArea()
        motion_scroll.setWidgetResizable(True)
        motion_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        motion_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        motion_scroll.setWidget(motion_box)
        tables = QSplitter(Qt.Orientation.Horizontal)
        tables.addWidget(self.suite_view)
        tables.addWidget(self.prompt_view)
        tables.setSizes([420, 760])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(tables)
        split.addWidget(motion_scroll)
        split.setSizes([330, 380])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(split, 1)
        self.compare_button.clicked.connect(lambda: self.compare())
        self.prompt_view.selectionModel().currentRowChanged.connect(lambda cur, _p: self.show_prompt(cur.row()))
        # one clock: B shows A's frame, so both motions play in step
        self.viewer_a.frameChanged.connect(self.viewer_b.set_frame)

    def refresh(self) -> None:
        paths = self.host.report_paths()  # newest first
        current = {k: combo.currentData() for k, combo in self.pick.items()}
        for k, combo in self.pick.items():
            combo.blockSignals(True)
            combo.clear()
            for p in paths:
                combo.addItem(p.parent.name, str(p))
            combo.blockSignals(False)
            i = combo.findData(current[k]) if current[k] else -1
            # A (before) the second newest, B (after) the newest
            combo.setCurrentIndex(i if i >= 0 else min(1 if k == "a" else 0, combo.count() - 1))
        if self.pick["a"].currentData() == self.pick["b"].currentData() and len(paths) > 1:
            # never a report against itself: B (or A where B was kept) takes the newest report unlike the other
            other = "a" if current["b"] and not current["a"] else "b"
            self.pick[other].setCurrentIndex(next(i for i, p in enumerate(paths)
                                                  if str(p) != self.pick["b" if other == "a" else "a"].currentData()))
        if self.prompts.rowCount() == 0:  # no comparison on show: say what the next step is
            both = all(c.currentData() for c in self.pick.values())
            self.summary.setText("A (before) and B (after) are picked: press Compare" if both else
                                 "Pick two reports: A (before) and B (after)")

    def _browse(self, key: str) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, f"Open report {key.upper()}", str(self.host.reports_dir), "Reports (*.json)")
        if path:
            self.pick[key].insertItem(0, Path(path).parent.name, path)
            self.pick[key].setCurrentIndex(0)

    def compare(self, path_a: str | None = None, path_b: str | None = None) -> bool:
        """Load both reports and fill the tables; a malformed report gives an error dialog."""
        paths = {"a": path_a or self.pick["a"].currentData(), "b": path_b or self.pick["b"].currentData()}
        if not all(paths.values()):
            self.failed.emit("Cannot compare", "Pick two reports (run evaluations of two checkpoints first).")
            return False
        try:
            for k, p in paths.items():
                self.reports[k] = load_report(p)
        except StickGenError as exc:
            self.failed.emit("Could not open the report", str(exc))
            return False
        suites, prompts = compare_reports(self.reports["a"], self.reports["b"])
        self.suites.set_table(suites)
        self.prompts.set_table(prompts)
        counts = prompts["change"].value_counts()
        self.summary.setText(
            f"A: {self.reports['a'].get('checkpoint', '?')}<br>B: {self.reports['b'].get('checkpoint', '?')}<br>"
            f"<b>{counts.get('turned unsafe', 0)}</b> prompt(s) turned unsafe, {counts.get('turned safe', 0)} turned safe, "
            f"{counts.get('still unsafe', 0)} still unsafe")
        self.status.emit(f"compared {Path(paths['a']).parent.name} with {Path(paths['b']).parent.name}")
        if len(prompts):
            self.prompt_view.selectRow(0)
        return True

    def show_prompt(self, row: int) -> None:
        if row < 0 or row >= self.prompts.rowCount():
            return
        r = self.prompts.row(row)
        for key, viewer in (("a", self.viewer_a), ("b", self.viewer_b)):
            k = r[f"result_{key}"]
            if pd.isna(k):
                viewer.set_clip(np.zeros((0, 48), np.float32))
                self.caption[key].setText("not in this report")
                continue
            result = self.reports[key]["results"][int(k)]
            try:
                _, sample = load_prompt_motion(self.reports[key], result)
            except StickGenError as exc:
                self.failed.emit("Could not load the prompt's motion", str(exc))
                return
            motion = np.asarray(sample["motion"], dtype=np.float32)
            viewer.set_clip(motion, sample_fps(sample), critic_issues(result["issues"], len(motion)))
            self.caption[key].setText(f"{'safe' if result['is_safe'] else 'UNSAFE'} · score {result['overall_score']:.2f}"
                                      f" · {r['suite']} / {r['id']}")
        self.viewer_a.play()
