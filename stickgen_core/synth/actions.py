"""Parameter trajectories of each synthetic action.

Every function returns a ``[T, len(PARAMS)]`` pose array for ``T`` frames at ``fps``.
``speed`` scales tempo (0.7 slow .. 1.4 fast); ``facing`` is +1 or -1 (screen right or
left for side views); ``rng`` adds per-clip variety. Angles are degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .kinematics import P, ease, keyframes, neutral

Pose = np.ndarray
ActionFn = Callable[[int, float, np.random.Generator, float, float], Pose]


def _t(T: int, fps: float) -> np.ndarray:
    return np.arange(T) / fps


def _set(pose: Pose, name: str, value) -> None:
    pose[:, P[name]] = value


def _add(pose: Pose, name: str, value) -> None:
    pose[:, P[name]] += value


def breathe(pose: Pose, t: np.ndarray, rng: np.random.Generator, amount: float = 1.0) -> None:
    """Small living motion so a standing figure never reads as frozen."""
    ph = rng.uniform(0, 2 * np.pi, 4)
    _add(pose, "lean", amount * 2.0 * np.sin(2 * np.pi * 0.3 * t + ph[0]))
    _add(pose, "head", amount * 6.0 * np.sin(2 * np.pi * 0.22 * t + ph[1]))
    _add(pose, "sway", amount * 0.025 * np.sin(2 * np.pi * 0.25 * t + ph[2]))
    swing = amount * 4.0 * np.sin(2 * np.pi * 0.3 * t + ph[3])
    _add(pose, "l_sh_flex", swing)
    _add(pose, "r_sh_flex", -swing)


def idle(T, fps, rng, speed, facing):
    pose = neutral(T)
    t = _t(T, fps)
    _set(pose, "yaw", facing * rng.uniform(0, 40))
    breathe(pose, t, rng, 1.8)
    # weight shift from leg to leg, now and then glancing around
    shift = np.sin(2 * np.pi * 0.15 * speed * t + rng.uniform(0, 6))
    _add(pose, "l_knee", 6 * np.clip(shift, 0, None))
    _add(pose, "r_knee", 6 * np.clip(-shift, 0, None))
    _add(pose, "yaw", 15 * np.sin(2 * np.pi * 0.1 * t + rng.uniform(0, 6)))
    return pose


def _gait(T, fps, rng, speed, facing, *, cadence, hip_amp, knee_swing, arm_amp, elbow, lean, bounce):
    pose = neutral(T)
    t = _t(T, fps)
    phase = 2 * np.pi * cadence * speed * t + rng.uniform(0, 2 * np.pi)
    s = np.sin(phase)
    _set(pose, "yaw", facing * rng.uniform(55, 75))
    # the stance leg sweeps back at a steady rate (a triangle wave, rounded later by the
    # pose smoothing), so the body glides forward instead of surging and stopping each step
    # while the swing leg eases in and out (a sine), so it lands without skidding
    tri = (2 / np.pi) * np.arcsin(np.clip(s, -1, 1))
    c = np.cos(phase)
    _set(pose, "l_hip_flex", hip_amp * np.where(c > 0, s, tri))
    _set(pose, "r_hip_flex", -hip_amp * np.where(c < 0, s, tri))
    # the knee bends from toe-off (early in the forward swing) so the foot clears the floor
    # the swing knee bends over the whole swing and is straight at toe-off and landing;
    # the stance leg stays straight, so the swing foot is always the higher one
    _set(pose, "l_knee", 5 + knee_swing * np.clip(c, 0, None) ** 0.5)
    _set(pose, "r_knee", 5 + knee_swing * np.clip(-c, 0, None) ** 0.5)
    _set(pose, "gait", 1.0)
    _set(pose, "l_sh_flex", -arm_amp * s)
    _set(pose, "r_sh_flex", arm_amp * s)
    _set(pose, "l_elbow", elbow + 0.3 * elbow * np.clip(-s, 0, None))
    _set(pose, "r_elbow", elbow + 0.3 * elbow * np.clip(s, 0, None))
    _set(pose, "lean", lean)
    _set(pose, "head", -0.5 * lean)
    _set(pose, "lift", bounce * np.abs(np.sin(phase)) ** 2)
    return pose


def walk(T, fps, rng, speed, facing):
    return _gait(T, fps, rng, speed, facing, cadence=0.9, hip_amp=rng.uniform(22, 28) * speed ** 0.5,
                 knee_swing=62, arm_amp=rng.uniform(15, 25), elbow=15, lean=3, bounce=0.0)


def run(T, fps, rng, speed, facing):
    return _gait(T, fps, rng, speed, facing, cadence=1.4, hip_amp=rng.uniform(35, 42),
                 knee_swing=100, arm_amp=rng.uniform(30, 40), elbow=85, lean=12, bounce=0.0)


def jump(T, fps, rng, speed, facing):
    pose = neutral(T)
    t = _t(T, fps)
    _set(pose, "yaw", facing * rng.uniform(20, 70))
    height = rng.uniform(0.25, 0.45)
    v0 = np.sqrt(2 * 9.81 * height)
    flight = 2 * v0 / 9.81
    prep, push, land, rest = 0.45 / speed, 0.12, 0.35 / speed, rng.uniform(0.3, 0.8)
    cycle = prep + push + flight + land + rest
    u = np.mod(t - 0.3, cycle)
    # key poses as (time in cycle, hip, knee, arm, lean)
    keys = [(0.0, 0, 3, 0, 2), (prep, 45, 90, -45, 25), (prep + push, 0, 3, 160, 0),
            (prep + push + flight, 10, 25, 120, 5), (prep + push + flight + land * 0.4, 40, 75, 20, 20),
            (prep + push + flight + land, 0, 3, 0, 2), (cycle, 0, 3, 0, 2)]
    kt = [k[0] for k in keys]
    for j, names in enumerate((("l_hip_flex", "r_hip_flex"), ("l_knee", "r_knee"), ("l_sh_flex", "r_sh_flex"), ("lean",))):
        vals = ease(u, kt, [k[j + 1] for k in keys])
        for n in names:
            _set(pose, n, vals)
    tf = u - (prep + push)
    airborne = (tf > 0) & (tf < flight)
    _set(pose, "lift", np.where(airborne, v0 * tf - 0.5 * 9.81 * tf ** 2, 0.0))
    _set(pose, "drift", np.where(airborne, rng.choice([0.0, 0.0, 1.2]) * speed, 0.0))
    return pose


def wave(T, fps, rng, speed, facing):
    pose = neutral(T)
    t = _t(T, fps)
    breathe(pose, t, rng, 0.6)
    _set(pose, "yaw", facing * rng.uniform(0, 30))
    side = rng.choice(["l", "r"])
    up = keyframes(T, fps, [(0.0, 0.0), (0.6 / speed, 1.0), (max(T / fps - 0.6, 0.7), 1.0), (T / fps, 0.3)])
    _set(pose, f"{side}_sh_abd", 6 + up * rng.uniform(130, 150))
    _set(pose, f"{side}_sh_flex", up * 15)
    _set(pose, f"{side}_elbow", 8 + up * 25)
    _set(pose, f"{side}_fore_abd", up * 28 * np.sin(2 * np.pi * 2.0 * speed * t))
    return pose


def sit(T, fps, rng, speed, facing, reverse=False):
    pose = neutral(T)
    t = _t(T, fps)
    breathe(pose, t, rng, 0.5)
    _set(pose, "yaw", facing * rng.uniform(50, 75))
    start = min(rng.uniform(0.3, 1.0), 0.3 * T / fps)
    dur = 1.3 / speed
    keys = [(start, 0.0), (start + 0.55 * dur, 0.7), (start + dur, 1.0)]
    depth = keyframes(T, fps, keys)
    lean_bump = keyframes(T, fps, [(start, 0.0), (start + 0.5 * dur, 1.0), (start + dur, 0.25)])
    if reverse:
        depth, lean_bump = depth[::-1], lean_bump[::-1]
    for s_ in ("l", "r"):
        _add(pose, f"{s_}_hip_flex", 90 * depth)
        _add(pose, f"{s_}_knee", 87 * depth)
        _add(pose, f"{s_}_sh_flex", 25 * lean_bump + 10 * depth)
        _add(pose, f"{s_}_elbow", 30 * depth)
    _add(pose, "lean", 35 * lean_bump)
    return pose


def stand_up(T, fps, rng, speed, facing):
    return sit(T, fps, rng, speed, facing, reverse=True)


def turn(T, fps, rng, speed, facing):
    pose = neutral(T)
    t = _t(T, fps)
    breathe(pose, t, rng, 0.5)
    start, dur = min(0.4, 0.2 * T / fps), 1.4 / speed
    yaw0 = facing * rng.uniform(40, 80)
    turns = rng.choice([180.0, 180.0, 360.0]) * rng.choice([-1, 1])
    _set(pose, "yaw", yaw0 + keyframes(T, fps, [(start, 0.0), (start + dur * abs(turns) / 180, turns)]))
    turning = keyframes(T, fps, [(start, 0), (start + 0.2, 1), (start + dur * abs(turns) / 180 - 0.2, 1),
                                 (start + dur * abs(turns) / 180, 0)])
    step = np.sin(2 * np.pi * 1.6 * speed * t)
    _add(pose, "l_knee", turning * 25 * np.clip(step, 0, None))
    _add(pose, "r_knee", turning * 25 * np.clip(-step, 0, None))
    _add(pose, "l_hip_flex", turning * 12 * np.clip(step, 0, None))
    _add(pose, "r_hip_flex", turning * 12 * np.clip(-step, 0, None))
    return pose


def _one_sided_cycle(T, fps, rng, speed, facing, seconds):
    """A side-view pose, the time within each ``seconds``-long cycle, and which side acts."""
    pose = neutral(T)
    _set(pose, "yaw", facing * rng.uniform(55, 80))
    cycle = seconds / speed
    side = str(rng.choice(["l", "r"]))
    return pose, np.mod(_t(T, fps), cycle), cycle, side, "r" if side == "l" else "l"


def kick(T, fps, rng, speed, facing):
    pose, u, cycle, leg, other = _one_sided_cycle(T, fps, rng, speed, facing, 1.3)
    k = [0.0, 0.35 * cycle, 0.47 * cycle, 0.62 * cycle, 0.8 * cycle, cycle]
    high = rng.uniform(70, 95)
    _set(pose, f"{leg}_hip_flex", ease(u, k, [0, 60, high, 60, 0, 0]))
    _set(pose, f"{leg}_knee", ease(u, k, [3, 95, 5, 90, 3, 3]))
    _set(pose, f"{other}_knee", ease(u, k, [3, 15, 10, 15, 3, 3]))
    _set(pose, "lean", ease(u, k, [2, -5, -15, -5, 2, 2]))
    _set(pose, f"{other}_sh_flex", ease(u, k, [0, 30, 45, 30, 0, 0]))
    _set(pose, f"{leg}_sh_flex", ease(u, k, [0, -20, -35, -20, 0, 0]))
    _set(pose, "l_sh_abd", 25)
    _set(pose, "r_sh_abd", 25)
    return pose


def punch(T, fps, rng, speed, facing):
    pose = neutral(T)
    t = _t(T, fps)
    _set(pose, "yaw", facing * rng.uniform(55, 80))
    _set(pose, "lean", 8)
    _set(pose, "l_knee", 18)
    _set(pose, "r_knee", 18)
    _set(pose, "l_hip_flex", 15)
    _set(pose, "r_hip_flex", -8)
    _add(pose, "sway", 0.02 * np.sin(2 * np.pi * 0.8 * t))
    cycle = 0.7 / speed
    for i, s_ in enumerate(("l", "r")):
        u = np.mod(t + i * cycle, 2 * cycle)
        k = [0.0, 0.25 * cycle, 0.42 * cycle, 0.8 * cycle, 2 * cycle]
        _set(pose, f"{s_}_sh_flex", ease(u, k, [35, 35, 80, 35, 35]))
        _set(pose, f"{s_}_elbow", ease(u, k, [115, 115, 5, 115, 115]))
        _set(pose, f"{s_}_sh_abd", 12)
    return pose


def dance(T, fps, rng, speed, facing):
    pose = neutral(T)
    t = _t(T, fps)
    beat = 2 * np.pi * rng.uniform(0.9, 1.1) * speed * t
    _set(pose, "yaw", facing * rng.uniform(0, 25) + 20 * np.sin(beat / 4))
    _set(pose, "sway", 0.03 * np.sin(beat / 2))
    bounce = 12 + 12 * (0.5 - 0.5 * np.cos(2 * beat))
    _set(pose, "l_knee", bounce)
    _set(pose, "r_knee", bounce)
    _set(pose, "l_hip_flex", bounce * 0.5)
    _set(pose, "r_hip_flex", bounce * 0.5)
    _set(pose, "l_hip_abd", 8.0)
    _set(pose, "r_hip_abd", 8.0)
    arms = np.sin(beat / 2)
    _set(pose, "l_sh_abd", 80 + 60 * arms)
    _set(pose, "r_sh_abd", 80 - 60 * arms)
    _set(pose, "l_elbow", 40 + 30 * np.cos(beat))
    _set(pose, "r_elbow", 40 - 30 * np.cos(beat))
    _set(pose, "head", 8 * np.sin(beat))
    return pose


def crouch(T, fps, rng, speed, facing):
    pose = neutral(T)
    t = _t(T, fps)
    breathe(pose, t, rng, 0.5)
    _set(pose, "yaw", facing * rng.uniform(45, 75))
    d = T / fps
    start, dur = min(0.4, 0.15 * d), 0.9 / speed
    hold_end = max(start + dur + 0.6, d - 1.0)
    depth = keyframes(T, fps, [(start, 0), (start + dur, 1), (hold_end, 1), (hold_end + dur, 0.0)])
    for s_ in ("l", "r"):
        _add(pose, f"{s_}_hip_flex", 105 * depth)
        _add(pose, f"{s_}_knee", 135 * depth)
        _add(pose, f"{s_}_sh_flex", 45 * depth)
        _add(pose, f"{s_}_elbow", 40 * depth)
    _add(pose, "lean", 40 * depth)
    return pose


def fall(T, fps, rng, speed, facing):
    pose = neutral(T)
    t = _t(T, fps)
    breathe(pose, t, rng, 0.4)
    _set(pose, "yaw", facing * rng.uniform(60, 80))
    d = T / fps
    direction = rng.choice([-1.0, 1.0])
    start = min(rng.uniform(0.3, 0.8), 0.15 * d)
    fall_dur = 0.75
    u = np.clip((t - start) / fall_dur, 0, 1) ** 2  # gravity: accelerating topple
    lie_end = start + fall_dur + rng.uniform(0.6, 1.2)
    getup = keyframes(T, fps, [(lie_end, 0), (lie_end + 0.8 / speed, 0.6), (lie_end + 1.7 / speed, 1.0)])
    pitch = direction * 88 * u * (1 - getup)
    _set(pose, "pitch", pitch)
    crouched = np.sin(np.pi * getup)
    for s_ in ("l", "r"):
        _add(pose, f"{s_}_sh_flex", direction * 110 * u * (1 - getup) + 30 * crouched)
        _add(pose, f"{s_}_knee", 25 * u * (1 - getup) + 120 * crouched)
        _add(pose, f"{s_}_hip_flex", 15 * u * (1 - getup) + 90 * crouched)
    _add(pose, "lean", 35 * crouched)
    return pose


def climb(T, fps, rng, speed, facing):
    pose = neutral(T)
    t = _t(T, fps)
    _set(pose, "yaw", 180 + facing * rng.uniform(0, 15))
    phase = 2 * np.pi * 0.7 * speed * t
    s = np.sin(phase)
    _set(pose, "l_sh_flex", 155 + 18 * s)
    _set(pose, "r_sh_flex", 155 - 18 * s)
    _set(pose, "l_sh_abd", 15)
    _set(pose, "r_sh_abd", 15)
    _set(pose, "l_elbow", 35 - 30 * s)
    _set(pose, "r_elbow", 35 + 30 * s)
    _set(pose, "l_hip_flex", 55 * np.clip(-s, 0, None) + 5)
    _set(pose, "r_hip_flex", 55 * np.clip(s, 0, None) + 5)
    _set(pose, "l_knee", 100 * np.clip(-s, 0, None) + 5)
    _set(pose, "r_knee", 100 * np.clip(s, 0, None) + 5)
    _set(pose, "lean", 5)
    rung = 0.3  # metres gained per step
    climbed = rung * (phase / np.pi - np.sin(2 * phase) / (2 * np.pi))
    _set(pose, "elev", climbed)
    return pose


def throw(T, fps, rng, speed, facing):
    pose, u, cycle, arm, other = _one_sided_cycle(T, fps, rng, speed, facing, 2.0)
    k = [0.0, 0.35 * cycle, 0.5 * cycle, 0.6 * cycle, 0.85 * cycle, cycle]
    _set(pose, f"{arm}_sh_flex", ease(u, k, [0, -70, -130, -270, -330, -360]))
    _set(pose, f"{arm}_elbow", ease(u, k, [8, 60, 100, 5, 10, 8]))
    _set(pose, f"{other}_sh_flex", ease(u, k, [0, 60, 70, -20, 0, 0]))
    _set(pose, "lean", ease(u, k, [2, -12, -10, 20, 8, 2]))
    _set(pose, f"{other}_hip_flex", ease(u, k, [0, 35, 25, 20, 30, 0]))
    _set(pose, f"{other}_knee", ease(u, k, [3, 45, 12, 12, 45, 3]))
    _set(pose, f"{arm}_hip_flex", ease(u, k, [0, -10, -12, -15, -5, 0]))
    return pose


@dataclass(frozen=True)
class ActionSpec:
    """How to make one action and how to say it."""

    fn: ActionFn
    verbs: tuple[str, ...]
    min_seconds: float


ACTION_SPECS: dict[str, ActionSpec] = {
    "idle": ActionSpec(idle, ("stands idle", "stands around", "waits patiently", "shifts weight while standing"), 2.0),
    "walk": ActionSpec(walk, ("walks", "strolls", "walks steadily"), 2.0),
    "run": ActionSpec(run, ("runs", "jogs", "sprints"), 2.0),
    "jump": ActionSpec(jump, ("jumps", "jumps up and down", "hops in place", "leaps"), 2.0),
    "wave": ActionSpec(wave, ("waves", "waves hello", "waves to a friend"), 2.0),
    "sit": ActionSpec(sit, ("sits down", "takes a seat", "sits down on a chair"), 2.5),
    "stand_up": ActionSpec(stand_up, ("stands up", "gets up from a chair", "rises from a seat"), 2.5),
    "turn": ActionSpec(turn, ("turns around", "spins around", "turns to look behind"), 2.5),
    "kick": ActionSpec(kick, ("kicks", "kicks forward", "throws a front kick"), 2.0),
    "punch": ActionSpec(punch, ("punches", "throws punches", "boxes"), 2.0),
    "dance": ActionSpec(dance, ("dances", "dances to the beat", "grooves"), 2.0),
    "crouch": ActionSpec(crouch, ("crouches", "crouches down", "squats low"), 2.5),
    "fall": ActionSpec(fall, ("falls over and gets back up", "trips and falls, then stands again", "stumbles and falls"), 3.5),
    "climb": ActionSpec(climb, ("climbs a ladder", "climbs up", "climbs a wall"), 2.0),
    "throw": ActionSpec(throw, ("throws a ball", "throws something", "pitches a ball"), 2.0),
}
