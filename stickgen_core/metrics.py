"""Batched motion metrics over many clips at once (numpy over a padded batch with masks).

All clips' frames are laid back to back in one ``[N, 16, 2]`` torch tensor (no
padding); differences that would cross from one clip into the next are masked, and
per-clip values are scatter-reductions over a frame -> clip index. There is no Python
loop over clips or frames in the arithmetic.
Multi-actor clips contribute one row per actor and are reduced back per clip (worst
actor for artifacts, mean for speeds). Units: metres, seconds, y up.

Per-frame signals (``frame_flags``) use the same code on a batch of one, so the
studio colours exactly the frames the clip-level ratios count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .anatomy import anatomy_metrics
from .flat_clips import FlatClips
from .schema import FPS_DEFAULT, JOINT_INDEX, NUM_ACTIONS, SEGMENTS
from .skeleton import _JOINT_END, _JOINT_SEG

_SEG_A = np.array([JOINT_INDEX[a] for _, a, _ in SEGMENTS[:11]])  # rigid segments only
_SEG_B = np.array([JOINT_INDEX[b] for _, _, b in SEGMENTS[:11]])
_FEET = np.array([JOINT_INDEX["l_ankle"], JOINT_INDEX["r_ankle"]])
ARTIFACT_KINDS = ("frozen", "jitter", "velocity_explosion", "foot_sliding", "ground_penetration")


@dataclass(frozen=True)
class MetricThresholds:
    """What counts as an artifact frame. Defaults suit metre-scale 25 fps data."""

    frozen_speed: float = 0.002        # m/s, mean joint speed below this = frozen frame
    jitter_accel: float = 25.0         # m/s^2 of frame-to-frame alternating acceleration = jittery frame
    explosion_speed: float = 12.0      # m/s of the mean joint speed = the whole body jumped (a teleport)
    explosion_joint_speed: float = 50.0  # m/s of any one joint (a pitcher's hand peaks near 40)
    foot_height: float = 0.05          # m above ground: the 5 cm foot-contact convention
    foot_speed: float = 0.5            # m/s horizontal: the 0.5 m/s foot-skating convention
    penetration_y: float = -0.1        # m below ground = penetrating frame
    human_speed: float = 8.0           # m/s of the pelvis where realism starts to drop
    human_accel: float = 50.0          # m/s^2 of the pelvis where realism starts to drop (hard landings)
    camera_shake_ref: float = 0.01     # m/frame^2 of camera shake that halves stability


@dataclass
class ClipInput:
    """What the metrics need of one sample (arrays, not tensors)."""

    motion: np.ndarray                 # [T, 48] or [T, A, 48]
    fps: float = FPS_DEFAULT
    physics: np.ndarray | None = None  # [T, 6]
    camera: np.ndarray | None = None   # [T, 3]
    actions: np.ndarray | None = None  # [T] or [T, A]
    ground: float | str | None = None  # None: estimate from resting feet; "auto": estimate, and take
                                       # y = 0 when the estimate agrees within AUTO_GROUND_TOLERANCE; else this y


#: ``ground="auto"`` takes y = 0 as the floor when this share of the resting-foot frames
#: stand within this many metres of it (a figure that sinks for part of a clip still has
#: its floor at 0); otherwise it takes the estimate from the resting feet.
AUTO_GROUND_TOLERANCE = 0.03
AUTO_GROUND_SHARE = 0.05


def _norm(v: torch.Tensor) -> torch.Tensor:
    return torch.hypot(v[..., 0], v[..., 1])


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
        self.starts = torch.cumsum(lengths, 0) - lengths
        self.pos = torch.arange(self.N) - self.starts[self.row]      # frame index within its row
        self._valid: dict[int, torch.Tensor] = {}

    def valid(self, order: int) -> torch.Tensor:
        """Frames t whose t-order .. t frames are all in the same row (memoised: read many times)."""
        if order not in self._valid:
            self._valid[order] = self.pos >= order
        return self._valid[order]

    def n_valid(self, order: int) -> torch.Tensor:
        """How many frames of each row are ``valid(order)`` (no pass over the frames)."""
        return (self.lengths - order).clamp(min=0).float()

    def count(self, flag: torch.Tensor) -> torch.Tensor:
        """Set flags per row: a running sum read at the row ends (exact in int64)."""
        c = torch.cumsum(flag, 0)
        ends = self.starts + self.lengths - 1
        total = c[ends.clamp(min=0)] if self.N else torch.zeros(self.B, dtype=torch.long)
        before = torch.where(self.starts > 0, c[(self.starts - 1).clamp(min=0)], 0) if self.N else total
        return torch.where(self.lengths > 0, total - before, 0).float()

    def mean(self, x: torch.Tensor, valid: torch.Tensor, order: int | None = None) -> torch.Tensor:
        """Mean of ``x`` over each row's ``valid`` frames (``order``: valid is ``valid(order)``, counted without a pass)."""
        tot = torch.zeros(self.B, dtype=torch.float32).index_add_(0, self.row, torch.where(valid, x, 0.0))
        n = self.n_valid(order) if order is not None else self.count(valid)
        return torch.where(n > 0, tot / n.clamp(min=1), torch.full_like(n, float("nan")))

    def ratio(self, flag: torch.Tensor, valid: torch.Tensor, order: int | None = None) -> torch.Tensor:
        n = self.n_valid(order) if order is not None else self.count(valid)
        return self.count(flag & valid) / n.clamp(min=1)

    def max(self, x: torch.Tensor, valid: torch.Tensor, empty: float = 0.0) -> torch.Tensor:
        out = torch.full((self.B,), empty, dtype=torch.float32)
        return out.scatter_reduce(0, self.row, torch.where(valid, x, empty), "amax")

    def min(self, x: torch.Tensor, valid: torch.Tensor, empty: float = float("inf")) -> torch.Tensor:
        out = torch.full((self.B,), empty, dtype=torch.float32)
        return out.scatter_reduce(0, self.row, torch.where(valid, x, empty), "amin")


def _shift(x: torch.Tensor, k: int) -> torch.Tensor:
    """x[t - k] at t (first k frames repeat x[0]); only read where ``valid(k)``."""
    return torch.cat([x[:1].expand(k, *x.shape[1:]), x[:-k]]) if k else x


def _diff(x: torch.Tensor) -> torch.Tensor:
    """x[t] - x[t-1] at t (zero at t = 0), written in place of a concatenation."""
    out = torch.empty_like(x)
    out[:1] = 0
    torch.sub(x[1:], x[:-1], out=out[1:])
    return out


def _resting_feet(J: tuple[torch.Tensor, torch.Tensor], F: _Frames, fps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower-foot height per frame, and which frames count for the ground: the feet rest
    (slower than 0.3 m/s), or every frame of a row that never rests."""
    X, Y = J
    feet_y = Y[:, _FEET].amin(1)
    v = torch.maximum(_diff(X[:, _FEET]).abs().amax(1), _diff(Y[:, _FEET]).abs().amax(1)) * fps[F.row]
    resting = (v < 0.3) & F.valid(1)
    has_rest = F.count(resting) > 0
    return feet_y, torch.where(has_rest[F.row], resting, torch.ones_like(resting))


def estimate_ground(J: tuple[torch.Tensor, torch.Tensor], F: _Frames, fps: torch.Tensor) -> torch.Tensor:
    """Ground height per row: the 10th percentile of the lower foot while it rests."""
    feet_y, use = _resting_feet(J, F, fps)
    # per-row percentile: sort (row, value) pairs once for all rows
    key = torch.where(use, feet_y, torch.inf)
    order = torch.argsort(F.row.double() * 1e6 + key.double().clamp(-1e5, 1e5))
    n_use = F.count(use).long()
    starts = torch.cumsum(F.lengths, 0) - F.lengths
    pick = starts + (0.1 * (n_use - 1).clamp(min=0)).long()
    g = feet_y[order][pick.clamp(max=max(F.N - 1, 0))]
    return torch.where(n_use > 0, g, torch.zeros_like(g))


def rests_on_zero(J: tuple[torch.Tensor, torch.Tensor], F: _Frames, fps: torch.Tensor) -> torch.Tensor:
    """Per row: its first frame, or at least ``AUTO_GROUND_SHARE`` of its supported-foot frames,
    stand on y = 0 (within ``AUTO_GROUND_TOLERANCE``): the data agrees that the floor is y = 0."""
    X, Y = J
    feet_y = Y[:, _FEET].amin(1)
    # the lower foot is supported when it does not move up or down (it may still slide:
    # a jog whose stance foot skids stands on its floor all the same)
    vy = _diff(feet_y).abs() * fps[F.row]
    supported = (vy < 0.3) & F.valid(1)
    near = feet_y.abs() <= AUTO_GROUND_TOLERANCE
    on_zero = supported & near
    # a clip that starts on y = 0 (a generation from its seed pose) keeps that floor even when
    # it then sinks for most of its frames
    starts_on_zero = F.count(near & (F.pos == 0)) > 0
    return starts_on_zero | (F.count(on_zero) >= AUTO_GROUND_SHARE * F.count(supported).clamp(min=1))


def frame_signals(J: tuple[torch.Tensor, torch.Tensor], F: _Frames, fps: torch.Tensor, ground: torch.Tensor,
                  th: MetricThresholds) -> dict[str, torch.Tensor]:
    """Per-frame signals and artifact flags of the frames ``J = (X, Y)``, each ``[N, 16]``.

    Velocity is judged at the later frame of each pair; the flags (``ARTIFACT_KINDS``)
    mark the frames a person would colour: both frames of a spike, the frame after a skid.
    """
    X, Y = J
    fr = fps[F.row]
    # differences in metres per frame; norms scale linearly, so fps is applied to the
    # per-frame scalars instead of to every coordinate. x and y sit side by side in one
    # [N, 32] array (``_flat_joints``), so each difference is one pass, not two.
    XY = _xy(J)
    d1 = _diff(XY)                                                     # velocity / fps
    dx, dy = d1[:, :16], d1[:, 16:]
    v1 = F.valid(1)
    speed = torch.hypot(dx, dy)                                        # [N, 16]
    mean_speed, max_speed = speed.mean(-1) * fr, speed.amax(-1) * fr
    d3 = _diff(_diff(d1))                                              # jerk / fps^3 (valid(3))
    jerk = torch.hypot(d3[:, :16], d3[:, 16:]).mean(-1) * fr ** 3      # m/s^3
    # Jitter is acceleration that flips sign from frame to frame: a fast but smooth limb
    # (a sprinter's ankle) has a large acceleration yet almost none of this part.
    # The second difference of an alternating +a, -a, ... acceleration is 4a, hence / 4.
    d4 = _diff(d3)
    hf = torch.hypot(d4[:, :16], d4[:, 16:]).mean(-1) * fr ** 2 / 4.0  # m/s^2 (valid(4))
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


def _resolve_ground(J: tuple[torch.Tensor, torch.Tensor], F: _Frames, fps: torch.Tensor,
                    ground_in: torch.Tensor) -> torch.Tensor:
    """Per-row ground: given values as they are; estimated where nan; for "auto" (inf) 0 where
    the data agrees (``rests_on_zero``), else the estimate."""
    fixed = torch.isfinite(ground_in)
    if bool(fixed.all()):
        return ground_in
    est = estimate_ground(J, F, fps)
    auto = torch.isinf(ground_in)
    if bool(auto.any()):
        est = torch.where(auto & rests_on_zero(J, F, fps), torch.zeros_like(est), est)
    return torch.where(fixed, ground_in, est)


# columns of the 48-vector holding each joint's x and y, in JOINT_NAMES order
_X_COLS = torch.tensor([int(s) * 4 + int(e) * 2 for s, e in zip(_JOINT_SEG, _JOINT_END)])
_Y_COLS = _X_COLS + 1


_XY_COLS = torch.cat([_X_COLS, _Y_COLS])


def _xy(J: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """``[N, 32]`` x then y of every joint: the array behind ``J`` when it is one, else a copy."""
    X, Y = J
    base = X._base
    if (base is not None and base.dim() == 2 and base.shape[1] == 32 and X.shape[1] == 16 and base.is_contiguous()
            and X.data_ptr() == base.data_ptr() and Y.data_ptr() == base.data_ptr() + 16 * base.element_size()):
        return base
    return torch.cat([X, Y], dim=1)


def _flat_joints(motions: Sequence[np.ndarray] | np.ndarray, lengths: np.ndarray | None = None
                 ) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor, _Frames]:
    """Planar joints ``(X, Y)`` ``[N, 16]`` (views of one ``[N, 32]`` array) and ``[N, 48]`` segments
    of all rows' frames, and their layout (``motions``: a list of rows, or their frames back to back
    with ``lengths``)."""
    if lengths is None:
        lengths = np.array([len(m) for m in motions])
        motions = np.concatenate(motions) if len(motions) > 1 else np.asarray(motions[0])
    M = torch.from_numpy(np.ascontiguousarray(motions, dtype=np.float32))
    XY = M[:, _XY_COLS]
    return (XY[:, :16], XY[:, 16:]), M, _Frames(torch.as_tensor(lengths, dtype=torch.long))


def _per_clip(values: torch.Tensor, owner: torch.Tensor, n: int, how: str) -> torch.Tensor:
    values = values.to(torch.float64)
    if how == "max":
        return torch.full((n,), -torch.inf, dtype=torch.float64).scatter_reduce(0, owner, values, "amax")
    if how == "min":
        return torch.full((n,), torch.inf, dtype=torch.float64).scatter_reduce(0, owner, values, "amin")
    return torch.zeros(n, dtype=torch.float64).scatter_reduce(0, owner, values, "mean", include_self=False)


_WORST = {"frozen_ratio", "jitter_ratio", "mean_jerk", "explosion_frames", "foot_sliding_ratio",
          "penetration_frames", "penetration_ratio", "limb_length_cv", "max_joint_speed",
          "derived_max_velocity", "derived_max_accel"}


def _row_metrics(J: tuple[torch.Tensor, torch.Tensor], M: torch.Tensor, F: _Frames, fps: torch.Tensor, ground: torch.Tensor,
                 th: MetricThresholds) -> dict[str, torch.Tensor]:
    s = frame_signals(J, F, fps, ground, th)
    v1, v2 = F.valid(1), F.valid(2)
    everywhere = torch.ones(F.N, dtype=torch.bool)
    row = {
        "mean_joint_speed": F.mean(s["mean_speed"], v1, 1),
        "max_joint_speed": F.max(s["max_speed"], v1),
        "frozen_ratio": F.ratio(s["frozen"], v1, 1),
        "jitter_ratio": F.ratio(s["hf_acc"] > th.jitter_accel, F.valid(4), 4),
        "mean_jerk": F.mean(s["jerk"], F.valid(3), 3),
        "explosion_frames": F.count(s["spike"]),
        "foot_sliding_ratio": F.ratio(s["skate"], v1, 1),
        "min_y": F.min(s["min_y"], everywhere),
        "penetration_frames": F.count(s["ground_penetration"]),
        "penetration_ratio": F.ratio(s["ground_penetration"], everywhere, 0),
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
    if len(clips) == 0:
        return {}
    return compute_metrics_flat(FlatClips.of(clips), th)


def compute_metrics_flat(clips: FlatClips, th: MetricThresholds = MetricThresholds()) -> dict[str, np.ndarray]:
    """``compute_metrics`` of clips laid back to back (``FlatClips``): the same values, no per-clip objects."""
    n = len(clips.frames)
    if n == 0:
        return {}
    with torch.no_grad():
        rows, row_len, owner = clips.actor_rows()
        J, M, F = _flat_joints(rows, row_len)
        owner_t = torch.from_numpy(owner)
        fps = torch.from_numpy(clips.fps.astype(np.float32))[owner_t]
        ground_in = torch.from_numpy(clips.ground.astype(np.float32))[owner_t]
        ground = _resolve_ground(J, F, fps, ground_in)
        row = _row_metrics(J, M, F, fps, ground, th)
        out = {k: _per_clip(v, owner_t, n, "min" if k == "min_y" else "max" if k in _WORST else "mean").numpy()
               for k, v in row.items()}
    out["n_frames"] = clips.frames.astype(np.float64)
    out["actors"] = clips.actors.astype(np.float64)
    out.update(_physics_maxima(clips, out))
    out["camera_stability"] = _camera_stability(clips, th)
    out.update(_action_stats(clips))
    out.update(anatomy_metrics(clips.clip_motions()))
    out.update(scores(out, th))
    return out


def _physics_maxima(clips: FlatClips, m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Max pelvis velocity and acceleration from ``physics`` when present, else derived."""
    has = clips.physics_rows == clips.frames
    v = m["derived_max_velocity"].copy()
    a = m["derived_max_accel"].copy()
    if has.any():
        F = _Frames(torch.from_numpy(np.maximum(clips.physics_rows, 0)))
        P = torch.from_numpy(clips.physics)
        everywhere = torch.ones(F.N, dtype=torch.bool)
        v[has] = F.max(_norm(P[:, 0:2]), everywhere).double().numpy()[has]
        a[has] = F.max(_norm(P[:, 2:4]), everywhere).double().numpy()[has]
    return {"max_velocity": v, "max_acceleration": a, "has_physics": has.astype(np.float64)}


def _camera_stability(clips: FlatClips, th: MetricThresholds) -> np.ndarray:
    """1 / (1 + shake / camera_shake_ref); shake = mean |second difference| of x, y and zoom."""
    out = np.ones(len(clips.frames))
    idx = clips.camera_rows >= 3
    if idx.any():
        F = _Frames(torch.from_numpy(np.maximum(clips.camera_rows, 0)))
        d2 = _diff(_diff(torch.from_numpy(clips.camera))).abs().sum(-1)
        shake = torch.nan_to_num(F.mean(d2, F.valid(2), 2)).double().numpy()
        out[idx] = 1.0 / (1.0 + shake[idx] / th.camera_shake_ref)
    return out


def _action_stats(clips: FlatClips) -> dict[str, np.ndarray]:
    """Dominant action, number of distinct actions and normalised label entropy."""
    n, lengths = len(clips.frames), clips.action_counts
    flat = np.clip(clips.actions, 0, NUM_ACTIONS - 1).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(n), lengths)
    counts = np.bincount(owner * NUM_ACTIONS + flat, minlength=n * NUM_ACTIONS).reshape(n, NUM_ACTIONS)
    p = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -(np.where(p > 0, p * np.log(p), 0)).sum(1) / np.log(NUM_ACTIONS)
    return {"dominant_action": np.where(lengths > 0, counts.argmax(1), 0).astype(np.float64),
            "n_actions": (counts > 0).sum(1).astype(np.float64), "action_entropy": np.abs(ent)}


def scores(m: dict[str, np.ndarray], th: MetricThresholds = MetricThresholds()) -> dict[str, np.ndarray]:
    """Artifact and realism scores (0-1) from clip metrics.

    artifact_score = 1 - (1 - j)(1 - f)(1 - s)(1 - e), each term clipped to [0, 1]:
        j = (jitter_ratio - 0.25) / 0.3        (fast limbs whip a little; 55 % of frames = full)
        f = frozen_ratio / 0.5                 (half the clip stopped dead = full)
        s = (foot_sliding_ratio - 0.35) / 0.3  (toe-off and heel-strike skids are normal)
        e = explosion_frames / 2               (one teleport = two spike frames = full)
    so any one artifact alone can fail a clip, and clean motion scores near 0.
    realism_score = r_pen * r_vel * r_acc * r_limb * r_body with
        r_pen  = 1 - penetration_ratio / 0.1,
        r_vel  = 1 - (max_velocity - human_speed) / 7,       (8 m/s fine, 15 m/s zero)
        r_acc  = 1 - (max_acceleration - human_accel) / 40,  (50 m/s^2 fine, 90 zero)
        r_limb = 1 - (limb_length_cv - 0.15) / 0.25,
        r_body = 1 - anatomy_violation_ratio / 0.1   (a tenth of the frames not a body = zero),
    each clipped to [0, 1] (r_body is 1 where the anatomy was not measured).
    """
    c = lambda x: np.clip(np.nan_to_num(x, nan=1.0), 0.0, 1.0)  # noqa: E731  (NaN counts as worst)
    j, f = c((m["jitter_ratio"] - 0.25) / 0.3), c(m["frozen_ratio"] / 0.5)
    s, e = c((m["foot_sliding_ratio"] - 0.35) / 0.3), c(m["explosion_frames"] / 2.0)
    artifact = 1 - (1 - j) * (1 - f) * (1 - s) * (1 - e)
    r_pen = 1 - c(m["penetration_ratio"] / 0.1)
    r_vel = 1 - c((m["max_velocity"] - th.human_speed) / 7.0)
    r_acc = 1 - c((m["max_acceleration"] - th.human_accel) / 40.0)
    r_limb = 1 - c((m["limb_length_cv"] - 0.15) / 0.25)
    r_body = 1 - c(m["anatomy_violation_ratio"] / 0.1) if "anatomy_violation_ratio" in m else 1.0
    return {"artifact_score": artifact, "realism_score": r_pen * r_vel * r_acc * r_limb * r_body}


def clip_frame_signals(clip: ClipInput, th: MetricThresholds = MetricThresholds()) -> dict[str, np.ndarray]:
    """Per-frame ``[T]`` signals of one clip, worst actor: each of ``ARTIFACT_KINDS`` (bool), the
    magnitudes behind them (``mean_speed``, ``max_speed`` m/s, ``hf_acc`` m/s², ``min_y`` m above
    the ground) and ``ground_y`` (``[1]``, the ground used: the clip's own, else estimated)."""
    with torch.no_grad():
        flat = FlatClips.of([clip])
        motions, row_len, owner = flat.actor_rows()
        J, _, F = _flat_joints(motions, row_len)
        fps = torch.from_numpy(flat.fps.astype(np.float32))[owner]
        ground_in = torch.from_numpy(flat.ground.astype(np.float32))[owner]
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
