"""The runs list: one row per run of the workspace, with a state badge and a progress bar."""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar

from stickgen_core.jobs import ACTIVE, TERMINAL
from stickgen_core.jobs import RunState as State

from .poller import RunState
from .series import RunSeries

STATE_COLOURS = {State.QUEUED: "#8a8a8a", State.RUNNING: "#1f6fd1", State.COMPLETED: "#2e8540",
                 State.FAILED: "#c62828", State.STOPPED: "#b26a00", State.UNREACHABLE: "#7b1fa2",
                 State.DAMAGED: "#6d4c41", State.UNKNOWN: "#555555"}
COLUMNS = ("Run", "Stage", "Backend", "State", "Progress", "Best val", "Started", "Duration")
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 1


def _clock(seconds: float | None) -> str:
    if seconds is None or not np.isfinite(seconds) or seconds < 0:
        return "—"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}" if h else f"{rem // 60}:{rem % 60:02d}"


@dataclass
class Row:
    run_id: str
    stage: str
    backend: str
    state: str
    epoch_text: str
    fraction: float | None
    eta: str
    best: str
    started: str
    duration: str
    error: str | None
    path: str


#: what a run does before its first training step (status.json's ``phase``, written by the job's supervisor)
PHASES = {"uploading": "uploading", "provisioning": "starting the pod", "starting": "starting",
          "embed": "embedding", "train": "starting the trainer"}


def phase_progress(st: dict) -> tuple[str, float | None] | None:
    """('embedding 1,200 / 2,504 clips', 0.48) while a run is in a phase before training, from the count
    status.json carries (``progress``, or ``upload`` in bytes), else ('embedding…', None); None once training."""
    label = PHASES.get(st.get("phase")) if st.get("state") in ACTIVE else None
    if label is None:
        return None
    count = st.get("upload") if st.get("phase") == "uploading" else st.get("progress")
    done, total = (count.get("done"), count.get("total")) if isinstance(count, dict) else (None, None)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (done, total)) or total <= 0:
        return f"{label}…", None
    if st.get("phase") == "uploading":
        return f"{label} {done / 1e6:,.0f} / {total / 1e6:,.0f} MB", min(done / total, 1.0)
    unit = count.get("unit") if isinstance(count.get("unit"), str) else ""
    return f"{label} {int(done):,} / {int(total):,}{' ' + unit if unit else ''}", min(done / total, 1.0)


def progress(state: RunState, series: RunSeries | None) -> tuple[str, float | None, str]:
    """('epoch 3/10 · step 120', fraction done, 'ETA ~2:10') from the status and the metrics' pace;
    before training, the phase ('embedding 1,200 / 2,504 clips')."""
    st = state.status
    phase = phase_progress(st)
    if phase is not None:
        return (*phase, "")
    step = st.get("global_step") or 0
    total = state.total_epochs
    spe = series.steps_per_epoch() if series else None
    if spe and total:
        fraction = min(step / (spe * total), 1.0)
    elif total:
        fraction = min(((st.get("epoch") or -1) + 1) / total, 1.0)
    else:
        fraction = None
    epoch_no = (st.get("epoch") or 0) + 1   # status.json counts from 0
    if st.get("state") in (State.STOPPED, State.COMPLETED) and isinstance(st.get("epoch"), int):
        # the trainer's stopped/completed status holds its last *completed* epoch (-1: none): count those, as the
        # running row's 'epoch 1/3' (the one in progress) read as '0/3' once stopped in that epoch
        text = f"{max(st['epoch'] + 1, 0)}/{total or '?'} epochs done · step {step:,}"
    else:
        text = f"epoch {min(epoch_no, total or epoch_no)}/{total or '?'} · step {step:,}"
    eta = ""
    if st.get("state") == State.RUNNING and series and series.steps.n >= 3 and spe and total and "t" in series.steps:
        tail = slice(max(series.steps.n - 50, 0), series.steps.n)
        steps, ts = series.steps["step"][tail], series.steps["t"][tail]
        rate = (steps[-1] - steps[0]) / max(ts[-1] - ts[0], 1e-9) if ts[-1] > ts[0] else 0
        if rate > 0:
            eta = f"ETA ~{_clock((spe * total - step) / rate)}"
    return text, fraction, eta


def build_row(state: RunState, series: RunSeries | None) -> Row:
    s, st = state.summary, state.status
    if s.get("state") == State.DAMAGED:  # no progress to show: which file is at fault (the tooltip says how)
        text, fraction, eta = f"bad {(st.get('error') or 'run folder').split(':', 1)[0]}", None, ""
    else:
        text, fraction, eta = progress(state, series)
    best = series.best() if series else None
    ended = st.get("state") in TERMINAL
    end = _dt.datetime.fromisoformat(st["updated"]).timestamp() if ended and st.get("updated") else time.time()
    started = state.started_at
    return Row(state.run_id, s.get("stage") or "", s.get("backend") or "", s.get("state") or State.UNKNOWN, text,
               fraction, eta, f"{best[1]:.4f}" if best else "—",
               _dt.datetime.fromtimestamp(started).strftime("%m-%d %H:%M:%S") if started else "—",
               _clock(end - started if started else None), st.get("error"), state.path)


class RunsModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []

    @staticmethod
    def run_id_of(row) -> str:
        return row.run_id

    def set_rows(self, rows: list) -> None:
        """New rows: a reset when the runs changed (the views keep their selection by run id), else a repaint."""
        if [self.run_id_of(r) for r in rows] != [self.run_id_of(r) for r in self.rows]:
            self.beginResetModel()
            self.rows = rows
            self.endResetModel()
            return
        self.rows = rows
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, self.columnCount() - 1))

    def row_of(self, run_id: str) -> int:
        return next((i for i, r in enumerate(self.rows) if self.run_id_of(r) == run_id), -1)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        r = self.rows[index.row()]
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return {"Run": r.run_id, "Stage": r.stage, "Backend": r.backend, "State": r.state,
                    "Progress": " · ".join(p for p in (r.epoch_text, r.eta) if p), "Best val": r.best,
                    "Started": r.started, "Duration": r.duration}[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            return r.error if r.error else r.path
        if role == PROGRESS_ROLE and col == "Progress":
            return r.fraction
        if role == Qt.ItemDataRole.TextAlignmentRole and col in ("Best val", "Duration"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class BadgeDelegate(QStyledItemDelegate):
    """The state as a coloured pill: running blue, completed green, failed red, stopped amber."""

    def paint(self, painter: QPainter, option, index) -> None:
        text = index.data() or State.UNKNOWN
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        fm = option.fontMetrics
        w = fm.horizontalAdvance(text) + 16
        rect = QRect(option.rect.left() + 4, option.rect.center().y() - fm.height() // 2 - 2, w, fm.height() + 4)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(STATE_COLOURS.get(text, STATE_COLOURS[State.UNKNOWN])))
        painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
        painter.setPen(QColor("white"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(self, option, index) -> QSize:  # noqa: N802
        return QSize(option.fontMetrics.horizontalAdvance(index.data() or "") + 28, option.fontMetrics.height() + 8)


class ProgressDelegate(QStyledItemDelegate):
    """A progress bar with 'epoch 3/10 · step 120 · ETA ~2:10' on it."""

    def paint(self, painter: QPainter, option, index) -> None:
        fraction = index.data(PROGRESS_ROLE)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(1000 * (fraction or 0))
        bar.text = index.data() or ""
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)

    def sizeHint(self, option, index) -> QSize:  # noqa: N802
        return QSize(option.fontMetrics.horizontalAdvance(index.data() or "") + 24, option.fontMetrics.height() + 8)
