"""The Evaluate page: critic viewer, report browser, compare, playground, in tabs.

The page owns what its views share: the workspace, one task queue (evaluation, generation
and exports wait their turn), loaded generators per checkpoint, and error dialogs that
never stop the app.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QTabWidget, QVBoxLayout, QWidget

from stickgen_core.eval_reports import find_checkpoints, list_reports

from ..workers import Task, TaskQueue
from ..workspace import Workspace
from .compare_view import CompareView
from .critic_view import CriticView
from .playground import Playground
from .report_browser import ReportBrowser

log = logging.getLogger(__name__)


class EvaluatePage(QWidget):
    status = Signal(str)
    reportsChanged = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.workspace: Workspace | None = None
        #: the text encoder generators use; None loads the checkpoint's configured model
        self.encoder: Any = None
        self.tasks = TaskQueue(self)
        self.last_dialog: QMessageBox | None = None
        self.last_error: str | None = None
        self._generators: dict[tuple[str, str], Any] = {}
        self._gen_lock = threading.Lock()
        self.critic = CriticView()
        self.reports = ReportBrowser(self)
        self.compare = CompareView(self)
        self.playground = Playground(self)
        self.tabs = QTabWidget()
        for view, name in ((self.critic, "Critic"), (self.reports, "Reports"), (self.compare, "Compare"),
                           (self.playground, "Playground")):
            self.tabs.addTab(view, name)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tabs)
        for view in (self.critic, self.reports, self.compare, self.playground):
            view.status.connect(self.status)
            view.failed.connect(self.show_error)
        self.reports.openInCritic.connect(self.open_in_critic)
        self.playground.openInCritic.connect(self.open_in_critic)
        self.reportsChanged.connect(self.compare.refresh)

    # ------------------------------------------------------------------ workspace
    def set_workspace(self, ws: Workspace) -> None:
        self.workspace = ws
        self.refresh()

    def refresh(self) -> None:
        """Re-read the workspace's reports and checkpoints."""
        self.reports.refresh()
        self.compare.refresh()
        self.playground.refresh()

    def report_paths(self) -> list[Path]:
        return list_reports(self.workspace.reports_dir) if self.workspace else []

    def checkpoints(self) -> list[Path]:
        return find_checkpoints(self.workspace.runs_dir) if self.workspace else []

    @property
    def reports_dir(self) -> Path:
        return self.workspace.reports_dir if self.workspace else Path("reports")

    # ------------------------------------------------------------------ shared work
    def generator(self, checkpoint: str | Path, weights: str = "float32"):
        """The InferenceGenerator of a checkpoint with these weights, loaded once (called from worker threads)."""
        from stickgen_core.inference import InferenceGenerator

        key = (str(Path(checkpoint).resolve()), weights)
        with self._gen_lock:
            if key not in self._generators:
                # the fast path is int8 weights and the compiled frame step together (~3x on a CPU)
                self._generators[key] = InferenceGenerator(key[0], encoder=self.encoder, enable_safety_check=True,
                                                           weights=weights, compile_step=weights == "int8",
                                                           device="cpu" if weights == "int8" else "auto")
            return self._generators[key]

    def fast_step_ready(self, checkpoint: str | Path) -> bool:
        """Whether this checkpoint's fast (int8, compiled) generator has compiled its step already."""
        with self._gen_lock:
            gen = self._generators.get((str(Path(checkpoint).resolve()), "int8"))
        return gen is not None and gen.last_step == "compiled"

    def run(self, task: Task, failure_title: str) -> None:
        task.failed.connect(lambda msg: self.show_error(failure_title, msg))
        self.tasks.submit(task)

    def open_in_critic(self, clip: dict) -> None:
        """Show a motion in the critic tab: ``{"file", "index"}`` or ``{"motion", "physics", "prompt", "fps"}``."""
        self.tabs.setCurrentWidget(self.critic)
        if "file" in clip:
            self.critic.open_file(clip["file"], int(clip.get("index", 0)))
        else:
            self.critic.open_motion(clip["motion"], clip.get("physics"), clip.get("prompt", ""), clip.get("fps", 25.0),
                                    clip.get("source"))

    def show_error(self, title: str, message: str) -> None:
        self.last_error = message
        log.warning("%s: %s", title, message)
        box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, self)
        box.setWindowTitle(title)
        box.setObjectName("error-dialog")
        self.last_dialog = box
        box.open()  # window-modal, not blocking: the app keeps running
        self.status.emit(f"{title}: {message}")

    def shutdown(self) -> None:
        for v in (self.critic.viewer, self.reports.viewer, self.compare.viewer_a, self.playground.viewer):
            v.pause()
        if self.tasks.busy():
            self.tasks.cancel_all()
            self.tasks.wait()
