"""A Qt table model over the pandas metrics table, with numpy sorting and filtering.

A QSortFilterProxyModel would call ``data()`` from C++ millions of times to sort
100,000 rows; here the visible row order is a numpy index array, so a sort or a filter
is one vectorised operation and ``data()`` only formats the rows on screen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from stickgen_core.curation import PRETRAIN_RULES
from stickgen_core.curation.session import PRETRAIN_ONLY, SFT

# (header, table column or a computed key, format)
# what matters first: status, description, action, source, quality; the rest via the column chooser
COLUMNS: list[tuple[str, str, str]] = [
    ("Status", "_status", "s"), ("Description", "description", "s"), ("Action", "dominant_action", "s"),
    ("Source", "source", "s"), ("Quality", "_quality", ".3f"), ("Frames", "n_frames", "d"),
    ("Artifact", "artifact_score", ".3f"), ("Realism", "realism_score", ".3f"),
    ("Camera", "camera_stability", ".3f"), ("Clip", "clip_id", "s"), ("File", "file", "s"),
]
HIDDEN_BY_DEFAULT = ("Camera", "Clip", "File")
# status codes (the session's): -2 in SFT (and pretrain), -1 pretrain only, k >= 0 dropped by PRETRAIN_RULES[k]
STATUS_COLOURS = {SFT: QColor("#1b7f3b"), PRETRAIN_ONLY: QColor("#2d6cb5")}
DROPPED_COLOUR = QColor("#b3261e")


def status_label(code: int) -> str:
    """Short enough for a narrow column: 'SFT' (also in pretrain), 'pretrain', '✗ <first failed rule>'."""
    if code == SFT:
        return "SFT"
    if code == PRETRAIN_ONLY:
        return "pretrain"
    return f"✗ {PRETRAIN_RULES[code].replace('_', ' ')}" if 0 <= code < len(PRETRAIN_RULES) else ""


_ROLES = frozenset((Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole))

class ClipTableModel(QAbstractTableModel):
    """Rows of a metrics table; call ``set_status`` after every threshold change."""

    def __init__(self) -> None:
        super().__init__()
        self._table = pd.DataFrame()
        self._cols: dict[str, np.ndarray] = {}
        self._order = np.zeros(0, dtype=np.int64)
        self._status = np.zeros(0, dtype=np.int8)
        self._quality = np.zeros(0)
        self._filters: dict[str, Any] = {}
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._lower_desc: np.ndarray | None = None

    # ------------------------------------------------------------------ data in
    def set_table(self, table: pd.DataFrame) -> None:
        self.beginResetModel()
        self._table = table.reset_index(drop=True)
        self._cols = {c: self._table[c].to_numpy() for _, c, _ in COLUMNS if c in self._table}
        n = len(self._table)
        self._status = np.full(n, 127, dtype=np.int8)
        self._quality = np.full(n, np.nan)
        self._lower_desc = None
        self._order = np.arange(n)
        self._apply_view()
        self.endResetModel()

    def set_status(self, status: np.ndarray, quality: np.ndarray) -> None:
        """New split status codes (see ``status_label``) and quality per row."""
        self._status, self._quality = status, quality
        if self._filters.get("status") or (self._sort and COLUMNS[self._sort[0]][1] in ("_status", "_quality")):
            self._relayout()
        elif self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, len(COLUMNS) - 1))

    def set_filter(self, key: str, value: Any) -> None:
        """Filter by 'text' (description or clip id), 'source', 'action', 'status' ('' = all)
        or 'range' ((column, lo, hi) or None: a histogram bin)."""
        self._filters[key] = value
        self._relayout()

    def _relayout(self) -> None:
        """Filter and sort again in place: the selected clip keeps its selection wherever its row
        moves (Qt's persistent indexes), instead of a model reset dropping it on every slider move."""
        self.layoutAboutToBeChanged.emit()
        old = self._order
        persistent = self.persistentIndexList()
        self._apply_view()
        where = np.full(len(self._table), -1, dtype=np.int64)
        where[self._order] = np.arange(len(self._order))
        moved = [where[old[i.row()]] if 0 <= i.row() < len(old) else -1 for i in persistent]
        self.changePersistentIndexList(persistent, [self.index(int(r), i.column()) if r >= 0 else QModelIndex()
                                                    for i, r in zip(persistent, moved)])
        self.layoutChanged.emit()

    # ------------------------------------------------------------------ view
    def _column(self, key: str) -> np.ndarray:
        if key == "_status":
            return self._status
        if key == "_quality":
            return self._quality
        col = self._cols.get(key)
        return col if col is not None else np.zeros(len(self._table))

    def _apply_view(self) -> None:
        n = len(self._table)
        keep = np.ones(n, dtype=bool)
        text = (self._filters.get("text") or "").strip().lower()
        if text and n:
            if self._lower_desc is None:
                self._lower_desc = (self._table["description"].astype(str) + " " + self._table["clip_id"].astype(str)).str.lower().to_numpy()
            keep &= np.fromiter((text in d for d in self._lower_desc), bool, n)
        for key, col in (("source", "source"), ("action", "dominant_action")):
            want = self._filters.get(key)
            if want and col in self._cols:
                keep &= self._cols[col].astype(str) == want
        rng = self._filters.get("range")
        if rng:
            col, lo, hi = rng
            vals = self._column(col).astype(np.float64)
            keep &= (vals >= lo) & (vals < hi)
        status = self._filters.get("status")
        if status:
            if status == "dropped":
                keep &= self._status >= 0
            elif status == "pretrain":
                keep &= self._status < 0
            elif status == "sft":
                keep &= self._status == SFT
            elif status in PRETRAIN_RULES:
                keep &= self._status == PRETRAIN_RULES.index(status)
        rows = np.nonzero(keep)[0]
        if self._sort is not None:
            col, order = self._sort
            vals = self._column(COLUMNS[col][1])[rows]
            text = vals.dtype == object or (COLUMNS[col][2] == "s" and COLUMNS[col][1] != "_status")
            idx = np.argsort(vals.astype(str) if text else vals, kind="stable")
            if order == Qt.SortOrder.DescendingOrder:
                idx = idx[::-1]
            rows = rows[idx]
        self._order = rows

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self._relayout()

    # ------------------------------------------------------------------ Qt API
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][0]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        # the view asks each visible cell for about ten roles on every repaint: answer the unused ones first
        if role not in _ROLES or not index.isValid():
            return None
        row = int(self._order[index.row()])
        _, key, fmt = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if key == "_status":
                return status_label(int(self._status[row]))
            value = self._column(key)[row]
            if fmt == "s":
                return str(value)
            if value is None or (isinstance(value, float) and np.isnan(value)):
                return "–"
            return f"{int(value)}" if fmt == "d" else format(float(value), fmt)
        if role == Qt.ItemDataRole.ForegroundRole and key == "_status":
            return STATUS_COLOURS.get(int(self._status[row]), DROPPED_COLOUR)
        if role == Qt.ItemDataRole.ToolTipRole and key in ("_status", "description"):
            problems = self._table["problems"].iat[row] if "problems" in self._table else ""
            code = int(self._status[row])
            long = {SFT: "in the SFT split (and in pretraining)", PRETRAIN_ONLY: "in pretraining, not in SFT"}
            shown = (long.get(code, f"dropped: {status_label(code)[2:]}") if key == "_status"
                     else str(self._column(key)[row]))
            return shown + (f"\n{problems}" if problems else "")
        return None

    # ------------------------------------------------------------------ helpers
    def table_row(self, view_row: int) -> int:
        """The table row shown at ``view_row``."""
        return int(self._order[view_row])

    def view_row_of(self, table_row: int) -> int | None:
        hits = np.nonzero(self._order == table_row)[0]
        return int(hits[0]) if len(hits) else None

    def filters(self) -> dict[str, Any]:
        return dict(self._filters)

    def status_code(self, view_row: int) -> int:
        """Split status code of the row shown at ``view_row`` (see ``status_label``)."""
        return int(self._status[self._order[view_row]])

    def total_rows(self) -> int:
        return len(self._table)

    def column_of(self, header: str) -> int:
        return [c[0] for c in COLUMNS].index(header)

    @property
    def table(self) -> pd.DataFrame:
        return self._table
