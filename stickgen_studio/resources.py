"""Fonts and style sheet shipped under the repository's ``resources/`` folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication, QLabel

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
FONT_FAMILY = "DejaVu Sans"

STYLE = """
QMainWindow, QWidget { font-size: 10pt; }
QListWidget#nav { background: #23272e; color: #dfe3ea; border: none; font-size: 11pt; }
QListWidget#nav::item { padding: 12px 10px; }
QListWidget#nav::item:selected { background: #3b4250; color: white; }
QLabel.count { font-size: 18pt; font-weight: bold; }
QLabel#banner { background: #fff4d6; border: 1px solid #e6c36a; padding: 8px; }
QGroupBox { font-weight: bold; margin-top: 8px; }
QGroupBox::title { subcontrol-origin: margin; left: 6px; padding: 0 3px; }
"""


def register_fonts(app: QApplication) -> str:
    """Register the shipped fonts (the offscreen platform may have none) and use them."""
    family = FONT_FAMILY
    for ttf in sorted((RESOURCES / "fonts").glob("*.ttf")):
        fid = QFontDatabase.addApplicationFont(str(ttf))
        fams = QFontDatabase.applicationFontFamilies(fid) if fid >= 0 else []
        if fams:
            family = fams[0]
    app.setFont(QFont(family, 10))
    app.setStyleSheet(STYLE)
    return family


class _Splash(QLabel):
    def finish(self, _window) -> None:
        """As ``QSplashScreen.finish``: gone once the main window is up."""
        self.close()


def startup_splash(workspace: str) -> QLabel:
    """A small window shown while the studio's libraries load (the first second of a launch).

    A frameless splash-type label, not ``QSplashScreen``: that class waits up to a second for the
    window system to report the splash exposed before it returns (the whole second on platforms that
    never do, such as offscreen), which delayed the main window by as much.
    """
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QPainter, QPixmap

    pix = QPixmap(460, 150)
    pix.fill(QColor("#23272e"))
    p = QPainter(pix)
    p.setPen(QColor("#dfe3ea"))
    f = QFont(FONT_FAMILY, 18)
    f.setBold(True)
    p.setFont(f)
    p.drawText(24, 56, "StickGen Studio")
    p.setFont(QFont(FONT_FAMILY, 10))
    p.drawText(24, 84, f"Opening {workspace}")
    p.setPen(QColor("#9aa3b2"))
    p.drawText(24, 130, "Loading the curation engine…")
    p.end()
    splash = _Splash()
    splash.setWindowFlags(Qt.WindowType.SplashScreen | Qt.WindowType.FramelessWindowHint
                          | Qt.WindowType.WindowStaysOnTopHint)
    splash.setPixmap(pix)
    splash.setFixedSize(pix.size())
    screen = QApplication.primaryScreen()
    if screen is not None:
        splash.move(screen.availableGeometry().center() - splash.rect().center())
    splash.show()
    return splash
