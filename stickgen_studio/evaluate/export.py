"""Exports of a report: the selected prompt's GIF, the prompt table as CSV, a Markdown summary."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QWidget

from stickgen_core.eval_reports import save_markdown, save_results_csv
from stickgen_core.issues import IssueSpan, flagged_frames
from stickgen_core.render import save_gif

from ..workers import Task
from .critic_view import sample_fps


def gif_task(motion: np.ndarray, spans: list[IssueSpan], fps: float, title: str, path: str | Path) -> Task:
    """Render a motion to a GIF in the background; flagged frames show a red frame counter."""
    m = np.asarray(motion, dtype=np.float32)
    return Task(save_gif, m, str(path), fps=fps, title=title, flagged=flagged_frames(spans, len(m)), name="gif")


def ask_path(parent: QWidget, title: str, suggested: Path, pattern: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, str(suggested), pattern)
    return path or None


class ExportButtons(QWidget):
    """GIF of the selected prompt, CSV of the table as filtered, Markdown summary of the report."""

    exported = Signal(str)

    def __init__(self, browser) -> None:
        super().__init__()
        self.browser = browser
        self.gif_button = QPushButton("GIF…")
        self.gif_button.setToolTip("The selected prompt's animation as a GIF (flagged frames in red)")
        self.csv_button = QPushButton("CSV…")
        self.csv_button.setToolTip("The prompt table, as filtered, as CSV")
        self.md_button = QPushButton("Summary…")
        self.md_button.setToolTip("A Markdown summary of the report: ratings, suites, unsafe prompts")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for b in (self.gif_button, self.csv_button, self.md_button):
            lay.addWidget(b)
        self.gif_button.clicked.connect(lambda: self.save_gif())
        self.csv_button.clicked.connect(lambda: self.save_csv())
        self.md_button.clicked.connect(lambda: self.save_markdown())

    def _folder(self) -> Path:
        return Path(self.browser.report["_path"]).parent

    def _write(self, title: str, path: str | None, suggested: str, pattern: str, write: Callable[[str], object]) -> None:
        if self.browser.report is None:
            return
        path = path or ask_path(self, title, self._folder() / suggested, pattern)
        if not path:
            return
        try:
            write(path)
        except OSError as exc:
            self.browser.failed.emit(f"Could not save the {title.lower()}", f"{path}: {exc.strerror or exc}")
            return
        self.browser.status.emit(f"saved {path}")
        self.exported.emit(str(path))

    def save_csv(self, path: str | None = None) -> None:
        b = self.browser
        self._write("Prompt table", path, "prompts.csv", "CSV (*.csv)",
                    lambda p: save_results_csv(b.report, p, b.model.table))

    def save_markdown(self, path: str | None = None) -> None:
        self._write("Summary", path, "summary.md", "Markdown (*.md)", lambda p: save_markdown(self.browser.report, p))

    def save_gif(self, path: str | None = None) -> None:
        sel = self.browser.selected
        if sel is None:
            self.browser.failed.emit("No prompt selected", "Select a prompt in the table to export its GIF.")
            return
        r = sel["result"]
        path = path or ask_path(self, "Save the prompt's GIF", self._folder() / f"{r['suite']}-{r['id']}.gif", "GIF (*.gif)")
        if not path:
            return
        task = gif_task(sel["sample"]["motion"], sel["spans"], sample_fps(sel["sample"]), f"{r['id']}: {r['text']}", path)
        task.finished.connect(lambda p: (self.browser.status.emit(f"saved {p}"), self.exported.emit(str(p))))
        self.browser.host.run(task, "Could not save the GIF")
