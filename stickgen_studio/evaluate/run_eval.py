"""Run an adversarial evaluation from a checkpoint in the background: a quick suite set ticked by default
with its time estimate, phases (loading the checkpoint, then per-prompt counts with an ETA), Cancel, and
a final state that says how it ended."""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QProgressBar, QPushButton, QVBoxLayout)

from stickgen_core.eval_reports import load_report
from stickgen_core.errors import StickGenError
from stickgen_core.evaluation import (DEFAULT_SUITES, REPORT_FILE, Suite, generation_pace, load_suites, quick_suites,
                                      run_adversarial_eval, suite_cost)

from ..workers import Task, progress_text


def duration(seconds: float) -> str:
    """'45 s', '3 min', '1 h 05 min'."""
    if seconds < 1:
        return "under 1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds // 3600:.0f} h {seconds % 3600 / 60:02.0f} min"


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
        self.source: Callable[[], list[Path]] | None = None   # re-read when the list opens: a run just finished

    def showPopup(self) -> None:  # noqa: N802
        if self.source is not None:
            self.set_paths(self.source())
        super().showPopup()

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
        self._suites: dict[str, Suite] = {}
        try:
            self._suites = load_suites(DEFAULT_SUITES)
        except StickGenError as exc:  # a broken suites file must not stop the studio
            self.suites.addItem(f"cannot read the suites: {exc}")
        quick = quick_suites(self._suites)  # all 13 suites take minutes; a quick set still gives every figure
        # the ticked ones first: they are what runs, and in view without scrolling the list
        for name in [*quick, *(n for n in self._suites if n not in quick)]:
            n, motion = suite_cost(self._suites[name])
            item = QListWidgetItem(f"{name} ({n})")
            item.setToolTip(f"{name}: {n} prompts, {motion:.0f} s of motion" + (" (quick set)" if name in quick else ""))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setCheckState(Qt.CheckState.Checked if name in quick else Qt.CheckState.Unchecked)
            self.suites.addItem(item)
        #: wall seconds per second of generated motion: the newest report's, then this box's own runs
        self.pace: float | None = None
        self.estimate = QLabel()
        self.estimate.setObjectName("suite-estimate")
        self.estimate.setWordWrap(True)
        self.suites.itemChanged.connect(lambda _it: self._show_estimate())
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
        lay.addWidget(self.estimate)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        self.task: Task | None = None
        self._phase, self._phase_t0, self._done, self._total = "idle", 0.0, 0, 0
        self._started = 0.0
        self._ticker = QTimer(self)  # the loading phase has no count: its elapsed time says it is alive
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)
        self._show_estimate()
        self.browse.clicked.connect(self._browse)
        self.run_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)

    def _browse(self) -> None:
        start = str(self.host.workspace.runs_dir) if self.host.workspace else ""
        path, _ = QFileDialog.getOpenFileName(self, "Pick a checkpoint", start, "Checkpoints (*.pth *.pt)")
        if path:
            self.checkpoint.select(path)

    def refresh_pace(self, report_paths: list[Path]) -> None:
        """Take the generation pace of the newest report that recorded its timing (older reports did not)."""
        for p in report_paths[:5]:
            try:
                pace = generation_pace(load_report(p))
            except StickGenError:
                continue
            if pace is not None:
                self.pace = pace
                break
        self._show_estimate()

    def _show_estimate(self) -> None:
        chosen = [self._suites[n] for n in self.chosen_suites() if n in self._suites]
        prompts = sum(suite_cost(s)[0] for s in chosen)
        motion = sum(suite_cost(s)[1] for s in chosen)
        text = f"{len(chosen)} of {len(self._suites)} suites · {prompts} prompts · {motion:.0f} s of motion"
        if not chosen:
            text = "No suite ticked"
        elif self.pace is not None:
            est = duration(self.pace * motion)
            text += f" · {'' if est.startswith('under') else '≈ '}{est} at the last evaluation's pace, plus loading"
        else:
            text += " · the time is estimated after the first evaluation"
        self.estimate.setText(text)

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
        task.began.connect(lambda: self._busy(True))
        task.progress.connect(self._progress)
        task.finished.connect(lambda path: self._ended("done", path))
        task.cancelled.connect(lambda: self._ended("cancelled"))
        task.failed.connect(lambda _m: self._ended("failed"))
        task.ended.connect(lambda: self._busy(False))
        self.host.run(task, "Evaluation failed")
        return task

    def _progress(self, done: float, total: float) -> None:
        if self._phase == "loading":  # the first count (0 of n) comes once the model is loaded
            self._phase, self._phase_t0 = "evaluating", time.monotonic()
            self._ticker.stop()
        self._done, self._total = int(done), int(total)
        self.progress.setRange(0, max(self._total, 1))
        self.progress.setValue(self._done)
        text = progress_text("Evaluating", done, total, time.monotonic() - self._phase_t0, "prompts")
        if done == 0 and self.pace is not None:
            motion = sum(suite_cost(self._suites[n])[1] for n in self.chosen_suites() if n in self._suites)
            text += f" · ~{duration(self.pace * motion)} left"
        self.progress.setFormat(text)

    def _tick(self) -> None:
        self.progress.setFormat(f"Loading the checkpoint… {time.monotonic() - self._phase_t0:.0f} s")

    def _ended(self, how: str, path: str | None = None) -> None:
        """The bar's last words match the end: done (with the time taken), cancelled or failed at a count."""
        self._ticker.stop()
        took = time.monotonic() - self._started
        at = f"{self._done} / {self._total} prompts" if self._total else "while loading the checkpoint"
        if how == "done":
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.progress.setFormat(f"Done · {self._total} prompts in {duration(took)}")
            if self._phase == "evaluating" and path:
                self.refresh_pace([Path(path)])
        else:
            self.progress.setFormat(f"{how.capitalize()} at {at}")
        self._phase = how
        if path:
            self.finished.emit(path)

    def _busy(self, on: bool) -> None:
        self.run_button.setEnabled(not on)
        self.run_button.setToolTip("An evaluation is running: wait for it or press Cancel" if on else "")
        self.cancel_button.setEnabled(on)
        if on:  # a determinate bar at 0: an indeterminate one draws no text in most styles
            self._phase, self._phase_t0, self._done, self._total = "loading", time.monotonic(), 0, 0
            self._started = self._phase_t0
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self._tick()
            self._ticker.start()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
