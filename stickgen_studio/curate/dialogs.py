"""The Curate page's dialogs: errors, "replace the exported splits?", "splits exported", file choosers.

Message boxes open window-modal (``open``, never ``exec``): the app keeps running behind them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

YAML_FILTER = "YAML (*.yaml *.yml)"


def _box(parent: QWidget, icon: QMessageBox.Icon, title: str, text: str, buttons, name: str) -> QMessageBox:
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setWindowTitle(title)
    box.setObjectName(name)
    return box


def error(parent: QWidget, title: str, message: str, icon=QMessageBox.Icon.Critical) -> QMessageBox:
    box = _box(parent, icon, title, message, QMessageBox.StandardButton.Ok, "error-dialog")
    box.open()
    return box


def ask_replace(parent: QWidget, output_dir: str, existing: list[str], on_yes: Callable[[], None]) -> QMessageBox:
    """Ask before an export replaces ``existing`` split files of ``output_dir``."""
    box = _box(parent, QMessageBox.Icon.Question, "Replace the exported splits?",
               f"{output_dir} already holds {', '.join(existing)}.\nReplace them with this export?",
               QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, "confirm-dialog")
    box.accepted.connect(on_yes)
    box.open()
    return box


def exported(parent: QWidget, paths: dict[str, str]) -> QMessageBox:
    """What an export wrote, with a button that opens its folder."""
    folder = Path(paths["pretrain"]).parent
    text = "\n".join(f"{k}: {Path(v).name}" for k, v in paths.items())
    box = _box(parent, QMessageBox.Icon.Information, "Splits exported", f"Wrote the curated splits to {folder}:\n{text}",
               QMessageBox.StandardButton.Ok, "export-dialog")
    open_button = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
    open_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))
    box.open()
    return box


def thresholds_file(parent: QWidget, start: str, save: bool) -> str:
    """A YAML file to load thresholds from or save them into; '' when cancelled."""
    if save:
        return QFileDialog.getSaveFileName(parent, "Save thresholds into a config", start, YAML_FILTER)[0]
    return QFileDialog.getOpenFileName(parent, "Load thresholds from a config", start, YAML_FILTER)[0]


def export_folder(parent: QWidget, start: str) -> str:
    return QFileDialog.getExistingDirectory(parent, "Export splits to", start)
