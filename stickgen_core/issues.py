"""Issue frame spans: what a motion viewer marks on its timeline, from any source.

Sources: the curation metrics' per-frame flags (with a severity from how far the signal
passes its threshold), the safety critic's issues, and the defects the synthetic generator
injected (the ground truth a synthetic clip carries in its ``meta``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from .frame_runs import runs

if TYPE_CHECKING:  # the metrics (torch) load on first use: the studio shows issues without them at start-up
    from .metrics import ClipInput, MetricThresholds

#: Human names of the issue kinds of every source; other kinds read as their name.
ISSUE_LABELS: dict[str, str] = {
    "frozen": "frozen", "jitter": "jitter", "jittery": "jitter", "velocity_explosion": "velocity spike",
    "velocity": "velocity", "acceleration": "acceleration", "foot_sliding": "foot sliding",
    "ground_penetration": "ground penetration", "repetitive": "repetition", "low_quality": "low quality",
    "shaky_camera": "shaky camera", "too_short": "too short", "detached_limb": "detached limb",
    "bone_length": "bone length", "joint_limit": "joint limit", "height_change": "height change",
}
#: Segments (v3 order) an issue kind is about; a kind not listed concerns the whole figure.
ISSUE_SEGMENTS: dict[str, tuple[int, ...]] = {"foot_sliding": (7, 8, 9, 10)}
#: Segments of the limb, bone or joint an anatomy issue names (its ``part``); "body" is the whole figure.
PART_SEGMENTS: dict[str, tuple[int, ...]] = {
    "left arm": (3, 4), "right arm": (5, 6), "left leg": (7, 8), "right leg": (9, 10),
    "left elbow": (3, 4), "right elbow": (5, 6), "left knee": (7, 8), "right knee": (9, 10),
    "head": (0,), "upper torso": (1,), "lower torso": (2,), "left upper arm": (3,), "left forearm": (4,),
    "right upper arm": (5,), "right forearm": (6,), "left thigh": (7,), "left shin": (8,), "right thigh": (9,),
    "right shin": (10,),
}
# severity of a flag that just reaches its threshold; it rises towards 1 as the signal grows
_SEVERITY_AT_THRESHOLD = 0.3


@dataclass(frozen=True)
class IssueSpan:
    """One issue over frames ``[start, end)``; ``severity`` in [0, 1] (1 = worst)."""

    kind: str
    start: int
    end: int
    severity: float
    description: str
    part: str | None = None  # the limb, bone or joint an anatomy issue names

    @property
    def label(self) -> str:
        return issue_label(self.kind) + (f": {self.part}" if self.part and self.part != "body" else "")

    @property
    def segments(self) -> tuple[int, ...] | None:
        """The segments the issue is about, or None for the whole figure."""
        return PART_SEGMENTS.get(self.part or "") or ISSUE_SEGMENTS.get(self.kind)


def issue_label(kind: str) -> str:
    """The name a person reads for an issue kind."""
    return ISSUE_LABELS.get(kind, kind.replace("_", " "))


def severity_from_ratio(ratio: np.ndarray | float) -> np.ndarray:
    """Map how many times a signal exceeds its threshold (>= 1) to a severity in [0.3, 1]."""
    r = np.maximum(np.asarray(ratio, dtype=np.float64), 1.0)
    return np.clip(1.0 - (1.0 - _SEVERITY_AT_THRESHOLD) / r, _SEVERITY_AT_THRESHOLD, 1.0)


def _overshoot(kind: str, s: Mapping[str, np.ndarray], th: MetricThresholds, fps: float) -> tuple[np.ndarray, str]:
    """Per-frame ratio of a kind's signal to its threshold, and how to describe a span's worst value."""
    T = len(s[kind])
    if kind == "jitter":
        return s["hf_acc"] / th.jitter_accel, "jitter up to {v:.0f} m/s² (limit %g)" % th.jitter_accel
    if kind == "velocity_explosion":
        ratio = np.maximum(s["mean_speed"] / th.explosion_speed, s["max_speed"] / th.explosion_joint_speed)
        return ratio, "body or joint speed up to {v:.1f}× its limit"
    if kind == "ground_penetration":
        depth = -s["min_y"]
        return depth / abs(th.penetration_y), "{d:.2f} m below the ground (limit %g m)" % abs(th.penetration_y)
    # frozen frames and foot skating carry no magnitude: the longer the run, the worse (2 s = 2×)
    return np.full(T, np.nan), "{n} frames ({sec:.1f} s)"


def spans_from_flags(flags: Mapping[str, np.ndarray], severity: Mapping[str, np.ndarray] | None = None,
                     fps: float = 25.0) -> list[IssueSpan]:
    """One span per run of flagged frames; ``severity[kind]`` per frame (max over the run) or
    a length-based severity (one second of flags = threshold, growing with the run)."""
    out: list[IssueSpan] = []
    for kind, flag in flags.items():
        for a, b in runs(flag):
            sev = float(np.nanmax(severity[kind][a:b])) if severity and kind in severity else \
                float(severity_from_ratio((b - a) / max(fps, 1.0)))
            out.append(IssueSpan(kind, a, b, sev, f"{issue_label(kind)}: frames {a}–{b - 1}"))
    return out


def curation_issues(clip: ClipInput, th: MetricThresholds | None = None) -> list[IssueSpan]:
    """The curation metrics' flagged frames of one clip as spans, worst first within a kind."""
    from .metrics import ARTIFACT_KINDS, MetricThresholds, clip_frame_signals

    th = th if th is not None else MetricThresholds()
    s = clip_frame_signals(clip, th)
    fps = float(clip.fps or 25.0)
    out: list[IssueSpan] = []
    for kind in ARTIFACT_KINDS:
        ratio, text = _overshoot(kind, s, th, fps)
        for a, b in runs(s[kind]):
            n = b - a
            if np.isfinite(ratio[a:b]).any():
                worst = float(np.nanmax(ratio[a:b]))
                detail = text.format(v=worst if kind != "jitter" else worst * th.jitter_accel,
                                     d=worst * abs(th.penetration_y))
            else:
                worst, detail = n / fps, text.format(n=n, sec=n / fps)
            out.append(IssueSpan(kind, a, b, float(severity_from_ratio(worst)),
                                 f"{issue_label(kind)}, frames {a}–{b - 1}: {detail}"))
    return out


def critic_issues(issues: Iterable[Any], n_frames: int) -> list[IssueSpan]:
    """Spans of the safety critic's issues (``SafetyIssue`` or their report dicts); an issue
    without a frame range covers the whole clip."""
    out: list[IssueSpan] = []
    for i in issues:
        d = i.to_dict() if hasattr(i, "to_dict") else dict(i)
        ranges = [tuple(r) for r in d.get("frame_range") or []] or [(0, n_frames)]
        for a, b in ranges:
            out.append(IssueSpan(str(d["type"]), int(a), int(min(b, n_frames)), float(d["severity"]),
                                 str(d.get("description", "")), str(d["part"]) if d.get("part") else None))
    return out


def injected_defect_spans(meta: Mapping[str, Any] | None, n_frames: int) -> list[IssueSpan]:
    """The defects the synthetic generator injected (``meta['injected_defects']``), as spans."""
    out: list[IssueSpan] = []
    for d in (meta or {}).get("injected_defects") or []:
        extra = ", ".join(_measure(k, v) for k, v in d.items()
                          if k not in ("type", "start", "end") and isinstance(v, (int, float)))
        a, b = int(d.get("start", 0)), int(min(d.get("end", n_frames), n_frames))
        out.append(IssueSpan(str(d["type"]), a, b, 1.0,
                             f"injected {issue_label(str(d['type']))}, frames {a}–{b - 1}" + (f" ({extra})" if extra else "")))
    return out


def _measure(key: str, value: float) -> str:
    """``depth_m, 0.25`` -> ``depth 0.25 m`` (the generator names its measures with a unit suffix)."""
    for suffix, unit in (("_m_s", " m/s"), ("_m", " m")):
        if key.endswith(suffix):
            return f"{key[: -len(suffix)].replace('_', ' ')} {value:.2f}{unit}"
    return f"{key.replace('_', ' ')} {value:.2f}"


def kinds_in_order(spans: Sequence[IssueSpan]) -> list[str]:
    """The distinct kinds of ``spans``: known kinds in ``ISSUE_LABELS`` order, then the rest."""
    present = {s.kind for s in spans}
    known = [k for k in ISSUE_LABELS if k in present]
    return known + sorted(present - set(known))


def flagged_frames(spans: Sequence[IssueSpan], n_frames: int) -> np.ndarray:
    """A per-frame bool mask: True where any span covers the frame (e.g. a GIF's red frame counter)."""
    mask = np.zeros(int(n_frames), dtype=bool)
    for s in spans:
        mask[max(s.start, 0): min(s.end, n_frames)] = True
    return mask
