"""Table columns as wide as what they hold: short key columns whole, the free-text last column takes the rest.

Fixed widths chosen for one screen cut ids and verdicts ("walk_st…", "UNS…") on another while the last,
stretched text column took all the spare room; fitting to contents (up to a cap, so one long issue list
cannot push the text off screen) keeps the columns a user reads a row by whole.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QTableView

CAP = 240  # px: past this a column elides (its whole text is in the cell's tooltip)


def fit_columns(view: QTableView, cap: int = CAP) -> None:
    """Each interactive column but the last as wide as its header and widest shown cell, at most ``cap``."""
    header = view.horizontalHeader()
    for col in range(view.model().columnCount() - 1):
        if header.sectionResizeMode(col) != QHeaderView.ResizeMode.Interactive:
            continue
        view.resizeColumnToContents(col)
        if view.columnWidth(col) > cap:
            view.setColumnWidth(col, cap)


def keep_columns_fitted(view: QTableView, cap: int = CAP) -> None:
    """``fit_columns`` now and whenever the model is filled anew."""
    view.model().modelReset.connect(lambda: fit_columns(view, cap))
    fit_columns(view, cap)
