"""The playground: type a prompt, pick a checkpoint, seconds and seed; generate in the background,
watch the result with the critic's verdict, save it as ``.pt`` or GIF. "Refine" (diffusion
refinement) can be ticked only for checkpoints that carry the module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from stickgen_core.critic import SafetyIssue, SafetyResult
from stickgen_core.errors import StickGenError
from stickgen_core.inference import save_generation
from stickgen_core.issues import critic_issues
from stickgen_core.train.checkpoint import has_refiner

from .. import palette
from ..widgets.clip_card import ClipCard
from ..widgets.motion_viewer import MotionViewer
from .critic_view import VerdictBanner, card_metrics
from .export import ask_path, gif_task
from .picture_picker import PicturePicker
from ..workers import Task
from .run_eval import CheckpointPicker


def result_of(safety: dict[str, Any], threshold: float) -> SafetyResult:
    """The SafetyResult of a generation's ``safety`` dict (to show its verdict)."""
    issues = [SafetyIssue(i["type"], float(i["severity"]), i["description"], [tuple(r) for r in i["frame_range"]])
              for i in safety["issues"]]
    return SafetyResult(bool(safety["is_safe"]), float(safety["overall_score"]), issues, threshold,
                        list(safety.get("notes", [])))


READY = "Type a prompt and press Generate"
NO_CHECKPOINT = "No checkpoint to generate with yet: train a model on the Train page first"
COMPILING = ("Compiling the fast step for this checkpoint: the first Fast generation takes up to half a minute, "
             "the next ones a fraction of a second…")


class Playground(QWidget):
    status = Signal(str)
    failed = Signal(str, str)
    openInCritic = Signal(dict)
    generated = Signal(object)  # the generation dict

    def __init__(self, host) -> None:
        super().__init__()
        self.host = host
        self.result: dict[str, Any] | None = None
        self.prompt = QLineEdit(placeholderText="A person walks forward and waves.")
        self.checkpoint = CheckpointPicker()
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(0.2, 60.0)
        self.seconds.setValue(4.0)
        self.seconds.setSuffix(" s")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 1.0)
        self.temperature.setDecimals(3)
        self.temperature.setSingleStep(0.01)
        self.temperature.setValue(0.02)
        self.temperature.setToolTip("Noise added to each predicted pose; 0 = greedy (the seed then has no effect). "
                                    "The adversarial evaluation uses 0.")
        self.refine = QCheckBox("Refine")
        self.refine.setChecked(True)
        self.refine.setEnabled(False)
        self._refine_wanted = True  # the user's choice, kept while a checkpoint without a refiner shows it unticked
        self.refine.toggled.connect(lambda on: setattr(self, "_refine_wanted", on) if self.refine.isEnabled() else None)
        self.int8 = QCheckBox("Fast (int8)")
        self.int8.setToolTip("Generate on the CPU with int8 weights in the transformer blocks and a compiled frame "
                             "step: about three times as fast, motion slightly different from float32 (the checkpoint "
                             "is not changed). The first generation compiles the step (up to ~30 s); without a C++ "
                             "compiler it generates uncompiled and says so")
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.save_pt = QPushButton("Save .pt…")
        self.save_gif = QPushButton("Save GIF…")
        self.critic_button = QPushButton("Open in critic")
        for b in (self.save_pt, self.save_gif, self.critic_button):
            b.setEnabled(False)
        self.banner = VerdictBanner()
        self.banner.setText(READY)
        self.viewer = MotionViewer(empty_text="Type a prompt and press Generate to see its motion here")
        form = QFormLayout()
        form.addRow("Prompt", self.prompt)
        self.picture = PicturePicker()
        picked = QHBoxLayout()  # one row for both: the page keeps its height on a short screen
        picked.addWidget(self.checkpoint, 1)
        picked.addWidget(QLabel("Start from"))
        picked.addWidget(self.picture, 2)  # the picture's name and camera need the width more than the list
        form.addRow("Checkpoint", picked)
        row = QHBoxLayout()
        for label, w in (("Seconds", self.seconds), ("Seed", self.seed), ("Temperature", self.temperature)):
            sub = QFormLayout()
            sub.addRow(label, w)
            row.addLayout(sub)
        row.addWidget(self.refine)
        row.addWidget(self.int8)
        row.addWidget(self.generate_button)
        form.addRow(row)
        actions = QHBoxLayout()
        actions.addStretch(1)
        for b in (self.critic_button, self.save_pt, self.save_gif):
            actions.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(form)
        lay.addWidget(self.banner)
        lay.addWidget(self.viewer, 1)
        lay.addLayout(actions)
        self.generate_button.clicked.connect(lambda: self.generate())
        self.prompt.returnPressed.connect(lambda: self.generate())
        self.save_pt.clicked.connect(lambda: self.save_motion())
        self.save_gif.clicked.connect(lambda: self.save_animation())
        self.critic_button.clicked.connect(self._to_critic)
        self.checkpoint.currentIndexChanged.connect(lambda _i: self._checkpoint_changed())
        self._checkpoint_changed()

    def _checkpoint_changed(self) -> None:
        ck = self.checkpoint.path()
        self.picture.set_checkpoint(ck)
        self.generate_button.setEnabled(bool(ck))
        self.generate_button.setToolTip("" if ck else "No checkpoint to generate with: train a model on the Train page")
        if self.result is None and self.banner.text() in (READY, NO_CHECKPOINT):
            self.banner.setText(READY if ck else NO_CHECKPOINT)
        able = bool(ck) and has_refiner(ck)
        self.refine.setEnabled(able)
        self.refine.setChecked(able and self._refine_wanted)  # greyed and ticked read as "refinement is on"
        self.refine.setToolTip("Run the checkpoint's diffusion refinement over the generated motion "
                               "(smoother, steadier feet)" if able else
                               "This checkpoint has no diffusion refinement module (train with diffusion.enabled)")

    def refresh(self) -> None:
        self.checkpoint.source = self.host.checkpoints   # re-read whenever its list opens
        self.checkpoint.set_paths(self.host.checkpoints())

    def generate(self) -> Task | None:
        ck = self.checkpoint.path()
        if not ck:
            self.failed.emit("Cannot generate", "Pick a checkpoint first (runs/*/checkpoints/*.pth).")
            return None
        prompt, seconds, seed, temp = self.prompt.text(), self.seconds.value(), self.seed.value(), self.temperature.value()
        refine = self.refine.isEnabled() and self.refine.isChecked()
        weights = "int8" if self.int8.isChecked() else "float32"
        image, camera = self.picture.path(), self.picture.camera_text()
        host = self.host
        if weights == "int8" and not host.fast_step_ready(ck):
            # the first fast generation compiles for up to half a minute: say so, or it looks like a hang
            self.banner.setText(COMPILING)
            self.status.emit("compiling the fast (int8) step for this checkpoint…")

        def work():
            gen = host.generator(ck, weights)
            # from a picture, "refine" defers to the generator: the text-only refiner would move the start (a note)
            g = gen.generate(prompt, seconds=seconds, seed=seed, temperature=temp, image=image, camera=camera,
                             refine=None if image and refine else refine)
            g["rejection_threshold"] = gen.critic.config.rejection_severity_threshold
            return g

        task = Task(work, name="generate")
        task.began.connect(lambda: self._busy(True))
        task.ended.connect(lambda: self._busy(False))
        task.finished.connect(self._show)
        self.host.run(task, "Generation failed")
        return task

    def _busy(self, on: bool) -> None:
        self.generate_button.setEnabled(not on and bool(self.checkpoint.path()))
        self.generate_button.setText("Generating…" if on else "Generate")
        if not on and self.banner.text() == COMPILING:  # ended without a result (an error): not compiling now
            self.banner.setText(READY)

    def _show(self, g: dict[str, Any]) -> None:
        self._busy(False)  # ready for the next prompt before anyone hears of this result
        self.result = g
        motion = g["motion"].numpy()
        verdict = result_of(g["safety"], g["rejection_threshold"])
        spans = critic_issues(g["safety"]["issues"], len(motion))
        card = ClipCard(description=g["prompt"] or "(empty prompt)", source="generated",
                        action=Path(g["checkpoint"]).parent.parent.name,
                        status="safe" if verdict.is_safe else "unsafe",
                        status_colour=palette.SFT if verdict.is_safe else palette.DROPPED,
                        metrics={"score": verdict.overall_score, "frames": int(g["frames"]), "seed": self.seed.value(),
                                 **card_metrics(motion, float(g["fps"]), "auto")})
        self.viewer.set_clip(motion, float(g["fps"]), spans, card, ground=0.0)  # generated: y = 0, as the critic judges
        self.viewer.play()
        self.banner.show_result(verdict)
        if g["notes"]:
            self.banner.setText(self.banner.text() + "<br>" + "; ".join(g["notes"]))
        for b in (self.save_pt, self.save_gif, self.critic_button):
            b.setEnabled(True)
        how = (" with int8 weights" if g.get("weights") == "int8" else "") + \
            (" (compiled step)" if g.get("step") == "compiled" else "") + \
            (f" from the picture {Path(g['image']['source']).name}" if "image" in g else "")
        self.status.emit(f"generated {g['frames']} frames{how}: {'safe' if verdict.is_safe else 'unsafe'}")
        self.generated.emit(g)

    def _suggested(self, suffix: str) -> Path:
        root = self.host.workspace.root if self.host.workspace else Path.cwd()
        return root / f"playground-seed{self.seed.value()}{suffix}"

    def save_motion(self, path: str | None = None) -> None:
        if self.result is None:
            return
        path = path or ask_path(self, "Save the motion", self._suggested(".pt"), "Motion (*.pt)")
        if not path:
            return
        try:
            save_generation(self.result, path)
        except (StickGenError, OSError) as exc:
            self.failed.emit("Could not save the motion", str(exc))
            return
        self.status.emit(f"saved {path}")

    def save_animation(self, path: str | None = None) -> None:
        if self.result is None:
            return
        path = path or ask_path(self, "Save the GIF", self._suggested(".gif"), "GIF (*.gif)")
        if path:
            task = gif_task(self.result["motion"].numpy(), self.viewer.issues, float(self.result["fps"]),
                            self.result["prompt"], path)
            task.finished.connect(lambda p: self.status.emit(f"saved {p}"))
            self.host.run(task, "Could not save the GIF")

    def _to_critic(self) -> None:
        g = self.result
        if g is not None:
            self.openInCritic.emit({"motion": g["motion"].numpy(), "physics": g["physics"].numpy(), "prompt": g["prompt"],
                                    "fps": float(g["fps"]), "source": "generated"})

    def motion(self) -> np.ndarray | None:
        return None if self.result is None else self.result["motion"].numpy()
