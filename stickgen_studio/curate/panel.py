"""The Curate panel: datasets, live thresholds, clip table, clip player, summary, export.

Every number comes from stickgen_core (annotate, apply_thresholds, frame_flags,
export_splits); long work runs in a ``Task`` on one queue, so follow-up work waits for the
task before it instead of being dropped.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QMenu, QMessageBox,
                               QPushButton, QScrollArea, QSplitter, QTableView, QToolButton, QVBoxLayout, QWidget)

from stickgen_core.annotate import annotate
from stickgen_core.curation import PRETRAIN_RULES, CurationConfig, apply_thresholds, export_splits
from stickgen_core.demo import generate_demo_dataset
from stickgen_core.errors import StickGenError
from stickgen_core.io import load_torch_file, samples_from_object
from stickgen_core.issues import curation_issues
from stickgen_core.metrics import ClipInput

from .. import palette
from ..widgets.clip_card import ClipCard
from ..widgets.motion_viewer import MotionViewer
from ..workers import Task, TaskQueue, progress_text
from ..workspace import Workspace
from .datasets_box import DatasetsBox
from .summary_panel import CountsStrip, SummaryPanel
from .table_model import COLUMNS, HIDDEN_BY_DEFAULT, PRETRAIN_ONLY, SFT, ClipTableModel, status_label
from .thresholds_panel import ThresholdPanel

log = logging.getLogger(__name__)
DEMO_CLIPS = 3000
EXPORT_NAMES = ("pretrain_data.pt", "sft_data.pt", "curation_stats.json")


class CuratePanel(QWidget):
    status = Signal(str)
    updated = Signal()  # counts, table and histograms reflect the current thresholds

    def __init__(self, demo_clips: int | None = None) -> None:
        super().__init__()
        self.demo_clips = demo_clips or DEMO_CLIPS
        self.workspace: Workspace | None = None
        self.table: pd.DataFrame | None = None
        self.files: list[str] = []
        self.result = None
        self.tasks = TaskQueue(self)
        self.last_error: str | None = None
        self.last_dialog: QMessageBox | None = None
        self.last_update_ms = 0.0
        self.last_export: dict | None = None
        self.first_data_s: float | None = None
        self._range_text = ""
        self._wanted: list[str] = []  # dataset files the user asked for, in order
        self._annotation_queued = False
        self._file_cache: dict[str, list] = {}
        self._problems: list[tuple[str, str]] = []

        # -- left: datasets and thresholds
        self.data_box = DatasetsBox(self.demo_clips)
        self.banner = self.data_box.banner
        self.thresholds = ThresholdPanel()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.thresholds)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.data_box)
        ll.addWidget(scroll, 1)

        # -- centre: counts, filters, table, player
        self.counts = CountsStrip()
        self.search = QLineEdit(placeholderText="Search descriptions…")
        self.search.setToolTip("Show clips whose description or clip id contains this text (Ctrl+F)")
        self.source_filter = QComboBox()
        self.action_filter = QComboBox()
        self.split_filter = QComboBox()
        self.split_filter.addItem("All clips", "")
        for label, key in (("In SFT", "sft"), ("In pretrain", "pretrain"), ("Dropped", "dropped")):
            self.split_filter.addItem(label, key)
        for r in PRETRAIN_RULES:
            self.split_filter.addItem(f"Dropped: {r}", r)
        self.search.setMinimumWidth(self.search.fontMetrics().horizontalAdvance("Search descriptions…") + 16)
        for combo, longest in ((self.source_filter, "All sources"), (self.action_filter, "All actions"),
                               (self.split_filter, "All clips")):
            # wide enough for the default label; longer entries show in the open list
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(len(longest) + 1)
        self.columns_button = QToolButton()
        self.columns_button.setText("Columns")
        self.columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.columns_button.setToolTip("Choose which columns the table shows")
        # two rows: on a laptop screen one row would squeeze every filter to a stub
        frow = QVBoxLayout()
        frow.setSpacing(2)
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        row1.addWidget(self.search, 1)
        row1.addWidget(self.columns_button)
        for w in (self.source_filter, self.action_filter, self.split_filter):
            row2.addWidget(w, 1)
        frow.addLayout(row1)
        frow.addLayout(row2)
        self.shown = QLabel()
        self.shown.setObjectName("shown")
        self.clear_filters = QPushButton("Show all")
        self.clear_filters.setToolTip("Clear every filter of the table")
        self.clear_filters.setVisible(False)
        srow = QHBoxLayout()
        srow.addWidget(self.shown, 1)
        srow.addWidget(self.clear_filters)
        self.model = ClipTableModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        self._setup_columns()
        self.view.viewport().installEventFilter(self)
        self.player = MotionViewer()
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(frow)
        tl.addLayout(srow)
        tl.addWidget(self.view)
        vsplit = QSplitter(Qt.Orientation.Vertical)
        vsplit.addWidget(top)
        vsplit.addWidget(self.player)
        vsplit.setSizes([380, 340])
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.counts)
        cl.addWidget(vsplit, 1)

        # -- right: why clips are left out, share charts, actions
        self.summary = SummaryPanel()
        self.load_button = QPushButton("Load thresholds…")
        self.save_button = QPushButton("Save thresholds…")
        self.export_button = QPushButton("Export splits…")
        self.export_button.setDefault(True)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.summary, 1)
        for b in (self.load_button, self.save_button, self.export_button):
            rl.addWidget(b)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for w in (left, centre, right):
            self.splitter.addWidget(w)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setChildrenCollapsible(False)
        left.setMinimumWidth(220)
        centre.setMinimumWidth(360)
        right.setMinimumWidth(180)
        self.splitter.setSizes([320, 640, 280])
        self._user_split = False
        self.splitter.splitterMoved.connect(lambda *_: setattr(self, "_user_split", True))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.splitter)

        # a dragged slider fires many changes per frame: recompute once per event-loop pass
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
        self._pending.timeout.connect(self.recompute)
        # (a member timer, not QTimer.singleShot with a callable, which PySide runs per resize)
        self._fit_later = QTimer(self)
        self._fit_later.setSingleShot(True)
        self._fit_later.setInterval(0)
        self._fit_later.timeout.connect(self._fit_description)
        self.thresholds.changed.connect(self._pending.start)
        self.thresholds.binClicked.connect(self._filter_bin)
        self.summary.reasonClicked.connect(lambda r: self.split_filter.setCurrentIndex(self.split_filter.findData(r)))
        self.search.textChanged.connect(lambda t: self._set_filter("text", t))
        self.source_filter.currentIndexChanged.connect(lambda _: self._set_filter("source", self.source_filter.currentData()))
        self.action_filter.currentIndexChanged.connect(lambda _: self._set_filter("action", self.action_filter.currentData()))
        self.split_filter.currentIndexChanged.connect(lambda _: self._set_filter("status", self.split_filter.currentData()))
        self.clear_filters.clicked.connect(self.show_all)
        self.view.selectionModel().currentRowChanged.connect(lambda cur, _prev: self.show_clip(cur.row()))
        self.data_box.demoRequested.connect(lambda: self.generate_demo())
        self.data_box.addRequested.connect(lambda: self.add_datasets())
        self.data_box.filesDropped.connect(self.add_datasets)
        self.data_box.removeRequested.connect(self.remove_dataset)
        self.data_box.cancelRequested.connect(self.cancel)
        self.load_button.clicked.connect(lambda: self.load_thresholds())
        self.save_button.clicked.connect(lambda: self.save_thresholds())
        self.export_button.clicked.connect(lambda: self.export())
        self.tasks.started.connect(lambda t: self._sync_busy())
        self.tasks.idle.connect(self._sync_busy)
        self._set_enabled(False)
        self._update_shown()

    def resizeEvent(self, event) -> None:  # noqa: N802
        """Share the width so the table keeps the most room, until the user drags a splitter."""
        super().resizeEvent(event)
        if not self._user_split:
            w = self.splitter.width()
            left = int(min(max(0.26 * w, 220), 340))
            right = int(min(max(0.2 * w, 180), 300))
            self.splitter.setSizes([left, max(w - left - right, 360), right])
        self._fit_later.start()  # once the table has its new width

    def _show_column(self, col: int, on: bool) -> None:
        self.view.setColumnHidden(col, not on)
        self._fit_description()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize and obj is self.view.viewport():
            self._fit_description()
        return False

    def _fit_description(self) -> None:
        """The description gets the width the other columns leave; when all do not fit, what the
        key columns (status, action, source, quality) leave, so those stay on screen."""
        desc = self.model.column_of("Description")
        room = self.view.viewport().width() - 2
        widths = {c: self.view.columnWidth(c) for c in range(len(COLUMNS))
                  if c != desc and not self.view.isColumnHidden(c)}
        key = sum(w for c, w in widths.items() if COLUMNS[c][0] in ("Status", "Action", "Source", "Quality"))
        fit_all = room - sum(widths.values())
        self.view.setColumnWidth(desc, max(90, fit_all if fit_all >= 200 else room - key))

    # ------------------------------------------------------------------ table columns
    def _setup_columns(self) -> None:
        header = self.view.horizontalHeader()
        fm = self.view.fontMetrics()
        widest = {"Status": max(fm.horizontalAdvance(status_label(c)) for c in range(-2, len(PRETRAIN_RULES))),
                  "Description": 260, "Source": fm.horizontalAdvance("video_estimate"),
                  "Action": fm.horizontalAdvance("stand_up"), "Clip": 140, "File": 200}
        menu = QMenu(self)
        for col, (name, _, _) in enumerate(COLUMNS):
            width = max(widest.get(name, 0), fm.horizontalAdvance(name) + 18, fm.horizontalAdvance("0.000"))
            self.view.setColumnWidth(col, width + 10)
            act = QAction(name, menu, checkable=True, checked=name not in HIDDEN_BY_DEFAULT)
            act.toggled.connect(lambda on, col=col: self._show_column(col, on))
            self.view.setColumnHidden(col, name in HIDDEN_BY_DEFAULT)
            menu.addAction(act)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(40)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(lambda pos: menu.exec(header.mapToGlobal(pos)))
        self.columns_menu = menu
        self.columns_button.setMenu(menu)

    # ------------------------------------------------------------------ workspace and data
    def set_workspace(self, ws: Workspace, generate_if_empty: bool = False) -> None:
        self.workspace = ws
        self._wanted = []
        files = ws.datasets()
        self.data_box.show_files(None, [], [])
        if files:
            self.add_datasets([str(f) for f in files])
        elif generate_if_empty:
            self.generate_demo()

    def generate_demo(self, num_samples: int | None = None) -> None:
        if self.workspace is None:
            return
        num_samples = num_samples or self.demo_clips
        ws = self.workspace
        path = str(ws.demo_dataset)
        if ws.demo_dataset.exists():
            self.add_datasets([path])
            return

        def make(progress=None, should_stop=None, on_partial=None):
            generate_demo_dataset(ws.root, num_samples=num_samples, progress=progress, should_stop=should_stop,
                                  on_partial=on_partial)
            return [path]

        task = Task(make, name="demo")
        task.partial.connect(lambda data: self._on_partial(data, path))
        self._run(task, "Generating demo clips", "clips", lambda files: self.add_datasets(files, announce=False))

    def _on_partial(self, data: tuple[pd.DataFrame, list], path: str) -> None:
        table, samples = data
        self._file_cache = {path: samples}  # the file is written at the end: preview from memory
        self._show_table(table, [path], keep_cache=True)

    def add_datasets(self, paths: list[str] | None = None, announce: bool = True) -> None:
        if paths is None:
            start = str(self.workspace.datasets_dir) if self.workspace else ""
            paths, _ = QFileDialog.getOpenFileNames(self, "Add dataset files", start, "Datasets (*.pt *.pth)")
            if not paths:
                return
        self._wanted = list(dict.fromkeys(self._wanted + [str(p) for p in paths]))
        if self.workspace is not None:
            self.workspace.remember([str(p) for p in paths])
        self._annotate(announce)

    def remove_dataset(self, path: str) -> None:
        if self.workspace is not None:
            self.workspace.forget(path)
        self._problems = [(f, m) for f, m in self._problems if f != path]
        self._wanted = [f for f in self._wanted if f != path]
        if self._wanted:
            self._annotate(announce=False)
        else:
            self.files, self.table, self.result = [], None, None
            self.model.set_table(pd.DataFrame(columns=[c for _, c, _ in COLUMNS if not c.startswith("_")]))
            self.data_box.show_files(None, [], self._problems)
            self._set_enabled(False)
            self._update_shown()

    def _annotate(self, announce: bool) -> None:
        """(Re-)annotate the wanted files. A request made while another annotation waits in the
        queue joins it: the queued task reads the wanted files when it starts."""
        if self._annotation_queued:
            return
        self._annotation_queued = True
        problems: list[tuple[str, str]] = []
        files: list[str] = []

        def begin() -> None:
            self._annotation_queued = False
            files[:] = self._wanted

        def work(progress=None, should_stop=None):
            return annotate(files, progress=progress, should_stop=should_stop, errors=problems)

        t0 = time.perf_counter()

        def done(table: pd.DataFrame) -> None:
            readable = [f for f in files if f not in {p for p, _ in problems}]
            self._problems = problems
            self._show_table(table, readable)
            self._report_problems(problems)
            if announce:
                self.data_box.say(f"Loaded {len(table):,} clips from {len(readable)} file(s) "
                                  f"in {time.perf_counter() - t0:.1f} s")

        task = Task(work, name="annotate")
        task.began.connect(begin)
        task.failed.connect(lambda msg: self._on_load_failed(msg, problems))
        self._run(task, "Annotating clips", "%", done, failure_title=None)

    def _on_load_failed(self, message: str, problems: list[tuple[str, str]]) -> None:
        self._problems = problems
        self.data_box.show_files(self.table, self.files, problems)
        self.show_error("Could not load datasets", message)

    def _report_problems(self, problems: list[tuple[str, str]]) -> None:
        if problems:
            text = "\n".join(f"{Path(f).name}: {m}" for f, m in problems)
            self.show_error("Some datasets were not loaded", f"The other files were loaded.\n\n{text}",
                            icon=QMessageBox.Icon.Warning)

    def _show_table(self, table: pd.DataFrame, files: list[str], keep_cache: bool = False) -> None:
        if self.first_data_s is None:
            self.first_data_s = time.perf_counter()
        self.files = files
        self.table = table
        if not keep_cache:
            self._file_cache.clear()
        self.data_box.show_files(table, files, self._problems)
        self.model.set_table(table)
        self.thresholds.set_table(table)
        self.thresholds.set_sources(sorted(map(str, table["source"].unique())))
        for combo, col, label in ((self.source_filter, "source", "All sources"),
                                  (self.action_filter, "dominant_action", "All actions")):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(label, "")
            for v in sorted(map(str, table[col].unique())):
                combo.addItem(v, v)
            combo.setCurrentIndex(max(combo.findData(current), 0))
            combo.blockSignals(False)
        self._set_enabled(True)
        self.recompute()

    # ------------------------------------------------------------------ live thresholds
    def recompute(self) -> None:
        if self.table is None:
            return
        t0 = time.perf_counter()
        try:
            cfg = self.thresholds.config()
        except StickGenError as exc:  # shown inline next to its control; the last good counts stay
            self.status.emit(str(exc))
            return
        r = apply_thresholds(self.table, cfg)
        self.result = r
        codes = np.where(r.sft, SFT, np.where(r.pretrain, PRETRAIN_ONLY, r.pretrain_reason)).astype(np.int8)
        self.model.set_status(codes, r.quality)
        self.thresholds.update_histograms(r.quality, r.pretrain, r.sft)
        self.counts.show_stats(r.stats)
        self.summary.show_stats(r.stats)
        self._update_shown()
        self.last_update_ms = (time.perf_counter() - t0) * 1000
        self.updated.emit()

    # ------------------------------------------------------------------ filters
    def _set_filter(self, key: str, value) -> None:
        self.model.set_filter(key, value)
        self._update_shown()

    def _filter_bin(self, column: str, lo: float, hi: float) -> None:
        label = {"_quality": "quality", "n_frames": "frames"}.get(column, column.replace("_", " "))
        lo_t = "" if not np.isfinite(lo) else f"{lo:g} ≤ "
        hi_t = "" if not np.isfinite(hi) else f" < {hi:g}"
        self._range_text = f"{lo_t}{label}{hi_t}"
        self._set_filter("range", (column, lo, hi))

    def show_all(self) -> None:
        self.search.setText("")
        for combo in (self.source_filter, self.action_filter, self.split_filter):
            combo.setCurrentIndex(0)
        self._set_filter("range", None)

    def _update_shown(self) -> None:
        n, total = self.model.rowCount(), self.model.total_rows()
        filtered = n != total
        text = f"{n:,} of {total:,} clips shown" if filtered else f"{total:,} clips"
        if self.model._filters.get("range"):
            text += f" · histogram bin: {self._range_text}"
        self.shown.setText(text)
        self.clear_filters.setVisible(filtered or bool(self.model._filters.get("range")))

    # ------------------------------------------------------------------ clip preview
    def _samples_of(self, file: str) -> list:
        if file not in self._file_cache:
            self._file_cache.clear()  # one memory-mapped file at a time is plenty for previews
            self._file_cache[file] = samples_from_object(load_torch_file(file, mmap=True), file)
        return self._file_cache[file]

    def show_clip(self, view_row: int) -> None:
        if self.table is None or view_row < 0:
            self.thresholds.mark_clip(None, None)
            return
        row = self.model.table_row(view_row)
        rec = self.table.iloc[row]
        self.thresholds.mark_clip(rec, float(self.result.quality[row]) if self.result is not None else None)
        if not rec.get("valid", True):
            self.status.emit(f"clip {row} is invalid: {rec['problems']}")
            return
        try:
            s = self._samples_of(rec["file"])[int(rec["index"])]
        except (StickGenError, IndexError) as exc:
            self.show_error("Could not show the clip", str(exc))
            return
        motion = s["motion"].numpy()
        fps, ground = float(rec["fps"]), float(rec["ground_y"])
        # the ground annotation settled on for this clip (0 for our sources, else estimated)
        issues = curation_issues(ClipInput(motion, fps, ground=ground))
        code = int(self.model.status_code(view_row))
        reason = "" if code < 0 else PRETRAIN_RULES[code].replace("_", " ")
        metrics = {"quality": float(self.result.quality[row]) if self.result is not None else float("nan"),
                   **{k: float(rec[k]) for k in ("artifact_score", "realism_score", "camera_stability") if k in rec},
                   "frames": int(rec["n_frames"])}
        card = ClipCard.from_sample(s, status=status_label(code), drop_reason=reason, source=str(rec["source"]),
                                    action=str(rec["dominant_action"]), metrics=metrics,
                                    status_colour=palette.DROPPED if code >= 0 else
                                    (palette.SFT if code == SFT else palette.PRETRAIN_ONLY))
        self.player.set_clip(motion, fps, issues, card, ground=ground)
        self.player.play()

    # ------------------------------------------------------------------ thresholds files
    def load_thresholds(self, path: str | None = None) -> None:
        if path is None:
            start = str(self.workspace.root) if self.workspace else "configs"
            path, _ = QFileDialog.getOpenFileName(self, "Load thresholds from a config", start, "YAML (*.yaml *.yml)")
            if not path:
                return
        try:
            widened = self.thresholds.set_config(CurationConfig.from_yaml(path))
        except StickGenError as exc:
            self.show_error("Could not load thresholds", str(exc))
            return
        note = f" (slider range widened to hold the file's value: {', '.join(widened)})" if widened else ""
        self.status.emit(f"thresholds loaded from {path}{note}")

    def save_thresholds(self, path: str | None = None) -> None:
        if path is None:
            start = str(self.workspace.thresholds_path) if self.workspace else "curation.yaml"
            path, _ = QFileDialog.getSaveFileName(self, "Save thresholds into a config", start, "YAML (*.yaml *.yml)")
            if not path:
                return
        try:
            self.thresholds.config().save_to_yaml(path)
        except (StickGenError, OSError) as exc:
            self.show_error("Could not save thresholds", str(exc))
            return
        self.status.emit(f"thresholds saved to the data_curation section of {path}")

    # ------------------------------------------------------------------ export
    def export(self, output_dir: str | None = None, confirmed: bool = False) -> None:
        if self.table is None or self.result is None:
            return
        if output_dir is None:
            start = str(self.workspace.curated_dir) if self.workspace else ""
            output_dir = QFileDialog.getExistingDirectory(self, "Export splits to", start)
            if not output_dir:
                return
        existing = [n for n in EXPORT_NAMES if (Path(output_dir) / n).exists()]
        if existing and not confirmed:
            box = QMessageBox(QMessageBox.Icon.Question, "Replace the exported splits?",
                              f"{output_dir} already holds {', '.join(existing)}.\nReplace them with this export?",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
            box.setObjectName("confirm-dialog")
            box.accepted.connect(lambda: self.export(output_dir, confirmed=True))
            self.last_dialog = box
            box.open()
            return
        try:
            cfg = self.thresholds.config()
        except StickGenError as exc:
            self.show_error("Could not export splits", str(exc))
            return
        task = Task(export_splits, self.table, self.result, output_dir, cfg, name="export")
        self._run(task, "Exporting splits", "%", self._on_exported, failure_title="Could not export splits")

    def _on_exported(self, paths: dict) -> None:
        self.last_export = paths
        folder = Path(paths["pretrain"]).parent
        text = "\n".join(f"{k}: {Path(v).name}" for k, v in paths.items())
        box = QMessageBox(QMessageBox.Icon.Information, "Splits exported",
                          f"Wrote the curated splits to {folder}:\n{text}", QMessageBox.StandardButton.Ok, self)
        open_button = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
        open_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))
        box.setObjectName("export-dialog")
        self.last_dialog = box
        box.open()
        self.status.emit(f"exported to {folder}")

    # ------------------------------------------------------------------ plumbing
    def _busy(self) -> bool:
        return self.tasks.busy()

    @property
    def task(self) -> Task | None:
        return self.tasks.current

    def _run(self, task: Task, message: str, unit: str, on_done, failure_title: str | None = "Something went wrong") -> None:
        bar = self.data_box.progress

        def started() -> None:
            bar.setRange(0, 0)
            bar.setFormat(message + "…")
            self.status.emit(message + "…")

        def progress(done: float, total: float) -> None:
            bar.setRange(0, 1000)
            bar.setValue(int(1000 * done / max(total, 1)))
            bar.setFormat(progress_text(message, done, total, task.elapsed(), unit))

        def finished(result) -> None:
            self.status.emit(f"{message}: done in {task.elapsed():.1f} s")
            on_done(result)

        task.began.connect(started)
        task.progress.connect(progress)
        task.finished.connect(finished)
        if failure_title:
            task.failed.connect(lambda msg: self.show_error(failure_title, msg))
        task.cancelled.connect(lambda: self.status.emit(f"{message}: cancelled"))
        self.tasks.submit(task)

    def _sync_busy(self) -> None:
        busy = self.tasks.busy()
        why = self.tasks.current.name if busy else ""
        self.data_box.set_busy(busy, {"demo": "generating the demo dataset", "annotate": "annotating clips",
                                      "export": "exporting splits"}.get(why, why))
        tip = "Busy: wait for the current task or press Cancel" if busy else "Write the pretrain and SFT splits"
        self.export_button.setEnabled(not busy and self.table is not None)
        self.export_button.setToolTip(tip)

    def cancel(self) -> None:
        self.tasks.cancel_all()

    def shutdown(self) -> None:
        """Stop playback and wait for background work (window closing)."""
        self.player.pause()
        if self.tasks.busy():
            self.tasks.cancel_all()
            self.tasks.wait()

    def show_error(self, title: str, message: str, icon=QMessageBox.Icon.Critical) -> None:
        self.last_error = message
        log.warning("%s: %s", title, message)
        box = QMessageBox(icon, title, message, QMessageBox.StandardButton.Ok, self)
        box.setWindowTitle(title)
        box.setObjectName("error-dialog")
        self.last_dialog = box
        box.open()  # window-modal, not blocking: the app keeps running
        self.data_box.say(f"{title}: {message.splitlines()[0]}", error=True)
        self.status.emit(f"{title}: {message}")

    def _set_enabled(self, on: bool) -> None:
        for w in (self.thresholds, self.save_button, self.view, self.search, self.source_filter,
                  self.action_filter, self.split_filter, self.columns_button):
            w.setEnabled(on)
        self.export_button.setEnabled(on and not self.tasks.busy())
