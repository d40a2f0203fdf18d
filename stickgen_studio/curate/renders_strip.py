"""A strip under the Curate page's player: the selected clip's parallax renders, one thumbnail per view with
its camera, when ``<workspace>/parallax`` holds renders of it (issue 29). Hidden otherwise. The clip-id
index of the roots is built once per workspace, off the GUI thread (``parallax.lookup``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from stickgen_core.parallax.lookup import camera_text, first_frames, index_clips, workspace_roots

from ..workers import Task

THUMB = 88


class RendersStrip(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setStyleSheet("color: #5f6368;")
        self.row = QHBoxLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 2)
        lay.addWidget(self.title)
        lay.addLayout(self.row)
        self.index: dict[str, Path] | None = None
        self.task: Task | None = None
        self._root: str | None = None   # the workspace the index is of
        self._wanted: str | None = None  # the clip to show once the index is built
        self.hide()

    def show_clip(self, clip_id: str, workspace_root: str | Path | None) -> None:
        """Show ``clip_id``'s renders (building the workspace's index first when needed)."""
        self._wanted = clip_id or None
        root = str(workspace_root) if workspace_root else None
        if root != self._root:
            self._root, self.index = root, None
            if self.task is not None:
                self.task.cancel()
        if self.index is None and root is not None and self.task is None:
            roots = workspace_roots(root)
            if not roots:
                self.index = {}
            else:
                self.task = Task(index_clips, roots, name="parallax index")
                self.task.finished.connect(lambda idx, r=root: self._indexed(idx, r))
                self.task.ended.connect(lambda: setattr(self, "task", None))
                self.task.start()
                return
        self._show()

    def _indexed(self, index: dict, root: str) -> None:
        if root == self._root:
            self.index = index
            self._show()

    def _show(self) -> None:
        while self.row.count():
            item = self.row.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        meta = (self.index or {}).get(self._wanted or "")
        frames = first_frames(meta) if meta is not None else []
        self.setVisible(bool(frames))
        if not frames:
            return
        self.title.setText(f"Parallax renders · {len(frames)} views · {meta.parent.parent.parent.name}/"
                           f"{meta.parent.parent.name}")
        for f in frames:
            label = QLabel()
            label.setPixmap(QPixmap(str(f.path)).scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                        Qt.TransformationMode.SmoothTransformation))
            label.setToolTip(camera_text(f))
            self.row.addWidget(label)
        self.row.addStretch(1)

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task.wait(5_000)
