"""The motion metrics' per-frame passes as they were before they were fused (issue 16), kept verbatim
as the reference ``test_metrics_fused`` compares the fast code with; the parts the fusion left
unchanged are imported from the library. Not used by the library."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

# unchanged by the fusion: the reference uses the library's own
from stickgen_core.metrics import (_FEET, ARTIFACT_KINDS, ClipInput, MetricThresholds, _diff, _norm, _per_clip,
                                   _resolve_ground, _shift, anatomy_metrics, scores)
from stickgen_core.schema import FPS_DEFAULT, NUM_ACTIONS
from stickgen_core.skeleton import _JOINT_END, _JOINT_SEG


# the per-clip extraction as it was before the flat layout (issue 33), verbatim
def _rows(clips: Sequence[ClipInput]):
    """One row per actor: motion ``[T, 48]`` arrays, owning clip index, fps, ground (nan = estimate)."""
    motions, owner, fps, ground = [], [], [], []
    for ci, c in enumerate(clips):
        m = np.asarray(c.motion, dtype=np.float32)
        actors = [m] if m.ndim == 2 else [m[:, a] for a in range(m.shape[1])]
        motions.extend(actors)
        owner.extend([ci] * len(actors))
        fps.extend([float(c.fps or FPS_DEFAULT)] * len(actors))
        # nan: estimate; inf: estimate, snapped to 0 when close ("auto")
        g = np.nan if c.ground is None else np.inf if c.ground == "auto" else float(c.ground)
        ground.extend([g] * len(actors))
    return (motions, torch.tensor(owner), torch.tensor(fps, dtype=torch.float32),
            torch.tensor(ground, dtype=torch.float32))


def _physics_maxima(clips: Sequence[ClipInput], m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Max pelvis velocity and acceleration from ``physics`` when present, else derived."""
    has = np.array([c.physics is not None and len(c.physics) == len(c.motion) for c in clips])
    v = m["derived_max_velocity"].copy()
    a = m["derived_max_accel"].copy()
    if has.any():
        phys = [np.asarray(c.physics, dtype=np.float32) for c, h in zip(clips, has) if h]
        P = torch.from_numpy(np.concatenate(phys))
        F = _Frames(torch.tensor([len(p) for p in phys]))
        everywhere = torch.ones(F.N, dtype=torch.bool)
        v[has] = F.max(_norm(P[:, 0:2]), everywhere).double().numpy()
        a[has] = F.max(_norm(P[:, 2:4]), everywhere).double().numpy()
    return {"max_velocity": v, "max_acceleration": a, "has_physics": has.astype(np.float64)}


def _action_stats(clips: Sequence[ClipInput]) -> dict[str, np.ndarray]:
    """Dominant action, number of distinct actions and normalised label entropy."""
    labels = [np.asarray(c.actions).reshape(-1) if c.actions is not None else np.zeros(0, np.int64) for c in clips]
    lengths = np.array([len(x) for x in labels])
    flat = np.clip(np.concatenate(labels), 0, NUM_ACTIONS - 1).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(clips)), lengths)
    counts = np.bincount(owner * NUM_ACTIONS + flat, minlength=len(clips) * NUM_ACTIONS).reshape(len(clips), NUM_ACTIONS)
    p = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -(np.where(p > 0, p * np.log(p), 0)).sum(1) / np.log(NUM_ACTIONS)
    return {"dominant_action": np.where(lengths > 0, counts.argmax(1), 0).astype(np.float64),
            "n_actions": (counts > 0).sum(1).astype(np.float64), "action_entropy": np.abs(ent)}




class _Frames:
    """All rows' frames back to back (no padding): ``row`` says which row a frame is in.

    A quantity over frame pairs (velocity) lives at the later frame and is valid where
    both frames share a row; likewise for triples, quadruples and quintuples.
    """

    def __init__(self, lengths: torch.Tensor) -> None:
        self.lengths = lengths
        self.B = len(lengths)
        self.row = torch.repeat_interleave(torch.arange(self.B), lengths)
        self.N = len(self.row)
        starts = torch.cumsum(lengths, 0) - lengths
        self.pos = torch.arange(self.N) - starts[self.row]           # frame index within its row

    def valid(self, order: int) -> torch.Tensor:
        """Frames t whose t-order .. t frames are all in the same row."""
        return self.pos >= order

    def count(self, flag: torch.Tensor) -> torch.Tensor:
        return torch.zeros(self.B, dtype=torch.float32).index_add_(0, self.row, flag.float())

    def mean(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        tot = torch.zeros(self.B, dtype=torch.float32).index_add_(0, self.row, torch.where(valid, x, 0.0))
        n = self.count(valid)
        return torch.where(n > 0, tot / n.clamp(min=1), torch.full_like(n, float("nan")))

    def ratio(self, flag: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return self.count(flag & valid) / self.count(valid).clamp(min=1)

    def max(self, x: torch.Tensor, valid: torch.Tensor, empty: float = 0.0) -> torch.Tensor:
        out = torch.full((self.B,), empty, dtype=torch.float32)
        return out.scatter_reduce(0, self.row, torch.where(valid, x, empty), "amax")

    def min(self, x: torch.Tensor, valid: torch.Tensor, empty: float = float("inf")) -> torch.Tensor:
        out = torch.full((self.B,), empty, dtype=torch.float32)
        return out.scatter_reduce(0, self.row, torch.where(valid, x, empty), "amin")


def frame_signals(J: tuple[torch.Tensor, torch.Tensor], F: _Frames, fps: torch.Tensor, ground: torch.Tensor,
                  th: MetricThresholds) -> dict[str, torch.Tensor]:
    """Per-frame signals and artifact flags of the frames ``J = (X, Y)``, each ``[N, 16]``.

    Velocity is judged at the later frame of each pair; the flags (``ARTIFACT_KINDS``)
    mark the frames a person would colour: both frames of a spike, the frame after a skid.
    """
    X, Y = J
    fr = fps[F.row]
    # differences in metres per frame; norms scale linearly, so fps is applied to the
    # per-frame scalars instead of to every coordinate
    dx, dy = _diff(X), _diff(Y)                                        # velocity / fps
    v1 = F.valid(1)
    speed = torch.hypot(dx, dy)                                        # [N, 16]
    mean_speed, max_speed = speed.mean(-1) * fr, speed.amax(-1) * fr
    ax, ay = _diff(dx), _diff(dy)                                      # acceleration / fps^2
    jx, jy = _diff(ax), _diff(ay)                                      # jerk / fps^3 (valid(3))
    jerk = torch.hypot(jx, jy).mean(-1) * fr ** 3                      # m/s^3
    # Jitter is acceleration that flips sign from frame to frame: a fast but smooth limb
    # (a sprinter's ankle) has a large acceleration yet almost none of this part.
    # The second difference of an alternating +a, -a, ... acceleration is 4a, hence / 4.
    hf = torch.hypot(_diff(jx), _diff(jy)).mean(-1) * fr ** 2 / 4.0    # m/s^2 (valid(4))
    y_rel = Y - ground[F.row][:, None]
    feet_y = y_rel[:, _FEET]
    near = (feet_y < th.foot_height) & (_shift(feet_y, 1) < th.foot_height)
    skate = (near & (dx[:, _FEET].abs() * fr[:, None] > th.foot_speed)).any(-1) & v1
    spike = ((mean_speed > th.explosion_speed) | (max_speed > th.explosion_joint_speed)) & v1
    min_y = y_rel.amin(-1)
    jitter = (hf > th.jitter_accel) & F.valid(4)
    return {
        "mean_speed": mean_speed, "max_speed": max_speed, "jerk": jerk, "hf_acc": hf, "skate": skate,
        "spike": spike, "min_y": min_y,
        "frozen": (mean_speed < th.frozen_speed) & v1,
        "jitter": jitter | torch.roll(jitter, -1) & F.valid(3),      # centre the 5-frame window
        "velocity_explosion": spike | (torch.roll(spike, -1) & F.valid(1) & (F.pos < F.lengths[F.row] - 1)),
        "foot_sliding": skate,
        "ground_penetration": min_y < th.penetration_y,
    }


# columns of the 48-vector holding each joint's x and y, in JOINT_NAMES order
_X_COLS = torch.tensor([int(s) * 4 + int(e) * 2 for s, e in zip(_JOINT_SEG, _JOINT_END)])
_Y_COLS = _X_COLS + 1


def _flat_joints(motions: Sequence[np.ndarray]) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor, _Frames]:
    """Planar joints ``(X, Y)`` ``[N, 16]`` and ``[N, 48]`` segments of all rows' frames, and their layout."""
    M = torch.from_numpy(np.concatenate(motions) if len(motions) > 1 else np.asarray(motions[0]))
    lengths = torch.tensor([len(m) for m in motions], dtype=torch.long)
    return (M[:, _X_COLS], M[:, _Y_COLS]), M, _Frames(lengths)


_WORST = {"frozen_ratio", "jitter_ratio", "mean_jerk", "explosion_frames", "foot_sliding_ratio",
          "penetration_frames", "penetration_ratio", "limb_length_cv", "max_joint_speed",
          "derived_max_velocity", "derived_max_accel"}


def _row_metrics(J: tuple[torch.Tensor, torch.Tensor], M: torch.Tensor, F: _Frames, fps: torch.Tensor, ground: torch.Tensor,
                 th: MetricThresholds) -> dict[str, torch.Tensor]:
    s = frame_signals(J, F, fps, ground, th)
    v1, v2 = F.valid(1), F.valid(2)
    everywhere = torch.ones(F.N, dtype=torch.bool)
    row = {
        "mean_joint_speed": F.mean(s["mean_speed"], v1),
        "max_joint_speed": F.max(s["max_speed"], v1),
        "frozen_ratio": F.ratio(s["frozen"], v1),
        "jitter_ratio": F.ratio(s["hf_acc"] > th.jitter_accel, F.valid(4)),
        "mean_jerk": F.mean(s["jerk"], F.valid(3)),
        "explosion_frames": F.count(s["spike"]),
        "foot_sliding_ratio": F.ratio(s["skate"], v1),
        "min_y": F.min(s["min_y"], everywhere),
        "penetration_frames": F.count(s["ground_penetration"]),
        "penetration_ratio": F.ratio(s["ground_penetration"], everywhere),
        "ground_y": ground,
    }
    # limb-length consistency: a 2-D projection foreshortens rigid limbs but never stretches them
    seg = M.view(-1, 12, 4)[:, :11]
    L = torch.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1])   # [N, 11]
    n = F.lengths.clamp(min=1).float()[:, None]
    s1 = torch.zeros(F.B, 11).index_add_(0, F.row, L)
    s2 = torch.zeros(F.B, 11).index_add_(0, F.row, L * L)
    mean_len = s1 / n
    std_len = (s2 / n - mean_len ** 2).clamp(min=0).sqrt()
    row["limb_length_cv"] = (std_len / mean_len.clamp(min=1e-6)).mean(1)
    fr = fps[F.row]
    px, py = _diff(J[0][:, 0]), _diff(J[1][:, 0])
    pv = torch.hypot(px, py) * fr
    pa = torch.hypot(_diff(px), _diff(py)) * fr ** 2
    row["derived_max_velocity"] = F.max(pv, v1)
    row["derived_max_accel"] = F.max(pa, v2)
    return row


def compute_metrics(clips: Sequence[ClipInput], th: MetricThresholds = MetricThresholds()) -> dict[str, np.ndarray]:
    """Clip-level metrics and scores, one value per clip in each returned array.

    Ratios are shares of the clip's frame transitions; ``*_frames`` are counts.
    """
    n = len(clips)
    if n == 0:
        return {}
    with torch.no_grad():
        motions, owner, fps, ground_in = _rows(clips)
        J, M, F = _flat_joints(motions)
        ground = _resolve_ground(J, F, fps, ground_in)
        row = _row_metrics(J, M, F, fps, ground, th)
        out = {k: _per_clip(v, owner, n, "min" if k == "min_y" else "max" if k in _WORST else "mean").numpy()
               for k, v in row.items()}
    out["n_frames"] = np.array([len(c.motion) for c in clips], dtype=np.float64)
    out["actors"] = np.array([1 if np.ndim(c.motion) == 2 else np.shape(c.motion)[1] for c in clips], dtype=np.float64)
    out.update(_physics_maxima(clips, out))
    out["camera_stability"] = _camera_stability(clips, th)
    out.update(_action_stats(clips))
    out.update(anatomy_metrics([c.motion for c in clips]))
    out.update(scores(out, th))
    return out


def _camera_stability(clips: Sequence[ClipInput], th: MetricThresholds) -> np.ndarray:
    """1 / (1 + shake / camera_shake_ref); shake = mean |second difference| of x, y and zoom."""
    out = np.ones(len(clips))
    idx = [i for i, c in enumerate(clips) if c.camera is not None and len(c.camera) >= 3]
    if idx:
        cams = [np.asarray(clips[i].camera, dtype=np.float32) for i in idx]
        C = torch.from_numpy(np.concatenate(cams))
        F = _Frames(torch.tensor([len(c) for c in cams]))
        d2 = _diff(_diff(C)).abs().sum(-1)
        shake = torch.nan_to_num(F.mean(d2, F.valid(2))).double().numpy()
        out[idx] = 1.0 / (1.0 + shake / th.camera_shake_ref)
    return out


def clip_frame_signals(clip: ClipInput, th: MetricThresholds = MetricThresholds()) -> dict[str, np.ndarray]:
    """Per-frame ``[T]`` signals of one clip, worst actor: each of ``ARTIFACT_KINDS`` (bool), the
    magnitudes behind them (``mean_speed``, ``max_speed`` m/s, ``hf_acc`` m/s², ``min_y`` m above
    the ground) and ``ground_y`` (``[1]``, the ground used: the clip's own, else estimated)."""
    with torch.no_grad():
        motions, _, fps, ground_in = _rows([clip])
        J, _, F = _flat_joints(motions)
        ground = _resolve_ground(J, F, fps, ground_in)
        s = frame_signals(J, F, fps, ground, th)
    T = len(clip.motion)
    out = {k: s[k].view(-1, T).any(0).numpy() for k in ARTIFACT_KINDS}
    out.update({k: s[k].view(-1, T).amax(0).numpy() for k in ("mean_speed", "max_speed", "hf_acc")})
    out["min_y"] = s["min_y"].view(-1, T).amin(0).numpy()
    out["ground_y"] = ground[:1].numpy()
    return out


def frame_flags(clip: ClipInput, th: MetricThresholds = MetricThresholds()) -> dict[str, np.ndarray]:
    """Per-frame boolean flags ``[T]`` for each of ``ARTIFACT_KINDS`` (worst actor)."""
    s = clip_frame_signals(clip, th)
    return {k: s[k] for k in ARTIFACT_KINDS}
