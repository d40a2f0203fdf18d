"""The resolved config a job would train with, and what it changes from the config it extends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from stickgen_core.config import base_config_path, config_diff, load_config


def base_of(config_path: Path) -> tuple[str, dict[str, Any]]:
    """(name, resolved dict) of what a config builds on: the file it extends, else the built-in defaults."""
    base = base_config_path(config_path)
    if base is None:
        return "built-in defaults", load_config(None).to_dict()
    return base.name, load_config(base).to_dict()


def _short(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text[:-4] if text.endswith("\n...") else text.removesuffix("...").strip()


class ConfigPreview(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.diff_label = QLabel()
        self.diff_label.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFont("DejaVu Sans Mono", 9))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.diff_label)
        lay.addWidget(self.text, 1)
        self.diff: list[tuple[str, Any, Any]] = []

    def show_config(self, config_path: Path, resolved: dict[str, Any]) -> None:
        """The resolved YAML, headed by every key that differs from the base (form overrides included)."""
        name, base = base_of(config_path)
        self.diff = config_diff(base, resolved)
        lines = [f"<b>{len(self.diff)} setting(s) differ from {name}</b>"]
        lines += [f"<code>{k}</code>: {_short(a)} → <b>{_short(b)}</b>" for k, a, b in self.diff]
        self.diff_label.setText("<br>".join(lines))
        self.text.setPlainText(f"# {config_path}\n" + yaml.safe_dump(resolved, sort_keys=False))

    def show_problem(self, message: str) -> None:
        self.diff = []
        self.diff_label.setText(f"<b>No preview</b>: {message}")
        self.text.clear()
