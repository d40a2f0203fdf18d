"""Batched motion metrics over many clips at once (numpy over a padded batch with masks).

Clips of different lengths are gathered into one edge-padded ``[B, T, 16, 2]`` torch
batch with a frame mask; every metric is a masked reduction over it, so there is no
Python loop over clips or frames in the arithmetic.
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
    ground: float | None = None        # None: estimate from resting feet; else this y


def _batch(arrays: Sequence[np.ndarray], width: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Edge-padded ``[B, T, *width]`` float32 batch (padding repeats each row's last frame,
    so differences there are zero), a ``[B, T]`` frame mask and the lengths. One gather."""
    lengths = torch.tensor([len(a) for a in arrays], dtype=torch.long)
    flat = torch.from_numpy(np.concatenate([np.asarray(a, dtype=np.float32).reshape(len(a), *width) for a in arrays]))
    T = int(lengths.max()) if len(arrays) else 1
    starts = torch.cumsum(lengths, 0) - lengths
    t = torch.arange(T)
    idx = starts[:, None] + torch.minimum(t[None, :], (lengths - 1).clamp(min=0)[:, None])
    return flat[idx], t[None, :] < lengths[:, None], lengths


def _msum(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum(1)


def _mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    n = mask.sum(1)
    return torch.where(n > 0, _msum(x, mask) / n.clamp(min=1), torch.full_like(n, float("nan"), dtype=x.dtype))


def _ratio(flag: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (flag & mask).sum(1) / mask.sum(1).clamp(min=1)


def _norm(v: torch.Tensor) -> torch.Tensor:
    return torch.hypot(v[..., 0], v[..., 1])


def estimate_ground(joints: torch.Tensor, mask: torch.Tensor, fps: torch.Tensor) -> torch.Tensor:
    """Ground height per row: the 10th percentile of the lower foot while it rests.

    Resting = foot slower than 0.3 m/s. Rows with no resting frame use every frame.
    """
    feet = joints[:, :, _FEET]                                       # [B, T, 2, 2]
    feet_y = feet[..., 1].min(dim=2).values                          # [B, T]
    v = torch.zeros_like(feet_y)
    v[:, 1:] = (feet[:, 1:] - feet[:, :-1]).abs().amax(dim=(2, 3)) * fps[:, None]
    resting = mask & (v < 0.3)
    use = torch.where(resting.any(1, keepdim=True), resting, mask)
    vals = torch.where(use, feet_y, torch.full_like(feet_y, float("nan")))
    g = torch.nanquantile(vals, 0.1, dim=1)
    return torch.nan_to_num(g, nan=0.0)


def frame_signals(J: torch.Tensor, mask: torch.Tensor, fps: torch.Tensor, ground: torch.Tensor,
                  th: MetricThresholds) -> dict[str, torch.Tensor]:
    """Per-frame signals and artifact flags of a padded batch ``J`` ``[B, T, 16, 2]``.

    Flags are ``[B, T]``: frame t is judged on the frames around it (see ``ARTIFACT_KINDS``).
    """
    B, T = mask.shape
    f1 = fps[:, None]
    V = (J[:, 1:] - J[:, :-1]) * f1[..., None, None]                  # m/s      [B, T-1, 16, 2]
    vmask = mask[:, 1:] & mask[:, :-1]
    speed = _norm(V)                                                   # [B, T-1, 16]
    mean_speed, max_speed = speed.mean(-1), speed.amax(-1) if T > 1 else speed.sum(-1)
    A = (V[:, 1:] - V[:, :-1]) * f1[..., None, None]                  # m/s^2    [B, T-2, 16, 2]
    amask = vmask[:, 1:] & vmask[:, :-1]
    acc = _norm(A).mean(-1)
    dA = A[:, 1:] - A[:, :-1]
    jerk = _norm(dA).mean(-1) * f1                                     # m/s^3
    jmask = amask[:, 1:] & amask[:, :-1]
    # Jitter is acceleration that flips sign from frame to frame: a fast but smooth limb
    # (a sprinter's ankle) has a large acceleration yet almost none of this part.
    # The second difference of an alternating +a, -a, ... acceleration is 4a, hence / 4.
    hf = _norm(dA[:, 1:] - dA[:, :-1]).mean(-1) / 4.0                 # m/s^2    [B, T-4]
    hmask = jmask[:, 1:] & jmask[:, :-1]
    y_rel = J[..., 1] - ground[:, None, None]
    feet_y = y_rel[:, :, _FEET]
    near = (feet_y[:, 1:] < th.foot_height) & (feet_y[:, :-1] < th.foot_height)
    foot_hspeed = V[:, :, _FEET, 0].abs()
    skate = (near & (foot_hspeed > th.foot_speed)).any(-1) & vmask   # [B, T-1]
    spike = ((mean_speed > th.explosion_speed) | (max_speed > th.explosion_joint_speed)) & vmask
    min_y = y_rel.amin(-1)

    def frames(flag: torch.Tensor, offset: int) -> torch.Tensor:
        out = torch.zeros((B, T), dtype=torch.bool)
        out[:, offset: offset + flag.shape[1]] |= flag
        return out

    return {
        "mean_speed": mean_speed, "max_speed": max_speed, "vmask": vmask, "acc": acc, "amask": amask,
        "jerk": jerk, "jmask": jmask, "hf_acc": hf, "hmask": hmask, "skate": skate, "spike": spike,
        "min_y": min_y,
        "frozen": frames((mean_speed < th.frozen_speed) & vmask, 1),
        "jitter": frames((hf > th.jitter_accel) & hmask, 2),
        "velocity_explosion": frames(spike, 1) | frames(spike, 0),
        "foot_sliding": frames(skate, 1),
        "ground_penetration": mask & (min_y < th.penetration_y),
    }


def _rows(clips: Sequence[ClipInput]):
    """One row per actor: motion ``[T, 48]`` arrays, owning clip index, fps, ground (nan = estimate)."""
    motions, owner, fps, ground = [], [], [], []
    for ci, c in enumerate(clips):
        m = np.asarray(c.motion, dtype=np.float32)
        actors = [m] if m.ndim == 2 else [m[:, a] for a in range(m.shape[1])]
        motions.extend(actors)
        owner.extend([ci] * len(actors))
        fps.extend([float(c.fps or FPS_DEFAULT)] * len(actors))
        ground.extend([np.nan if c.ground is None else float(c.ground)] * len(actors))
    return (motions, torch.tensor(owner), torch.tensor(fps, dtype=torch.float32),
            torch.tensor(ground, dtype=torch.float32))


def _joints(motions: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    M, mask, lengths = _batch(motions, (48,))
    segs = M.view(M.shape[0], M.shape[1], 12, 2, 2)
    return segs[:, :, _JOINT_SEG, _JOINT_END], mask, lengths          # [B, T, 16, 2]


def _per_clip(values: torch.Tensor, owner: torch.Tensor, n: int, how: str) -> torch.Tensor:
    values = values.to(torch.float64)
    if how == "max":
        return torch.full((n,), -torch.inf, dtype=torch.float64).scatter_reduce(0, owner, values, "amax")
    if how == "min":
        return torch.full((n,), torch.inf, dtype=torch.float64).scatter_reduce(0, owner, values, "amin")
    return torch.zeros(n, dtype=torch.float64).scatter_reduce(0, owner, values, "mean", include_self=False)


_WORST = {"frozen_ratio", "jitter_ratio", "mean_jerk", "explosion_frames", "foot_sliding_ratio",
          "penetration_frames", "penetration_ratio", "limb_length_cv", "max_joint_speed",
          "derived_max_velocity", "derived_max_accel", "mean_accel"}


def compute_metrics(clips: Sequence[ClipInput], th: MetricThresholds = MetricThresholds()) -> dict[str, np.ndarray]:
    """Clip-level metrics and scores, one value per clip in each returned array.

    Ratios are shares of the clip's frame transitions; ``*_frames`` are counts.
    """
    n = len(clips)
    if n == 0:
        return {}
    with torch.no_grad():
        motions, owner, fps, ground_in = _rows(clips)
        J, mask, lengths = _joints(motions)
        ground = torch.where(torch.isnan(ground_in), estimate_ground(J, mask, fps), ground_in)
        s = frame_signals(J, mask, fps, ground, th)
        vmask, amask = s["vmask"], s["amask"]
        row = {
            "mean_joint_speed": _mean(s["mean_speed"], vmask),
            "max_joint_speed": (s["max_speed"] * vmask).amax(1) if vmask.shape[1] else torch.zeros(len(mask)),
            "frozen_ratio": _ratio(s["mean_speed"] < th.frozen_speed, vmask),
            "jitter_ratio": _ratio(s["hf_acc"] > th.jitter_accel, s["hmask"]),
            "mean_accel": _mean(s["acc"], amask),
            "mean_jerk": _mean(s["jerk"], s["jmask"]),
            "explosion_frames": s["spike"].sum(1),
            "foot_sliding_ratio": _ratio(s["skate"], vmask),
            "min_y": torch.where(mask, s["min_y"], torch.full_like(s["min_y"], torch.inf)).amin(1),
            "penetration_frames": s["ground_penetration"].sum(1),
            "penetration_ratio": _ratio(s["ground_penetration"], mask),
            "ground_y": ground,
        }
        # limb-length consistency: a 2-D projection foreshortens rigid limbs but never stretches them
        seg = _norm(J[:, :, _SEG_B] - J[:, :, _SEG_A])                # [B, T, 11]
        m3 = mask[..., None].float()
        cnt = m3.sum(1).clamp(min=1)
        mean_len = (seg * m3).sum(1) / cnt
        var = (((seg - mean_len[:, None]) ** 2) * m3).sum(1) / cnt
        row["limb_length_cv"] = (var.sqrt() / mean_len.clamp(min=1e-6)).mean(1)
        pel = J[:, :, 0]
        pv = _norm(pel[:, 1:] - pel[:, :-1]) * fps[:, None]
        pa = _norm(pel[:, 2:] - 2 * pel[:, 1:-1] + pel[:, :-2]) * fps[:, None] ** 2
        row["derived_max_velocity"] = (pv * vmask).amax(1) if pv.shape[1] else torch.zeros(len(mask))
        row["derived_max_accel"] = (pa * amask).amax(1) if pa.shape[1] else torch.zeros(len(mask))
        out = {k: _per_clip(v, owner, n, "min" if k == "min_y" else "max" if k in _WORST else "mean").numpy()
               for k, v in row.items()}
    out["n_frames"] = np.array([len(c.motion) for c in clips], dtype=np.float64)
    out["actors"] = np.array([1 if np.ndim(c.motion) == 2 else np.shape(c.motion)[1] for c in clips], dtype=np.float64)
    out.update(_physics_maxima(clips, out))
    out["camera_stability"] = _camera_stability(clips, th)
    out.update(_action_stats(clips))
    out.update(scores(out, th))
    return out


def _physics_maxima(clips: Sequence[ClipInput], m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Max pelvis velocity and acceleration from ``physics`` when present, else derived."""
    has = np.array([c.physics is not None and len(c.physics) == len(c.motion) for c in clips])
    v = m["derived_max_velocity"].copy()
    a = m["derived_max_accel"].copy()
    if has.any():
        P, _, _ = _batch([c.physics for c, h in zip(clips, has) if h], (6,))
        v[has] = _norm(P[..., 0:2]).amax(1).double().numpy()
        a[has] = _norm(P[..., 2:4]).amax(1).double().numpy()
    return {"max_velocity": v, "max_acceleration": a, "has_physics": has.astype(np.float64)}


def _camera_stability(clips: Sequence[ClipInput], th: MetricThresholds) -> np.ndarray:
    """1 / (1 + shake / camera_shake_ref); shake = mean |second difference| of x, y and zoom."""
    out = np.ones(len(clips))
    idx = [i for i, c in enumerate(clips) if c.camera is not None and len(c.camera) >= 3]
    if idx:
        C, cmask, _ = _batch([clips[i].camera for i in idx], (3,))
        d2 = (C[:, 2:] - 2 * C[:, 1:-1] + C[:, :-2]).abs().sum(-1)
        shake = torch.nan_to_num(_mean(d2, cmask[:, 2:])).double().numpy()
        out[idx] = 1.0 / (1.0 + shake / th.camera_shake_ref)
    return out


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


def scores(m: dict[str, np.ndarray], th: MetricThresholds = MetricThresholds()) -> dict[str, np.ndarray]:
    """Artifact and realism scores (0-1) from clip metrics.

    artifact_score = 1 - (1 - j)(1 - f)(1 - s)(1 - e), each term clipped to [0, 1]:
        j = (jitter_ratio - 0.25) / 0.3        (fast limbs whip a little; 55 % of frames = full)
        f = frozen_ratio / 0.5                 (half the clip stopped dead = full)
        s = (foot_sliding_ratio - 0.35) / 0.3  (toe-off and heel-strike skids are normal)
        e = explosion_frames / 2               (one teleport = two spike frames = full)
    so any one artifact alone can fail a clip, and clean motion scores near 0.
    realism_score = r_pen * r_vel * r_acc * r_limb with
        r_pen  = 1 - penetration_ratio / 0.1,
        r_vel  = 1 - (max_velocity - human_speed) / 7,       (8 m/s fine, 15 m/s zero)
        r_acc  = 1 - (max_acceleration - human_accel) / 40,  (50 m/s^2 fine, 90 zero)
        r_limb = 1 - (limb_length_cv - 0.15) / 0.25, each clipped to [0, 1].
    """
    c = lambda x: np.clip(np.nan_to_num(x, nan=1.0), 0.0, 1.0)  # noqa: E731  (NaN counts as worst)
    j, f = c((m["jitter_ratio"] - 0.25) / 0.3), c(m["frozen_ratio"] / 0.5)
    s, e = c((m["foot_sliding_ratio"] - 0.35) / 0.3), c(m["explosion_frames"] / 2.0)
    artifact = 1 - (1 - j) * (1 - f) * (1 - s) * (1 - e)
    r_pen = 1 - c(m["penetration_ratio"] / 0.1)
    r_vel = 1 - c((m["max_velocity"] - th.human_speed) / 7.0)
    r_acc = 1 - c((m["max_acceleration"] - th.human_accel) / 40.0)
    r_limb = 1 - c((m["limb_length_cv"] - 0.15) / 0.25)
    return {"artifact_score": artifact, "realism_score": r_pen * r_vel * r_acc * r_limb}


def frame_flags(clip: ClipInput, th: MetricThresholds = MetricThresholds()) -> dict[str, np.ndarray]:
    """Per-frame boolean flags ``[T]`` for each of ``ARTIFACT_KINDS`` (worst actor)."""
    with torch.no_grad():
        motions, _, fps, ground_in = _rows([clip])
        J, mask, _ = _joints(motions)
        ground = torch.where(torch.isnan(ground_in), estimate_ground(J, mask, fps), ground_in)
        s = frame_signals(J, mask, fps, ground, th)
    return {k: s[k].any(0).numpy() for k in ARTIFACT_KINDS}
