"""The Curate panel: datasets, live thresholds, clip table, clip player, summary, export.

Every number comes from stickgen_core (annotate, apply_thresholds, frame_flags,
export_splits); long work runs in a ``Task`` on one queue, so follow-up work waits for the
task before it instead of being dropped.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from stickgen_core.curation import PRETRAIN_RULES, CurationConfig, apply_thresholds, export_splits, prepare_table
from stickgen_core.errors import StickGenError
from stickgen_core.io import load_torch_file, samples_from_object

from .. import palette
from ..widgets.clip_card import ClipCard
from ..workers import Task, TaskQueue, progress_text
from ..workspace import Workspace
from . import importing, panel_layout
from .table_model import COLUMNS, PRETRAIN_ONLY, SFT, status_label

log = logging.getLogger(__name__)
DEMO_CLIPS = 3000
EXPORT_NAMES = ("pretrain_data.pt", "sft_data.pt", "curation_stats.json")


class CuratePanel(QWidget):
    status = Signal(str)
    updated = Signal()  # counts, table and histograms reflect the current thresholds
    openInCritic = Signal(str, int)  # dataset file, clip index (the clip table's context menu)
    exported = Signal(dict)          # split name -> file written, after an export

    def __init__(self, demo_clips: int | None = None) -> None:
        super().__init__()
        self.demo_clips = demo_clips or DEMO_CLIPS
        self.workspace: Workspace | None = None
        self.table: pd.DataFrame | None = None
        self.prepared = None  # the table read once for the sliders (stickgen_core.curation.prepare_table)
        self.files: list[str] = []
        self.result = None
        self.tasks = TaskQueue(self)
        self.last_error: str | None = None
        self.last_dialog: QMessageBox | None = None
        self.last_update_ms = 0.0
        self.last_export: dict | None = None
        self.first_data_s: float | None = None
        self._wanted: list[str] = []  # dataset files the user asked for, in order
        self._annotation_queued = False
        self._file_cache: dict[str, list] = {}
        self._preview_task: Task | None = None
        self._closing = False
        self._data_generation = 0     # bumped whenever the clips on show change (a preview read is then stale)
        self._problems: list[tuple[str, str]] = []
        self._import_problems: list[tuple[str, str]] = []  # files that could not be converted or read
        self._unreported: list[tuple[str, str]] = []  # import problems the next loading's dialog shows

        panel_layout.build(self)
        self.view.customContextMenuRequested.connect(self._clip_menu)
        self._user_split = False
        self.splitter.splitterMoved.connect(lambda *_: setattr(self, "_user_split", True))

        # a dragged slider fires many changes per frame: recompute once per event-loop pass
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
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
        self.data_box.cancelRequested.connect(self.cancel)
        self.load_button.clicked.connect(lambda: self.load_thresholds())
        self.save_button.clicked.connect(lambda: self.save_thresholds())
        self.export_button.clicked.connect(lambda: self.export())
        self.tasks.started.connect(lambda t: self._sync_busy())
        self.tasks.idle.connect(self._sync_busy)
        self._set_enabled(False)

    def resizeEvent(self, event) -> None:  # noqa: N802
        """Share the width so the table keeps the most room, until the user drags a splitter."""
        super().resizeEvent(event)
        if not self._user_split:
            self.splitter.setSizes(panel_layout.column_widths(self.splitter.width()))

    # ------------------------------------------------------------------ workspace and data
    def set_workspace(self, ws: Workspace, generate_if_empty: bool = False) -> None:
        self.workspace = ws
        self._wanted = []
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
        num_samples = num_samples or self.demo_clips
        ws = self.workspace
        path = str(ws.demo_dataset)
        if ws.demo_dataset.exists():
            self.load_datasets([path])
            return

        def make(progress=None, should_stop=None, on_partial=None):
            from stickgen_core.demo import generate_demo_dataset  # torch: imported off the GUI thread

            generate_demo_dataset(ws.root, num_samples=num_samples, progress=progress, should_stop=should_stop,
                                  on_partial=on_partial)
            return [path]

        task = Task(make, name="demo")
        task.partial.connect(lambda data: self._on_partial(data, path))
        self._run(task, "Generating demo clips", "clips", lambda files: self.load_datasets(files, announce=False))

    def _on_partial(self, data: tuple[pd.DataFrame, list], path: str) -> None:
        table, samples = data
        self._data_generation += 1
        self._file_cache = {path: samples}  # the file is written at the end: preview from memory
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
        self._run(importing.import_task([str(p) for p in paths], cache), "Converting", "files",
                  lambda result: self._imported(result, announce))

    def _imported(self, result, announce: bool) -> None:
        files = [str(p) for p in result.samples_files]
        known = {f for f, _ in result.problems}
        self._import_problems = [(f, m) for f, m in self._import_problems if f not in known] + result.problems
        if files:  # reported with the loading's own problems, in one dialog
            self._unreported = list(result.problems)
            self.load_datasets(files, announce)
        else:
            self._report_problems(result.problems)
            self.data_box.show_files(self.table, self.files, self._import_problems + self._problems)

    def load_datasets(self, paths: list[str], announce: bool = True) -> None:
        """Annotate dataset files (ours, or converted ones) together with those already shown."""
        self._wanted = list(dict.fromkeys(self._wanted + [str(p) for p in paths]))
        if self.workspace is not None:
            self.workspace.remember([str(p) for p in paths])
        self._annotate(announce)

    def remove_dataset(self, path: str) -> None:
        if self.workspace is not None:
            self.workspace.forget(path)
        self._problems = [(f, m) for f, m in self._problems if f != path]
        self._import_problems = [(f, m) for f, m in self._import_problems if f != path]
        self._wanted = [f for f in self._wanted if f != path]
        if self._wanted:
            self._annotate(announce=False)
        else:
            self.files, self.table, self.prepared, self.result = [], None, None, None
            self.model.set_table(pd.DataFrame(columns=[c for _, c, _ in COLUMNS if not c.startswith("_")]))
            self.data_box.show_files(None, [], self._import_problems + self._problems)
            self._set_enabled(False)
            self.browser.update_shown()

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
            files[:] = self._wanted

        def work(progress=None, should_stop=None):
            from stickgen_core.annotate import annotate  # torch: imported here, off the GUI thread, not at start-up

            return annotate(files, progress=progress, should_stop=should_stop, errors=problems)

        t0 = time.perf_counter()

        def done(table: pd.DataFrame) -> None:
            readable = [f for f in files if f not in {p for p, _ in problems}]
            self._problems = problems
            self._show_table(table, readable)
            self._report_problems(self._unreported + problems)
            self._unreported = []
            if announce:
                self.data_box.say(f"Loaded {len(table):,} clips from {len(readable)} file(s) "
                                  f"in {time.perf_counter() - t0:.1f} s")

        task = Task(work, name="annotate")
        task.began.connect(begin)
        task.failed.connect(lambda msg: self._on_load_failed(msg, problems))
        self._run(task, "Annotating clips", "%", done, failure_title=None)

    def _on_load_failed(self, message: str, problems: list[tuple[str, str]]) -> None:
        self._problems = problems
        self.data_box.show_files(self.table, self.files, self._import_problems + problems)
        self.show_error("Could not load datasets", message)

    def _report_problems(self, problems: list[tuple[str, str]]) -> None:
        if problems:
            text = "\n".join(f"{Path(f).name}: {m}" for f, m in problems)
            self.show_error("Some datasets were not loaded", f"The other files were loaded.\n\n{text}",
                            icon=QMessageBox.Icon.Warning)

    def _show_table(self, table: pd.DataFrame, files: list[str], keep_cache: bool = False) -> None:
        if self.first_data_s is None:
            self.first_data_s = time.perf_counter()
        self.files = files
        self.table, self.prepared = table, prepare_table(table)
        self.summary.new_data()
        if not keep_cache:
            self._data_generation += 1
            self._file_cache.clear()
        self.data_box.show_files(table, files, self._import_problems + self._problems)
        self.model.set_table(table)
        self.thresholds.set_table(table)
        self.thresholds.set_sources(sorted(map(str, table["source"].unique())))
        self.browser.set_choices(table)
        self._set_enabled(True)
        self.recompute()

    # ------------------------------------------------------------------ live thresholds
    def recompute(self) -> None:
        if self.table is None:
            return
        t0 = time.perf_counter()
        try:
            cfg = self.thresholds.config()
        except StickGenError as exc:  # shown inline next to its control; the last good counts stay
            self.status.emit(str(exc))
            return
        r = apply_thresholds(self.prepared, cfg)
        self.result = r
        codes = np.where(r.sft, SFT, np.where(r.pretrain, PRETRAIN_ONLY, r.pretrain_reason)).astype(np.int8)
        self.model.set_status(codes, r.quality)
        self.thresholds.update_histograms(r.quality, r.pretrain, r.sft)
        self.counts.show_stats(r.stats)
        self.summary.show_stats(r.stats)
        self.browser.update_shown()
        self.last_update_ms = (time.perf_counter() - t0) * 1000
        self.updated.emit()

    # ------------------------------------------------------------------ clip preview
    def _read_for_preview(self, file: str) -> None:
        """Read a dataset file for clip previews in the background (a 10,000-clip file takes seconds);
        the selected clip is shown when it arrives."""
        if self._preview_task is not None:
            return  # one read at a time; when it ends, the clip selected by then is shown

        def read() -> list:
            from stickgen_core.packed import PackedClips, is_packed
            if is_packed(file):  # one clip read on demand from the map: no whole-file read first
                return PackedClips(file)  # type: ignore[return-value]
            # not memory-mapped: a file truncated while mapped would kill the studio with SIGBUS
            return samples_from_object(load_torch_file(file), file)

        read_ok, data_then = [], self._data_generation
        try:
            size = f" ({Path(file).stat().st_size / 1e6:,.0f} MB)"
        except OSError:
            size = ""
        t0, ticker = time.monotonic(), QTimer(self)

        def waiting() -> None:  # in the viewer the user looks at, with a clock: a long read is not a hang
            self.player.show_message(f"Reading {Path(file).name}{size} to show this clip… "
                                     f"{time.monotonic() - t0:.0f} s")

        def arrived(samples: list) -> None:
            if self._data_generation != data_then:
                return  # the data changed while the file was read: this copy may be stale
            self._file_cache = {file: samples}  # one file at a time is plenty for previews
            read_ok.append(True)
            self.status.emit(f"{Path(file).name}: {len(samples):,} clips ready to preview")

        def ended() -> None:
            self._preview_task = None
            ticker.stop()
            ticker.deleteLater()
            if self._closing:
                return
            if not read_ok:
                self.player.show_message(None)
            row = self.view.currentIndex().row()
            # after a failed read only another file's clip is tried (the same one would fail again)
            if read_ok or (self.table is not None and row >= 0
                           and self.table.iloc[self.model.table_row(row)]["file"] != file):
                self.show_clip(row)

        task = Task(read, name="preview")
        task.finished.connect(arrived)
        task.failed.connect(lambda msg: self.show_error("Could not show the clip", msg))
        task.ended.connect(ended)
        self._preview_task = task
        self.status.emit(f"Loading {Path(file).name} to preview its clips…")
        ticker.timeout.connect(waiting)
        ticker.start(1000)
        waiting()
        task.start()

    def show_clip(self, view_row: int) -> None:
        if self.table is None or view_row < 0:
            self.thresholds.mark_clip(None, None)
            return
        row = self.model.table_row(view_row)
        rec = self.table.iloc[row]
        self.thresholds.mark_clip(rec, float(self.result.quality[row]) if self.result is not None else None)
        if not rec.get("valid", True):
            self.status.emit(f"clip {row} is invalid: {rec['problems']}")
            return
        if rec["file"] not in self._file_cache:
            self._read_for_preview(rec["file"])
            return
        try:
            s = self._file_cache[rec["file"]][int(rec["index"])]
        except IndexError:
            self.show_error("Could not show the clip", f"{rec['file']}: clip {int(rec['index'])} is not in the file "
                            "any more (it changed since it was annotated); add it again")
            return
        motion = s["motion"].numpy()
        fps, ground = float(rec["fps"]), float(rec["ground_y"])
        # the ground annotation settled on for this clip (0 for our sources, else estimated)
        from stickgen_core.issues import curation_issues  # loaded by the first annotation already
        from stickgen_core.metrics import ClipInput

        issues = curation_issues(ClipInput(motion, fps, ground=ground))
        code = int(self.model.status_code(view_row))
        reason = "" if code < 0 else PRETRAIN_RULES[code].replace("_", " ")
        metrics = {"quality": float(self.result.quality[row]) if self.result is not None else float("nan"),
                   **{k: float(rec[k]) for k in ("artifact_score", "realism_score", "camera_stability") if k in rec},
                   "frames": int(rec["n_frames"])}
        # a dropped clip reads "✗ dropped — low realism" (its table label is the reason itself)
        card = ClipCard.from_sample(s, status="✗ dropped" if code >= 0 else status_label(code), drop_reason=reason,
                                    source=str(rec["source"]),
                                    action=str(rec["dominant_action"]), metrics=metrics,
                                    status_colour=palette.DROPPED if code >= 0 else
                                    (palette.SFT if code == SFT else palette.PRETRAIN_ONLY))
        self.player.set_clip(motion, fps, issues, card, ground=ground)
        self.player.play()

    def _clip_menu(self, pos) -> None:
        row = self.view.indexAt(pos).row()
        if self.table is not None and row >= 0:
            rec = self.table.iloc[self.model.table_row(row)]
            self.clip_menu = QMenu(self)
            self.clip_menu.addAction("Open in critic", lambda: self.openInCritic.emit(str(rec["file"]), int(rec["index"])))
            self.clip_menu.popup(self.view.viewport().mapToGlobal(pos))

    # ------------------------------------------------------------------ thresholds files
    def load_thresholds(self, path: str | None = None) -> None:
        if path is None:
            start = str(self.workspace.root) if self.workspace else "configs"
            path, _ = QFileDialog.getOpenFileName(self, "Load thresholds from a config", start, "YAML (*.yaml *.yml)")
            if not path:
                return
        try:
            widened = self.thresholds.set_config(CurationConfig.from_yaml(path))
        except StickGenError as exc:
            self.show_error("Could not load thresholds", str(exc))
            return
        note = f" (slider range widened to hold the file's value: {', '.join(widened)})" if widened else ""
        self.status.emit(f"thresholds loaded from {path}{note}")

    def save_thresholds(self, path: str | None = None) -> None:
        if path is None:
            start = str(self.workspace.thresholds_path) if self.workspace else "curation.yaml"
            path, _ = QFileDialog.getSaveFileName(self, "Save thresholds into a config", start, "YAML (*.yaml *.yml)")
            if not path:
                return
        try:
            self.thresholds.config().save_to_yaml(path)
        except (StickGenError, OSError) as exc:
            self.show_error("Could not save thresholds", str(exc))
            return
        self.status.emit(f"thresholds saved to the data_curation section of {path}")

    # ------------------------------------------------------------------ export
    def export(self, output_dir: str | None = None, confirmed: bool = False) -> None:
        if self.table is None or self.result is None:
            return
        if output_dir is None:
            start = str(self.workspace.curated_dir) if self.workspace else ""
            output_dir = QFileDialog.getExistingDirectory(self, "Export splits to", start)
            if not output_dir:
                return
        existing = [n for n in EXPORT_NAMES if (Path(output_dir) / n).exists()]
        if existing and not confirmed:
            box = QMessageBox(QMessageBox.Icon.Question, "Replace the exported splits?",
                              f"{output_dir} already holds {', '.join(existing)}.\nReplace them with this export?",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
            box.setObjectName("confirm-dialog")
            box.accepted.connect(lambda: self.export(output_dir, confirmed=True))
            self.last_dialog = box
            box.open()
            return
        try:
            cfg = self.thresholds.config()
        except StickGenError as exc:
            self.show_error("Could not export splits", str(exc))
            return
        task = Task(export_splits, self.table, self.result, output_dir, cfg, name="export")
        self._run(task, "Exporting splits", "%", self._on_exported, failure_title="Could not export splits")

    def _on_exported(self, paths: dict) -> None:
        self.last_export = paths
        folder = Path(paths["pretrain"]).parent
        text = "\n".join(f"{k}: {Path(v).name}" for k, v in paths.items())
        box = QMessageBox(QMessageBox.Icon.Information, "Splits exported",
                          f"Wrote the curated splits to {folder}:\n{text}", QMessageBox.StandardButton.Ok, self)
        open_button = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
        open_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))
        box.setObjectName("export-dialog")
        self.last_dialog = box
        box.open()
        self.status.emit(f"exported to {folder}")
        self.exported.emit({k: str(v) for k, v in paths.items()})

    # ------------------------------------------------------------------ plumbing
    def _busy(self) -> bool:
        return self.tasks.busy()

    @property
    def task(self) -> Task | None:
        return self.tasks.current

    def _run(self, task: Task, message: str, unit: str, on_done, failure_title: str | None = "Something went wrong") -> None:
        def started() -> None:
            self.data_box.show_progress(message + "…", 0.0)
            self.status.emit(message + "…")

        def progress(done: float, total: float) -> None:
            self.data_box.show_progress(progress_text(message, done, total, task.elapsed(), unit), done / max(total, 1))

        def finished(result) -> None:
            self.status.emit(f"{message}: done in {task.elapsed():.1f} s")
            on_done(result)

        task.began.connect(started)
        task.progress.connect(progress)
        task.finished.connect(finished)
        if failure_title:
            task.failed.connect(lambda msg: self.show_error(failure_title, msg))
        task.cancelled.connect(lambda: self.status.emit(f"{message}: cancelled"))
        self.tasks.submit(task)

    def _sync_busy(self) -> None:
        busy = self.tasks.busy()
        why = self.tasks.current.name if busy else ""
        self.data_box.set_busy(busy, {"demo": "generating the demo dataset", "annotate": "annotating clips", "import": "converting files",
                                      "export": "exporting splits"}.get(why, why))
        tip = "Busy: wait for the current task or press Cancel" if busy else "Write the pretrain and SFT splits"
        self.export_button.setEnabled(not busy and self.table is not None)
        self.export_button.setToolTip(tip)

    def cancel(self) -> None:
        self.tasks.cancel_all()

    def shutdown(self) -> None:
        """Stop playback and wait for background work (window closing)."""
        self.player.pause()
        self._closing = True
        if self.tasks.busy():
            self.tasks.cancel_all()
        if self._preview_task is not None:
            self._preview_task.wait()
        self.tasks.wait()

    def show_error(self, title: str, message: str, icon=QMessageBox.Icon.Critical) -> None:
        self.last_error = message
        log.warning("%s: %s", title, message)
        box = QMessageBox(icon, title, message, QMessageBox.StandardButton.Ok, self)
        box.setWindowTitle(title)
        box.setObjectName("error-dialog")
        self.last_dialog = box
        box.open()  # window-modal, not blocking: the app keeps running
        self.data_box.say(f"{title}: {message.splitlines()[0]}", error=True)
        self.status.emit(f"{title}: {message}")

    def _set_enabled(self, on: bool) -> None:
        for w in (self.thresholds, self.save_button, self.view, self.search, self.source_filter,
                  self.action_filter, self.split_filter, self.columns_button):
            w.setEnabled(on)
        self.export_button.setEnabled(on and not self.tasks.busy())
