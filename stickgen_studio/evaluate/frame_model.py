"""A read-only Qt table model over a small pandas table (report prompts, suites, comparisons)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from .. import palette

Format = Callable[[Any], str]


def fmt_bool(safe_text: str = "safe", unsafe_text: str = "UNSAFE") -> Format:
    return lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else (safe_text if v else unsafe_text)


def fmt_num(spec: str) -> Format:
    return lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)


class FrameModel(QAbstractTableModel):
    """Columns are (header, table column, formatter); rows where ``alert_column`` is False, or
    whose text is in ``alert_values``, read in the 'dropped' red."""

    def __init__(self, columns: list[tuple[str, str, Format]], alert_column: str = "",
                 alert_values: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.columns = columns
        self.alert_column, self.alert_values = alert_column, alert_values
        self.table = pd.DataFrame(columns=[c for _, c, _ in columns])
        self.header_tips: list[str] = []  # what a short header means, as its tooltip

    def set_table(self, table: pd.DataFrame) -> None:
        self.beginResetModel()
        self.table = table.reset_index(drop=True)
        self.endResetModel()

    def row(self, i: int) -> pd.Series:
        return self.table.iloc[i]

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.table)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section][0]
        if role == Qt.ItemDataRole.ToolTipRole and section < len(self.header_tips):
            return self.header_tips[section]
        return None

    def _alert(self, r: pd.Series) -> bool:
        if not self.alert_column:
            return False
        v = r[self.alert_column]
        return (v in self.alert_values) if self.alert_values else (v is not None and not pd.isna(v) and not bool(v))

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.table.iloc[index.row()]
        _, col, fmt = self.columns[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return fmt(r[col])
        if role == Qt.ItemDataRole.ForegroundRole and self._alert(r):
            return QColor(palette.DROPPED)
        return None

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        col = self.columns[column][1]
        self.beginResetModel()
        self.table = self.table.sort_values(col, ascending=order == Qt.SortOrder.AscendingOrder,
                                            kind="stable").reset_index(drop=True)
        self.endResetModel()
