"""The Curate page's long work on its one task queue, with progress in the Datasets box and the status bar."""

from __future__ import annotations

from typing import Any, Callable

from ..workers import Task, progress_text

BUSY_WORDS = {"demo": "generating the demo dataset", "annotate": "annotating clips", "import": "converting files",
              "export": "exporting splits"}


def run(page, task: Task, message: str, unit: str, on_done: Callable[[Any], None],
        failure_title: str | None = "Something went wrong") -> None:
    """Queue ``task`` on ``page.tasks``: "message…" when it starts, a progress bar counting ``unit``, "done in
    N s" then ``on_done(result)``; a failure opens an error dialog titled ``failure_title`` (None: the caller
    handles ``task.failed`` itself)."""
    def started() -> None:
        page.data_box.show_progress(message + "…", 0.0)
        page.status.emit(message + "…")

    def progress(done: float, total: float) -> None:
        page.data_box.show_progress(progress_text(message, done, total, task.elapsed(), unit), done / max(total, 1))

    def finished(result: Any) -> None:
        page.status.emit(f"{message}: done in {task.elapsed():.1f} s")
        on_done(result)

    task.began.connect(started)
    task.progress.connect(progress)
    task.finished.connect(finished)
    if failure_title:
        task.failed.connect(lambda msg: page.show_error(failure_title, msg))
    task.cancelled.connect(lambda: page.status.emit(f"{message}: cancelled"))
    page.tasks.submit(task)
