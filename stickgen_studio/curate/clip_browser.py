"""The clip table with its search, filters, column chooser and "N of M clips shown" line.

A view over ``ClipTableModel`` (numpy sorting and filtering); it keeps no curation logic.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QMenu, QPushButton, QTableView,
                               QToolButton, QVBoxLayout, QWidget)

from stickgen_core.curation import PRETRAIN_RULES

from .table_model import COLUMNS, HIDDEN_BY_DEFAULT, ClipTableModel, status_label


class ClipBrowser(QWidget):
    """Filters above the clip table; the description column takes the width the others leave."""

    def __init__(self) -> None:
        super().__init__()
        self._range_text = ""
        self.search = QLineEdit(placeholderText="Search descriptions…")
        self.search.setToolTip("Show clips whose description or clip id contains this text (Ctrl+F)")
        self.source_filter = QComboBox()
        self.action_filter = QComboBox()
        self.split_filter = QComboBox()
        self.split_filter.addItem("All clips", "")
        for label, key in (("In SFT", "sft"), ("In pretrain", "pretrain"), ("Dropped", "dropped")):
            self.split_filter.addItem(label, key)
        for r in PRETRAIN_RULES:
            self.split_filter.addItem(f"Dropped: {r}", r)
        self.search.setMinimumWidth(self.search.fontMetrics().horizontalAdvance("Search descriptions…") + 16)
        for combo, longest in ((self.source_filter, "All sources"), (self.action_filter, "All actions"),
                               (self.split_filter, "All clips")):
            # wide enough for the default label; longer entries show in the open list
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(len(longest) + 1)
        self.columns_button = QToolButton()
        self.columns_button.setText("Columns")
        self.columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.columns_button.setToolTip("Choose which columns the table shows")
        # two rows: on a laptop screen one row would squeeze every filter to a stub
        frow = QVBoxLayout()
        frow.setSpacing(2)
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        row1.addWidget(self.search, 1)
        row1.addWidget(self.columns_button)
        for w in (self.source_filter, self.action_filter, self.split_filter):
            row2.addWidget(w, 1)
        frow.addLayout(row1)
        frow.addLayout(row2)
        self.shown = QLabel()
        self.shown.setObjectName("shown")
        self.clear_filters = QPushButton("Show all")
        self.clear_filters.setToolTip("Clear every filter of the table")
        self.clear_filters.setVisible(False)
        srow = QHBoxLayout()
        srow.addWidget(self.shown, 1)
        srow.addWidget(self.clear_filters)
        self.model = ClipTableModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        self._setup_columns()
        self.view.viewport().installEventFilter(self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(frow)
        lay.addLayout(srow)
        lay.addWidget(self.view)
        self.search.textChanged.connect(lambda t: self._set_filter("text", t))
        self.source_filter.currentIndexChanged.connect(lambda _: self._set_filter("source", self.source_filter.currentData()))
        self.action_filter.currentIndexChanged.connect(lambda _: self._set_filter("action", self.action_filter.currentData()))
        self.split_filter.currentIndexChanged.connect(lambda _: self._set_filter("status", self.split_filter.currentData()))
        self.clear_filters.clicked.connect(self.show_all)
        self.update_shown()

    def show_reason(self, reason: str) -> None:
        """List the clips dropped by ``reason`` (a pretraining rule)."""
        self.split_filter.setCurrentIndex(self.split_filter.findData(reason))

    def set_choices(self, table) -> None:
        """Source and action filter entries from the table's values (the current choice is kept)."""
        for combo, col, label in ((self.source_filter, "source", "All sources"),
                                  (self.action_filter, "dominant_action", "All actions")):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(label, "")
            for v in sorted(map(str, table[col].unique())):
                combo.addItem(v, v)
            combo.setCurrentIndex(max(combo.findData(current), 0))
            combo.blockSignals(False)

    def _show_column(self, col: int, on: bool) -> None:
        self.view.setColumnHidden(col, not on)
        self._fit_description()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize and obj is self.view.viewport():
            self._fit_description()
        return False

    def _fit_description(self) -> None:
        """The description gets the width the other columns leave; when all do not fit, what the
        key columns (status, action, source, quality) leave, so those stay on screen."""
        desc = self.model.column_of("Description")
        room = self.view.viewport().width() - 2
        widths = {c: self.view.columnWidth(c) for c in range(len(COLUMNS))
                  if c != desc and not self.view.isColumnHidden(c)}
        key = sum(w for c, w in widths.items() if COLUMNS[c][0] in ("Status", "Action", "Source", "Quality"))
        fit_all = room - sum(widths.values())
        self.view.setColumnWidth(desc, max(90, fit_all if fit_all >= 200 else room - key))

    # ------------------------------------------------------------------ table columns
    def _setup_columns(self) -> None:
        header = self.view.horizontalHeader()
        fm = self.view.fontMetrics()
        widest = {"Status": max(fm.horizontalAdvance(status_label(c)) for c in range(-2, len(PRETRAIN_RULES))),
                  "Description": 260, "Source": fm.horizontalAdvance("video_estimate"),
                  "Action": fm.horizontalAdvance("stand_up"), "Clip": 140, "File": 200}
        menu = QMenu(self)
        for col, (name, _, _) in enumerate(COLUMNS):
            width = max(widest.get(name, 0), fm.horizontalAdvance(name) + 18, fm.horizontalAdvance("0.000"))
            self.view.setColumnWidth(col, width + 10)
            act = QAction(name, menu, checkable=True, checked=name not in HIDDEN_BY_DEFAULT)
            act.toggled.connect(lambda on, col=col: self._show_column(col, on))
            self.view.setColumnHidden(col, name in HIDDEN_BY_DEFAULT)
            menu.addAction(act)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(40)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(lambda pos: menu.exec(header.mapToGlobal(pos)))
        self.columns_menu = menu
        self.columns_button.setMenu(menu)

    # ------------------------------------------------------------------ filters
    def _set_filter(self, key: str, value) -> None:
        self.model.set_filter(key, value)
        self.update_shown()

    def filter_bin(self, column: str, lo: float, hi: float) -> None:
        """Show the clips of one histogram bin."""
        label = {"_quality": "quality", "n_frames": "frames"}.get(column, column.replace("_", " "))
        lo_t = "" if not np.isfinite(lo) else f"{lo:g} ≤ "
        hi_t = "" if not np.isfinite(hi) else f" < {hi:g}"
        self._range_text = f"{lo_t}{label}{hi_t}"
        self._set_filter("range", (column, lo, hi))

    def show_all(self) -> None:
        self.search.setText("")
        for combo in (self.source_filter, self.action_filter, self.split_filter):
            combo.setCurrentIndex(0)
        self._set_filter("range", None)

    def update_shown(self) -> None:
        n, total = self.model.rowCount(), self.model.total_rows()
        filtered = n != total
        text = f"{n:,} of {total:,} clips shown" if filtered else f"{total:,} clips"
        if self.model.filters().get("range"):
            text += f" · histogram bin: {self._range_text}"
        self.shown.setText(text)
        self.clear_filters.setVisible(filtered or bool(self.model.filters().get("range")))
