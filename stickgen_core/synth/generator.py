"""Procedural canonical samples: several actions a clip, text, physics, camera, defects.

Each sample ``i`` of a run is drawn from its own generator seeded with ``(seed, i)``,
so any sample can be regenerated alone and the dataset is reproducible from ``seed``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from ..errors import ConfigError
from ..schema import JOINT_INDEX, SCHEMA_VERSION, action_index
from ..skeleton import joints_to_segments, smooth_time
from .actions import ACTION_SPECS, breathe
from .defects import DEFECT_TYPES, INJECTORS
from .kinematics import place_on_screen

log = logging.getLogger(__name__)

BODY_MASS_KG = 70.0
BLEND_FRAMES = 10
POSE_SMOOTH_FRAMES = 1.2
SOURCES_DEFAULT = {"synthetic": 0.5, "mocap_like": 0.3, "video_estimate": 0.2}
SUBJECTS = ("A person", "A man", "A woman", "Someone", "A child", "An old man", "An athlete",
            "A young woman", "A dancer", "A tired person", "A cheerful kid", "A stick figure")
SPEEDS = ((0.75, ("slowly", "leisurely", "calmly")), (1.0, ("",)), (1.3, ("quickly", "briskly", "energetically")))
LOCOMOTION = {"walk", "run"}
NEEDS_STANDING_START = {"stand_up"}


@dataclass
class SynthConfig:
    """Knobs of the generator; ``defect_rate`` is the share of clips given a defect."""

    fps: int = 25
    min_seconds: float = 2.0
    max_seconds: float = 20.0
    defect_rate: float = 0.0
    defect_types: tuple[str, ...] = DEFECT_TYPES
    multi_actor_rate: float = 0.03
    actions: tuple[str, ...] = tuple(ACTION_SPECS)
    sources: dict[str, float] = field(default_factory=lambda: dict(SOURCES_DEFAULT))

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ConfigError(f"fps: expected a positive frame rate, got {self.fps}")
        if not 0 < self.min_seconds <= self.max_seconds:
            raise ConfigError(f"min_seconds/max_seconds: expected 0 < min <= max, got {self.min_seconds}, {self.max_seconds}")
        for name in ("defect_rate", "multi_actor_rate"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name}: expected a rate in [0, 1], got {v}")
        bad = [d for d in self.defect_types if d not in INJECTORS]
        if bad:
            raise ConfigError(f"defect_types: unknown defect(s) {bad}; expected some of {list(DEFECT_TYPES)}")
        bad = [a for a in self.actions if a not in ACTION_SPECS]
        if bad or not self.actions:
            raise ConfigError(f"actions: unknown or empty {bad}; expected some of {list(ACTION_SPECS)}")
        if not self.sources or min(self.sources.values()) < 0 or sum(self.sources.values()) <= 0:
            raise ConfigError(f"sources: expected non-negative weights with a positive sum, got {self.sources}")


def _plan(rng: np.random.Generator, cfg: SynthConfig, seconds: float) -> list[tuple[str, float]]:
    """Actions of one actor's timeline, as (action, seconds)."""
    n_seg = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    weights = np.array([0.4 if a == "idle" else 1.0 for a in cfg.actions])
    names: list[str] = []
    for _ in range(n_seg):
        # the same action twice in a row reads as one action: draw another
        w = np.where(np.array(cfg.actions) == (names[-1] if names else None), 0.0, weights)
        if w.sum() <= 0:
            break
        names.append(str(rng.choice(cfg.actions, p=w / w.sum())))
    plan: list[str] = []
    for i, a in enumerate(names):
        if a in NEEDS_STANDING_START and plan and plan[-1] != "sit":
            a = "walk" if "walk" in cfg.actions else cfg.actions[0]
        if plan and plan[-1] == "sit" and "stand_up" in cfg.actions:
            a = "stand_up"
        if plan and plan[-1] == "climb":
            break
        plan.append(a)
    mins = np.array([ACTION_SPECS[a].min_seconds for a in plan])
    while len(plan) > 1 and mins.sum() > seconds:
        plan, mins = plan[:-1], mins[:-1]
    spare = max(seconds - mins.sum(), 0.0)
    share = rng.dirichlet(np.ones(len(plan))) * spare
    return [(a, float(m + s)) for a, m, s in zip(plan, mins, share)]


def _actor(rng: np.random.Generator, cfg: SynthConfig, T: int, speed: float, facing: float, x0: float,
           source: str) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Screen joints ``[T, 16, 2]``, per-frame action ids ``[T]`` and the timeline of one actor."""
    fps = cfg.fps
    plan = _plan(rng, cfg, T / fps)
    bounds = np.round(np.cumsum([0.0] + [s for _, s in plan]) / (T / fps) * T).astype(int)
    bounds[-1] = T
    w = BLEND_FRAMES
    pose = None
    weight_sum = np.zeros(T)
    actions = np.empty(T, dtype=np.int64)
    timeline = []
    for i, (name, _) in enumerate(plan):
        a, b = int(bounds[i]), int(bounds[i + 1])
        lo, hi = max(a - w, 0), min(b + w, T)
        seg = ACTION_SPECS[name].fn(hi - lo, fps, rng, speed, facing)
        frames = np.arange(lo, hi)
        wt = np.ones(hi - lo)
        if i > 0:
            wt *= np.clip((frames - (a - w)) / (2 * w), 0, 1)
        if i < len(plan) - 1:
            wt *= np.clip(((b + w) - frames) / (2 * w), 0, 1)
        if pose is None:
            pose = np.zeros((T, seg.shape[1]))
        pose[lo:hi] += seg * wt[:, None]
        weight_sum[lo:hi] += wt
        actions[a:b] = action_index(name)
        timeline.append({"action": str(name), "start": a, "end": b})
    pose /= np.maximum(weight_sum, 1e-9)[:, None]
    # a living body is never perfectly still, whatever the action
    breathe(pose, np.arange(T) / fps, rng, 0.5)
    # people are band-limited: smooth the keyframe corners a real body never makes
    pose = smooth_time(pose, POSE_SMOOTH_FRAMES)
    scale = 1.0
    if source != "synthetic":
        scale = float(rng.uniform(0.9, 1.1))
    if source == "mocap_like":
        # slow, smooth wobble on every angle: real performers never repeat a cycle exactly
        drift = np.cumsum(rng.normal(0, 0.35, pose.shape), axis=0)
        kernel = np.ones(15) / 15
        drift = np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="same"), 0, drift)
        angle_cols = slice(0, 18)
        pose[:, angle_cols] += np.clip(drift[:, angle_cols], -6, 6)
    joints = place_on_screen(pose, fps, x0=x0, scale=scale)
    if source == "video_estimate":
        joints = joints + rng.normal(0, 0.002, joints.shape)  # pose-estimation noise
    return joints, actions, timeline


def _camera(rng: np.random.Generator, pelvis_x: np.ndarray, fps: int) -> tuple[np.ndarray, str]:
    T = len(pelvis_x)
    t = np.arange(T) / fps
    cam = np.zeros((T, 3))
    mode = str(rng.choice(["static", "pan", "zoom", "handheld"], p=[0.4, 0.3, 0.2, 0.1]))
    cam[:, 0] = pelvis_x.mean()
    cam[:, 1] = 1.0
    cam[:, 2] = 1.0
    if mode == "pan":
        k = np.ones(25) / 25
        padded = np.pad(pelvis_x, 12, mode="edge")
        cam[:, 0] = np.convolve(padded, k, mode="valid")[:T]
    elif mode == "zoom":
        z1 = rng.uniform(1.2, 1.6)
        cam[:, 2] = np.linspace(1.0, z1, T) if rng.random() < 0.5 else np.linspace(z1, 1.0, T)
    elif mode == "handheld":
        for ax in (0, 1):
            cam[:, ax] += 0.01 * np.sin(2 * np.pi * rng.uniform(0.3, 0.8) * t + rng.uniform(0, 6))
    return cam, mode


def derive_physics(pelvis: np.ndarray, fps: float, mass: float = BODY_MASS_KG) -> np.ndarray:
    """``[T, 2]`` pelvis path -> ``[T, 6]`` vx, vy (m/s), ax, ay (m/s^2), mx, my (kg m/s)."""
    if len(pelvis) < 2:
        return np.zeros((len(pelvis), 6), dtype=np.float32)
    v = np.gradient(pelvis, 1.0 / fps, axis=0)
    a = np.gradient(v, 1.0 / fps, axis=0)
    return np.concatenate([v, a, mass * v], axis=1).astype(np.float32)


def _describe(rng: np.random.Generator, timeline: list[dict], speed_word: str, facing: float) -> str:
    parts = []
    for i, seg in enumerate(timeline):
        name = seg["action"]
        verb = str(rng.choice(ACTION_SPECS[name].verbs))
        words = [verb]
        if name in LOCOMOTION:
            words.append(str(rng.choice(["to the right", "towards the right"])) if facing > 0
                         else str(rng.choice(["to the left", "towards the left"])))
        if speed_word and (i == 0 or rng.random() < 0.3):
            words.append(speed_word)
        parts.append(" ".join(words))
    return ", then ".join(parts)


def generate_sample(index: int, seed: int = 0, config: SynthConfig | None = None) -> dict:
    """Sample ``index`` of the dataset drawn with ``seed`` (same inputs, same sample)."""
    cfg = config or SynthConfig()
    rng = np.random.default_rng([seed, index])
    fps = cfg.fps
    seconds = cfg.min_seconds + (cfg.max_seconds - cfg.min_seconds) * rng.beta(1.5, 3.0)
    T = max(int(round(seconds * fps)), 1)
    src_names = list(cfg.sources)
    p = np.array([cfg.sources[s] for s in src_names], dtype=np.float64)
    source = str(rng.choice(src_names, p=p / p.sum()))
    speed, adverbs = SPEEDS[int(rng.integers(0, 3))]
    speed_word = str(rng.choice(adverbs))
    facing = float(rng.choice([-1.0, 1.0]))
    n_actors = 2 if rng.random() < cfg.multi_actor_rate else 1
    joints, actions, timelines = [], [], []
    for k in range(n_actors):
        j, a, tl = _actor(rng, cfg, T, speed, facing if k == 0 else -facing, x0=1.2 * k * -facing, source=source)
        joints.append(j)
        actions.append(a)
        timelines.append(tl)
    J = np.stack(joints, axis=1)  # [T, A, 16, 2]
    pelvis_x = J[:, :, 0, 0].mean(axis=1)
    camera, cam_mode = _camera(rng, pelvis_x, fps)
    act = np.stack(actions, axis=1)
    defects = []
    if cfg.defect_types and rng.random() < cfg.defect_rate:
        n_def = 2 if rng.random() < 0.15 else 1
        chosen = rng.choice(cfg.defect_types, size=min(n_def, len(cfg.defect_types)), replace=False)
        # truncation last, so other records keep their frame meaning
        for d in sorted(chosen, key=lambda d: d == "too_short"):
            flat = J.reshape(T, -1, 2) if d != "too_short" else J
            flat, camera, rec = INJECTORS[d](flat.copy(), camera, rng, fps)
            if d == "too_short":
                J, act, T = flat, act[: len(flat)], len(flat)
                defects = [dict(r, end=min(r["end"], T), start=min(r["start"], T - 1)) for r in defects]
            else:
                J = flat.reshape(J.shape)
            defects.append(rec)
    subject = str(rng.choice(SUBJECTS))
    if n_actors == 1:
        description = f"{subject} {_describe(rng, timelines[0], speed_word, facing)}."
    else:
        description = (f"Two people: one {_describe(rng, timelines[0], speed_word, facing)}, "
                       f"while the other {_describe(rng, timelines[1], '', -facing)}.")
    # noise and defects move joints independently; the pelvis centre stays between the hips
    J[:, :, 0] = 0.5 * (J[:, :, JOINT_INDEX["l_hip"]] + J[:, :, JOINT_INDEX["r_hip"]])
    defects = [{k: (v if isinstance(v, str) else int(v) if k in ("start", "end") else float(v))
                for k, v in d.items()} for d in defects]
    motion = joints_to_segments(J)  # [T, A, 48]
    physics = derive_physics(J[:, :, 0, :].mean(axis=1), fps)
    if n_actors == 1:
        motion, act = motion[:, 0], act[:, 0]
    return {
        "description": description,
        "motion": torch.from_numpy(np.ascontiguousarray(motion, dtype=np.float32)),
        "actions": torch.from_numpy(np.ascontiguousarray(act, dtype=np.int64)),
        "physics": torch.from_numpy(physics),
        "camera": torch.from_numpy(camera.astype(np.float32)),
        "source": str(source),
        "schema_version": SCHEMA_VERSION,
        "meta": {
            "generator": "stickgen_core.synth", "seed": int(seed), "index": int(index), "fps": fps,
            "num_actors": n_actors, "camera_mode": cam_mode, "speed": speed,
            "timeline": timelines[0] if n_actors == 1 else timelines,
            "injected_defects": defects,
        },
    }


def _check_count(n: object) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"number of samples (--num-samples): expected a whole number of at least 1, got {n!r}"[:200])


def generate_samples(n: int, seed: int = 0, config: SynthConfig | None = None,
                     progress: Callable[[int, int], None] | None = None) -> Iterator[dict]:
    """Yield ``n`` samples; ``progress(done, n)`` is called after each."""
    _check_count(n)
    cfg = config or SynthConfig()
    for i in range(n):
        yield generate_sample(i, seed, cfg)
        if progress:
            progress(i + 1, n)


def generate_dataset(n: int, seed: int = 0, config: SynthConfig | None = None,
                     progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """``n`` samples as a list; ConfigError unless ``n`` is a whole number of at least 1."""
    _check_count(n)
    return list(generate_samples(n, seed, config, progress))
