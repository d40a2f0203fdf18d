"""The Train page: launch form on the left; runs list, live plots and log on the right.

Every job call (launch, stop, resume, SFT, delete) runs in a background task; the runs are read
by the poller. Training itself is always a job subprocess that outlives the window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QMenu, QMessageBox, QPushButton,
                               QScrollArea, QSplitter, QTableView, QTabWidget, QVBoxLayout, QWidget)

from stickgen_core.jobs import ACTIVE, TERMINAL, delete_run, find_run, launch, resume_run, sft_spec
from stickgen_core.jobs import RunState as State

from ..workers import Task, TaskQueue
from .download import DownloadButton
from .launch_form import LaunchForm
from ..widgets.empty_message import EmptyMessage
from .live_plots import LivePlots
from .log_view import LogView
from .poller import RunsPoller, RunState
from .runs_overview import RunsOverview
from .system_plots import SystemPlots
from .runs_table import COLUMNS, BadgeDelegate, ProgressDelegate, RunsModel, build_row
from .series import RunSeries

ACTIONS = ("Stop", "Resume", "Start SFT from best", "Open folder", "Show log", "Delete")
TERMINATE = "Terminate pod…"   # in the "⋯ More" menu and the table's right-click menu: the bar is full at 1024 px


class TrainPage(QWidget):
    status = Signal(str)
    polled = Signal()      # after every poll has been shown

    def __init__(self, interval_ms: int = 1000, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.workspace: Path | None = None
        self.poller: RunsPoller | None = None
        self.queue = TaskQueue(self)
        self.series: dict[str, RunSeries] = {}
        self.states: dict[str, RunState] = {}
        self._select_when_listed: str | None = None
        self._dialog: QMessageBox | None = None
        self.polled_once = False

        self.form = LaunchForm()
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(300)
        self.model = RunsModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setItemDelegateForColumn(COLUMNS.index("State"), BadgeDelegate(self.table))
        self.table.setItemDelegateForColumn(COLUMNS.index("Progress"), ProgressDelegate(self.table))
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # every cell keeps its whole text (a narrow window scrolls the table sideways instead of squeezing
        # the progress bar to an unreadable sliver); no column stretches, so on a wide screen a run's
        # duration stays beside the rest of its row instead of a thousand pixels away
        header.setStretchLastSection(False)
        self.buttons = {name: QPushButton(name) for name in ACTIONS}
        self.menu = QMenu(self)   # the "⋯" button's and the table's right-click menu
        self.menu.setToolTipsVisible(True)
        self.menu_actions = {TERMINATE: self.menu.addAction(TERMINATE)}
        self.menu.addSeparator()
        self.menu_actions.update({name: self.menu.addAction(name) for name in ACTIONS})
        self.more = QPushButton("⋯ More")   # in the title row: beside Stop it squeezed the form by 42 px at 1024
        self.more.setToolTip("More actions: terminate a RunPod run's pod")
        self.more.clicked.connect(lambda: self.menu.popup(self.more.mapToGlobal(self.more.rect().bottomLeft())))
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        bar = QHBoxLayout()   # under the title, so the page fits a 1024 px screen
        for b in self.buttons.values():
            bar.addWidget(b)
        bar.addStretch(1)
        runs = QWidget()
        rl = QVBoxLayout(runs)
        rl.setContentsMargins(0, 0, 0, 0)
        title = QHBoxLayout()  # the title row has room to spare; the button bar has none at 1024 px
        title.addWidget(QLabel("<b>Runs</b> (select several to overlay them)"))
        self.download = DownloadButton()  # its own task: a long download never holds up Stop or Launch
        title.addWidget(self.download)
        title.addWidget(self.more)
        title.addStretch(1)
        rl.addLayout(title)
        rl.addLayout(bar)
        rl.addWidget(self.table)
        self.table_message_text = ("No runs yet: set up a job on the left and press Launch. "
                                   "Runs started from the command line show here too.")
        self.table_message = EmptyMessage(self.table, self.table_message_text)
        self.plots = LivePlots()
        self.log_view = LogView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.plots, "Live plots")
        self.tabs.addTab(self.log_view, "Log")
        self.overview = RunsOverview()   # every run's config and final metrics; a double click selects it
        self.tabs.addTab(self.overview, "Runs table")
        self.system = SystemPlots()      # the selected run's CPU, memory and GPU use
        self.tabs.addTab(self.system, "System")
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(runs)
        right.addWidget(self.tabs)
        right.setSizes([220, 520])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 900])
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)

        self.form.launch_requested.connect(self.launch)
        self.download.status.connect(self.status)
        self.download.downloaded.connect(lambda _rows: self.poller and self.poller.poll_now())
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.overview.run_chosen.connect(lambda run_id: self.select_runs([run_id]))
        handlers = (self.stop, self.resume, self.sft_from_best, self.open_folder, self.show_log, self.delete)
        for name, handler in zip(ACTIONS, handlers):
            self.buttons[name].clicked.connect(lambda _=False, h=handler: h())
            self.menu_actions[name].triggered.connect(lambda _=False, h=handler: h())
        self.menu_actions[TERMINATE].triggered.connect(lambda _=False: self.terminate())
        self._update_buttons()

    # ------------------------------------------------------------------ workspace and polling
    def set_workspace(self, root: str | Path) -> None:
        self.shutdown()
        self.workspace = Path(root)
        self.series.clear()
        self.states.clear()
        self.polled_once = False
        self.model.set_rows([])
        self.form.set_workspace(self.workspace)
        self.poller = RunsPoller(self.workspace, self.interval_ms, self)
        self.poller.polled.connect(self._on_poll)
        self.poller.failed.connect(lambda msg: self.status.emit(f"reading the runs failed: {msg}"))
        self.poller.start()

    def showEvent(self, event) -> None:
        """Coming to the page offers splits exported since it was filled (from a terminal, say)."""
        super().showEvent(event)
        self.form.refresh_data()

    def shutdown(self) -> None:
        """Stop polling and wait for background work; the runs themselves keep training."""
        if self.poller is not None:
            self.poller.shutdown()
            self.poller.deleteLater()
            self.poller = None
        self.queue.cancel_all()
        self.queue.wait(120_000)
        self.download.shutdown()
        self.form.shutdown()

    def _on_poll(self, states: list[RunState]) -> None:
        ids = [s.run_id for s in states]
        for gone in set(self.series) - set(ids):
            del self.series[gone]
        for state in states:
            self.series.setdefault(state.run_id, RunSeries(state.run_id)).add(state.step_cols, state.epoch_cols)
            self.states[state.run_id] = state
            self.log_view.update_state(state)
        self.states = {s.run_id: s for s in states}
        selected = self.selected_ids()
        for run_id in ids:   # colours in the registry's order, before a first selection takes the first
            self.plots.colour(run_id)
        self.model.set_rows([build_row(s, self.series.get(s.run_id)) for s in states])
        self.overview.set_rows([s.table for s in states])
        if self.table_message.isHidden() != bool(states):
            self.table_message.say(None if states else self.table_message_text)
        self._restore_selection(selected, ids)
        if self.plots.shown != self.selected_ids():   # a model reset clears the selection without a signal
            self._selection_changed()
        self._show_system()
        self.plots.update_series(self.series)
        self.form.set_checkpoints([(f"{s.run_id} · {which}", str(Path(s.path) / "checkpoints" / f"model_checkpoint_{which}.pth"))
                                   for s in reversed(states) for which, has in (("best", s.has_best), ("latest", s.has_latest)) if has])
        self._update_buttons()
        self.polled_once = True
        self.polled.emit()

    def _restore_selection(self, selected: list[str], ids: list[str]) -> None:
        want = [self._select_when_listed] if self._select_when_listed in ids else [r for r in selected if r in ids]
        if self._select_when_listed in ids:
            self._select_when_listed = None
        if not want and ids:  # first sight: the live run, else the newest
            live = [s for s in self.states.values() if s.status.get("state") in ACTIVE]
            want = [live[-1].run_id if live else ids[-1]]
        if want != self.selected_ids():
            self.select_runs(want)

    def select_runs(self, run_ids: list[str]) -> None:
        sel = self.table.selectionModel()
        sel.clearSelection()
        for run_id in run_ids:
            row = self.model.row_of(run_id)
            if row >= 0:
                sel.select(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select
                           | QItemSelectionModel.SelectionFlag.Rows)
                sel.setCurrentIndex(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate)

    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.rows[r].run_id for r in rows if r < len(self.model.rows)]

    def current(self) -> RunState | None:
        ids = self.selected_ids()
        return self.states.get(ids[-1]) if ids else None

    def _show_system(self) -> None:
        """The System tab follows the current run; the poller reads that run's samples (the next poll if new)."""
        s = self.current()
        if self.poller is not None and s is not None and self.poller.system_runs != {s.run_id}:
            self.poller.system_runs = {s.run_id}
            self.poller.poll_now()
        self.system.show_run(s.run_id if s else None, s.system if s else None)

    def _selection_changed(self, *_: object) -> None:
        self.plots.show_runs(self.selected_ids())
        self._show_system()
        self._follow_log()

    def _follow_log(self) -> None:
        """The Log tab shows the current run's log (it kept the one 'Show log' was last pressed for)."""
        s = self.current()
        if s is not None and self.log_view.run_id != s.run_id:
            self.log_view.show_run(s.run_id)
            self.log_view.update_state(s)
            if self.poller is not None:
                self.poller.log_run = s.run_id
                self.poller.poll_now()
        self.plots.update_series(self.series)
        self._update_buttons()

    def _update_buttons(self) -> None:
        s = self.current()
        state = s.status.get("state") if s else None
        remote = bool(s) and s.summary.get("backend") == "runpod"
        why = {
            "Stop": None if state in ACTIVE else "only a queued or running run can be stopped",
            "Resume": None if state in TERMINAL and (s.has_latest or remote) else
            "resume needs a stopped, failed or completed run with a latest checkpoint",
            "Start SFT from best": None if state in (State.COMPLETED, State.STOPPED) and s.summary.get("stage") == "pretrain"
            and (s.has_best or remote) else "needs a finished or stopped pretraining run with a best checkpoint",
            "Open folder": None if s else "select a run",
            "Show log": None if s else "select a run",
            "Delete": None if state in TERMINAL else "a queued or running run cannot be deleted: stop it first",
            TERMINATE: None if s is not None and s.pod else "only a RunPod run whose pod still exists has one to terminate",
        }
        if state in TERMINAL and s.pod:  # ended, but its pod lingers (a last fetch) and bills until it goes
            why["Stop"] = f"the run has ended; its pod {s.pod.get('pod_id')} still exists: ⋯ More → {TERMINATE}"
        for name, b in self.buttons.items():
            b.setEnabled(s is not None and why[name] is None)
            b.setToolTip(why[name] or "")
        for name, action in self.menu_actions.items():
            action.setEnabled(s is not None and why[name] is None)
            action.setToolTip(why[name] or name)
        self.download.set_run(s, self.workspace)

    # ------------------------------------------------------------------ actions
    def _run_task(self, what: str, fn, *args, on_done=None) -> None:
        task = Task(fn, *args, name=f"train-{what}")
        task.failed.connect(lambda msg: self._error(f"{what.capitalize()} failed", msg))
        task.finished.connect(lambda result: (on_done(result) if on_done else None,
                                              self.poller and self.poller.poll_now()))
        self.queue.submit(task)

    def _error(self, title: str, message: str) -> None:
        if title.startswith("Launch"):
            self.form.problem.setText(message)
            self.form.problem.show()
        self._show(QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self))

    def _show(self, box: QMessageBox) -> QMessageBox:
        self._dialog = box
        box.open()
        return box

    def launch(self, spec) -> None:
        def done(run) -> None:
            self._select_when_listed = run.run_id
            self.status.emit(f"launched {run.run_id} ({spec.backend})")
        self._run_task("launch", launch, spec, self.workspace, on_done=done)

    def stop(self) -> None:
        s = self.current()
        if s is not None:
            self._run_task("stop", lambda: find_run(self.workspace, s.path).stop(wait=False))
            self.status.emit(f"stopping {s.run_id}: it saves its latest checkpoint first")

    def _context_menu(self, pos) -> None:
        """Right-click on a row selects it (unless it is part of the selection) and opens the actions menu."""
        index = self.table.indexAt(pos)
        if index.isValid() and index.row() < len(self.model.rows):
            run_id = self.model.rows[index.row()].run_id
            if run_id not in self.selected_ids():
                self.select_runs([run_id])
        self.menu.popup(self.table.viewport().mapToGlobal(pos))

    def terminate(self) -> None:
        """Remove a RunPod run's pod after one confirmation naming the pod and what it costs."""
        s = self.current()
        if s is None or not s.pod:
            return
        pod_id, price = s.pod.get("pod_id"), s.pod.get("cost_per_hr")
        cost = f" (${float(price):.2f}/h)" if isinstance(price, (int, float)) else ""
        active = s.status.get("state") in ACTIVE
        text = (f"Terminate pod <b>{pod_id}</b>{cost} of run <b>{s.run_id}</b>? RunPod removes the pod and its "
                "container disk; the network volume with the run's checkpoints stays."
                + (f"<br><br>The run is still {s.status.get('state')}: training since its last checkpoint on "
                   "the volume is lost." if active else ""))
        box = QMessageBox(QMessageBox.Icon.Warning, "Terminate pod", text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.accepted.connect(lambda: self._run_task(
            "terminate", _terminate_pod, self.workspace, s.path,
            on_done=lambda _r: self.status.emit(f"terminated pod {pod_id} of {s.run_id}")))
        self._show(box)

    def resume(self) -> None:
        s = self.current()
        if s is not None:
            self._run_task("resume", lambda: resume_run(find_run(self.workspace, s.path)))

    def sft_from_best(self) -> None:
        """Fill the form with the SFT run's spec, then launch it after one confirmation."""
        s = self.current()
        if s is None:
            return
        try:
            spec = sft_spec(find_run(self.workspace, s.path))
        except Exception as exc:  # noqa: BLE001 - the core's message, shown as is
            self._error("SFT from best checkpoint", str(exc))
            return
        self.form.set_spec(spec)
        if self.form.check() is None:
            self._error("SFT from best checkpoint", self.form.problem.text())
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Start SFT from best checkpoint",
                          f"Launch <b>{spec.run_name}</b>: stage sft, config {spec.config}, data {spec.data}, "
                          f"init_from {spec.init_from}?", QMessageBox.StandardButton.Yes
                          | QMessageBox.StandardButton.Cancel, self)
        box.accepted.connect(lambda: self.form.request_launch())
        self._show(box)

    def open_folder(self) -> None:
        s = self.current()
        if s is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(s.path))

    def show_log(self) -> None:
        s = self.current()
        if s is None:
            return
        self.log_view.show_run(s.run_id)
        self.log_view.update_state(s)
        self.tabs.setCurrentWidget(self.log_view)
        if self.poller is not None:
            self.poller.log_run = s.run_id
            self.poller.poll_now()

    def delete(self) -> None:
        s = self.current()
        if s is None:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete run",
                          f"Delete the run folder {s.path} with its checkpoints and metrics? This cannot be undone.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.accepted.connect(lambda: self._run_task("delete", lambda: delete_run(find_run(self.workspace, s.path))))
        self._show(box)


def _terminate_pod(workspace: Path, path: str) -> None:
    """The core's terminate (``stickgen jobs terminate RUN``), run in a background task."""
    run = find_run(workspace, path)
    run.backend.terminate(run)
