"""The report browser: the workspace's adversarial reports, suite -> prompt -> animation.

Reports are listed newest first; any ``adversarial_report.json`` opens; an evaluation runs
from a checkpoint in the background. Tiles rate the summary by the spec's table 7.5, a
chart shows the safe ratio per suite, and the prompt table filters by suite, verdict,
issue type and text; selecting a prompt plays its saved motion with its issues.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QScrollArea, QSplitter, QTableView, QToolButton,
                               QVBoxLayout, QWidget)

from stickgen_core.errors import StickGenError
from stickgen_core.eval_reports import filter_results, issue_types, load_report, motion_file, results_table, suite_table
from stickgen_core.io import load_torch_file, samples_from_object
from stickgen_core.issues import critic_issues

from .. import palette
from ..widgets.clip_card import ClipCard
from ..widgets.motion_viewer import MotionViewer
from ..widgets.table_columns import keep_columns_fitted
from .critic_view import physical_card, sample_fps
from .export import ExportButtons
from .frame_model import FrameModel, fmt_bool, fmt_num
from .report_widgets import SuiteChart, SummaryTiles
from .run_eval import RunEvalBox

PROMPT_COLUMNS = [("Suite", "suite", str), ("Id", "id", str), ("Verdict", "is_safe", fmt_bool()),
                  ("Score", "overall_score", fmt_num(".2f")), ("Issues", "issue_types", str),
                  ("Seconds", "seconds", fmt_num("g")), ("Text", "text", str)]
#: below this width the prompt table is a drawer: it closes when a prompt is picked, so the player keeps
#: ~600 px at 1024 px (beside the table it had ~390)
NARROW_PX = 1200


def load_prompt_motion(report: dict[str, Any], result: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """(file, sample) of a report result's saved motion; a StickGenError names what is missing."""
    path = motion_file(report, result)
    samples = samples_from_object(load_torch_file(path), path)
    if not samples:
        raise StickGenError(f"{path}: the saved motion file holds no clip")
    return path, samples[0]


class ReportBrowser(QWidget):
    status = Signal(str)
    failed = Signal(str, str)
    openInCritic = Signal(dict)

    def __init__(self, host) -> None:
        super().__init__()
        self.host = host
        self.report: dict[str, Any] | None = None
        self.table = pd.DataFrame()
        self.selected: dict[str, Any] | None = None  # the shown prompt: result, file, sample, spans
        # -- left: reports and the run box
        self.list = QListWidget()
        self.list.setToolTip("Reports of this workspace (reports/), newest first")
        # a narrow column: long names end in "…" with the whole name in their tooltip, not cut mid-letter
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.open_button = QPushButton("Open report…")
        self.refresh_button = QPushButton("Refresh")
        self.run_box = RunEvalBox(host)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        reports_box = QGroupBox("Reports")
        rl = QVBoxLayout(reports_box)
        rl.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.refresh_button)
        rl.addLayout(row)
        ll.addWidget(reports_box, 1)
        ll.addWidget(self.run_box)
        # -- right: summary, filters, prompts, animation
        self.title = QLabel("No report open")
        self.title.setWordWrap(True)
        self.tiles = SummaryTiles()
        self.chart = SuiteChart()
        self.suite_filter, self.safe_filter, self.issue_filter = QComboBox(), QComboBox(), QComboBox()
        for label, v in (("All verdicts", None), ("Safe only", True), ("Unsafe only", False)):
            self.safe_filter.addItem(label, v)
        self.search = QLineEdit(placeholderText="Search prompt text or id…")
        self.shown = QLabel()
        # two rows, so the filters stay whole beside the player on a 1024-px screen
        frow = QVBoxLayout()
        rows = (QHBoxLayout(), QHBoxLayout())
        for row, w in zip((0, 0, 1, 1), (self.suite_filter, self.safe_filter, self.issue_filter, self.search)):
            if isinstance(w, QComboBox):
                w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
                w.setMinimumContentsLength(13)
            rows[row].addWidget(w, 1)
        for row in rows:
            frow.addLayout(row)
        self.model = FrameModel(PROMPT_COLUMNS, alert_column="is_safe")
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setWordWrap(False)
        keep_columns_fitted(self.view, cap=170)  # narrow here: a long suite name elides (whole in its tooltip)
        self.viewer = MotionViewer(empty_text="Select a prompt in the table to play its motion")
        self.critic_button = QPushButton("Open in critic")
        self.critic_button.setToolTip("Judge this prompt's motion again with other critic settings")
        self.export = ExportButtons(self)
        # the table as a drawer: "◂ Hide" on the table closes it, "☰ Prompts" beside the player (shown only
        # while it is closed, so it takes no room from the export buttons at 1024 px) opens it again
        self.hide_table = QToolButton()
        self.hide_table.setText("◂ Hide")
        self.hide_table.setToolTip("Hide the prompt table so the player takes the width (☰ Prompts brings it back)")
        self.drawer, self.prev_button, self.next_button = QToolButton(), QToolButton(), QToolButton()
        for b, text, tip in ((self.drawer, "☰ Prompts", "Show the prompt table; in a narrow window it hides "
                              "again once you pick a prompt, so the player keeps a usable size"),
                             (self.prev_button, "‹", "Previous prompt"), (self.next_button, "›", "Next prompt")):
            b.setText(text)
            b.setToolTip(tip)
            b.hide()
        self._auto_closed = False   # the drawer closed itself (narrow window): it opens again when wide
        arow = QHBoxLayout()
        for b in (self.drawer, self.prev_button, self.next_button):
            arow.addWidget(b)
        arow.addWidget(self.critic_button)
        arow.addStretch(1)
        arow.addWidget(self.export)
        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(frow)
        srow = QHBoxLayout()
        srow.addWidget(self.shown, 1)
        srow.addWidget(self.hide_table)
        tl.addLayout(srow)
        tl.addWidget(self.view, 1)
        player = QWidget()
        pl = QVBoxLayout(player)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.viewer, 1)
        pl.addLayout(arow)
        table_box.setMinimumWidth(290)
        player.setMinimumWidth(390)
        left.setMinimumWidth(220)
        self.table_box = table_box
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(table_box)
        lower.addWidget(player)
        lower.setSizes([520, 420])
        upper = QSplitter(Qt.Orientation.Vertical)
        summary = QWidget()
        sl = QVBoxLayout(summary)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.title)
        sl.addWidget(self.tiles)
        sl.addWidget(self.chart, 1)
        # on a short screen the tiles and the suite chart scroll: with a prompt's issue lanes in the player
        # below, their minimum heights together made the window 621 px tall on a 587 px screen
        summary_scroll = QScrollArea()
        summary_scroll.setWidgetResizable(True)
        summary_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        summary_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        summary_scroll.setWidget(summary)
        upper.addWidget(summary_scroll)
        upper.addWidget(lower)
        upper.setSizes([260, 480])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(upper)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 1000])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)
        self.list.itemActivated.connect(lambda it: self.open(it.data(Qt.ItemDataRole.UserRole)))
        self.list.itemClicked.connect(lambda it: self.open(it.data(Qt.ItemDataRole.UserRole)))
        self.open_button.clicked.connect(lambda: self.open())
        self.refresh_button.clicked.connect(self.host.refresh)
        self.run_box.finished.connect(self._evaluated)
        for combo in (self.suite_filter, self.safe_filter, self.issue_filter):
            combo.currentIndexChanged.connect(self.apply_filters)
        self.search.textChanged.connect(self.apply_filters)
        self.view.selectionModel().currentRowChanged.connect(lambda cur, _prev: self.show_prompt(cur.row()))
        self.critic_button.clicked.connect(self._to_critic)
        self.run_box.checkpoint.source = self.host.checkpoints   # a run finished meanwhile is listed when it opens
        self.drawer.clicked.connect(lambda: self.show_table(True))
        self.hide_table.clicked.connect(lambda: self.show_table(False))
        self.view.clicked.connect(lambda _i: self._picked())
        self.view.activated.connect(lambda _i: self._picked())
        self.prev_button.clicked.connect(lambda: self.step_prompt(-1))
        self.next_button.clicked.connect(lambda: self.step_prompt(1))
        self.show_report(None)

    # ------------------------------------------------------------------ reports
    def refresh(self) -> None:
        current = self.report.get("_path") if self.report else None
        self.list.clear()
        root = self.host.reports_dir
        for p in self.host.report_paths():
            item = QListWidgetItem(str(p.parent.relative_to(root)) if p.is_relative_to(root) else str(p))
            item.setData(Qt.ItemDataRole.UserRole, str(p))
            item.setToolTip(str(p))
            self.list.addItem(item)
            if current and str(p) == current:
                item.setSelected(True)
        if not self.list.count():
            empty = QListWidgetItem("No reports yet")
            empty.setToolTip("Run an evaluation below: its report appears here")
            self.list.addItem(empty)
        self.run_box.checkpoint.set_paths(self.host.checkpoints())
        self.run_box.refresh_pace(self.host.report_paths())

    def open(self, path: str | None = None) -> bool:
        """Open a report file; a malformed one gives a titled error dialog and changes nothing."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open an adversarial report", str(self.host.reports_dir),
                                                  "Reports (*.json)")
            if not path:
                return False
        try:
            report = load_report(path)
        except StickGenError as exc:
            self.failed.emit("Could not open the report", str(exc))
            return False
        self.show_report(report)
        self.status.emit(f"report {path}: {len(report['results'])} prompts")
        return True

    def _evaluated(self, path: str) -> None:
        self.host.refresh()
        self.host.reportsChanged.emit()
        self.open(path)

    def show_report(self, report: dict[str, Any] | None) -> None:
        self.report = report
        for i in range(self.list.count()):  # the list marks the report shown (a new one is opened by code)
            item = self.list.item(i)
            item.setSelected(report is not None and item.data(Qt.ItemDataRole.UserRole) == report["_path"])
        self.tiles.show_report(report)
        if report is None:
            self.table = pd.DataFrame(columns=[c for _, c, _ in PROMPT_COLUMNS] + ["result"])
            self.chart.set_suites(pd.DataFrame(columns=["suite", "safe_ratio", "expect_degradation", "safe", "prompts"]))
        else:
            self.title.setText(f"<b>{Path(report['_path']).parent.name}</b> · checkpoint "
                               f"{report.get('checkpoint', '?')}")
            self.table = results_table(report)
            self.chart.set_suites(suite_table(report))
        for combo, values, everything in ((self.suite_filter, list(dict.fromkeys(self.table["suite"])), "All suites"),
                                          (self.issue_filter, issue_types(report) if report else [], "All issues")):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(everything, "")
            for v in values:
                combo.addItem(v, v)
            combo.blockSignals(False)
        self.export.setEnabled(report is not None)
        self.apply_filters()
        self.viewer.set_clip(np.zeros((0, 48), np.float32))
        self.selected = None

    # ------------------------------------------------------------------ prompts
    def apply_filters(self) -> None:
        shown = filter_results(self.table, self.suite_filter.currentData() or "", self.safe_filter.currentData(),
                               self.issue_filter.currentData() or "", self.search.text())
        self.model.set_table(shown)
        n, total = len(shown), len(self.table)
        self.shown.setText(f"{n} of {total} prompts shown" if n != total else f"{total} prompts")

    def select_row(self, row: int) -> None:
        self.view.selectRow(row)

    # ------------------------------------------------------------------ the table as a drawer
    def narrow(self) -> bool:
        return self.width() < NARROW_PX

    def table_shown(self) -> bool:
        return not self.table_box.isHidden()

    def show_table(self, shown: bool, auto: bool = False) -> None:
        """Open or close the prompt table; closed, the player has ☰ Prompts and ‹ › beside its buttons."""
        self.table_box.setVisible(shown)
        for b in (self.drawer, self.prev_button, self.next_button):
            b.setVisible(not shown)
        self._auto_closed = auto

    def _picked(self) -> None:
        """A prompt picked in a narrow window: the table gets out of the player's way."""
        if self.narrow() and self.selected is not None and self.table_shown():
            self.show_table(False, auto=True)

    def step_prompt(self, delta: int) -> None:
        """The previous or next prompt of the (filtered, sorted) table, with the drawer open or closed."""
        n = self.model.rowCount()
        if n:
            cur = self.view.currentIndex().row()
            self.select_row(min(max(cur + delta, 0), n - 1) if cur >= 0 else 0)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._auto_closed and not self.narrow():   # wide again: the table comes back
            self.show_table(True)

    def show_prompt(self, row: int) -> None:
        if self.report is None or row < 0 or row >= self.model.rowCount():
            return
        result = self.report["results"][int(self.model.row(row)["result"])]
        try:
            path, sample = load_prompt_motion(self.report, result)
        except StickGenError as exc:
            self.failed.emit("Could not load the prompt's motion", str(exc))
            return
        motion = np.asarray(sample["motion"], dtype=np.float32)
        spans = critic_issues(result["issues"], len(motion))
        card = ClipCard(description=result["text"] or "(empty prompt)", source=result["suite"], action=result["id"],
                        status="safe" if result["is_safe"] else "unsafe",
                        status_colour=palette.SFT if result["is_safe"] else palette.DROPPED,
                        metrics={"score": float(result["overall_score"]), "issues": len(result["issues"]),
                                 "seconds": float(result["seconds"]), **physical_card(result.get("physical") or {})})
        self.viewer.set_clip(motion, sample_fps(sample), spans, card, ground=0.0)  # generated: y = 0, as the critic judges
        self.viewer.play()
        self.selected = {"result": result, "file": str(path), "sample": sample, "spans": spans}

    def _to_critic(self) -> None:
        if self.selected is None:
            self.failed.emit("Nothing to open", "Select a prompt in the table first.")
            return
        self.openInCritic.emit({"file": self.selected["file"], "index": 0})
