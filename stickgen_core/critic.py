"""The safety critic: degenerate or implausible motion, with the frames where it happens.

Checks and severities follow the spec (section 7.1): frozen (near-zero velocity on more
than 80 % of frames, 0.9), repetitive (3 or more near-identical windows, 0.7), jittery
(high frame-alternating acceleration on more than 30 % of frames, 0.6), velocity above
15 m/s (0.8), acceleration above 50 m/s^2 (0.7), ground penetration below y = -0.1 (0.6),
quality below 0.3 (0.5). A clip is unsafe when any severity reaches
``rejection_severity_threshold`` (0.7).

Beyond the spec, the critic rejects what is not a body (``anatomy``): a limb detached from
the torso or pelvis (0.8), a bone that stretches or bone lengths that vary over the clip
(0.7), an elbow or knee bent the wrong way or the head below the shoulders (0.7), and a
figure that grows or shrinks without bending (0.7). Each issue names the limb, bone or joint.
A prompt that falls, lies or flips explains a head below the shoulders and a shrinking figure.

Unlike the reference, repetition compares windows of *velocity* (so a figure that merely
stands in one place is not "repetitive"), and the ground is estimated from resting feet
for data that does not stand on y = 0 (``ground="auto"`` looks at the data, not at the source).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .anatomy import find_violations
from .critic_config import SafetyCriticConfig
from .errors import MotionInputError
from .frame_runs import runs
from .metrics import ClipInput, MetricThresholds, compute_metrics, frame_flags, scores
from .schema import FPS_DEFAULT, motion_array
from .threads import single_thread

#: The ground generated motion is judged on: y = 0, where every generation starts (``ground="auto"``
#: reads the floor from the data, which suits files from elsewhere but forgives a clip that sinks).
GENERATED_GROUND = "zero"


@dataclass
class SafetyIssue:
    type: str
    severity: float
    description: str
    frame_ranges: list[tuple[int, int]] = field(default_factory=list)  # [start, end) in frames

    part: str | None = None  # the limb, bone or joint an anatomy issue is about

    def to_dict(self) -> dict[str, Any]:
        d = {"type": self.type, "severity": self.severity, "description": self.description,
             "frame_range": [list(r) for r in self.frame_ranges]}
        if self.part:
            d["part"] = self.part
        return d


@dataclass
class SafetyResult:
    is_safe: bool
    overall_score: float                     # 1 = no issue; falls with the worst severity
    issues: list[SafetyIssue]
    threshold: float
    notes: list[str] = field(default_factory=list)

    def get_rejection_reasons(self) -> list[str]:
        return [f"{i.type}: {i.description}" for i in self.issues if i.severity >= self.threshold]

    def to_dict(self) -> dict[str, Any]:
        return {"is_safe": self.is_safe, "overall_score": self.overall_score,
                "issues": [i.to_dict() for i in self.issues], "notes": self.notes}


def _as_np(x) -> np.ndarray | None:
    if x is None:
        return None
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


class SafetyCritic:
    def __init__(self, config: SafetyCriticConfig | None = None) -> None:
        self.config = config or SafetyCriticConfig()

    def _thresholds(self) -> MetricThresholds:
        c = self.config
        return MetricThresholds(frozen_speed=c.frozen_velocity, jitter_accel=c.jitter_acceleration,
                                penetration_y=c.ground_threshold)

    def floor(self) -> float | str | None:
        """The ground setting clips are judged on, as ``ClipInput.ground`` takes it: 0.0, None
        (estimated from the resting feet) or "auto". It comes from the data, never from the
        source's name: files from elsewhere stand anywhere, and a generated clip that sinks
        still rests on y = 0 for part of its frames."""
        return {"zero": 0.0, "estimate": None, "auto": "auto"}[self.config.ground]

    def evaluate(self, motion, physics=None, prompt: str | None = None, fps: float = FPS_DEFAULT,
                 source: str | None = None, quality: float | None = None) -> SafetyResult:
        """Judge one clip (``[T, 48]`` or ``[T, A, 48]``; physics optional, derived when absent).
        Raises ``MotionInputError`` naming what is wrong for anything else (None, text, a wrong shape)."""
        motion = motion_array(motion, "motion")
        if physics is not None:
            physics = motion_array(physics, "physics", width=None)
        if prompt is not None and not isinstance(prompt, str):
            raise MotionInputError(f"prompt: expected text or None, got {type(prompt).__name__}")
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not np.isfinite(fps) or not 0 < fps <= 1000:
            raise MotionInputError(f"fps: expected a frame rate in (0, 1000], got {fps!r}")
        with single_thread():  # one clip is ~100 small ops: a second thread only adds barriers
            return self._evaluate(motion, physics, prompt, fps, source, quality)

    def _evaluate(self, motion, physics, prompt: str | None, fps: float, source: str | None,
                  quality: float | None) -> SafetyResult:
        c = self.config
        m = _as_np(motion).astype(np.float32)
        T = len(m)
        notes: list[str] = []
        bad = ~np.isfinite(m.reshape(T, -1)).all(axis=1) if T else np.zeros(0, bool)
        if bad.any():  # NaN/inf motion is broken output, never "safe"; no other check means anything on it
            return SafetyResult(False, 0.0, [SafetyIssue(
                "non_finite", 1.0, f"NaN or infinite coordinates on {int(bad.sum())} of {T} frames", runs(bad))],
                c.rejection_severity_threshold, notes)
        if T < 2:
            return SafetyResult(True, 1.0, [], c.rejection_severity_threshold, ["fewer than 2 frames: nothing to judge"])
        clip = ClipInput(m, fps, _as_np(physics), None, None, self.floor())
        th = self._thresholds()
        flags = frame_flags(clip, th)
        raw = compute_metrics([clip], th)
        # quality leaves the anatomy out: the anatomy checks below judge it, with this critic's limits
        raw["anatomy_violation_ratio"] = np.zeros(1)
        raw.update(scores(raw, th))
        metrics = {k: float(v[0]) for k, v in raw.items()}
        issues: list[SafetyIssue] = []
        still = bool(prompt) and any(w in prompt.lower() for w in c.stillness_words)
        frozen = flags["frozen"][1:].mean()
        if frozen > c.frozen_ratio:
            if still:
                notes.append(f"the prompt asks for stillness: {frozen:.0%} still frames are expected, not frozen")
            else:
                issues.append(SafetyIssue("frozen", c.frozen_severity,
                                          f"the figure barely moves on {frozen:.0%} of frames (more than {c.frozen_ratio:.0%})",
                                          runs(flags["frozen"])))
        jitter = flags["jitter"].mean()
        if jitter > c.jitter_ratio:
            issues.append(SafetyIssue("jittery", c.jitter_severity,
                                      f"frame-to-frame jitter on {jitter:.0%} of frames (more than {c.jitter_ratio:.0%})",
                                      runs(flags["jitter"])))
        vel, acc, jump = self._pelvis_physics(m, _as_np(physics), fps, c.max_velocity)
        fast = (vel > c.max_velocity) | (jump > c.max_velocity)
        if fast.any():
            issues.append(SafetyIssue("velocity", c.velocity_severity,
                                      f"velocity reaches {max(vel.max(), jump.max()):.1f} m/s (limit {c.max_velocity:g})",
                                      runs(fast)))
        hard = acc > c.max_acceleration
        if hard.any():
            issues.append(SafetyIssue("acceleration", c.acceleration_severity,
                                      f"acceleration reaches {acc.max():.0f} m/s^2 (limit {c.max_acceleration:g})", runs(hard)))
        if flags["ground_penetration"].any():
            ground = metrics["ground_y"]
            issues.append(SafetyIssue("ground_penetration", c.ground_severity,
                                      f"body parts go {metrics['min_y']:.2f} m below the ground (y = {ground:.2f}); "
                                      f"limit {c.ground_threshold:g}", runs(flags["ground_penetration"])))
        rep = self._repetition(m)
        if rep:
            issues.append(rep)
        found, body_notes = find_violations(m, c.anatomy_limits(), prompt, c.lying_words)
        severity = {"detached_limb": c.detached_limb_severity, "bone_length": c.bone_length_severity,
                    "joint_limit": c.joint_limit_severity, "height_change": c.height_change_severity}
        issues.extend(SafetyIssue(f.kind, severity[f.kind], f.description, f.frame_ranges, f.part) for f in found)
        notes.extend(body_notes)
        q = quality if quality is not None else (1 - metrics["artifact_score"]) * metrics["realism_score"]
        if q < c.min_quality:
            issues.append(SafetyIssue("low_quality", c.quality_severity,
                                      f"quality {q:.2f} is below {c.min_quality:g}", [(0, T)]))
        worst = max((i.severity for i in issues), default=0.0)
        return SafetyResult(worst < c.rejection_severity_threshold, round(1.0 - worst, 4), issues,
                            c.rejection_severity_threshold, notes)

    @staticmethod
    def _pelvis_physics(m: np.ndarray, physics: np.ndarray | None, fps: float, limit: float) -> tuple[np.ndarray, ...]:
        """Per-frame speed and acceleration (from ``physics`` when it matches, else derived), and the
        one-sided pelvis speed into or out of each frame, which marks the very frame of a teleport."""
        seg = m.reshape(len(m), -1, 12, 4)
        pelvis = 0.5 * (seg[:, :, 11, 0:2] + seg[:, :, 11, 2:4])          # mid-hip of every actor
        d = np.diff(pelvis, axis=0)                                       # [T-1, A, 2]
        step = np.linalg.norm(d, axis=-1).max(-1) * fps
        jump = np.maximum(np.r_[0.0, step], np.r_[step, 0.0])
        # a teleport out and back a few frames later displaces every frame in between
        spikes = np.flatnonzero(step > limit)
        for a, b in zip(spikes[:-1], spikes[1:]):
            if b - a <= 10 and np.linalg.norm(d[a] + d[b]) < 0.3 * np.linalg.norm(d[a]):
                jump[a + 1: b + 1] = np.maximum(jump[a + 1: b + 1], step[a])
        if physics is not None and len(physics) == len(m) and physics.shape[-1] >= 4 and np.isfinite(physics).all():
            return np.hypot(physics[:, 0], physics[:, 1]), np.hypot(physics[:, 2], physics[:, 3]), jump
        v = np.gradient(pelvis, 1.0 / fps, axis=0)
        a = np.gradient(v, 1.0 / fps, axis=0)
        return np.linalg.norm(v, axis=-1).max(-1), np.linalg.norm(a, axis=-1).max(-1), jump

    def _repetition(self, m: np.ndarray) -> SafetyIssue | None:
        """Windows of joint velocity that (nearly) repeat: a motion stuck in a loop."""
        c = self.config
        W = c.repetition_window
        vel = np.diff(m.reshape(len(m), -1), axis=0)
        n = len(vel) // W
        if n < c.repetition_min_windows:
            return None
        win = vel[: n * W].reshape(n, -1)
        norm = np.linalg.norm(win, axis=1)
        moving = norm > 1e-4 * np.sqrt(win.shape[1])   # a still window is the frozen check's business
        unit = win / np.maximum(norm, 1e-12)[:, None]
        sim = unit @ unit.T
        np.fill_diagonal(sim, 0)
        close = (sim >= c.repetition_similarity) & moving[:, None] & moving[None, :]
        counts = close.sum(1) + 1
        if counts.max() < c.repetition_min_windows:
            return None
        k = int(np.argmax(counts))
        members = np.flatnonzero(close[k]).tolist() + [k]
        ranges = sorted((1 + i * W, 1 + (i + 1) * W) for i in members)
        return SafetyIssue("repetitive", c.repetitive_severity,
                           f"{len(members)} windows of {W} frames repeat the same movement (similarity >= "
                           f"{c.repetition_similarity})", ranges)
