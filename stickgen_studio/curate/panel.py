"""The Curate panel: datasets, live thresholds, clip table, clip player, summary, export.

Every number comes from stickgen_core (annotate, apply_thresholds, frame_flags,
export_splits); long work runs in a ``Task`` with progress and Cancel.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QMessageBox, QProgressBar, QPushButton, QScrollArea, QSplitter, QTableView,
                               QVBoxLayout, QWidget)

from stickgen_core.annotate import annotate
from stickgen_core.curation import PRETRAIN_RULES, CurationConfig, apply_thresholds, export_splits
from stickgen_core.demo import build_demo_workspace
from stickgen_core.errors import StickGenError
from stickgen_core.io import load_torch_file, samples_from_object
from stickgen_core.metrics import ClipInput, frame_flags

from ..player import StickFigurePlayer
from ..workers import Task
from ..workspace import Workspace
from .summary_panel import SummaryPanel
from .table_model import PRETRAIN_ONLY, SFT, ClipTableModel
from .thresholds_panel import ThresholdPanel

log = logging.getLogger(__name__)
DEMO_CLIPS = 3000


class CuratePanel(QWidget):
    status = Signal(str)
    updated = Signal()  # counts, table and histograms reflect the current thresholds

    def __init__(self) -> None:
        super().__init__()
        self.workspace: Workspace | None = None
        self.table: pd.DataFrame | None = None
        self.result = None
        self.task: Task | None = None
        self.last_error: str | None = None
        self.last_update_ms = 0.0
        self.last_export: dict | None = None
        self._file_cache: dict[str, list] = {}

        # -- left: datasets and thresholds
        self.banner = QLabel(f"This workspace has no datasets yet. Generate a synthetic demo dataset "
                             f"({DEMO_CLIPS:,} clips, some with injected defects) or add your own .pt files.")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.demo_button = QPushButton("Generate demo dataset")
        self.add_button = QPushButton("Add dataset…")
        self.datasets = QListWidget()
        self.datasets.setMaximumHeight(70)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        data_box = QGroupBox("Datasets")
        dl = QVBoxLayout(data_box)
        dl.addWidget(self.banner)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.demo_button)
        dl.addLayout(row)
        dl.addWidget(self.datasets)
        prow = QHBoxLayout()
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.cancel_button)
        dl.addLayout(prow)
        self.thresholds = ThresholdPanel()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.thresholds)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(data_box)
        ll.addWidget(scroll, 1)

        # -- centre: filters, table, player
        self.search = QLineEdit(placeholderText="Filter by description or clip id…")
        self.source_filter = QComboBox()
        self.action_filter = QComboBox()
        self.split_filter = QComboBox()
        self.split_filter.addItem("All clips", "")
        for label, key in (("In SFT", "sft"), ("In pretrain", "pretrain"), ("Dropped", "dropped")):
            self.split_filter.addItem(label, key)
        for r in PRETRAIN_RULES:
            self.split_filter.addItem(f"Dropped: {r}", r)
        frow = QHBoxLayout()
        frow.addWidget(self.search, 2)
        for w in (self.source_filter, self.action_filter, self.split_filter):
            frow.addWidget(w, 1)
        self.model = ClipTableModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.verticalHeader().setVisible(False)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setWordWrap(False)
        for col, width in enumerate((170, 80, 100, 60, 64, 64, 64, 64, 320)):
            self.view.setColumnWidth(col, width)
        self.player = StickFigurePlayer()
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(frow)
        tl.addWidget(self.view)
        centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(top)
        centre.addWidget(self.player)
        centre.setSizes([380, 360])

        # -- right: summary and actions
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

        split = QSplitter(Qt.Orientation.Horizontal)
        for w in (left, centre, right):
            split.addWidget(w)
        split.setStretchFactor(1, 1)
        split.setSizes([350, 600, 330])
        left.setMinimumWidth(300)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)

        # a dragged slider fires many changes per frame: recompute once per event-loop pass
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
        self._pending.timeout.connect(self.recompute)
        self.thresholds.changed.connect(self._pending.start)
        self.search.textChanged.connect(lambda t: self.model.set_filter("text", t))
        self.source_filter.currentIndexChanged.connect(lambda _: self.model.set_filter("source", self.source_filter.currentData()))
        self.action_filter.currentIndexChanged.connect(lambda _: self.model.set_filter("action", self.action_filter.currentData()))
        self.split_filter.currentIndexChanged.connect(lambda _: self.model.set_filter("status", self.split_filter.currentData()))
        self.view.selectionModel().currentRowChanged.connect(lambda cur, _prev: self.show_clip(cur.row()))
        self.demo_button.clicked.connect(lambda: self.generate_demo())
        self.add_button.clicked.connect(lambda: self.add_datasets())
        self.cancel_button.clicked.connect(self.cancel)
        self.load_button.clicked.connect(lambda: self.load_thresholds())
        self.save_button.clicked.connect(lambda: self.save_thresholds())
        self.export_button.clicked.connect(lambda: self.export())
        self._set_enabled(False)

    # ------------------------------------------------------------------ workspace and data
    def set_workspace(self, ws: Workspace, generate_if_empty: bool = False) -> None:
        self.workspace = ws
        files = ws.dataset_files()
        self.banner.setVisible(not files)
        self.datasets.clear()
        if files:
            self.add_datasets([str(f) for f in files])
        elif generate_if_empty:
            self.generate_demo()

    def generate_demo(self, num_samples: int = DEMO_CLIPS) -> None:
        if self.workspace is None or self._busy():
            return
        ws = self.workspace

        def make(progress=None):
            build_demo_workspace(ws.root, num_samples=num_samples, previews=False, progress=progress)
            return [str(ws.demo_dataset)]

        self._run(Task(make, name="demo"), f"Generating {num_samples:,} demo clips…", self.add_datasets)

    def add_datasets(self, paths: list[str] | None = None) -> None:
        if paths is None:
            start = str(self.workspace.datasets_dir) if self.workspace else ""
            paths, _ = QFileDialog.getOpenFileNames(self, "Add dataset files", start, "Datasets (*.pt *.pth)")
            if not paths:
                return
        if self._busy():
            return
        known = [self.datasets.item(i).text() for i in range(self.datasets.count())]
        files = list(dict.fromkeys(known + [str(p) for p in paths]))
        self._run(Task(annotate, files, name="annotate"), "Annotating clips…",
                  lambda table, files=files: self._on_annotated(table, files))

    def _on_annotated(self, table: pd.DataFrame, files: list[str]) -> None:
        self.banner.setVisible(False)
        self.datasets.clear()
        self.datasets.addItems(files)
        self.table = table
        self._file_cache.clear()
        self.model.set_table(table)
        self.thresholds.set_table(table)
        self.thresholds.set_sources(sorted(map(str, table["source"].unique())))
        for combo, col, label in ((self.source_filter, "source", "All sources"),
                                  (self.action_filter, "dominant_action", "All actions")):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(label, "")
            for v in sorted(map(str, table[col].unique())):
                combo.addItem(v, v)
            combo.blockSignals(False)
        self._set_enabled(True)
        self.recompute()
        self.status.emit(f"{len(table):,} clips from {len(files)} file(s)")

    # ------------------------------------------------------------------ live thresholds
    def recompute(self) -> None:
        if self.table is None:
            return
        t0 = time.perf_counter()
        try:
            cfg = self.thresholds.config()
        except StickGenError as exc:
            self.show_error("Invalid threshold", str(exc))
            return
        r = apply_thresholds(self.table, cfg)
        self.result = r
        codes = np.where(r.sft, SFT, np.where(r.pretrain, PRETRAIN_ONLY, r.pretrain_reason)).astype(np.int8)
        self.model.set_status(codes, r.quality)
        self.thresholds.update_histograms(r.quality, r.pretrain, r.sft)
        self.summary.show_stats(r.stats)
        self.last_update_ms = (time.perf_counter() - t0) * 1000
        self.updated.emit()

    # ------------------------------------------------------------------ clip preview
    def _samples_of(self, file: str) -> list:
        if file not in self._file_cache:
            self._file_cache.clear()  # one file at a time is plenty for previews
            # not memory-mapped: a file truncated while mapped would kill the studio with SIGBUS
            self._file_cache[file] = samples_from_object(load_torch_file(file), file)
        return self._file_cache[file]

    def show_clip(self, view_row: int) -> None:
        if self.table is None or view_row < 0:
            return
        row = self.model.table_row(view_row)
        rec = self.table.iloc[row]
        if not rec.get("valid", True):
            self.status.emit(f"clip {row} is invalid: {rec['problems']}")
            return
        try:
            s = self._samples_of(rec["file"])[int(rec["index"])]
        except (StickGenError, IndexError) as exc:
            self.show_error("Cannot show clip", str(exc))
            return
        motion = s["motion"].numpy()
        # the ground annotation settled on for this clip (0 for our sources, else estimated)
        flags = frame_flags(ClipInput(motion, float(rec["fps"]), ground=float(rec["ground_y"])))
        title = f"{rec['description']}  ·  {rec['source']}  ·  {rec['dominant_action']}"
        self.player.set_clip(motion, float(rec["fps"]), flags, title)
        self.player.play()

    # ------------------------------------------------------------------ thresholds files
    def load_thresholds(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load thresholds from a config", "configs", "YAML (*.yaml *.yml)")
            if not path:
                return
        try:
            self.thresholds.set_config(CurationConfig.from_yaml(path))
        except StickGenError as exc:
            self.show_error("Cannot load thresholds", str(exc))
            return
        self.status.emit(f"thresholds loaded from {path}")

    def save_thresholds(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save thresholds into a config", "configs/small.yaml", "YAML (*.yaml *.yml)")
            if not path:
                return
        try:
            self.thresholds.config().save_to_yaml(path)
        except (StickGenError, OSError) as exc:
            self.show_error("Cannot save thresholds", str(exc))
            return
        self.status.emit(f"thresholds saved to the data_curation section of {path}")

    # ------------------------------------------------------------------ export
    def export(self, output_dir: str | None = None) -> None:
        if self.table is None or self.result is None or self._busy():
            return
        if output_dir is None:
            start = str(self.workspace.curated_dir) if self.workspace else ""
            output_dir = QFileDialog.getExistingDirectory(self, "Export splits to", start)
            if not output_dir:
                return
        cfg = self.thresholds.config()
        task = Task(export_splits, self.table, self.result, output_dir, cfg, name="export")
        self._run(task, "Exporting splits…", self._on_exported)

    def _on_exported(self, paths: dict) -> None:
        self.last_export = paths
        text = "\n".join(f"{k}: {v}" for k, v in paths.items())
        box = QMessageBox(QMessageBox.Icon.Information, "Splits exported", f"Wrote the curated splits:\n{text}",
                          parent=self)
        box.open()
        self.status.emit(f"exported to {Path(paths['pretrain']).parent}")

    # ------------------------------------------------------------------ plumbing
    def _busy(self) -> bool:
        return self.task is not None and self.task.is_running()

    def _run(self, task: Task, message: str, on_done) -> None:
        self.task = task
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat(message)
        self.cancel_button.setVisible(True)
        self.status.emit(message)

        def progress(done: float, total: float) -> None:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / max(total, 1)))

        task.progress.connect(progress)
        task.finished.connect(on_done)
        task.failed.connect(lambda msg: self.show_error("Something went wrong", msg))
        task.cancelled.connect(lambda: self.status.emit("cancelled"))
        task.ended.connect(self._task_ended)
        task.start()

    def _task_ended(self) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def shutdown(self) -> None:
        """Stop playback and wait for background work (window closing)."""
        self.player.pause()
        if self.task is not None and self.task.is_running():
            self.task.cancel()
            self.task.wait()

    def show_error(self, title: str, message: str) -> None:
        self.last_error = message
        log.warning("%s: %s", title, message)
        box = QMessageBox(QMessageBox.Icon.Critical, title, message, parent=self)
        box.setObjectName("error-dialog")
        box.open()  # window-modal, not blocking: the app keeps running
        self.status.emit(f"{title}: {message}")

    def _set_enabled(self, on: bool) -> None:
        for w in (self.thresholds, self.save_button, self.export_button, self.view,
                  self.search, self.source_filter, self.action_filter, self.split_filter):
            w.setEnabled(on)
