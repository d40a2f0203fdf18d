"""Polls the workspace's runs off the GUI thread: states, new metrics lines, the shown run's log.

A QTimer starts one background read per tick (never two at once); each read returns only the
metrics lines added since the previous one (``Run.read_metrics`` offsets), already parsed into
column arrays, so the GUI thread just appends and redraws.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from stickgen_core.errors import ConfigError
from stickgen_core.io import read_yaml
from stickgen_core.jobs import Run, list_runs
from stickgen_core.jobs import RunState as State
from stickgen_core.run_table import MetricTotals, table_row
from stickgen_core.system_metrics import SYSTEM_FILE, read_system

from ..workers import Task
from .series import Columns, parse_rows


@dataclass
class RunState:
    """What one poll learnt about a run."""

    run_id: str
    path: str
    summary: dict[str, Any]
    status: dict[str, Any]
    step_cols: Columns = field(default_factory=dict)
    epoch_cols: Columns = field(default_factory=dict)
    total_epochs: int | None = None
    started_at: float | None = None
    has_best: bool = False
    has_latest: bool = False
    log: list[str] | None = None
    pod: dict[str, Any] | None = None   # a RunPod run's pod while it exists: pod_id, status, cost_per_hr
    table: dict[str, Any] = field(default_factory=dict)   # the runs table's row (stickgen_core.run_table)
    system: list[dict[str, Any]] | None = None   # system.jsonl's rows, read for the runs in ``system_runs`` only

    def __post_init__(self) -> None:
        self.table.setdefault("run_id", self.run_id)  # the runs table keys its rows by it


def _iso_seconds(text: str | None) -> float | None:
    try:
        return _dt.datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def _epochs(run: Run) -> int | None:
    """The run's epoch total: its job config, else (``stickgen train --run-dir``) the trainer's resolved one."""
    try:
        cfg = read_yaml(run.root / "config.yaml") if (run.root / "config.yaml").is_file() else {}
    except ConfigError:
        cfg = {}
    for source in (cfg, run.info().get("config")):
        training = source.get("training") if isinstance(source, dict) else None
        if isinstance(training, dict) and isinstance(training.get("epochs"), int):
            return training["epochs"]
    return None


def _pod(run: Run) -> dict[str, Any] | None:
    """The run's pod while it exists (the API asked at most every ``poll_s``, as ``jobs list`` does), its
    price falling back to the launch's quote; a failure to ask keeps the last known pod."""
    try:
        pod = run.backend.pod_billing(run)
    except Exception:  # noqa: BLE001 - one run's API trouble never stops the list
        state = run.job_state()
        pod = None if state.get("terminated") or not state.get("pod_id") else {"pod_id": state["pod_id"]}
    if pod and pod.get("cost_per_hr") is None:
        pod = {**pod, "cost_per_hr": run.job_state().get("price_per_hour")}
    return pod


class RunsPoller(QObject):
    polled = Signal(object)   # list[RunState]
    failed = Signal(str)

    def __init__(self, workspace: str | Path, interval_ms: int = 1000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workspace = Path(workspace)
        self.log_run: str | None = None     # whose train.log to read (the log view's run)
        self.log_lines = 400
        self._runs: dict[str, tuple[Run, int, int | None]] = {}   # run_id -> (Run, metrics offset, epochs)
        self._totals: dict[str, MetricTotals] = {}   # run_id -> final metrics folded over the rows read so far
        self.system_runs: set[str] = set()       # whose system metrics to read (the selected run)
        self._system: dict[str, tuple[tuple[int, int] | None, list]] = {}   # run_id -> (file size and time, rows)
        self._task: Task | None = None
        self._again = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll_now)

    def start(self) -> None:
        self.poll_now()
        self.timer.start()

    def poll_now(self) -> None:
        """Read now (or right after the read in progress, so a just-made change is never missed)."""
        if self._task is not None:
            self._again = True
            return
        self._again = False
        self._task = Task(self._poll, name="train-poll")
        self._task.finished.connect(self.polled)
        self._task.failed.connect(self.failed)
        self._task.ended.connect(self._ended)
        self._task.start()

    def _ended(self) -> None:
        self._task = None
        if self._again and self.timer.isActive():
            self.poll_now()

    def shutdown(self) -> None:
        self.timer.stop()
        self._again = False
        if self._task is not None:
            self._task.wait(60_000)

    # ------------------------------------------------------------------ worker thread
    def _poll(self) -> list[RunState]:
        out = []
        seen = set()
        for fresh in list_runs(self.workspace):
            seen.add(fresh.run_id)
            summary = fresh.summary()
            if summary["state"] == State.DAMAGED:  # one row saying why; nothing else of the folder is read
                self._runs.pop(fresh.run_id, None)
                self._totals.pop(fresh.run_id, None)
                out.append(RunState(fresh.run_id, str(fresh.root), summary,
                                    {"state": State.DAMAGED, "error": summary["error"]},
                                    table=table_row(fresh, summary, MetricTotals())))
                continue
            run, offset, epochs = self._runs.get(fresh.run_id, (fresh, 0, None))
            if epochs is None:
                epochs = _epochs(run)
            rows, offset = run.read_metrics(offset)
            self._runs[run.run_id] = (run, offset, epochs)
            steps, ends = parse_rows(rows)
            totals = self._totals.setdefault(run.run_id, MetricTotals())
            totals.add(rows)
            status = run.raw_status()
            out.append(RunState(run.run_id, str(run.root), summary, status, steps, ends, epochs,
                                run.job_state().get("started_at") or _iso_seconds(summary.get("created")),
                                run.checkpoint("best") is not None, run.checkpoint("latest") is not None,
                                run.log_tail(self.log_lines) if run.run_id == self.log_run else None,
                                _pod(run) if summary.get("backend") == "runpod" else None,
                                table_row(run, summary, totals),
                                self._system_rows(run) if run.run_id in self.system_runs else None))
        for gone in set(self._runs) - seen:
            del self._runs[gone]
            self._totals.pop(gone, None)
            self._system.pop(gone, None)
        return out

    def _system_rows(self, run: Run) -> list[dict[str, Any]]:
        """The run's system metrics; the same list object while system.jsonl is unchanged (nothing to redraw)."""
        run.backend.sync_system(run)
        try:
            st = (run.root / SYSTEM_FILE).stat()
            key: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
        except OSError:
            key = None
        old = self._system.get(run.run_id)
        if old is None or old[0] != key:
            old = self._system[run.run_id] = (key, read_system(run.root / SYSTEM_FILE))
        return old[1]
