"""The critic viewer: any motion animated with the safety critic's issues on its timeline.

Open a dataset file (any clip by index), a generated ``.pt``, a clip sent from the Curate
table or a playground result; the verdict banner, the issue list and the timeline follow
every edit of the prompt or of the critic's settings at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QPushButton, QScrollArea, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from stickgen_core.critic import SafetyCritic, SafetyResult
from stickgen_core.errors import StickGenError
from stickgen_core.evaluation import physical_metrics
from stickgen_core.io import load_torch_file, samples_from_object
from stickgen_core.issues import IssueSpan, critic_issues

from .. import palette
from ..widgets.clip_card import ClipCard
from ..widgets.motion_viewer import MotionViewer
from .critic_config import CriticConfigEditor


def sample_fps(sample: dict[str, Any]) -> float:
    return float(sample.get("fps") or (sample.get("meta") or {}).get("fps") or 25.0)


#: the card's labels of stickgen_core.evaluation's physical metrics, with the formats that read well
PHYSICAL_LABELS = {"foot_skating_ratio": ("foot skating", ".0%"), "mean_jerk": ("jerk (m/s³)", ".0f"),
                   "bone_length_variation": ("bone-length var.", ".1%"),
                   "ground_penetration_ratio": ("below ground", ".0%"),
                   "ground_penetration_depth": ("max depth", ".2f"), "shoulder_gap": ("shoulder gap", ".2f"),
                   "anatomy_violation_ratio": ("not a body", ".0%")}


def physical_card(values: dict[str, float]) -> dict[str, str]:
    """Physical metrics (``stickgen_core.evaluation.PHYSICAL_METRICS`` keys) as the card shows them."""
    out = {label: format(float(values[key]), spec) for key, (label, spec) in PHYSICAL_LABELS.items() if key in values}
    for metres in ("max depth", "shoulder gap"):
        if metres in out:
            out[metres] += " m"
    return out


def card_metrics(motion: np.ndarray, fps: float, ground: float | str | None) -> dict[str, str]:
    """The clip's physical metrics for its card (``ground`` as the critic judged it); a
    multi-actor clip is measured on its first actor, as the viewer draws it first."""
    m = motion[:, 0] if motion.ndim == 3 else motion
    if len(m) < 2:
        return {}
    return physical_card({k: float(v[0]) for k, v in physical_metrics([m], fps, ground=ground).items()})


def verdict_html(result: SafetyResult) -> tuple[str, str]:
    """(banner text, background colour) of a critic verdict: safe / unsafe and why."""
    if result.is_safe:
        worst = max((i.severity for i in result.issues), default=0.0)
        why = (f" · {len(result.issues)} minor issue(s), worst severity {worst:.2f} < {result.threshold:.2f}"
               if result.issues else " · no issue found")
        text, colour = f"<b>SAFE</b> · score {result.overall_score:.2f}{why}", palette.SFT
    else:
        reasons = "; ".join(f"{i.type.replace('_', ' ')} (severity {i.severity:.2f} ≥ {result.threshold:.2f})"
                            for i in result.issues if i.severity >= result.threshold)
        text, colour = f"<b>UNSAFE</b> · score {result.overall_score:.2f} · {reasons}", palette.DROPPED
    if result.notes:
        text += "<br><i>" + "; ".join(result.notes) + "</i>"
    return text, colour


class VerdictBanner(QLabel):
    def __init__(self) -> None:
        super().__init__("Open a motion to judge it")
        self.setObjectName("verdict")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setStyleSheet("padding: 6px; border-radius: 4px; background: #eeeeee;")

    def show_result(self, result: SafetyResult | None) -> None:
        if result is None:
            self.setText("Open a motion to judge it")
            self.setStyleSheet("padding: 6px; border-radius: 4px; background: #eeeeee; color: #222222;")
            return
        text, colour = verdict_html(result)
        self.setText(text)
        self.setStyleSheet(f"padding: 6px; border-radius: 4px; background: {colour}; color: white; font-size: 11pt;")


class IssueList(QListWidget):
    """One row per issue span: type, severity, frames, description; clicking one loops its frames."""

    spanClicked = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setToolTip("Click an issue to jump to its frames and loop them")
        self.spans: list[IssueSpan] = []
        self.frames: tuple[int, int] | None = None
        self.itemClicked.connect(lambda item: self.spanClicked.emit(item.data(Qt.ItemDataRole.UserRole)))

    def set_spans(self, spans: list[IssueSpan]) -> None:
        self.spans = list(spans)
        self.set_frames(None)

    def set_frames(self, frames: tuple[int, int] | None) -> None:
        """List only the issues overlapping frames ``[start, end)`` (the timeline's selection); None: all."""
        self.frames = frames
        shown = [s for s in self.spans if frames is None or (s.start < frames[1] and s.end > frames[0])]
        self.clear()
        for s in sorted(shown, key=lambda s: (-s.severity, s.start)):
            item = QListWidgetItem(f"{s.label} · severity {s.severity:.2f} · frames {s.start}–{s.end - 1}\n{s.description}")
            item.setData(Qt.ItemDataRole.UserRole, s)
            self.addItem(item)
        if not shown:
            self.addItem(QListWidgetItem("No issues" if frames is None else "No issue in the selected frames"))

    def shown(self) -> list[IssueSpan]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())
                if self.item(i).data(Qt.ItemDataRole.UserRole) is not None]


class CriticView(QWidget):
    """Open a motion, judge it, show why; the critic re-runs on any prompt or setting change."""

    status = Signal(str)
    failed = Signal(str, str)  # title, message
    judged = Signal(object)    # SafetyResult

    def __init__(self) -> None:
        super().__init__()
        self.open_button = QPushButton("Open motion…")
        self.open_button.setToolTip("A dataset file (pick the clip by index) or a generated .pt")
        self.file_label = QLabel("No motion open")
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.index = QSpinBox()
        self.index.setPrefix("index ")
        self.index.setToolTip("Which clip of the file, counted from 0 as in `stickgen critic FILE --index N`")
        self.index.setEnabled(False)
        self.prompt = QLineEdit(placeholderText="Prompt (the critic is prompt-aware: 'stands still' is not frozen)")
        self.prompt.setToolTip("The text the motion should follow; stillness words excuse a still figure")
        self.banner = VerdictBanner()
        self.viewer = MotionViewer(empty_text="Press Open motion… (or send a clip here from Curate or a report) to judge it")
        self.issues = IssueList()
        self.editor = CriticConfigEditor()
        top = QHBoxLayout()
        for w in (self.open_button, self.index):
            top.addWidget(w)
        top.addWidget(self.file_label, 1)
        settings = QGroupBox("Critic settings")
        QVBoxLayout(settings).addWidget(self.editor)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(settings)
        side = QSplitter(Qt.Orientation.Vertical)
        issues_box = QGroupBox("Issues")
        self.frames_note = QLabel()   # says when the list shows only the timeline's selected frames
        self.frames_note.setWordWrap(True)
        self.frames_note.hide()
        il = QVBoxLayout(issues_box)
        il.addWidget(self.frames_note)
        il.addWidget(self.issues)
        side.addWidget(issues_box)
        side.addWidget(scroll)
        side.setSizes([220, 420])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.viewer)
        split.addWidget(side)
        split.setStretchFactor(0, 1)
        split.setSizes([820, 360])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.prompt)
        lay.addWidget(self.banner)
        lay.addWidget(split, 1)
        self.result: SafetyResult | None = None
        self._clip: dict[str, Any] | None = None
        self._samples: list = []
        self.path: str = ""
        self.open_button.clicked.connect(lambda: self.open_file())
        self.index.valueChanged.connect(self._show_index)
        self.prompt.editingFinished.connect(self.judge)
        self.editor.changed.connect(self.judge)
        self.issues.spanClicked.connect(lambda s: s is not None and self.viewer.play_range(s.start, s.end))
        self.viewer.selectionChanged.connect(self._frames_selected)

    def _frames_selected(self, frames: tuple[int, int] | None) -> None:
        """Frames dragged out on the timeline filter the issue list; Esc (or a seek outside) shows all again."""
        self.issues.set_frames(frames)
        if frames is not None:
            n, total = len(self.issues.shown()), len(self.issues.spans)
            self.frames_note.setText(f"Frames {frames[0]}–{frames[1] - 1} selected: {n} of {total} issues "
                                     "(Esc in the player shows all)")
        self.frames_note.setVisible(frames is not None)

    # ------------------------------------------------------------------ opening motions
    def open_file(self, path: str | None = None, index: int = 0) -> bool:
        """Open clip ``index`` of a dataset or generated ``.pt`` file; False (with an error) when it cannot."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a motion", "", "Motions (*.pt *.pth)")
            if not path:
                return False
        try:
            samples = samples_from_object(load_torch_file(path), path)
            if not samples:
                raise StickGenError(f"{path}: the file holds no clips")
            if not 0 <= index < len(samples):
                raise StickGenError(f"{path}: clip {index} is out of range (the file holds {len(samples)})")
        except StickGenError as exc:
            self.failed.emit("Could not open the motion", str(exc))
            return False
        self.path, self._samples = str(path), samples
        self.index.blockSignals(True)
        self.index.setRange(0, len(samples) - 1)
        self.index.setValue(index)
        self.index.blockSignals(False)
        self.index.setEnabled(len(samples) > 1)
        self._show_index(index)
        return True

    def _show_index(self, index: int) -> None:
        s = self._samples[index]
        try:
            motion = np.asarray(s["motion"], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            self.failed.emit("Could not open the motion", f"{self.path}: clip {index} has no usable motion ({exc})")
            return
        physics = s.get("physics")
        n = len(self._samples)  # indices from 0, as the CLI's --index and the Curate table's "index" column
        self.file_label.setText(f"{Path(self.path).name} · clip index {index}" + (f" (0–{n - 1})" if n > 1 else ""))
        self.open_motion(motion, np.asarray(physics) if physics is not None else None, str(s.get("description", "")),
                         sample_fps(s), str(s.get("source", "")) or None, sample=s)

    def open_motion(self, motion: np.ndarray, physics: np.ndarray | None, prompt: str, fps: float = 25.0,
                    source: str | None = None, sample: dict[str, Any] | None = None) -> None:
        """Judge and show a motion held in memory (a playground result, a report's prompt)."""
        if sample is None:
            self.path, self._samples = "", []
            self.index.setEnabled(False)
            self.file_label.setText(f"In memory: {prompt[:80]}")
        self._clip = {"motion": motion, "physics": physics, "fps": fps, "source": source,
                      "sample": sample or {"description": prompt, "source": source or ""}}
        self.prompt.setText(prompt)
        self.judge(keep_frame=False)
        self.viewer.play()

    # ------------------------------------------------------------------ judging
    def judge(self, keep_frame: bool = True) -> None:
        """Run the critic with the edited settings and the prompt; show verdict, issues and timeline."""
        if self._clip is None:
            return
        cfg = self.editor.config()
        if cfg is None:
            return  # the editor shows why; the last verdict stays
        c = self._clip
        critic = SafetyCritic(cfg)
        r = critic.evaluate(c["motion"], c["physics"], self.prompt.text() or None, fps=c["fps"], source=c["source"])
        self.result = r
        spans = critic_issues(r.issues, len(c["motion"]))
        frame, playing = self.viewer.frame, self.viewer.is_playing()
        card = ClipCard.from_sample(c["sample"], status="safe" if r.is_safe else "unsafe",
                                    status_colour=palette.SFT if r.is_safe else palette.DROPPED,
                                    metrics={"score": r.overall_score, "issues": len(r.issues),
                                             "frames": len(c["motion"]),
                                             **card_metrics(c["motion"], c["fps"], critic.floor())})
        self.viewer.set_clip(c["motion"], c["fps"], spans, card)
        if keep_frame:
            self.viewer.set_frame(frame)
            if playing:
                self.viewer.play()
        self.banner.show_result(r)
        self.issues.set_spans(spans)
        self.judged.emit(r)
        self.status.emit(f"critic: {'safe' if r.is_safe else 'unsafe'}, score {r.overall_score:.2f}, "
                         f"{len(r.issues)} issue(s)")
