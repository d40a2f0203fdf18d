"""The main window: navigation between Curate, Train and Evaluate, menus, status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QListWidget, QMainWindow, QMessageBox,
                               QStackedWidget, QWidget)

import stickgen_core

from .curate.panel import CuratePanel
from .workspace import Workspace

ORG, APP = "StickGen", "StickGen Studio"
MAX_RECENT = 8


class MainWindow(QMainWindow):
    def __init__(self, workspace: str | Path, settings: QSettings | None = None,
                 generate_if_empty: bool = False, demo_clips: int | None = None, train_poll_ms: int = 1000) -> None:
        super().__init__()
        self.settings = settings or QSettings(ORG, APP)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(96)
        self.pages = QStackedWidget()
        self.curate = CuratePanel(demo_clips)
        # Train and Evaluate are built when first shown (or asked for): their modules import torch, which
        # takes longer than everything else at start-up, and the Curate page needs none of it to appear
        self._train_poll_ms = train_poll_ms
        self._built: dict[int, QWidget] = {0: self.curate}
        self._latest_export: dict | None = None
        self.workspace: Workspace | None = None
        for name in ("Curate", "Train", "Evaluate"):
            self.nav.addItem(name)
            self.pages.addWidget(self.curate if name == "Curate" else QWidget())
        self.nav.currentRowChanged.connect(self._show_page)
        self.nav.setCurrentRow(0)
        central = QWidget()
        lay = QHBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.nav)
        lay.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.curate.status.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        self.curate.openInCritic.connect(self.open_in_critic)
        self.curate.exported.connect(self._exported)
        self._build_menus()
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        self.open_workspace(workspace, generate_if_empty=generate_if_empty)

    # ------------------------------------------------------------------ pages
    @property
    def train(self):
        """The Train page (built on first use)."""
        return self._page(1)

    @property
    def evaluate(self):
        """The Evaluate page (built on first use)."""
        return self._page(2)

    def _page(self, index: int):
        page = self._built.get(index)
        if page is None:
            if index == 1:
                from .train.page import TrainPage

                page = TrainPage(self._train_poll_ms)
            else:
                from .evaluate import EvaluatePage

                page = EvaluatePage()
            self._built[index] = page
            placeholder = self.pages.widget(index)
            self.pages.insertWidget(index, page)
            self.pages.removeWidget(placeholder)
            placeholder.deleteLater()
            page.status.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
            if self.workspace is not None:
                page.set_workspace(self.workspace.root if index == 1 else self.workspace)
            if index == 1 and self._latest_export is not None:
                page.form.set_latest_export(self._latest_export)
        return page

    def _show_page(self, index: int) -> None:
        self._page(index)
        self.pages.setCurrentIndex(index)

    def _exported(self, paths: dict) -> None:
        """Train offers the Curate page's new splits first (now, or when it is built)."""
        self._latest_export = paths
        if 1 in self._built:
            self.train.form.set_latest_export(paths)

    # ------------------------------------------------------------------ menus
    def _action(self, text: str, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(slot)
        return act

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        m.addAction(self._action("&Open workspace…", self._choose_workspace, QKeySequence.StandardKey.Open))
        self.recent_menu = m.addMenu("Open &recent")
        m.addSeparator()
        m.addAction(self._action("&Add dataset…", lambda: self.curate.add_datasets(), "Ctrl+Shift+A"))
        m.addAction(self._action("&Export splits…", lambda: self.curate.export(), "Ctrl+E"))
        m.addSeparator()
        m.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))
        c = self.menuBar().addMenu("&Curate")
        c.addAction(self._action("&Load thresholds…", lambda: self.curate.load_thresholds(), "Ctrl+L"))
        c.addAction(self._action("&Save thresholds…", lambda: self.curate.save_thresholds(), QKeySequence.StandardKey.Save))
        c.addAction(self._action("&Play / pause clip", self.curate.player.toggle, Qt.Key.Key_Space))
        c.addAction(self._action("&Find clip", lambda: self.curate.search.setFocus(), QKeySequence.StandardKey.Find))
        v = self.menuBar().addMenu("&View")
        for i, name in enumerate(("Curate", "Train", "Evaluate")):
            v.addAction(self._action(name, lambda _=False, i=i: self.nav.setCurrentRow(i), f"Ctrl+{i + 1}"))
        e = self.menuBar().addMenu("&Evaluate")
        e.addAction(self._action("Open &motion in critic…", lambda: self._show_evaluate(self.evaluate.critic)
                                 and self.evaluate.critic.open_file(), "Ctrl+M"))
        e.addAction(self._action("Open &report…", lambda: self._show_evaluate(self.evaluate.reports)
                                 and self.evaluate.reports.open(), "Ctrl+R"))
        h = self.menuBar().addMenu("&Help")
        h.addAction(self._action("&About StickGen Studio", self.about))

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_workspaces():
            self.recent_menu.addAction(self._action(path, lambda _=False, p=path: self.open_workspace(p)))

    def recent_workspaces(self) -> list[str]:
        value = self.settings.value("recent_workspaces", [])
        return [value] if isinstance(value, str) else list(value or [])

    # ------------------------------------------------------------------ workspace
    def _choose_workspace(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open workspace", str(Path.cwd()))
        if path:
            self.open_workspace(path)

    def open_workspace(self, path: str | Path, generate_if_empty: bool = False) -> None:
        ws = Workspace.open(path)
        self.workspace = ws
        recent = [str(ws.root)] + [p for p in self.recent_workspaces() if p != str(ws.root)]
        self.settings.setValue("recent_workspaces", recent[:MAX_RECENT])
        self._refresh_recent()
        self.setWindowTitle(f"StickGen Studio — {ws.root}")
        self.curate.set_workspace(ws, generate_if_empty=generate_if_empty)
        if 1 in self._built:
            self.train.set_workspace(ws.root)
        if 2 in self._built:
            self.evaluate.set_workspace(ws)
        self.statusBar().showMessage(f"workspace {ws.root}", 5000)
        for notice in ws.notices:  # e.g. a damaged workspace.json, set aside: said once, never fatal
            box = QMessageBox(QMessageBox.Icon.Warning, "Workspace file set aside", notice, parent=self)
            box.open()

    def _show_evaluate(self, view: QWidget) -> bool:
        self.nav.setCurrentRow(2)
        self.evaluate.tabs.setCurrentWidget(view)
        return True

    def open_in_critic(self, file: str, index: int) -> None:
        """Show clip ``index`` of a dataset file in the Evaluate page's critic viewer."""
        self._show_evaluate(self.evaluate.critic)
        self.evaluate.critic.open_file(file, index)

    def about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About StickGen Studio",
                          f"<b>StickGen Studio</b> {stickgen_core.__version__}<br>Curate, embed, train and judge the "
                          "Stick-Gen text-to-stick-figure-motion model.<br>Built on stickgen_core, PySide6 and pyqtgraph.",
                          parent=self)
        box.open()

    def closeEvent(self, event) -> None:  # noqa: N802
        for page in self._built.values():
            page.shutdown()
        self.settings.setValue("geometry", self.saveGeometry())
        super().closeEvent(event)
