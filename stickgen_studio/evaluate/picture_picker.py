"""The playground's "Start from" row: a PNG (picked, or dropped on the row) whose pictured pose the motion
starts from, with an optional camera; enabled only for checkpoints trained with images (issue 29)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from stickgen_core.parallax.picture import CAMERA_FORMAT, reads_images

THUMB = 40
NO_ENCODER = "This checkpoint was trained without images (data.use_parallax_augmentation): it cannot start from one"


class PicturePicker(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path: str | None = None
        self.pick = QPushButton("Picture…")
        self.pick.setToolTip("A PNG (e.g. a frame of a parallax root, or drop one here): the motion starts from "
                             "the pictured pose")
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setStyleSheet("border: 1px solid #c0c4c8;")
        self.name = QLabel("none: the text alone")
        self.name.setStyleSheet("color: #5f6368;")
        self.camera = QLineEdit()
        self.camera.setPlaceholderText(f"camera {CAMERA_FORMAT} (blank: from the PNG's metadata.json)")
        self.camera.setToolTip("Where the picture was seen from: position, target, vertical field of view in degrees")
        self.clear = QPushButton("×")
        self.clear.setFixedWidth(28)
        self.clear.setToolTip("Start from the text alone")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.pick)
        row.addWidget(self.thumb)
        row.addWidget(self.name, 1)
        row.addWidget(self.camera, 2)
        row.addWidget(self.clear)
        self.setAcceptDrops(True)
        self.pick.clicked.connect(self._browse)
        self.clear.clicked.connect(lambda: self.set_path(None))
        self.camera.textChanged.connect(self.changed)
        self._show()

    def set_checkpoint(self, checkpoint: str | None) -> None:
        """Enabled for a checkpoint with an image encoder; the picture is kept for the next one that has."""
        able = bool(checkpoint) and reads_images(checkpoint)
        for w in (self.pick, self.camera, self.clear, self.name, self.thumb):
            w.setEnabled(able)
        self.setToolTip("" if able else NO_ENCODER)

    def path(self) -> str | None:
        """The picture to start from (None: the text alone, or a checkpoint that cannot read one)."""
        return self._path if self.pick.isEnabled() else None

    def camera_text(self) -> str | None:
        return self.camera.text().strip() or None if self.path() else None

    def set_path(self, path: str | Path | None) -> None:
        self._path = str(path) if path else None
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        pix = QPixmap(self._path) if self._path else QPixmap()
        self.thumb.setPixmap(pix.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation) if not pix.isNull() else QPixmap())
        self.name.setText(Path(self._path).name if self._path else "none: the text alone")
        self.name.setToolTip(self._path or "")
        self.clear.setVisible(self._path is not None)

    def _browse(self) -> None:
        start = str(Path(self._path).parent) if self._path else ""
        path = QFileDialog.getOpenFileName(self, "Start from a picture", start, "PNG images (*.png)")[0]
        if path:
            self.set_path(path)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self.pick.isEnabled() and self._dropped(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        path = self._dropped(event)
        if path is not None and self.pick.isEnabled():
            self.set_path(path)
            event.acceptProposedAction()

    @staticmethod
    def _dropped(event) -> str | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        files = [u.toLocalFile() for u in urls if u.isLocalFile() and u.toLocalFile().lower().endswith(".png")]
        return files[0] if len(files) == 1 else None
