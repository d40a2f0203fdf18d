"""The runs table (W&B's): every run's config values and final metrics, sortable and searchable.

The rows come from the poller (``stickgen_core.run_table``); this view only formats and filters them.
Numbers sort as numbers, unknown values last; double-clicking a row selects that run in the runs list.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QTableView, QVBoxLayout,
                               QWidget)

from stickgen_core.run_table import COLUMNS

from ..widgets.empty_message import EmptyMessage
from .runs_table import RunsModel

SORT_ROLE = Qt.ItemDataRole.UserRole + 2
NUMERIC = {"epochs", "lr", "batch", "params", "best_val_loss", "final_train_loss"}


def cell_text(key: str, value: Any) -> str:
    """How one value reads in the table ('—' where the run does not say)."""
    if value is None or value == "":
        return "—"
    if key == "lr":
        return f"{value:.2g}"
    if key in ("best_val_loss", "final_train_loss"):
        return f"{value:.4f}"
    if key == "params":
        return f"{value / 1e6:.2f} M" if value >= 1e5 else f"{value:,}"
    if key == "created":
        try:
            return _dt.datetime.fromisoformat(str(value)).astimezone().strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return str(value)
    return str(value)


class RunsTableModel(RunsModel):
    """The runs table's rows: dicts keyed by ``COLUMNS``."""

    @staticmethod
    def run_id_of(row) -> str:
        return row["run_id"]

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        key = COLUMNS[index.column()][0]
        value = self.rows[index.row()].get(key)
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(key, value)
        if role == SORT_ROLE:   # unknown values sort after every known one, whichever the order
            if key in NUMERIC:
                return (value is None, value if value is not None else 0.0)
            return (value is None, str(value or "").lower())
        if role == Qt.ItemDataRole.TextAlignmentRole and key in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and value is not None:
            return f"{COLUMNS[index.column()][1]}: {value}"
        return None


class _Proxy(QSortFilterProxyModel):
    """Sorts by SORT_ROLE tuples; the search matches any column's shown text, every word somewhere in the row."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []

    def lessThan(self, left, right) -> bool:  # noqa: N802
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a[0] != b[0]:   # unknown last, ascending or descending
            return (not a[0]) if self.sortOrder() == Qt.SortOrder.AscendingOrder else a[0]
        return a[1] < b[1]

    def filterAcceptsRow(self, row: int, parent) -> bool:  # noqa: N802
        if not self.words:
            return True
        model = self.sourceModel()
        text = " ".join(model.data(model.index(row, c)) for c in range(model.columnCount())).lower()
        return all(w in text for w in self.words)


class RunsOverview(QWidget):
    """Search box, count and the table; ``run_chosen`` on a double click."""

    run_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = RunsTableModel()
        self.proxy = _Proxy()
        self.proxy.setSourceModel(self.model)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search runs: words in any column (e.g. sft completed small)")
        self.search.setClearButtonEnabled(True)
        self.count = QLabel()
        self.count.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)   # never cut ('2 of 3')
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(len(COLUMNS) - 1, Qt.SortOrder.DescendingOrder)   # newest first
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.setWordWrap(False)
        self.message = EmptyMessage(self.view, None)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.count)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.view)
        self.search.textChanged.connect(self._filter)
        self.view.doubleClicked.connect(
            lambda i: self.run_chosen.emit(self.model.rows[self.proxy.mapToSource(i).row()]["run_id"]))
        self._update_count()

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        fresh = not self.model.rows and rows
        self.model.set_rows(rows)
        self.proxy.invalidate()
        if fresh:
            self.view.resizeColumnsToContents()
        self._update_count()

    def _filter(self, text: str) -> None:
        self.proxy.beginFilterChange()
        self.proxy.words = text.lower().split()
        self.proxy.endFilterChange()
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{shown} of {total} runs" if shown != total else f"{total} runs")
        self.message.say(None if shown else ("No runs yet" if not total else "No run matches the search"))

    def shown_ids(self) -> list[str]:
        """Run ids in the order the table shows them."""
        return [self.model.rows[self.proxy.mapToSource(self.proxy.index(r, 0)).row()]["run_id"]
                for r in range(self.proxy.rowCount())]
