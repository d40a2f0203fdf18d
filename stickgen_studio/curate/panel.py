"""The Curate panel: datasets, live thresholds, clip table, clip player, summary, export.

The state (files, metrics table, thresholds, splits, selection, export) is a
``stickgen_core.curation.CurationSession``: the panel forwards what the user does to it and
renders its change events. Long work runs in a ``Task`` on one queue, so follow-up work waits
for the task before it instead of being dropped.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from stickgen_core.curation import CurationConfig
from stickgen_core.curation.session import CurationSession
from stickgen_core.errors import StickGenError
from stickgen_core.workspace import Workspace

from ..workers import Task, TaskQueue
from . import dialogs, importing, page_tasks, panel_layout
from .preview import ClipPreview
from .table_model import COLUMNS

log = logging.getLogger(__name__)
DEMO_CLIPS = 3000


class CuratePanel(QWidget):
    status = Signal(str)
    updated = Signal()  # counts, table and histograms reflect the current thresholds
    openInCritic = Signal(str, int)  # dataset file, clip index (the clip table's context menu)
    exported = Signal(dict)          # split name -> file written, after an export

    def __init__(self, demo_clips: int | None = None) -> None:
        super().__init__()
        self.demo_clips = demo_clips or DEMO_CLIPS
        self.session = CurationSession()
        self.tasks = TaskQueue(self)
        self.preview = ClipPreview(self)
        self.last_error: str | None = None
        self.last_dialog: QMessageBox | None = None
        self.last_update_ms = 0.0   # a threshold change: the session's recompute and this page's redraw
        self.first_data_s: float | None = None
        self._annotation_queued = False
        self._closing = False
        self._unreported: list[tuple[str, str]] = []  # import problems the next loading's dialog shows
        self._sent = None  # the last config the controls handed to the session (its echo needs no redraw)

        panel_layout.build(self)
        # render the session's changes (bound methods: psygnal holds them weakly)
        for signal, slot in ((self.session.table_changed, self._on_table), (self.session.files_changed, self._on_files),
                             (self.session.result_changed, self._on_result),
                             (self.session.config_changed, self._on_config), (self.session.exported, self._on_exported)):
            signal.connect(slot)
        self.view.customContextMenuRequested.connect(self._clip_menu)
        self._user_split = False
        self.splitter.splitterMoved.connect(lambda *_: setattr(self, "_user_split", True))

        # a dragged slider fires many changes per frame: recompute once per event-loop pass
        self._pending = QTimer(self, singleShot=True, interval=0)
        self._pending.timeout.connect(self.recompute)
        self.thresholds.changed.connect(self._pending.start)
        self.thresholds.binClicked.connect(self.browser.filter_bin)
        self.summary.reasonClicked.connect(self.browser.show_reason)
        self.view.selectionModel().currentRowChanged.connect(lambda cur, _prev: self.show_clip(cur.row()))
        self.data_box.demoRequested.connect(lambda: self.generate_demo())
        self.data_box.addRequested.connect(lambda: self.add_datasets())
        self.data_box.addFolderRequested.connect(
            lambda: self.add_datasets(importing.choose_folder(self, self._start_dir())))
        self.data_box.filesDropped.connect(self.add_datasets)
        self.data_box.removeRequested.connect(self.remove_dataset)
        self.data_box.cancelRequested.connect(self.tasks.cancel_all)
        self.load_button.clicked.connect(lambda: self.load_thresholds())
        self.save_button.clicked.connect(lambda: self.save_thresholds())
        self.export_button.clicked.connect(lambda: self.export())
        self.tasks.started.connect(lambda t: self._sync_busy())
        self.tasks.idle.connect(self._sync_busy)
        self._set_enabled(False)

    # ------------------------------------------------------------------ the session's state, rendered
    workspace = property(lambda self: self.session.workspace)
    table = property(lambda self: self.session.table)
    result = property(lambda self: self.session.result)
    files = property(lambda self: self.session.files)
    last_export = property(lambda self: self.session.last_export, lambda self, v: setattr(self.session, "last_export", v))

    def resizeEvent(self, event) -> None:  # noqa: N802
        """Share the width so the table keeps the most room, until the user drags a splitter."""
        super().resizeEvent(event)
        if not self._user_split:
            self.splitter.setSizes(panel_layout.column_widths(self.splitter.width()))

    # ------------------------------------------------------------------ workspace and data
    def set_workspace(self, ws: Workspace, generate_if_empty: bool = False) -> None:
        self.session.set_workspace(ws)
        files = ws.datasets()
        self.data_box.show_files(None, [], [])

        def start() -> None:  # once the event loop runs: the window paints before the worker imports torch
            if self.workspace is not ws or self._closing:
                return
            if files:
                self.load_datasets([str(f) for f in files])
            elif generate_if_empty:
                self.generate_demo()

        QTimer.singleShot(0, self, start)

    def generate_demo(self, num_samples: int | None = None) -> None:
        if self.workspace is None:
            return
        path = str(self.workspace.demo_dataset)
        if self.workspace.demo_dataset.exists():
            self.load_datasets([path])
            return
        task = Task(self.session.generate_demo, num_samples or self.demo_clips, name="demo")
        task.partial.connect(lambda data: self._on_partial(data, path))
        page_tasks.run(self, task, "Generating demo clips", "clips",
                       lambda files: self.load_datasets(files, announce=False))

    def _on_partial(self, data: tuple[pd.DataFrame, list], path: str) -> None:
        table, samples = data
        self.preview.new_data({path: samples})  # the file is written at the end: preview from memory
        self._show_table(table, [path], keep_cache=True)

    def _start_dir(self) -> str:
        return str(self.workspace.datasets_dir) if self.workspace else ""

    def add_datasets(self, paths: list[str] | None = None, announce: bool = True) -> None:
        """Take in what the user picked or dropped (datasets, reference files, BVH files or folders,
        HumanML3D folders): converted and cached in the background, then loaded."""
        if paths is None:
            paths = importing.choose_files(self, self._start_dir())
        if not paths:
            return
        cache = importing.cache_dir(self.workspace.datasets_dir if self.workspace else None)
        page_tasks.run(self, importing.import_task([str(p) for p in paths], cache), "Converting", "files",
                       lambda result: self._imported(result, announce))

    def _imported(self, result, announce: bool) -> None:
        files = [str(p) for p in result.samples_files]
        self.session.note_import_problems(result.problems)
        if files:  # reported with the loading's own problems, in one dialog
            self._unreported = list(result.problems)
            self.load_datasets(files, announce)
        else:
            self._report_problems(result.problems)

    def load_datasets(self, paths: list[str], announce: bool = True) -> None:
        """Annotate dataset files (ours, or converted ones) together with those already shown."""
        self.session.want([str(p) for p in paths])
        self._annotate(announce)

    def remove_dataset(self, path: str) -> None:
        self.session.forget(path)  # with no file left the session empties its table
        if self.session.wanted:
            self._annotate(announce=False)

    def _annotate(self, announce: bool) -> None:
        """(Re-)annotate the wanted files. A request made while another annotation waits in the
        queue joins it: the queued task reads the wanted files when it starts."""
        if self._annotation_queued:
            return
        self._annotation_queued = True
        problems: list[tuple[str, str]] = []
        files: list[str] = []

        def begin() -> None:
            self._annotation_queued = False
            files[:] = self.session.wanted

        def work(progress=None, should_stop=None):  # torch is imported here, off the GUI thread
            return self.session.annotate(files, errors=problems, progress=progress, should_stop=should_stop)

        t0 = time.perf_counter()

        def done(table: pd.DataFrame) -> None:
            readable = [f for f in files if f not in {p for p, _ in problems}]
            self._show_table(table, readable, problems=problems)
            self._report_problems(self._unreported + problems)
            self._unreported = []
            if announce:
                self.data_box.say(f"Loaded {len(table):,} clips from {len(readable)} file(s) "
                                  f"in {time.perf_counter() - t0:.1f} s")

        task = Task(work, name="annotate")
        task.began.connect(begin)
        task.failed.connect(lambda msg: self._on_load_failed(msg, problems))
        page_tasks.run(self, task, "Annotating clips", "%", done, failure_title=None)

    def _on_load_failed(self, message: str, problems: list[tuple[str, str]]) -> None:
        self.session.set_problems(problems)
        self.show_error("Could not load datasets", message)

    def _report_problems(self, problems: list[tuple[str, str]]) -> None:
        if problems:
            text = "\n".join(f"{Path(f).name}: {m}" for f, m in problems)
            self.show_error("Some datasets were not loaded", f"The other files were loaded.\n\n{text}",
                            icon=QMessageBox.Icon.Warning)

    def _show_table(self, table: pd.DataFrame, files: list[str], keep_cache: bool = False,
                    problems: list[tuple[str, str]] | None = None) -> None:
        if self.first_data_s is None:
            self.first_data_s = time.perf_counter()
        if not keep_cache:
            self.preview.new_data()
        self._sync_config()  # the splits the table shows are those of the controls (their last valid values)
        self.session.set_table(table, files, problems)

    def _on_table(self, table: pd.DataFrame | None) -> None:
        if table is None:
            self.model.set_table(pd.DataFrame(columns=[c for _, c, _ in COLUMNS if not c.startswith("_")]))
            self._set_enabled(False)
            self.browser.update_shown()
            return
        self.summary.new_data()
        self.model.set_table(table)
        self.thresholds.set_table(table)
        self.thresholds.set_sources(sorted(map(str, table["source"].unique())))
        self.browser.set_choices(table)
        self._set_enabled(True)

    def _on_files(self) -> None:
        self.data_box.show_files(self.table, self.files, self.session.all_problems())

    # ------------------------------------------------------------------ live thresholds
    def _sync_config(self, strict: bool = False) -> bool:
        """Hand the controls' config to the session (it recomputes when it differs); False when the
        controls hold an invalid value (shown inline next to its control; the last good counts stay),
        or with ``strict`` the ConfigError naming that control."""
        try:
            cfg = self.thresholds.config()
        except StickGenError as exc:
            if strict:
                raise
            self.status.emit(str(exc))
            return False
        if cfg != self.session.config:
            self._sent = cfg
            self.session.set_config(cfg)
        return True

    def recompute(self) -> None:
        t0, shown = time.perf_counter(), self.result
        if self._sync_config() and self.table is not None:  # the session recomputes, then _on_result draws
            self.last_update_ms = (time.perf_counter() - t0) * 1000
            if self.result is shown:  # an edit back to the same config: what is shown is current
                self.updated.emit()

    def _on_config(self, cfg) -> None:
        """A config set on the session from elsewhere (a script): the controls show it."""
        if cfg is self._sent:
            return
        try:
            same = self.thresholds.config() == cfg
        except StickGenError:
            same = False
        if not same:
            self.thresholds.set_config(cfg)

    def _on_result(self, r) -> None:
        if r is None:
            return
        self.model.set_status(self.session.status_codes(), r.quality)
        self.thresholds.update_histograms(r.quality, r.pretrain, r.sft)
        self.counts.show_stats(r.stats)
        self.summary.show_stats(r.stats)
        self.browser.update_shown()
        self.updated.emit()

    # ------------------------------------------------------------------ clip preview
    def show_clip(self, view_row: int) -> None:
        if self.table is None or view_row < 0:
            self.session.select(None)
            self.thresholds.mark_clip(None, None)
            return
        row = self.model.table_row(view_row)
        self.session.select(row)
        rec = self.table.iloc[row]
        quality = float(self.result.quality[row]) if self.result is not None else float("nan")
        self.thresholds.mark_clip(rec, quality if self.result is not None else None)
        if not rec.get("valid", True):
            self.status.emit(f"clip {row} is invalid: {rec['problems']}")
            return
        self.preview.play(rec, int(self.model.status_code(view_row)), quality)

    def _clip_menu(self, pos) -> None:
        row = self.view.indexAt(pos).row()
        if self.table is not None and row >= 0:
            rec = self.table.iloc[self.model.table_row(row)]
            self.clip_menu = QMenu(self)
            self.clip_menu.addAction("Open in critic", lambda: self.openInCritic.emit(str(rec["file"]), int(rec["index"])))
            self.clip_menu.popup(self.view.viewport().mapToGlobal(pos))

    # ------------------------------------------------------------------ thresholds files
    def load_thresholds(self, path: str | None = None) -> None:
        path = path or dialogs.thresholds_file(self, str(self.workspace.root) if self.workspace else "configs", False)
        if not path:
            return
        try:  # the controls show the file; their change reaches the session as a slider's does
            widened = self.thresholds.set_config(CurationConfig.from_yaml(path))
        except StickGenError as exc:
            self.show_error("Could not load thresholds", str(exc))
            return
        note = f" (slider range widened to hold the file's value: {', '.join(widened)})" if widened else ""
        self.status.emit(f"thresholds loaded from {path}{note}")

    def save_thresholds(self, path: str | None = None) -> None:
        start = str(self.workspace.thresholds_path) if self.workspace else "curation.yaml"
        path = path or dialogs.thresholds_file(self, start, True)
        if not path:
            return
        try:
            self._sync_config(strict=True)  # an invalid control is named (and shown inline), not saved
            self.session.save_thresholds(path)
        except (StickGenError, OSError) as exc:
            self.show_error("Could not save thresholds", str(exc))
            return
        self.status.emit(f"thresholds saved to the data_curation section of {path}")

    # ------------------------------------------------------------------ export
    def export(self, output_dir: str | None = None, confirmed: bool = False) -> None:
        if self.table is None or self.result is None:
            return
        start = self.session.export_target or (self.workspace.curated_dir if self.workspace else "")
        output_dir = output_dir or dialogs.export_folder(self, str(start))
        if not output_dir:
            return
        existing = self.session.existing_exports(output_dir)
        if existing and not confirmed:
            self.last_dialog = dialogs.ask_replace(self, output_dir, existing,
                                                   lambda: self.export(output_dir, confirmed=True))
            return
        try:
            self._sync_config(strict=True)
            job = self.session.export_job(output_dir)  # reads the splits now, not when the worker starts
        except StickGenError as exc:
            self.show_error("Could not export splits", str(exc))
            return
        page_tasks.run(self, Task(job, name="export"), "Exporting splits", "%", self.session.exported_to,
                       failure_title="Could not export splits")

    def _on_exported(self, paths: dict) -> None:
        self.last_dialog = dialogs.exported(self, paths)
        self.status.emit(f"exported to {Path(paths['pretrain']).parent}")
        self.exported.emit(dict(paths))

    # ------------------------------------------------------------------ plumbing
    def _sync_busy(self) -> None:
        busy = self.tasks.busy()
        why = self.tasks.current.name if busy else ""
        self.data_box.set_busy(busy, page_tasks.BUSY_WORDS.get(why, why))
        tip = "Busy: wait for the current task or press Cancel" if busy else "Write the pretrain and SFT splits"
        self.export_button.setEnabled(not busy and self.table is not None)
        self.export_button.setToolTip(tip)

    def shutdown(self) -> None:
        """Stop playback and wait for background work (window closing)."""
        self.player.pause()
        self._closing = True
        self.tasks.cancel_all()
        if self.preview.task is not None:
            self.preview.task.wait()
        self.tasks.wait()

    def show_error(self, title: str, message: str, icon=QMessageBox.Icon.Critical) -> None:
        self.last_error = message
        log.warning("%s: %s", title, message)
        self.last_dialog = dialogs.error(self, title, message, icon)
        self.data_box.say(f"{title}: {message.splitlines()[0]}", error=True)
        self.status.emit(f"{title}: {message}")

    def _set_enabled(self, on: bool) -> None:
        for w in (self.thresholds, self.save_button, self.view, self.search, self.source_filter,
                  self.action_filter, self.split_filter, self.columns_button):
            w.setEnabled(on)
        self.export_button.setEnabled(on and not self.tasks.busy())
