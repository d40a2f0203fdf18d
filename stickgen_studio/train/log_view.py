"""The log of one run: train.log's tail, following as it grows; a failed run's error on top."""

from __future__ import annotations

from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from stickgen_core.jobs import RunState as State

from .poller import RunState


class LogView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_id: str | None = None
        self.title = QLabel("Select a run to see its log")
        self.error = QLabel()
        self.error.setObjectName("runError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("QLabel#runError { background: #fdecea; color: #8a1c1c; border: 1px solid #c62828;"
                                 " padding: 6px; font-family: monospace; }")
        self.error.hide()
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFont("DejaVu Sans Mono", 9))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.error)
        lay.addWidget(self.text, 1)
        self._lines: list[str] = []

    def show_run(self, run_id: str | None) -> None:
        self.run_id = run_id
        self._lines = []
        self.text.clear()
        self.error.hide()
        self.title.setText(f"train.log of {run_id}" if run_id else "Select a run to see its log")

    def update_state(self, state: RunState) -> None:
        """Show the poll's log lines of our run (following the end unless the user scrolled up)."""
        if state.run_id != self.run_id:
            return
        st = state.status
        if st.get("state") == State.FAILED:
            tail = st.get("log_tail") or []
            self.error.setText("<b>This run failed:</b> " + _escape(st.get("error") or "no message")
                               + ("<pre>" + _escape("\n".join(tail[-12:])) + "</pre>" if tail else ""))
            self.error.show()
        else:
            self.error.hide()
        lines = state.log
        if lines is None or lines == self._lines:
            return
        bar = self.text.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 2
        keep = bar.value()
        self.text.setPlainText("\n".join(lines))
        self._lines = lines
        if follow:
            self.text.moveCursor(QTextCursor.MoveOperation.End)
            bar.setValue(bar.maximum())
        else:
            bar.setValue(keep)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
