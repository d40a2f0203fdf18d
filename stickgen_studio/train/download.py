"""The Train page's "Download checkpoint" button: a remote run's checkpoint into its folder here.

The work is ``stickgen_core.jobs.fetch.fetch`` (the pod's agent while it is up, else the network
volume; resumable, verified after the body) in a background task; the button shows the progress
and, while it runs, cancels (the partial file stays and the next download continues it).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QPushButton, QWidget

from stickgen_core.jobs import find_run
from stickgen_core.jobs.fetch import fetch

from ..workers import Task, progress_text

LABEL = "Download checkpoint"
CHOICES = (("Best checkpoint", "best"), ("Latest checkpoint", "latest"), ("Both", "all"))
TIP = ("Bring this run's checkpoint into its folder on this machine (from the pod while it is up, else from "
       "the network volume); Evaluate and SFT can then use it. An interrupted download continues.")


class DownloadButton(QPushButton):
    status = Signal(str)
    downloaded = Signal(object)   # fetch's rows: name, path, sha256, bytes, source

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(LABEL, parent)
        self.task: Task | None = None
        self.workspace: Path | None = None
        self.run_path: str | None = None
        self._what = ""
        self.menu = QMenu(self)
        for label, which in CHOICES:
            self.menu.addAction(label).triggered.connect(lambda _=False, w=which: self.start(w))
        self.clicked.connect(self._clicked)
        self.set_run(None, None)

    def set_run(self, state, workspace: Path | None) -> None:
        """Enable for a selected RunPod run (a local run's checkpoints are in its folder already)."""
        if self.task is not None:  # stays a Cancel button until the download ends
            return
        self.workspace = workspace
        self.run_path = state.path if state is not None else None
        remote = state is not None and state.summary.get("backend") == "runpod"
        why = None if remote else ("select a run" if state is None else
                                   "a local run's checkpoints are in its folder already (Open folder)")
        self.setEnabled(why is None)
        self.setToolTip(why or TIP)

    def _clicked(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.setText("Cancelling…")
            return
        self.menu.popup(self.mapToGlobal(self.rect().bottomLeft()))

    def start(self, which: str) -> Task | None:
        """Fetch ``which`` (best, latest, all) of the selected run in the background."""
        if self.task is not None or self.workspace is None or self.run_path is None:
            return None
        run = find_run(self.workspace, self.run_path)
        self._what = f"Downloading {run.run_id} · {'best and latest' if which == 'all' else which}"
        self.task = Task(fetch, run, which, name="train-download")
        self.task.progress.connect(self._progress)
        self.task.finished.connect(self._finished)
        self.task.failed.connect(lambda msg: self.status.emit(f"download failed: {msg}"))
        self.task.cancelled.connect(lambda: self.status.emit(
            "download cancelled; the part downloaded so far is kept and the next download continues it"))
        self.task.ended.connect(self._ended)
        self.setText("Cancel download")
        self.setToolTip("stop the download (what arrived is kept for the next try)")
        self.task.start()
        self.status.emit(f"{self._what}…")
        return self.task

    def _progress(self, done: float, total: float) -> None:
        task = self.task
        self.setText(f"Cancel download ({100 * done / max(total, 1):.0f} %)")
        self.status.emit(progress_text(self._what, done / 1e6, total / 1e6, task.elapsed() if task else 0.0, "MB"))

    def _finished(self, rows: list[dict]) -> None:
        self.status.emit("; ".join(f"{r['name']} ({r['bytes'] / 1e6:.1f} MB from the {r['source']}, SHA-256 "
                                   f"checked) is in {Path(r['path']).parent}" for r in rows))
        self.downloaded.emit(rows)

    def _ended(self) -> None:
        self.task = None
        self.setText(LABEL)
        self.setToolTip(TIP)

    def shutdown(self) -> None:
        """Cancel a download in flight and wait for its thread (its part stays for the next try)."""
        if self.task is not None:
            self.task.cancel()
            self.task.wait(60_000)
