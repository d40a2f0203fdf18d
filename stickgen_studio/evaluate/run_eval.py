"""Run an adversarial evaluation from a checkpoint in the background: per-prompt progress, Cancel."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QListWidget, QListWidgetItem,
                               QProgressBar, QPushButton, QVBoxLayout)

from stickgen_core.errors import StickGenError
from stickgen_core.evaluation import DEFAULT_SUITES, REPORT_FILE, load_suites, run_adversarial_eval

from ..workers import Task, progress_text


def checkpoint_label(path: Path) -> str:
    """'<run> · best' for a run's model_checkpoint_best.pth, else the file name."""
    if path.parent.name != "checkpoints":
        return path.name
    return f"{path.parent.parent.name} · {path.stem.replace('model_checkpoint_', '')}"


class CheckpointPicker(QComboBox):
    """The workspace runs' checkpoints, newest first, plus any file browsed to."""

    def __init__(self) -> None:
        super().__init__()
        self.setToolTip("A checkpoint of a training run (runs/*/checkpoints/*.pth)")
        self.setMinimumContentsLength(18)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)

    def set_paths(self, paths: list[Path]) -> None:
        current = self.currentData()
        self.clear()
        for p in paths:
            self.addItem(checkpoint_label(p), str(p))
            self.setItemData(self.count() - 1, str(p), Qt.ItemDataRole.ToolTipRole)
        if not paths:
            self.addItem("No checkpoint yet", None)
        if current:
            self.select(current)

    def select(self, path: str) -> None:
        i = self.findData(str(path))
        if i < 0:
            if self.count() == 1 and self.itemData(0) is None:
                self.clear()
            self.insertItem(0, checkpoint_label(Path(path)), str(path))
            i = 0
        self.setCurrentIndex(i)

    def path(self) -> str | None:
        return self.currentData()


class RunEvalBox(QGroupBox):
    """Checkpoint, suites, Run and Cancel; the finished report's path comes out of ``finished``."""

    finished = Signal(str)

    def __init__(self, host) -> None:
        super().__init__("Run an evaluation")
        self.host = host
        self.checkpoint = CheckpointPicker()
        self.browse = QPushButton("Browse…")
        self.suites = QListWidget()
        self.suites.setToolTip("The prompt suites to run (configs/eval/prompt_suites.yaml)")
        self.suites.setMaximumHeight(130)
        self.suites.setTextElideMode(Qt.TextElideMode.ElideMiddle)   # "multi_act…ctions (3)", whole in the tooltip
        self.suites.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        try:
            for name, s in load_suites(DEFAULT_SUITES).items():
                item = QListWidgetItem(f"{name} ({len(s.prompts)})")
                item.setToolTip(f"{name}: {len(s.prompts)} prompts")
                item.setData(Qt.ItemDataRole.UserRole, name)
                item.setCheckState(Qt.CheckState.Checked)
                self.suites.addItem(item)
        except StickGenError as exc:  # a broken suites file must not stop the studio
            self.suites.addItem(f"cannot read the suites: {exc}")
        self.run_button = QPushButton("Run evaluation")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        row = QHBoxLayout()
        row.addWidget(self.checkpoint, 1)
        row.addWidget(self.browse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.suites)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        self.task: Task | None = None
        self.browse.clicked.connect(self._browse)
        self.run_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)

    def _browse(self) -> None:
        start = str(self.host.workspace.root / "runs") if self.host.workspace else ""
        path, _ = QFileDialog.getOpenFileName(self, "Pick a checkpoint", start, "Checkpoints (*.pth *.pt)")
        if path:
            self.checkpoint.select(path)

    def chosen_suites(self) -> list[str]:
        items = [self.suites.item(i) for i in range(self.suites.count())]
        return [it.data(Qt.ItemDataRole.UserRole) for it in items
                if it.data(Qt.ItemDataRole.UserRole) and it.checkState() == Qt.CheckState.Checked]

    def start(self, checkpoint: str | None = None, suites: list[str] | None = None) -> Task | None:
        ck = checkpoint or self.checkpoint.path()
        suites = suites if suites is not None else self.chosen_suites()
        if not ck:
            self.host.show_error("Cannot run the evaluation", "Pick a checkpoint first (runs/*/checkpoints/*.pth).")
            return None
        if not suites:
            self.host.show_error("Cannot run the evaluation", "Tick at least one prompt suite.")
            return None
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run = Path(ck).parent.parent.name if Path(ck).parent.name == "checkpoints" else Path(ck).stem
        out = self.host.reports_dir / f"{run}-{Path(ck).stem.replace('model_checkpoint_', '')}-{stamp}"
        host = self.host

        def work(progress=None, should_stop=None):
            gen = host.generator(ck)
            run_adversarial_eval(ck, suites, out, generator=gen, progress=progress, should_stop=should_stop)
            return str(out / REPORT_FILE)

        task = Task(work, name="evaluate")
        self.task = task
        task.began.connect(lambda: self._busy(True, "Loading the checkpoint…"))
        task.progress.connect(lambda d, t: self._progress(task, d, t))
        task.finished.connect(lambda path: self.finished.emit(path))
        task.cancelled.connect(lambda: self.progress.setFormat("cancelled"))
        task.failed.connect(lambda _m: self.progress.setFormat("failed"))
        task.ended.connect(lambda: self._busy(False))
        self.host.run(task, "Evaluation failed")
        return task

    def _progress(self, task: Task, done: float, total: float) -> None:
        self.progress.setRange(0, int(total))
        self.progress.setValue(int(done))
        self.progress.setFormat(progress_text("Evaluating", done, total, task.elapsed(), "prompts"))

    def _busy(self, on: bool, text: str = "") -> None:
        self.run_button.setEnabled(not on)
        self.run_button.setToolTip("An evaluation is running: wait for it or press Cancel" if on else "")
        self.cancel_button.setEnabled(on)
        if on:
            self.progress.setRange(0, 0)
            self.progress.setFormat(text)
        elif self.progress.maximum() == 0:
            self.progress.setRange(0, 1)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
