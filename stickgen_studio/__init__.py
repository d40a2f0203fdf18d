"""StickGen Studio: the PySide6 + pyqtgraph desktop app over stickgen_core."""
