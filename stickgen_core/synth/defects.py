"""Defects injected into clean synthetic clips, each recorded with its frame range.

Defects act on screen joints ``[T, 16, 2]`` (so segments stay connected) or on the
camera ``[T, 3]``. Each returns a record ``{"type", "start", "end", ...}`` with
``end`` exclusive, which later work uses to check that curation and the critic catch it.
"""

from __future__ import annotations

import numpy as np

DEFECT_TYPES: tuple[str, ...] = (
    "jitter", "frozen", "velocity_explosion", "foot_sliding",
    "ground_penetration", "shaky_camera", "too_short",
)


def _span(T: int, rng: np.random.Generator, lo: float, hi: float) -> tuple[int, int]:
    n = int(np.clip(round(T * rng.uniform(lo, hi)), 1, T))
    start = int(rng.integers(0, T - n + 1))
    return start, start + n


def jitter(joints, camera, rng, fps):
    """High-frequency noise on every joint over a span (3-6 cm)."""
    T = len(joints)
    s, e = _span(T, rng, 0.5, 1.0)
    sigma = float(rng.uniform(0.03, 0.06))
    joints[s:e] += rng.normal(0, sigma, joints[s:e].shape)
    return joints, camera, {"type": "jitter", "start": s, "end": e, "sigma": sigma}


def frozen(joints, camera, rng, fps):
    """The pose stops dead: most of the clip repeats one frame exactly."""
    T = len(joints)
    s, e = _span(T, rng, 0.85, 1.0)
    joints[s:e] = joints[s]
    return joints, camera, {"type": "frozen", "start": s, "end": e}


def velocity_explosion(joints, camera, rng, fps):
    """The figure teleports 1-3 m for 1-3 frames and snaps back."""
    T = len(joints)
    n = int(rng.integers(1, 4))
    s = int(rng.integers(1, max(T - n, 2)))
    e = min(s + n, T)
    jump = rng.uniform(1.0, 3.0) * rng.choice([-1, 1], size=2)
    joints[s:e] += jump
    return joints, camera, {"type": "velocity_explosion", "start": s, "end": e, "distance_m": float(np.hypot(*jump))}


def foot_sliding(joints, camera, rng, fps):
    """The whole figure glides sideways with its feet on the ground (0.8-1.6 m/s)."""
    T = len(joints)
    s, e = _span(T, rng, 0.5, 1.0)
    speed = float(rng.uniform(0.8, 1.6)) * rng.choice([-1, 1])
    glide = np.zeros(T)
    glide[s:e] = np.arange(e - s) * speed / fps
    glide[e:] = glide[e - 1] if e > s else 0.0
    joints[..., 0] += glide[:, None]
    return joints, camera, {"type": "foot_sliding", "start": s, "end": e, "speed_m_s": abs(speed)}


def ground_penetration(joints, camera, rng, fps):
    """The figure sinks 0.25-0.5 m into the floor over a span."""
    T = len(joints)
    s, e = _span(T, rng, 0.4, 1.0)
    depth = float(rng.uniform(0.25, 0.5))
    # sink every frame below its own lowest point, so an elevated clip (climbing) penetrates too
    lowest = np.clip(joints[s:e, :, 1].min(axis=1), 0.0, None)
    joints[s:e, :, 1] -= (lowest + depth)[:, None]
    return joints, camera, {"type": "ground_penetration", "start": s, "end": e, "depth_m": depth}


def shaky_camera(joints, camera, rng, fps):
    """Hand-held shake far beyond a steady operator: 10-25 cm and 5-15 % zoom noise."""
    T = len(camera)
    s, e = _span(T, rng, 0.6, 1.0)
    amp = float(rng.uniform(0.10, 0.25))
    camera[s:e, :2] += rng.normal(0, amp, (e - s, 2))
    camera[s:e, 2] *= 1 + rng.normal(0, amp * 0.6, e - s)
    camera[:, 2] = np.clip(camera[:, 2], 0.2, None)
    return joints, camera, {"type": "shaky_camera", "start": s, "end": e, "amplitude_m": amp}


def too_short(joints, camera, rng, fps):
    """The clip is cut to 5-20 frames."""
    n = int(min(rng.integers(5, 21), len(joints)))
    return joints[:n], camera[:n], {"type": "too_short", "start": 0, "end": n}


INJECTORS = {
    "jitter": jitter, "frozen": frozen, "velocity_explosion": velocity_explosion,
    "foot_sliding": foot_sliding, "ground_penetration": ground_penetration,
    "shaky_camera": shaky_camera, "too_short": too_short,
}
