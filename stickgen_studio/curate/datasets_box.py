"""The Datasets box: files with their clip counts, add / remove / demo, drag and drop, progress."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QGridLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar,
                               QPushButton, QVBoxLayout)

from .. import palette
from .importing import accepts, display_name

ADD_TIP = ("Add datasets (.pt, ours or the reference Stick-Gen's), BVH motion capture (.bvh), HumanML3D or "
           "KIT-ML joints (.npy), AIST++ keypoints (.pkl) or NTU skeletons (.skeleton); they are converted "
           "in the background. You can also drop files or folders here")
FOLDER_TIP = ("Add a folder of BVH or NTU .skeleton files, or a HumanML3D / KIT-ML folder (new_joints/ and "
              "texts/) or an AIST++ folder (keypoints3d/)")


class DatasetsBox(QGroupBox):
    """Lists dataset files; emits what the user asks for, the panel does the work."""

    addRequested = Signal()
    addFolderRequested = Signal()
    demoRequested = Signal()
    removeRequested = Signal(str)
    filesDropped = Signal(list)
    cancelRequested = Signal()

    def __init__(self, demo_clips: int) -> None:
        super().__init__("Datasets")
        self.setAcceptDrops(True)
        self.banner = QLabel(f"This workspace has no datasets yet. Generate a synthetic demo dataset "
                             f"({demo_clips:,} clips, some with injected defects), add your own .pt files, "
                             f"BVH or HumanML3D motion capture, or drop files and folders here.")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip(ADD_TIP)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setToolTip(FOLDER_TIP)
        self.demo_button = QPushButton("Demo")
        self.demo_button.setToolTip(f"Generate a synthetic demo dataset of {demo_clips:,} clips in this workspace")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Take the selected dataset out of this workspace's view (the file is kept)")
        self.list = QListWidget()
        self.list.setMaximumHeight(90)
        self.list.setMinimumHeight(44)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        # the words go on their own wrapping line: inside the bar, beside Cancel, they were cut at 1024 px
        self.progress.setTextVisible(False)
        self.progress.setRange(0, 1000)
        self.progress_text = QLabel()
        self.progress_text.setObjectName("progress-text")
        self.progress_text.setWordWrap(True)
        self.progress_text.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.notice = QLabel()
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        lay = QVBoxLayout(self)
        lay.addWidget(self.banner)
        row = QGridLayout()  # two by two: four buttons in one row do not fit a laptop's left column
        for k, b in enumerate((self.add_button, self.folder_button, self.demo_button, self.remove_button)):
            b.setMinimumWidth(b.sizeHint().width())  # never squeezed below its text
            row.addWidget(b, k // 2, k % 2)
        lay.addLayout(row)
        lay.addWidget(self.list)
        lay.addWidget(self.progress_text)
        prow = QHBoxLayout()
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.cancel_button)
        lay.addLayout(prow)
        lay.addWidget(self.notice)
        self.add_button.clicked.connect(self.addRequested)
        self.folder_button.clicked.connect(self.addFolderRequested)
        self.demo_button.clicked.connect(self.demoRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.remove_button.clicked.connect(self._remove)
        self.list.currentRowChanged.connect(lambda _: self._sync_remove())
        self._sync_remove()

    def files(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).data(Qt.ItemDataRole.UserRole + 1) == "ok"]

    def show_files(self, table: pd.DataFrame | None, files: list[str], problems: list[tuple[str, str]]) -> None:
        """One line per file: its valid and invalid clip counts; unreadable files in red with why."""
        self.list.clear()
        per_file = {}
        if table is not None and len(table):
            g = table.groupby("file", observed=True)["valid"]
            per_file = {f: (int(v.sum()), int((~v.astype(bool)).sum())) for f, v in g}
        for f in files:
            # a sharded packed set is listed as its folder; the table names its shards
            parts = [n for k, n in per_file.items() if k == f or Path(k).parent == Path(f)]
            valid, invalid = sum(n[0] for n in parts), sum(n[1] for n in parts)
            text = f"{display_name(f)} — {valid:,} clips" + (f", {invalid:,} invalid" if invalid else "")
            self._add_item(text, f, "ok", f"{f}\n{valid:,} valid clips, {invalid:,} invalid")
        for f, msg in problems:
            item = self._add_item(f"{Path(f).name} — not loaded", f, "bad", f"{f}\n{msg}")
            item.setForeground(QColor(palette.DROPPED))
        self.banner.setVisible(self.list.count() == 0 and not self.progress.isVisible())  # busy: the task says what comes
        self._sync_remove()

    def _add_item(self, text: str, path: str, state: str, tip: str) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, path)
        item.setData(Qt.ItemDataRole.UserRole + 1, state)
        item.setToolTip(tip)
        self.list.addItem(item)
        return item

    def set_busy(self, busy: bool, why: str = "") -> None:
        """While a task runs, buttons that would start another are disabled and say why."""
        tip = f"Busy: {why} — wait for it to finish or press Cancel" if busy else None
        for b, idle_tip in ((self.add_button, ADD_TIP), (self.folder_button, FOLDER_TIP),
                            (self.demo_button, "Generate a synthetic demo dataset in this workspace")):
            b.setEnabled(not busy)
            b.setToolTip(tip or idle_tip)
        self._sync_remove(busy)
        self.progress.setVisible(busy)
        self.progress_text.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.banner.setVisible(not busy and self.list.count() == 0)  # never "no datasets yet" while making them

    def show_progress(self, text: str, fraction: float) -> None:
        """The running task's words (whole, wrapped) and its share done."""
        self.progress_text.setText(text)
        self.progress.setValue(round(1000 * min(max(fraction, 0.0), 1.0)))

    def _sync_remove(self, busy: bool | None = None) -> None:
        busy = (not self.add_button.isEnabled()) if busy is None else busy
        self.remove_button.setEnabled(not busy and self.list.currentItem() is not None)

    def _remove(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.removeRequested.emit(item.data(Qt.ItemDataRole.UserRole))

    def say(self, text: str, error: bool = False) -> None:
        self.notice.setText(text)
        self.notice.setStyleSheet(f"color: {palette.DROPPED if error else '#1b5e20'};")
        self.notice.setVisible(bool(text))

    # ------------------------------------------------------------------ drag and drop
    @staticmethod
    def _dropped_paths(event) -> list[str]:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        return [u.toLocalFile() for u in urls if u.isLocalFile() and accepts(u.toLocalFile())]

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._dropped_paths(event) and self.add_button.isEnabled():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = self._dropped_paths(event)
        if paths:
            event.acceptProposedAction()
            self.filesDropped.emit(paths)
